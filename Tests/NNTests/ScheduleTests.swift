import Foundation
import NN
import TestSupport
import XCTest

/// Peak 1e-3, 10 warm-up updates, 110 in total (so 100 decay updates).
final class ScheduleTests: XCTestCase {
    func testWarmup() {
        // factor = step / 10 while step < 10: the first update has lr 0 (Hugging Face).
        for s in [LRSchedule.constant(1e-3, warmup: 10), .linear(1e-3, warmup: 10, total: 110),
                  .cosine(1e-3, warmup: 10, total: 110, floor: 1e-4)] {
            XCTAssertEqual(s.lr(0), 0)
            XCTAssertEqual(s.lr(1), 1e-4, accuracy: 1e-10)
            XCTAssertEqual(s.lr(5), 5e-4, accuracy: 1e-10)
            XCTAssertEqual(s.lr(9), 9e-4, accuracy: 1e-10)
            XCTAssertEqual(s.lr(10), 1e-3, accuracy: 1e-10)
        }
    }

    func testConstant() {
        let s = LRSchedule.constant(1e-3, warmup: 4)
        XCTAssertEqual(s.lr(3), 7.5e-4, accuracy: 1e-10)   // 3/4
        XCTAssertEqual(s.lr(4), 1e-3)
        XCTAssertEqual(s.lr(1_000_000), 1e-3)
        XCTAssertEqual(LRSchedule.constant(2e-3).lr(0), 2e-3)  // no warm-up: peak from the start
    }

    func testLinearDecay() {
        // factor = max(0, (110 - step) / 100)
        let s = LRSchedule.linear(1e-3, warmup: 10, total: 110)
        XCTAssertEqual(s.lr(35), 7.5e-4, accuracy: 1e-10)   // 75/100
        XCTAssertEqual(s.lr(60), 5e-4, accuracy: 1e-10)     // 50/100
        XCTAssertEqual(s.lr(109), 1e-5, accuracy: 1e-10)    // 1/100
        XCTAssertEqual(s.lr(110), 0)
        XCTAssertEqual(s.lr(500), 0)
        // With a floor of 1e-4: 1e-4 + 9e-4·factor.
        let f = LRSchedule.linear(1e-3, warmup: 10, total: 110, floor: 1e-4)
        XCTAssertEqual(f.lr(60), 5.5e-4, accuracy: 1e-10)
        XCTAssertEqual(f.lr(110), 1e-4, accuracy: 1e-10)
        XCTAssertEqual(f.lr(500), 1e-4, accuracy: 1e-10)
        XCTAssertEqual(f.lr(5), 5e-4, accuracy: 1e-10)      // warm-up still starts at 0
    }

    func testCosineDecay() {
        // factor = 0.5·(1 + cos(π·(step - 10)/100))
        let s = LRSchedule.cosine(1e-3, warmup: 10, total: 110)
        XCTAssertEqual(s.lr(35), 8.535534e-4, accuracy: 1e-10)   // 0.5·(1 + cos(π/4)) = 0.8535534
        XCTAssertEqual(s.lr(60), 5e-4, accuracy: 1e-10)          // cos(π/2) = 0
        XCTAssertEqual(s.lr(85), 1.464466e-4, accuracy: 1e-10)   // 0.5·(1 + cos(3π/4)) = 0.1464466
        XCTAssertEqual(s.lr(110), 0, accuracy: 1e-12)
        XCTAssertEqual(s.lr(200), 0, accuracy: 1e-12)            // stays at the floor past the end
        // With a floor of 1e-4: 1e-4 + 9e-4·factor.
        let f = LRSchedule.cosine(1e-3, warmup: 10, total: 110, floor: 1e-4)
        XCTAssertEqual(f.lr(35), 1e-4 + 9e-4 * 0.8535534, accuracy: 1e-10)
        XCTAssertEqual(f.lr(60), 5.5e-4, accuracy: 1e-10)
        XCTAssertEqual(f.lr(110), 1e-4, accuracy: 1e-10)
    }

    func testCodableRoundTrip() throws {
        let s = LRSchedule.cosine(3e-4, warmup: 7, total: 70, floor: 1e-5)
        let back = try JSONDecoder().decode(LRSchedule.self, from: JSONEncoder().encode(s))
        XCTAssertEqual(back, s)
    }
}
