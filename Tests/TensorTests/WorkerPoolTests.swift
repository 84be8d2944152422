import Foundation
import Synchronization
import Tensor
import XCTest

/// The engine's fork-join pool: every iteration runs exactly once, on at most the
/// requested threads; nested regions run inline; back-to-back regions (workers spinning,
/// picking up late, going to sleep and waking) lose nothing.
final class WorkerPoolTests: XCTestCase {
    func testEveryIterationRunsOnceAcrossManyRegions() {
        let pool = WorkerPool.shared
        for (round, count) in [1, 2, 3, 7, 64, 1000].enumerated() {
            for threads in [1, 2, 4] {
                let lock = NSLock()
                var hits = [Int](repeating: 0, count: count)
                pool.run(count: count, threads: threads) { i in lock.lock(); hits[i] += 1; lock.unlock() }
                XCTAssertEqual(hits, [Int](repeating: 1, count: count), "round \(round) count \(count) threads \(threads)")
            }
        }
        // Thousands of short regions in a row, then one after the workers have gone to
        // sleep (idle longer than `spinSeconds`).
        let total = Atomic<Int>(0)
        for _ in 0..<5000 { pool.run(count: 4, threads: 2) { i in total.wrappingAdd(i + 1, ordering: .relaxed) } }
        XCTAssertEqual(total.load(ordering: .relaxed), 5000 * 10)
        usleep(UInt32(WorkerPool.spinSeconds * 3e6))
        pool.run(count: 4, threads: 2) { i in total.wrappingAdd(i + 1, ordering: .relaxed) }
        XCTAssertEqual(total.load(ordering: .relaxed), 5001 * 10)
        pool.warm(threads: 2)
    }

    func testNestedRegionsRunInline() {
        let outer = Atomic<Int>(0), inner = Atomic<Int>(0)
        WorkerPool.shared.run(count: 4, threads: 2) { _ in
            outer.wrappingAdd(1, ordering: .relaxed)
            let me = Thread.current
            WorkerPool.shared.run(count: 3, threads: 2) { _ in
                // Inline: on the thread of the enclosing iteration.
                if Thread.current == me { inner.wrappingAdd(1, ordering: .relaxed) }
            }
        }
        XCTAssertEqual(outer.load(ordering: .relaxed), 4)
        XCTAssertEqual(inner.load(ordering: .relaxed), 12)
    }

    func testIterationsUseAtMostTheRequestedThreadsAndTheCaller() {
        // With 2 threads, the 200 iterations run on the caller and (when it is free) one
        // worker: never more than 2 distinct threads.
        let lock = NSLock()
        var threads = Set<ObjectIdentifier>()
        WorkerPool.shared.run(count: 200, threads: 2) { _ in
            usleep(50)
            lock.lock(); threads.insert(ObjectIdentifier(Thread.current)); lock.unlock()
        }
        XCTAssertLessThanOrEqual(threads.count, 2)
        XCTAssertGreaterThanOrEqual(threads.count, 1)
    }
}
