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

    /// Child processes (a pipeline's stages) that a signal stops before this process reports.
    static let childCapacity = 1024
    nonisolated(unsafe) static let children: UnsafeMutablePointer<pid_t> = {
        let p = UnsafeMutablePointer<pid_t>.allocate(capacity: childCapacity)
        p.initialize(repeating: 0, count: childCapacity)
        return p
    }()

    public static func registerChild(_ pid: pid_t) {
        _ = lockReady
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        for i in 0..<childCapacity where children[i] == 0 { children[i] = pid; return }
    }

    public static func unregisterChild(_ pid: pid_t) {
        _ = lockReady
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        for i in 0..<childCapacity where children[i] == pid { children[i] = 0; return }
    }

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

    /// The directory for private temp files: `$TMPDIR` when it names a directory, else `/tmp`.
    public static var directory: String {
        if let t = ProcessEnv.get("TMPDIR"), !t.isEmpty {
            var st = stat()
            if stat(t, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR { return t }
        }
        return "/tmp"
    }

    /// A new private temp file (mode 0600, a name from `mkstemp`, so created with `O_EXCL` and never
    /// through a link someone planted), registered for removal; returns its descriptor and path.
    /// `what` names the file in the error ("a spill file").
    public static func create(prefix: String, in dir: String? = nil, what: String = "a temp file") throws -> (fd: Int32, path: String) {
        let d = dir ?? directory
        var template = Array(((d.hasSuffix("/") ? d : d + "/") + prefix + "-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd < 0 { throw OutputError("cannot create \(what) in \(d): \(errnoText())") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        register(path)
        return (fd, path)
    }

    /// Copies a stream (stdin, a FIFO, a pipe) once into a private temp file, decoded, for a
    /// command that reads its inputs twice; the caller removes it (`unlink` + `unregister`).
    public static func spool(_ src: ByteSource) throws -> String {
        let (fd, path) = try create(prefix: "prefkit-spool")
        defer { close(fd) }
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buf.deallocate() }
        do {
            while true {
                let n = try src.read(into: buf)
                if n == 0 { break }
                if let e = writeAll(fd, UnsafeRawBufferPointer(rebasing: buf[0..<n])) { throw OutputError("spool write to \(path) failed: \(e)") }
            }
        } catch { unlink(path); unregister(path); throw error }
        return path
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
        for (sig, name) in [(SIGUSR1, "SIGUSR1"), (SIGUSR2, "SIGUSR2"), (SIGALRM, "SIGALRM"), (SIGVTALRM, "SIGVTALRM"), (SIGPROF, "SIGPROF"), (SIGXCPU, "SIGXCPU")] {
            messages[Int(sig)] = strdup("\nprefkit: stopped by \(name); unpublished outputs and temporary files removed, nothing was published\n")
        }
        _ = previous
        _ = children
        // Read the umask once, now, before any worker thread could create a file meanwhile.
        _ = OutputPath.newFileMode
        let handler: @convention(c) (Int32) -> Void = { sig in
            // Children first: each stops (removing its own temp files) before this process says
            // that nothing was published.
            for i in 0..<TempFiles.childCapacity where TempFiles.children[i] > 0 { kill(TempFiles.children[i], sig == SIGPIPE ? SIGTERM : sig) }
            for i in 0..<TempFiles.childCapacity where TempFiles.children[i] > 0 { var st: Int32 = 0; _ = waitpid(TempFiles.children[i], &st, 0) }
            for i in 0..<TempFiles.capacity { if let s = TempFiles.slots[i] { unlink(s) } }
            if sig > 0 && sig < 65, let m = TempFiles.messages[Int(sig)] { _ = Glibc.write(2, m, strlen(m)) }
            _exit(128 + sig)
        }
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGXCPU] { signal(sig, handler) }
        signal(SIGXFSZ, SIG_IGN)
        // A crash (an allocation that fails, a trap) removes the temp files too, then ends as it
        // would have: the previous handler (the Swift runtime's backtracer) runs after ours.
        let crash: @convention(c) (Int32) -> Void = { sig in
            for i in 0..<TempFiles.capacity { if let s = TempFiles.slots[i] { unlink(s) } }
            if sig > 0 && sig < 65 { _ = sigaction(sig, &TempFiles.previous[Int(sig)], nil) }
            raise(sig)
        }
        var alt = stack_t()
        alt.ss_sp = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
        alt.ss_size = 1 << 16
        _ = sigaltstack(&alt, nil)
        for sig in [SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP] {
            var a = sigaction()
            a.__sigaction_handler.sa_handler = crash
            a.sa_flags = Int32(SA_ONSTACK)
            sigemptyset(&a.sa_mask)
            _ = sigaction(sig, &a, &previous[Int(sig)])
        }
    }

    /// The handlers the crash handler replaced, by signal number.
    nonisolated(unsafe) static let previous: UnsafeMutablePointer<sigaction> = {
        let p = UnsafeMutablePointer<sigaction>.allocate(capacity: 65)
        p.initialize(repeating: sigaction(), count: 65)
        return p
    }()
}

/// Locks on output directories, held until the process exits: a run that writes a whole set of
/// files into a directory (a shard set, a pipeline's run directory) takes it exclusively, the tasks
/// of a sharded run (each writing its own file) take it shared. A second run that would mix its
/// files with the first is refused at once instead of publishing a mixed set. `flock` on the
/// directory itself: no lock file is created, and the kernel drops the lock when the process ends.
public enum DirectoryLock {
    nonisolated(unsafe) static var held: [String: Int32] = [:]
    nonisolated(unsafe) static var lock = pthread_mutex_t()
    static let lockReady: Bool = { pthread_mutex_init(&lock, nil); return true }()

    public static func acquire(_ dir: String, exclusive: Bool) throws {
        _ = lockReady
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        if held[dir] != nil { return }
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw OutputError("cannot open directory \(dir): \(errnoText())") }
        while flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let busy = errno == EWOULDBLOCK
            let e = errnoText()
            close(fd)
            if busy {
                throw OutputError("\(dir) is being written by another prefkit run; wait for it to finish (or write elsewhere)", usage: true)
            }
            throw OutputError("cannot lock \(dir): \(e)")
        }
        held[dir] = fd
    }
}
