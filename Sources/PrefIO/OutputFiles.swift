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

/// What an output path names before anything is written to it.
enum OutputKind {
    /// A regular file (or nothing yet): written to a temp file beside `target`, renamed over it.
    case regular(target: String)
    /// A character device or FIFO (`/dev/stdout`, `/dev/null`, a named pipe): written directly.
    case direct
}

/// Decides how an output path is written. Symbolic links are followed: the file they point to is
/// replaced atomically and the link itself stays. Directories, block devices, sockets and links to
/// nothing are refused before anything is created.
func classifyOutput(_ path: String) throws -> OutputKind {
    var st = stat()
    guard lstat(path, &st) == 0 else {
        if errno == ENOENT { return .regular(target: path) }
        throw OutputError("cannot use \(path) as an output: \(errnoText())")
    }
    var target = path
    if (st.st_mode & S_IFMT) == S_IFLNK {
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

/// True when the path names a character device or FIFO (written directly, with no file beside it).
public func isDeviceOrFIFO(_ path: String) -> Bool {
    if case .direct? = try? classifyOutput(path) { return true }
    return false
}

/// Writes an output without ever destroying what is at its path: a regular file goes to
/// `target.tmp.<pid>.<n>` in the same directory and `commit` renames it over `target`; a character
/// device or FIFO is opened and written directly (nothing to rename, nothing to remove).
public final class AtomicFile {
    /// The path as the user gave it (used in every message).
    public let path: String
    /// Where the data is written until commit (the temp file), or the device itself.
    public let tempPath: String
    var target: String
    var displayPath: String? = nil
    let direct: Bool
    var fd: Int32
    var closed = false
    nonisolated(unsafe) static var counter = 0
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
            fd = open(path, O_WRONLY | O_CLOEXEC)
            if fd < 0 { throw OutputError("cannot open \(path) for writing: \(errnoText())") }
        case .regular(let t):
            try InputRegistry.refuseIfInput(t, output: path)
            direct = false
            target = t
            AtomicFile.counter += 1
            tempPath = "\(t).tmp.\(getpid()).\(AtomicFile.counter)"
            TempFiles.register(tempPath)
            fd = open(tempPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if fd < 0 {
                let e = errnoText()
                TempFiles.unregister(tempPath)
                throw OutputError("cannot create \(path): \(e)")
            }
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var off = 0
        while off < bytes.count {
            let r = Glibc.write(fd, bytes.baseAddress! + off, bytes.count - off)
            if r < 0 {
                if errno == EINTR { continue }
                throw OutputError("write to \(path) failed: \(errnoText())")
            }
            off += r
        }
    }

    /// Publishes under another name in the same kind of place (a shard whose final name, such as
    /// `train-00000-of-00004.parquet`, is known only when the run ends).
    public func commit(renamingTo other: String?) throws {
        guard let other, !direct, other != path else { try commit(); return }
        guard case .regular(let t) = try classifyOutput(other) else { throw OutputError("\(other) is not a regular file path") }
        try InputRegistry.refuseIfInput(t, output: other)
        target = t
        displayPath = other
        try commit()
    }

    public func commit() throws {
        guard !closed else { return }
        closed = true
        if direct {
            if close(fd) != 0 { throw OutputError("close \(path): \(errnoText())") }
            return
        }
        if AtomicFile.syncOnCommit && fsync(fd) != 0 && errno != EINVAL {
            let e = errnoText(); close(fd); discardTemp(); throw OutputError("fsync \(path): \(e)")
        }
        if close(fd) != 0 { let e = errnoText(); discardTemp(); throw OutputError("close \(path): \(e)") }
        // The path may have become something else while we wrote (a directory, a device): check again.
        if case .regular(let t)? = try? classifyOutput(displayPath ?? path), t == target {} else {
            discardTemp()
            throw OutputError("\(path) changed while it was written (now not a regular file); nothing was published there")
        }
        if rename(tempPath, target) != 0 { let e = errnoText(); discardTemp(); throw OutputError("cannot publish \(path): \(e)") }
        TempFiles.unregister(tempPath)
    }

    func discardTemp() {
        unlink(tempPath)
        TempFiles.unregister(tempPath)
    }

    public func abort() {
        guard !closed else { return }
        closed = true
        close(fd)
        if !direct { discardTemp() }
    }
    deinit { abort() }
}
