// Output files: what an output path may be (regular file, character device, FIFO; refused otherwise)
// and atomic publication (a temp file beside the target, renamed over it).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import CZstd

public struct OutputError: Error, CustomStringConvertible {
    public var message: String
    /// A refusal caused by what the user asked for (an output that is an input, a directory, an
    /// unsupported extension): a usage error (exit 2), not an I/O failure (exit 3).
    public var isUsage: Bool
    public init(_ m: String, usage: Bool = false) { message = m; isUsage = usage }
    public var description: String { message }
}

func errnoText() -> String { String(cString: strerror(errno)) }

/// Writes every byte to `fd`, retrying after signals; on failure the message of errno (the caller
/// names what failed), nil on success.
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> String? {
    var off = 0
    while off < bytes.count {
        let r = Glibc.write(fd, bytes.baseAddress! + off, bytes.count - off)
        if r < 0 {
            if errno == EINTR { continue }
            return errnoText()
        }
        off += r
    }
    return nil
}

/// What an output path names before anything is written to it.
enum OutputKind {
    /// A regular file (or nothing yet): written to a temp file beside `target`, renamed over it.
    case regular(target: String)
    /// A character device or FIFO (`/dev/stdout`, `/dev/null`, a named pipe): written directly.
    case direct
}

/// Decides how an output path is written. A symbolic link is followed (the file it points to is
/// replaced atomically and the link itself stays) only where the kernel's own `protected_symlinks`
/// rule would follow it: outside a sticky world-writable directory, or when the link belongs to the
/// caller or to the directory's owner. A link planted by another user in a shared directory such as
/// `/tmp` is refused. Directories, block devices, sockets and links to nothing are refused before
/// anything is created.
func classifyOutput(_ path: String) throws -> OutputKind {
    var st = stat()
    guard lstat(path, &st) == 0 else {
        if errno == ENOENT { return .regular(target: path) }
        throw OutputError("cannot use \(path) as an output: \(errnoText())")
    }
    var target = path
    if (st.st_mode & S_IFMT) == S_IFLNK {
        var dst = stat()
        let dir = OutputPath.directory(of: path)
        if stat(dir, &dst) == 0, (dst.st_mode & S_ISVTX) != 0, (dst.st_mode & S_IWOTH) != 0,
           st.st_uid != geteuid(), st.st_uid != dst.st_uid {
            throw OutputError("output \(path) is a symbolic link owned by another user in a shared directory; refusing to follow it", usage: true)
        }
        guard let r = realpath(path, nil) else {
            throw OutputError("output \(path) is a symbolic link to a missing or unreachable file; refusing to replace the link", usage: true)
        }
        target = String(cString: r)
        free(r)
        guard stat(target, &st) == 0 else { throw OutputError("cannot use \(path) as an output: \(errnoText())") }
    }
    switch st.st_mode & S_IFMT {
    case S_IFREG: return .regular(target: target)
    case S_IFCHR, S_IFIFO: return .direct
    case S_IFDIR: throw OutputError("output \(path) is a directory; name a file", usage: true)
    default: throw OutputError("output \(path) is not a regular file, character device or FIFO; refusing to write to it", usage: true)
    }
}

/// Splitting an output path into its directory and its name, and the unpredictable names of temp files.
public enum OutputPath {
    public static func directory(of p: String) -> String {
        guard let i = p.lastIndex(of: "/") else { return "." }
        return i == p.startIndex ? "/" : String(p[..<i])
    }
    public static func name(of p: String) -> String {
        guard let i = p.lastIndex(of: "/") else { return p }
        return String(p[p.index(after: i)...])
    }
    /// 64 random bits as 16 hex digits (from the system's random source): a name nobody can plant in advance.
    public static func randomTag() -> String {
        let v = UInt64.random(in: .min ... .max)
        let hex = String(v, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
    /// The mode a new file gets (0666 less the process's umask), read once.
    static let newFileMode: mode_t = {
        let old = umask(0o022)
        umask(old)
        return 0o666 & ~old
    }()
}

/// True when the path names a character device or FIFO (written directly, with no file beside it).
public func isDeviceOrFIFO(_ path: String) -> Bool {
    if case .direct? = try? classifyOutput(path) { return true }
    return false
}

/// Writes an output without ever destroying what is at its path: a regular file goes to a private
/// temp file `NAME.tmp.<16 random hex digits>` in the target's directory, created with
/// `O_CREAT | O_EXCL | O_NOFOLLOW` (mode 0600) relative to that directory's descriptor, and `commit`
/// gives it its final mode and renames it over `NAME` within the same directory descriptor; a
/// character device or FIFO is opened and written directly (nothing to rename, nothing to remove).
public final class AtomicFile {
    /// The path as the user gave it (used in every message).
    public let path: String
    /// Where the data is written until commit (the temp file), or the device itself.
    public let tempPath: String
    var target: String
    var displayPath: String? = nil
    let direct: Bool
    var fd: Int32
    /// The target's directory, held open so that the temp file and the rename stay in it whatever
    /// happens to the path's components meanwhile (-1 for a device).
    var dirfd: Int32 = -1
    let tempName: String
    /// The mode the published file gets: the replaced file's permission bits, or 0666 less the umask.
    var finalMode: mode_t
    var closed = false
    /// fsync before the rename, so the published file also survives a power loss (not needed for
    /// atomicity against an interrupted run: the rename alone guarantees that).
    nonisolated(unsafe) public static var syncOnCommit = false

    public init(path: String) throws {
        self.path = path
        switch try classifyOutput(path) {
        case .direct:
            direct = true
            target = path
            tempPath = path
            tempName = ""
            finalMode = 0
            fd = open(path, O_WRONLY | O_CLOEXEC)
            if fd < 0 { throw OutputError("cannot open \(path) for writing: \(errnoText())") }
        case .regular(let t):
            try InputRegistry.refuseIfInput(t, output: path)
            direct = false
            target = t
            var st = stat()
            finalMode = lstat(t, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG ? st.st_mode & 0o777 : OutputPath.newFileMode
            let dir = OutputPath.directory(of: t), name = OutputPath.name(of: t)
            dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if dirfd < 0 { throw OutputError("cannot create \(path): \(dir): \(errnoText())") }
            var made: (fd: Int32, name: String)? = nil
            for _ in 0..<16 {
                let n = "\(name).tmp.\(OutputPath.randomTag())"
                let f = openat(dirfd, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
                if f >= 0 { made = (f, n); break }
                if errno != EEXIST { break }
            }
            guard let made else {
                let e = errnoText()
                close(dirfd)
                throw OutputError("cannot create \(path): \(e)")
            }
            fd = made.fd
            tempName = made.name
            tempPath = (dir == "/" ? "" : dir) + "/" + made.name
            TempFiles.register(tempPath)
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if let e = writeAll(fd, bytes) { throw OutputError("write to \(path) failed: \(e)") }
    }


    /// Publishes under another name in the same kind of place (a shard whose final name, such as
    /// `train-00000-of-00004.parquet`, is known only when the run ends). The other name is in the
    /// same directory as the path the file was opened for.
    public func commit(renamingTo other: String?) throws {
        try prepare()
        try publish(renamingTo: other)
    }

    public func commit() throws {
        try prepare()
        try publish()
    }

    var prepared = false
    /// Everything before the rename: the final mode, fsync when asked, close. A run prepares all
    /// its outputs first and renames them after, so a failure here publishes nothing.
    public func prepare() throws {
        guard !closed, !prepared else { return }
        prepared = true
        if direct {
            closed = true
            if close(fd) != 0 { throw OutputError("close \(path): \(errnoText())") }
            return
        }
        if fchmod(fd, finalMode) != 0 { let e = errnoText(); abort(); throw OutputError("chmod \(path): \(e)") }
        if AtomicFile.syncOnCommit && fsync(fd) != 0 && errno != EINVAL {
            let e = errnoText(); abort(); throw OutputError("fsync \(path): \(e)")
        }
        if close(fd) != 0 { let e = errnoText(); fd = -1; abort(); throw OutputError("close \(path): \(e)") }
        fd = -1
    }

    /// Renames the prepared temp file over its final name (or `other`, in the same directory).
    public func publish(renamingTo other: String? = nil) throws {
        if !prepared { try prepare() }
        guard !closed else { return }
        closed = true
        defer { close(dirfd); dirfd = -1 }
        if let other, other != path {
            guard case .regular(let t) = try classifyOutput(other) else { discardTemp(); throw OutputError("\(other) is not a regular file path") }
            guard OutputPath.directory(of: t) == OutputPath.directory(of: target) else {
                discardTemp(); throw OutputError("\(other) is not in the directory of \(path)")
            }
            do { try InputRegistry.refuseIfInput(t, output: other) } catch { discardTemp(); throw error }
            target = t
            displayPath = other
        }
        // The path may have become something else while we wrote (a directory, a device): check again.
        if case .regular(let t)? = try? classifyOutput(displayPath ?? path), t == target {} else {
            discardTemp()
            throw OutputError("\(path) changed while it was written (now not a regular file); nothing was published there")
        }
        if renameat(dirfd, tempName, dirfd, OutputPath.name(of: target)) != 0 {
            let e = errnoText(); discardTemp(); throw OutputError("cannot publish \(path): \(e)")
        }
        TempFiles.unregister(tempPath)
    }

    func discardTemp() {
        if dirfd >= 0 { unlinkat(dirfd, tempName, 0) } else { unlink(tempPath) }
        TempFiles.unregister(tempPath)
    }

    public func abort() {
        guard !closed else { return }
        closed = true
        if fd >= 0 { close(fd); fd = -1 }
        if !direct { discardTemp(); close(dirfd); dirfd = -1 }
    }
    deinit { abort() }
}
