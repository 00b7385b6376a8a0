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
    public init(_ m: String) { message = m }
    public var description: String { message }
}

func errnoText() -> String { String(cString: strerror(errno)) }

/// Writes to `path.tmp.<pid>.<n>` in the same directory; `commit` renames it over `path`.
public final class AtomicFile {
    public let path: String
    public let tempPath: String
    var fd: Int32
    var closed = false
    nonisolated(unsafe) static var counter = 0
    /// fsync before the rename, so the published file also survives a power loss (not needed for
    /// atomicity against an interrupted run: the rename alone guarantees that).
    nonisolated(unsafe) public static var syncOnCommit = false

    public init(path: String) throws {
        self.path = path
        AtomicFile.counter += 1
        tempPath = "\(path).tmp.\(getpid()).\(AtomicFile.counter)"
        fd = open(tempPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd < 0 { throw OutputError("cannot create \(tempPath): \(errnoText())") }
        TempFiles.register(tempPath)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var off = 0
        while off < bytes.count {
            let r = Glibc.write(fd, bytes.baseAddress! + off, bytes.count - off)
            if r < 0 {
                if errno == EINTR { continue }
                throw OutputError("write to \(tempPath) failed: \(errnoText())")
            }
            off += r
        }
    }

    public func commit() throws {
        guard !closed else { return }
        closed = true
        if AtomicFile.syncOnCommit && fsync(fd) != 0 && errno != EINVAL {
            let e = errnoText(); close(fd); throw OutputError("fsync \(tempPath): \(e)")
        }
        if close(fd) != 0 { throw OutputError("close \(tempPath): \(errnoText())") }
        if rename(tempPath, path) != 0 { throw OutputError("rename \(tempPath) -> \(path): \(errnoText())") }
        TempFiles.unregister(tempPath)
    }

    public func abort() {
        guard !closed else { return }
        closed = true
        close(fd)
        unlink(tempPath)
        TempFiles.unregister(tempPath)
    }
    deinit { abort() }
}

/// Temp files to remove if the process is interrupted.
public enum TempFiles {
    nonisolated(unsafe) static var paths = Set<String>()
    nonisolated(unsafe) static var lock = pthread_mutex_t()
    nonisolated(unsafe) static var installed = false
    static func register(_ p: String) { pthread_mutex_lock(&lock); paths.insert(p); pthread_mutex_unlock(&lock) }
    static func unregister(_ p: String) { pthread_mutex_lock(&lock); paths.remove(p); pthread_mutex_unlock(&lock) }

    /// On SIGINT/SIGTERM, remove temp files and exit 130: no partial final file is left behind.
    public static func installSignalCleanup() {
        if installed { return }
        installed = true
        pthread_mutex_init(&lock, nil)
        let handler: @convention(c) (Int32) -> Void = { sig in
            for p in TempFiles.paths { unlink(p) }
            _exit(128 + sig)
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
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
        if path == "-" { file = nil; fdOut = 1 } else { let f = try AtomicFile(path: path); file = f; fdOut = f.fd }
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
            }
            let existing = RecordSink.existingShards(dir)
            if !existing.isEmpty {
                guard overwriteShards else {
                    throw OutputError("\(dir) already holds \(existing.count) part-*.jsonl.zst shard(s); use --overwrite to replace them")
                }
                for f in existing { unlink(dir + "/" + f) }
            }
        }
    }

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
