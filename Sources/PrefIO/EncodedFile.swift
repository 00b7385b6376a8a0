// Output compression chosen by the name, and the compressed (zstd, gzip) or plain file writer.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import CZstd

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
        if let e = writeAll(fdOut, b) { throw OutputError("write to stdout failed: \(e)") }
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
        try file?.prepare()
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
