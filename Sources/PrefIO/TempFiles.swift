// Temporary files removed on signals and fatal errors.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import CZstd

/// Temporary files (unpublished outputs, spooled stdin, spill runs) removed when the process stops
/// early: on SIGINT, SIGTERM, SIGHUP, SIGPIPE or SIGXFSZ by the signal handler, on a fatal error by
/// `removeAll()`. The table is a fixed array of C strings, so the handler only reads memory and
/// calls unlink/write/_exit (all async-signal-safe).
public enum TempFiles {
    static let capacity = 4096
    nonisolated(unsafe) static let slots: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = {
        let p = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
        p.initialize(repeating: nil, count: capacity)
        return p
    }()
    nonisolated(unsafe) static var lock = pthread_mutex_t()
    static let lockReady: Bool = { pthread_mutex_init(&lock, nil); return true }()
    nonisolated(unsafe) static var installed = false
    /// Messages by signal number, prepared before the handler is installed.
    nonisolated(unsafe) static let messages: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = {
        let p = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: 65)
        p.initialize(repeating: nil, count: 65)
        return p
    }()

    public static func register(_ p: String) {
        _ = lockReady
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        for i in 0..<capacity where slots[i] == nil { slots[i] = strdup(p); return }
    }

    public static func unregister(_ p: String) {
        _ = lockReady
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        for i in 0..<capacity {
            if let s = slots[i], strcmp(s, p) == 0 { slots[i] = nil; free(s); return }
        }
    }

    /// Removes every registered file now (a run that failed publishes nothing and leaves nothing).
    public static func removeAll() {
        _ = lockReady
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        for i in 0..<capacity { if let s = slots[i] { unlink(s); slots[i] = nil; free(s) } }
    }

    /// On SIGINT/SIGTERM/SIGHUP: remove temp files, say so on stderr and exit 128+signal. On
    /// SIGPIPE: the same without a message (the reader went away). SIGXFSZ (a file size limit) is
    /// ignored, so the write fails with EFBIG and the run ends through its ordinary error path.
    public static func installSignalCleanup() {
        if installed { return }
        installed = true
        _ = lockReady
        _ = slots
        _ = messages
        let names: [(Int32, String)] = [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGHUP, "SIGHUP")]
        for (sig, name) in names {
            messages[Int(sig)] = strdup("\nprefkit: interrupted by \(name); unpublished outputs and temporary files removed, nothing was published\n")
        }
        let handler: @convention(c) (Int32) -> Void = { sig in
            for i in 0..<TempFiles.capacity { if let s = TempFiles.slots[i] { unlink(s) } }
            if sig > 0 && sig < 65, let m = TempFiles.messages[Int(sig)] { _ = Glibc.write(2, m, strlen(m)) }
            _exit(128 + sig)
        }
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { signal(sig, handler) }
        signal(SIGXFSZ, SIG_IGN)
    }
}
