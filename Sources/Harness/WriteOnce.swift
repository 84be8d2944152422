import Foundation

/// Generated data written once, safely against kills and concurrent writers: the proxy data
/// (`DataSource.ensureProxy`) and the shifted evaluation sets (`ShiftedEval`).
///
/// The data is complete when its marker file exists. A writer holds an exclusive `flock` on
/// the lock file (released by the kernel when the process dies, so a killed writer never
/// blocks the next one); a process that finds no marker waits for the lock and checks again,
/// so the first writer wins and the others read what it wrote. The writer fills the partial
/// folder (removing one left by a killed writer first), moves the finished data into place,
/// writes the marker last and removes the partial folder, also when writing fails.
struct WriteOnce {
    /// Present when the data is complete; written last.
    var marker: URL
    /// The lock every writer of the data takes.
    var lock: URL
    /// The lock in error messages ("the proxy data lock").
    var lockName: String
    /// The folder a writer fills before moving the data into place.
    var partial: URL
    /// The data in the log: "waiting for another process writing `waiting` …", "writing
    /// `writing` …", "`written` written in 1.2 s".
    var waiting: String
    var writing: String
    var written: String

    /// Returns at once when the marker exists. Otherwise, holding the lock, `write(partial)`
    /// fills the partial folder and moves the finished data into place (`moveIntoPlace`),
    /// then the marker is written.
    func run(log: (String) -> Void, write: (URL) throws -> Void) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: marker.path) { return }
        let fd = open(lock.path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw HarnessError("\(lock.path): cannot open \(lockName): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            log("waiting for another process writing \(waiting) …")
            while flock(fd, LOCK_EX) != 0 {
                guard errno == EINTR else {
                    throw HarnessError("\(lock.path): cannot lock: \(String(cString: strerror(errno)))")
                }
            }
        }
        defer { flock(fd, LOCK_UN) }
        // Another process may have finished while this one waited.
        if fm.fileExists(atPath: marker.path) { return }

        try? fm.removeItem(at: partial)  // left by a killed writer: the lock says nobody writes it now
        let start = Date()
        log("writing \(writing) …")
        do {
            try write(partial)
            try atomicWrite(Data(), to: marker)
            try? fm.removeItem(at: partial)
        } catch {
            try? fm.removeItem(at: partial)
            throw error
        }
        log(String(format: "%@ written in %.1f s", written, Date().timeIntervalSince(start)))
    }

    /// Renames `src` to `dst`, replacing what is there: without the marker, whatever is
    /// there is unfinished (or stale). Errors say "cannot move `what` into place".
    static func moveIntoPlace(_ src: URL, _ dst: URL, what: String) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: dst.path) { try fm.removeItem(at: dst) }
        guard rename(src.path, dst.path) == 0 else {
            throw HarnessError("\(dst.path): cannot move \(what) into place: \(String(cString: strerror(errno)))")
        }
    }
}
