// Outputs: atomic files (temp file + rename), optional zstd or gzip compression chosen by the
// output name, stdout, and a shard writer for directories.
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
    let target: String
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
        if case .regular(let t)? = try? classifyOutput(path), t == target {} else {
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

/// The identities (device, inode) of every input of the run, so that no output can overwrite one.
public enum InputRegistry {
    struct FileID: Hashable { var dev: UInt64; var ino: UInt64 }
    nonisolated(unsafe) static var ids = Set<FileID>()
    nonisolated(unsafe) static var names: [FileID: String] = [:]
    nonisolated(unsafe) static var lock = pthread_mutex_t()
    nonisolated(unsafe) static var lockReady: Bool = { pthread_mutex_init(&lock, nil); return true }()

    static func id(_ path: String) -> FileID? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return FileID(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino))
    }

    /// Records an input file (regular files only; stdin and devices cannot be overwritten by a rename).
    public static func register(_ path: String) {
        guard path != "-", let i = id(path) else { return }
        _ = lockReady
        pthread_mutex_lock(&lock); ids.insert(i); names[i] = names[i] ?? path; pthread_mutex_unlock(&lock)
    }

    static func inputNamed(_ path: String) -> String? {
        guard let i = id(path) else { return nil }
        _ = lockReady
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        return ids.contains(i) ? names[i] : nil
    }

    static func refuseIfInput(_ target: String, output: String) throws {
        if let input = inputNamed(target) {
            throw OutputError("output \(output) is the input \(input); refusing to overwrite an input (write elsewhere, then rename)", usage: true)
        }
    }

    /// Checks, before anything is read, that no output path is one of the registered inputs and that
    /// no two outputs name the same file. `nil` entries (options not given) and "-" are skipped.
    public static func checkOutputs(_ outputs: [(flag: String, path: String?)]) throws {
        var seen: [String: String] = [:]
        for (flag, p) in outputs {
            guard let p, p != "-" else { continue }
            if case .regular(let t) = try classifyOutput(p) {
                try refuseIfInput(t, output: p)
                let key = canonicalOutputPath(t)
                if let other = seen[key] { throw OutputError("\(flag) \(p) and \(other) name the same file", usage: true) }
                seen[key] = "\(flag) \(p)"
            }
        }
    }

    /// An absolute, link-free spelling of a (possibly not yet existing) file path.
    static func canonicalOutputPath(_ p: String) -> String {
        if let r = realpath(p, nil) { defer { free(r) }; return String(cString: r) }
        let slash = p.lastIndex(of: "/")
        let dir = slash.map { String(p[..<$0]) } ?? "."
        let name = slash.map { String(p[p.index(after: $0)...]) } ?? p
        if let r = realpath(dir.isEmpty ? "/" : dir, nil) { defer { free(r) }; return String(cString: r) + "/" + name }
        return p
    }
}

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

public enum OutputCompression: String, Sendable {
    case none, zstd, gzip

    /// Chosen from the output name: `.zst`/`.zstd` -> zstd, `.gz` -> gzip, otherwise plain.
    public static func forPath(_ path: String) -> OutputCompression {
        if path.hasSuffix(".zst") || path.hasSuffix(".zstd") { return .zstd }
        if path.hasSuffix(".gz") { return .gzip }
        return .none
    }

    /// Names that promise a compression prefkit does not write: refused rather than writing plain
    /// bytes under a compressed name.
    static let unwritable = [".xz", ".lzma", ".bz2", ".bz", ".lz4", ".lz", ".7z", ".zip", ".br", ".sz", ".snappy"]

    public static func refuseUnsupported(_ path: String) throws {
        let lower = path.lowercased()
        if let ext = unwritable.first(where: { lower.hasSuffix($0) }) {
            throw OutputError("cannot write \(path): \(ext) compression is not supported for outputs (use .zst or .gz, or no extension)", usage: true)
        }
    }
}

/// A byte sink that compresses (or not) into an atomic file, buffered.
public final class EncodedFile {
    let file: AtomicFile?
    let fdOut: Int32
    let compression: OutputCompression
    var cctx: OpaquePointer?
    var zs = z_stream()
    var out: UnsafeMutableRawPointer
    let outCap = 1 << 20
    var plain = [UInt8]()
    public private(set) var bytesIn: Int64 = 0

    public init(path: String, compression: OutputCompression, level: Int) throws {
        if path == "-" { file = nil; fdOut = 1 } else {
            try OutputCompression.refuseUnsupported(path)
            let f = try AtomicFile(path: path); file = f; fdOut = f.fd
        }
        self.compression = compression
        out = .allocate(byteCount: outCap, alignment: 16)
        plain.reserveCapacity(outCap)
        switch compression {
        case .zstd:
            cctx = ZSTD_createCCtx()
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, Int32(level))
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
            // A compression worker thread; the output does not depend on the worker count (>= 1).
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, 1)
        case .gzip:
            let rc = deflateInit2_(&zs, Int32(level), Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            if rc != Z_OK { throw OutputError("zlib deflateInit failed (\(rc))") }
        case .none: break
        }
    }

    deinit {
        if let c = cctx { ZSTD_freeCCtx(c) }
        if compression == .gzip { deflateEnd(&zs) }
        out.deallocate()
    }

    func rawWrite(_ b: UnsafeRawBufferPointer) throws {
        if let f = file { try f.write(b); return }
        var off = 0
        while off < b.count {
            let r = Glibc.write(fdOut, b.baseAddress! + off, b.count - off)
            if r < 0 { if errno == EINTR { continue }; throw OutputError("write to stdout failed: \(errnoText())") }
            off += r
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        bytesIn += Int64(bytes.count)
        switch compression {
        case .none:
            if plain.count + bytes.count > outCap { try flushPlain() }
            if bytes.count >= outCap { try rawWrite(bytes) } else { plain.append(contentsOf: bytes) }
        case .zstd: try zstd(bytes, end: false)
        case .gzip: try gzip(bytes, flush: Z_NO_FLUSH)
        }
    }

    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    func flushPlain() throws {
        if !plain.isEmpty { try plain.withUnsafeBytes { try rawWrite($0) }; plain.removeAll(keepingCapacity: true) }
    }

    func zstd(_ bytes: UnsafeRawBufferPointer, end: Bool) throws {
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while true {
            var output = ZSTD_outBuffer(dst: out, size: outCap, pos: 0)
            let r = ZSTD_compressStream2(cctx, &output, &input, end ? ZSTD_e_end : ZSTD_e_continue)
            if ZSTD_isError(r) != 0 { throw OutputError("zstd compression: \(String(cString: ZSTD_getErrorName(r)))") }
            if output.pos > 0 { try rawWrite(UnsafeRawBufferPointer(start: out, count: output.pos)) }
            if end { if r == 0 { break } } else if input.pos == input.size { break }
        }
    }

    func gzip(_ bytes: UnsafeRawBufferPointer, flush: Int32) throws {
        zs.next_in = UnsafeMutablePointer(mutating: bytes.baseAddress?.assumingMemoryBound(to: Bytef.self))
        zs.avail_in = uInt(bytes.count)
        while true {
            zs.next_out = out.assumingMemoryBound(to: Bytef.self)
            zs.avail_out = uInt(outCap)
            let rc = deflate(&zs, flush)
            if rc == Z_STREAM_ERROR { throw OutputError("zlib deflate failed") }
            let produced = outCap - Int(zs.avail_out)
            if produced > 0 { try rawWrite(UnsafeRawBufferPointer(start: out, count: produced)) }
            if flush == Z_FINISH { if rc == Z_STREAM_END { break } } else if zs.avail_in == 0 && zs.avail_out > 0 { break }
        }
    }

    var finished = false
    /// Ends the compressed stream; the data stays in the temp file until `publish`.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        switch compression {
        case .none: try flushPlain()
        case .zstd: try zstd(UnsafeRawBufferPointer(start: nil, count: 0), end: true)
        case .gzip: try gzip(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_FINISH)
        }
    }

    /// Renames the finished temp file over its final name.
    public func publish() throws { try file?.commit() }

    /// Finishes the stream and publishes the file.
    public func commit() throws {
        try finish()
        try publish()
    }

    public func abort() { file?.abort() }

    /// Writes a whole small file (a summary, a report) atomically.
    public static func writeWhole(_ bytes: [UInt8], to path: String) throws {
        let f = try EncodedFile(path: path, compression: .none, level: 0)
        try f.write(bytes)
        try f.commit()
    }
}

extension JSONValue {
    /// Writes the value as one line of JSON, atomically.
    public func write(to path: String) throws {
        try EncodedFile.writeWhole(Array((serialized() + "\n").utf8), to: path)
    }
}

/// Where converted records go: one file (or stdout), or numbered shards in a directory.
public final class RecordSink {
    public enum Target { case file(String), shards(dir: String, size: Int) }
    let target: Target
    let level: Int
    var current: EncodedFile?
    var inShard = 0
    var shardIndex = 0
    public private(set) var files: [String] = []
    var finishedShards: [EncodedFile] = []

    public init(_ target: Target, zstdLevel: Int = 3, overwriteShards: Bool = false) throws {
        self.target = target
        level = zstdLevel
        switch target {
        case .file(let p):
            let c = OutputCompression.forPath(p)
            current = try EncodedFile(path: p, compression: c, level: c == .gzip ? 6 : zstdLevel)
            files = [p]
        case .shards(let dir, let size):
            guard size > 0 else { throw OutputError("--shard-size must be positive") }
            var st = stat()
            if stat(dir, &st) != 0 {
                if mkdir(dir, 0o755) != 0 { throw OutputError("cannot create directory \(dir): \(errnoText())") }
            } else if (st.st_mode & S_IFMT) != S_IFDIR {
                throw OutputError("\(dir) exists and is not a directory; --shard-size writes a directory of shards", usage: true)
            }
            let existing = RecordSink.existingShards(dir)
            if !existing.isEmpty {
                guard overwriteShards else {
                    throw OutputError("\(dir) already holds \(existing.count) part-*.jsonl.zst shard(s); use --overwrite to replace them", usage: true)
                }
                // Old shards stay until the new set is published (then any left over are removed),
                // and none of them may be an input of this run.
                for f in existing { try InputRegistry.refuseIfInput(dir + "/" + f, output: dir + "/" + f) }
                staleShards = existing.map { dir + "/" + $0 }
            }
        }
    }

    var staleShards: [String] = []

    static func existingShards(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            if name.hasPrefix("part-") && name.hasSuffix(".jsonl.zst") { out.append(name) }
        }
        return out.sorted()
    }

    /// Writes whole records; `ends` are the offsets just past each record's newline.
    public func write(_ bytes: [UInt8], ends: [Int]) throws {
        guard !ends.isEmpty else { return }
        switch target {
        case .file:
            try current!.write(bytes)
        case .shards(let dir, let size):
            var start = 0
            var k = 0
            while k < ends.count {
                if current == nil {
                    let p = dir + "/" + String(format5: shardIndex)
                    current = try EncodedFile(path: p, compression: .zstd, level: level)
                    files.append(p)
                    shardIndex += 1
                    inShard = 0
                }
                let take = min(size - inShard, ends.count - k)
                let end = ends[k + take - 1]
                try bytes.withUnsafeBytes { try current!.write(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
                start = end
                k += take
                inShard += take
                if inShard == size { try current!.finish(); finishedShards.append(current!); current = nil }
            }
        }
    }

    /// Publishes every output at once, at the end of a successful run.
    public func commit() throws {
        if let c = current { try c.finish(); finishedShards.append(c); current = nil }
        for f in finishedShards { try f.publish() }
        finishedShards = []
        for f in staleShards where !files.contains(f) { unlink(f) }
        staleShards = []
    }

    public func abort() {
        current?.abort()
        current = nil
        for f in finishedShards { f.abort() }
        finishedShards = []
    }
}

extension String {
    init(format5 i: Int) {
        var s = String(i)
        while s.count < 5 { s = "0" + s }
        self = "part-\(s).jsonl.zst"
    }
}
