import Foundation
import Synchronization

/// The engine's fork-join pool: `EngineThreads.current − 1` worker threads that, with the
/// calling thread, run the iterations of one parallel region at a time.
///
/// Between regions a worker busy-waits for a short while (`spinSeconds`, yielding the CPU
/// now and then) before it sleeps: the regions of a training step come in quick
/// succession, and a sleeping thread woken by the next region is often placed on the busy
/// core first and starts milliseconds late. OpenBLAS's own workers do the same, but for
/// 2^28 cycles after every call; the engine runs OpenBLAS single-threaded inside this
/// pool's regions instead.
///
/// A worker that finds itself on the CPU of the thread that published the region moves
/// to another allowed CPU first (`CPUPlacement.leave`): a newly started or woken thread is
/// often queued on its waker's CPU, where the two would share one core until the kernel's
/// load balancing separates them (about 0.1 s measured here).
///
/// A region started while another is running (a nested call, or another thread) runs its
/// iterations inline on the caller.
public final class WorkerPool: @unchecked Sendable {
    /// One parallel region: its iterations are handed out by `next`; `done` counts the
    /// finished ones.
    final class Job: @unchecked Sendable {
        let count: Int
        /// Threads that may work on it: the caller and workers `1 ..< threads`.
        let threads: Int
        let body: (Int) -> Void
        let next = Atomic<Int>(0)
        let done = Atomic<Int>(0)

        /// The CPU the publishing thread ran on (-1 when unknown).
        let callerCPU: Int32

        init(count: Int, threads: Int, body: @escaping (Int) -> Void) {
            self.count = count
            self.threads = threads
            self.body = body
            callerCPU = CPUPlacement.currentCPU()
        }

        /// Runs iterations until none is left.
        func work() {
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if i >= count { return }
                body(i)
                done.wrappingAdd(1, ordering: .releasing)
            }
        }
    }

    /// How long an idle worker busy-waits for the next region before it sleeps.
    public static let spinSeconds = 0.002

    public static let shared = WorkerPool()

    private let generation = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let inRegion = Atomic<Bool>(false)
    /// Workers holding the current job.
    private let active = Atomic<Int>(0)
    private let condition = NSCondition()
    /// The current job, read by the workers under `condition`'s lock.
    private var current: Job? = nil
    private var workers = 0

    /// Ensures at least `n − 1` workers exist (they are never stopped).
    private func ensureWorkers(_ n: Int) {
        while workers < n - 1 {
            workers += 1
            let index = workers
            let t = Thread { [unowned self] in self.workerLoop(index: index) }
            t.name = "moebench-worker-\(workers)"
            t.start()
        }
    }

    /// Worker `index` (1, 2, ...) joins regions of more than `index` threads.
    private func workerLoop(index: Int) {
        var seen = generation.load(ordering: .acquiring)
        while true {
            // Busy-wait, then sleep, until a new region is published.
            var spins = 0
            var deadline: UInt64 = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins & 15 == 0 { sched_yield() }
                if spins & 255 == 0 {
                    let now = DispatchTime.now().uptimeNanoseconds
                    if deadline == 0 { deadline = now + UInt64(WorkerPool.spinSeconds * 1e9) }
                    else if now > deadline {
                        condition.lock()
                        sleepers.wrappingAdd(1, ordering: .sequentiallyConsistent)
                        while generation.load(ordering: .sequentiallyConsistent) == seen { condition.wait() }
                        sleepers.wrappingSubtract(1, ordering: .sequentiallyConsistent)
                        condition.unlock()
                    }
                }
            }
            seen = generation.load(ordering: .acquiring)
            condition.lock()
            var job = current.flatMap { index < $0.threads ? $0 : nil }
            if job != nil { active.wrappingAdd(1, ordering: .sequentiallyConsistent) }
            condition.unlock()
            guard job != nil else { continue }
            CPUPlacement.leave(job!.callerCPU)
            job!.work()
            job = nil
            active.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        }
    }

    /// Wakes the workers for `threads` threads (one short region with an iteration per
    /// thread, each waiting until every thread has arrived), so that the next region
    /// starts with all of them running. For benchmarks that pause between timed calls.
    public func warm(threads: Int = EngineThreads.current) {
        guard threads > 1 else { return }
        let arrived = Atomic<Int>(0)
        let start = DispatchTime.now().uptimeNanoseconds
        run(count: threads, threads: threads) { _ in
            arrived.wrappingAdd(1, ordering: .sequentiallyConsistent)
            // Bounded: with fewer free cores than threads, one thread may run every iteration.
            while arrived.load(ordering: .sequentiallyConsistent) < threads,
                  DispatchTime.now().uptimeNanoseconds - start < 20_000_000 { sched_yield() }
        }
    }

    /// Runs `body(i)` for `i` in `0..<count` on up to `threads` threads (the caller
    /// included) and returns when all have finished. Iterations are handed out in
    /// increasing order as threads become free.
    public func run(count: Int, threads: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        if count == 1 || threads <= 1 || inRegion.exchange(true, ordering: .acquiringAndReleasing) {
            for i in 0..<count { body(i) }
            return
        }
        defer { inRegion.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { body in
            let job = Job(count: count, threads: threads, body: body)
            condition.lock()
            ensureWorkers(threads)
            current = job
            condition.unlock()
            generation.wrappingAdd(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                condition.lock()
                condition.broadcast()
                condition.unlock()
            }
            job.work()
            var spins = 0
            while job.done.load(ordering: .acquiring) < count {
                spins += 1
                if spins & 63 == 0 { sched_yield() }
            }
            // No worker may keep the job (and `body`) past this call: unpublish it, then
            // wait for those that picked it up to let go.
            condition.lock()
            current = nil
            condition.unlock()
            while active.load(ordering: .sequentiallyConsistent) > 0 { sched_yield() }
        }
    }
}

/// Where the engine's threads run (Linux; elsewhere these do nothing).
enum CPUPlacement {
    #if os(Linux)
    /// The CPU the calling thread is on, or -1.
    static func currentCPU() -> Int32 { c_sched_getcpu() }

    /// Moves the calling thread off `cpu` when it is running there: its affinity becomes
    /// the allowed CPUs except `cpu` (which migrates it at once), then the allowed CPUs
    /// again (so that the kernel may place it anywhere afterwards).
    static func leave(_ cpu: Int32) {
        guard cpu >= 0, cpu < 1024, c_sched_getcpu() == cpu else { return }
        var allowed = [UInt8](repeating: 0, count: 128)
        guard c_sched_getaffinity(0, 128, &allowed) == 0 else { return }
        var others = allowed
        others[Int(cpu) / 8] &= ~UInt8(1 << (Int(cpu) % 8))
        guard others.contains(where: { $0 != 0 }) else { return }
        _ = c_sched_setaffinity(0, 128, &others)
        _ = c_sched_setaffinity(0, 128, &allowed)
    }
    #else
    static func currentCPU() -> Int32 { -1 }
    static func leave(_ cpu: Int32) {}
    #endif
}

#if os(Linux)
// glibc's entry points (not exported by the Glibc module without _GNU_SOURCE); pid 0 is the
// calling thread, the mask a cpu_set_t of `size` bytes.
@_silgen_name("sched_getcpu") private func c_sched_getcpu() -> Int32
@_silgen_name("sched_getaffinity") private func c_sched_getaffinity(_ pid: Int32, _ size: Int, _ mask: UnsafeMutablePointer<UInt8>) -> Int32
@_silgen_name("sched_setaffinity") private func c_sched_setaffinity(_ pid: Int32, _ size: Int, _ mask: UnsafePointer<UInt8>) -> Int32
#endif
