import Tensor
import XCTest

final class StorageTests: XCTestCase {
    func testBlockSizesRoundUpToEightClassesPerPowerOfTwo() {
        // Below 256 KiB: exact. From 256 KiB: multiples of 1/8 of the power of two below.
        XCTAssertEqual(TensorStorage.blockBytes(count: 0), 4)
        XCTAssertEqual(TensorStorage.blockBytes(count: 25), 100)
        XCTAssertEqual(TensorStorage.blockBytes(count: 65_535), 262_140)
        XCTAssertEqual(TensorStorage.blockBytes(count: 65_536), 262_144)
        XCTAssertEqual(TensorStorage.blockBytes(count: 65_537), 262_144 + 32_768)
        XCTAssertEqual(TensorStorage.blockBytes(count: 76_800), 327_680)          // 300 KiB -> 320 KiB
        XCTAssertEqual(TensorStorage.blockBytes(count: 262_145), 1_048_576 + 131_072)
        XCTAssertEqual(TensorStorage.blockBytes(count: 1_966_080), 7_864_320)     // 7.5 MiB, a class itself
        XCTAssertEqual(TensorStorage.blockBytes(count: 2_031_616), 8_388_608)     // 7.75 MiB -> 8 MiB
        for count in stride(from: 65_536, to: 3_000_000, by: 9_973) {
            let b = TensorStorage.blockBytes(count: count)
            XCTAssertGreaterThanOrEqual(b, count * 4)
            XCTAssertLessThanOrEqual(Double(b), Double(count * 4) * 1.125, "\(count)")
        }
    }

    func testAFreedBlockServesTheNextStorageOfItsClass() {
        // Two sizes of one class (300 KiB and 310 KiB: both 320 KiB blocks): the second
        // storage gets the first one's block. Live bytes count values, peak bytes blocks.
        let live0 = TensorStorage.liveBytes
        var first: TensorStorage? = TensorStorage(count: 76_800, zeroed: false)
        XCTAssertEqual(TensorStorage.liveBytes - live0, 307_200)
        TensorStorage.resetPeak()
        let block = first!.base
        first = nil
        XCTAssertEqual(TensorStorage.liveBytes, live0)
        let second = TensorStorage(count: 79_360, zeroed: true)
        XCTAssertEqual(second.base, block)
        XCTAssertEqual(second.buffer.filter { $0 != 0 }.count, 0, "zeroed on request, recycled or not")
        XCTAssertEqual(TensorStorage.liveBytes - live0, 317_440)
        XCTAssertGreaterThanOrEqual(TensorStorage.peakBytes, 327_680)
    }
}
