// Byte sources: files and stdin, with compression detected from magic bytes (never the extension).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import CZstd

public enum StreamErrorKind: String, Sendable {
    case io, truncated, corrupt, unsupported
}

public struct StreamError: Error, CustomStringConvertible, Sendable {
    public var kind: StreamErrorKind
    public var message: String
    /// Offset in the file as stored (compressed bytes) where the problem was seen.
    public var fileOffset: Int64
    public var description: String { "\(message) (at file byte \(fileOffset))" }
}

public protocol ByteSource: AnyObject {
    /// Reads up to `buf.count` bytes; returns 0 at the end of the stream.
    func read(into buf: UnsafeMutableRawBufferPointer) throws -> Int
    /// Bytes consumed from the underlying file so far.
    var fileOffset: Int64 { get }
}

public enum Compression: String, Sendable {
    case none, gzip, zstd
    /// Not a compression but a container: the rows of a Parquet file, read as JSON Lines.
    case parquet
}

/// A file descriptor source (a file, or stdin for "-").
public final class FileSource: ByteSource {
    let fd: Int32
    let owns: Bool
    public private(set) var fileOffset: Int64 = 0
    public let path: String

    /// Where reading stops (a byte range of the file), or nil: the end of the file.
    var limit: Int64? = nil

    /// Bytes [range.start, range.end) of a file; `fileOffset` counts from the start of the file.
    public convenience init(path: String, range: ByteRange) throws {
        try self.init(path: path)
        guard lseek(fd, off_t(range.start), SEEK_SET) == off_t(range.start) else {
            throw StreamError(kind: .io, message: "cannot seek in \(path): \(String(cString: strerror(errno)))", fileOffset: range.start)
        }
        fileOffset = range.start
        limit = range.end
    }

    public init(path: String) throws {
        self.path = path
        if path == "-" {
            fd = 0; owns = false
        } else {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            owns = true
            if fd < 0 {
                throw StreamError(kind: .io, message: "cannot open \(path): \(String(cString: strerror(errno)))", fileOffset: 0)
            }
            guard InputRegistry.isSameInput(path, fd: fd) else {
                close(fd)
                throw StreamError(kind: .io, message: "\(path) was replaced by another file while this run read it; run again", fileOffset: 0)
            }
        }
    }
    deinit { if owns { close(fd) } }

    /// Calls `body` with every 1 MB block of a file's bytes as stored; returns the file's size.
    public static func eachBlock(of path: String, _ body: (UnsafeRawBufferPointer) -> Void) throws -> Int64 {
        let f = try FileSource(path: path)
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buf.deallocate() }
        var total: Int64 = 0
        while true {
            let n = try f.read(into: buf)
            if n == 0 { return total }
            body(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
            total += Int64(n)
        }
    }

    public func read(into buf: UnsafeMutableRawBufferPointer) throws -> Int {
        let want = limit.map { max(0, min(Int64(buf.count), $0 - fileOffset)) }.map(Int.init) ?? buf.count
        if want == 0 { return 0 }
        while true {
            let r = Glibc.read(fd, buf.baseAddress, want)
            if r >= 0 { fileOffset += Int64(r); return r }
            if errno == EINTR { continue }
            throw StreamError(kind: .io, message: "read error on \(path): \(String(cString: strerror(errno)))", fileOffset: fileOffset)
        }
    }
}

/// An in-memory source (tests, small documents).
public final class MemorySource: ByteSource {
    let data: [UInt8]
    var pos = 0
    public var fileOffset: Int64 { Int64(pos) }
    public init(_ data: [UInt8]) { self.data = data }
    public func read(into buf: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buf.count, data.count - pos)
        if n > 0 { data.withUnsafeBytes { buf.baseAddress!.copyMemory(from: $0.baseAddress! + pos, byteCount: n) } }
        pos += n
        return n
    }
}

/// Reads the first bytes of a source so they can be inspected, then replays them.
final class PeekSource: ByteSource {
    let inner: ByteSource
    var head: [UInt8]
    var headPos = 0
    var fileOffset: Int64 { inner.fileOffset - Int64(head.count - headPos) }

    init(_ inner: ByteSource, peek: Int) throws {
        self.inner = inner
        head = [UInt8](repeating: 0, count: peek)
        var got = 0
        while got < peek {
            let r = try head.withUnsafeMutableBytes { try inner.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[got...])) }
            if r == 0 { break }
            got += r
        }
        head.removeSubrange(got...)
    }

    func read(into buf: UnsafeMutableRawBufferPointer) throws -> Int {
        if headPos < head.count {
            let n = min(buf.count, head.count - headPos)
            head.withUnsafeBytes { buf.baseAddress!.copyMemory(from: $0.baseAddress! + headPos, byteCount: n) }
            headPos += n
            return n
        }
        return try inner.read(into: buf)
    }
}

public enum Sources {
    /// Detects compression from the first bytes of `raw` and returns a decoding source.
    public static func decoding(_ raw: ByteSource) throws -> (ByteSource, Compression) {
        let peek = try PeekSource(raw, peek: 8)
        let h = peek.head
        if h.count >= 2 && h[0] == 0x1F && h[1] == 0x8B {
            return (try GzipSource(peek), .gzip)
        }
        if h.count >= 4 {
            let magic = UInt32(h[0]) | UInt32(h[1]) << 8 | UInt32(h[2]) << 16 | UInt32(h[3]) << 24
            if magic == 0xFD2F_B528 || (magic & 0xFFFF_FFF0) == 0x184D_2A50 {
                return (try ZstdSource(peek), .zstd)
            }
            if h[0] == 0x50 && h[1] == 0x41 && h[2] == 0x52 && h[3] == 0x31 {
                // Parquet ("PAR1"): its footer is at the end, so it is read from the file by offset.
                guard let file = raw as? FileSource, file.path != "-" else {
                    throw StreamError(kind: .unsupported, message: "Parquet cannot be read from stdin (its footer is at the end); give the file's path", fileOffset: 0)
                }
                return (try ParquetSource(path: file.path), .parquet)
            }
            if h[0] == 0x42 && h[1] == 0x5A && h[2] == 0x68 {
                throw StreamError(kind: .unsupported, message: "bzip2 input is not supported; pipe it through `bzip2 -dc` and read '-'", fileOffset: 0)
            }
            if h.count >= 6 && h[0] == 0xFD && h[1] == 0x37 && h[2] == 0x7A && h[3] == 0x58 && h[4] == 0x5A && h[5] == 0x00 {
                throw StreamError(kind: .unsupported, message: "xz input is not supported; pipe it through `xz -dc` and read '-'", fileOffset: 0)
            }
            if h.count >= 6 && h[0] == 0x37 && h[1] == 0x7A && h[2] == 0xBC && h[3] == 0xAF {
                throw StreamError(kind: .unsupported, message: "7z archives are not supported; extract with `7z x -so ARCHIVE FILE` and read '-'", fileOffset: 0)
            }
        }
        return (peek, .none)
    }

    public static func open(_ path: String) throws -> (ByteSource, Compression) {
        try decoding(FileSource(path: path))
    }

    /// Reads a whole (small) file, decompressing as needed.
    public static func readAll(_ path: String) throws -> [UInt8] {
        let (src, _) = try open(path)
        return try readAll(src)
    }

    public static func readAll(_ src: ByteSource) throws -> [UInt8] {
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try src.read(into: $0) }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }
}

/// gzip via zlib: concatenated members, truncation and corruption reported with the file offset.
/// Bytes decoded before a failure are returned first; the error comes on the next read.
public final class GzipSource: ByteSource {
    let inner: ByteSource
    var zs = z_stream()
    var inBuf: UnsafeMutableRawPointer
    let inCap = 1 << 18
    var ended = false        // the underlying file is exhausted
    var memberDone = false   // between members
    var finished = false
    var pending: StreamError?
    public var fileOffset: Int64 { inner.fileOffset - Int64(zs.avail_in) }

    init(_ inner: ByteSource) throws {
        self.inner = inner
        inBuf = UnsafeMutableRawPointer.allocate(byteCount: inCap, alignment: 16)
        let rc = inflateInit2_(&zs, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw StreamError(kind: .io, message: "zlib init failed (\(rc))", fileOffset: 0) }
    }
    deinit { inflateEnd(&zs); inBuf.deallocate() }

    public func read(into buf: UnsafeMutableRawBufferPointer) throws -> Int {
        if let e = pending { pending = nil; finished = true; throw e }
        if finished { return 0 }
        zs.next_out = buf.baseAddress!.assumingMemoryBound(to: Bytef.self)
        zs.avail_out = uInt(buf.count)
        do {
            while zs.avail_out > 0 {
                if zs.avail_in == 0 && !ended {
                    let n = try inner.read(into: UnsafeMutableRawBufferPointer(start: inBuf, count: inCap))
                    if n == 0 { ended = true }
                    zs.next_in = inBuf.assumingMemoryBound(to: Bytef.self)
                    zs.avail_in = uInt(n)
                }
                if memberDone {
                    if zs.avail_in == 0 { finished = true; break }   // clean end after a complete member
                    if zs.next_in[0] != 0x1F {
                        throw StreamError(kind: .corrupt, message: "trailing garbage after gzip member", fileOffset: fileOffset)
                    }
                    inflateReset(&zs)
                    memberDone = false
                }
                if zs.avail_in == 0 && ended {
                    throw StreamError(kind: .truncated, message: "gzip stream truncated (unexpected end of file)", fileOffset: fileOffset)
                }
                let rc = inflate(&zs, Z_NO_FLUSH)
                if rc == Z_STREAM_END {
                    memberDone = true
                } else if rc != Z_OK && rc != Z_BUF_ERROR {
                    let msg = zs.msg.map { String(cString: $0) } ?? "error \(rc)"
                    throw StreamError(kind: .corrupt, message: "gzip data error: \(msg)", fileOffset: fileOffset)
                }
            }
        } catch let e as StreamError {
            let produced = buf.count - Int(zs.avail_out)
            if produced > 0 { pending = e; return produced }
            finished = true
            throw e
        }
        return buf.count - Int(zs.avail_out)
    }
}

/// zstd streaming decompression: multiple frames, skippable frames, frames without content size.
/// Bytes decoded before a failure are returned first; the error comes on the next read.
public final class ZstdSource: ByteSource {
    let inner: ByteSource
    let ds: OpaquePointer
    var inBuf: UnsafeMutableRawPointer
    let inCap = Int(ZSTD_DStreamInSize())
    var input = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
    var ended = false
    var lastRet: Int = 1   // 0 when the last frame is complete
    var finished = false
    var pending: StreamError?
    public var fileOffset: Int64 { inner.fileOffset - Int64(input.size - input.pos) }

    init(_ inner: ByteSource) throws {
        self.inner = inner
        guard let d = ZSTD_createDStream() else { throw StreamError(kind: .io, message: "zstd init failed", fileOffset: 0) }
        ds = d
        ZSTD_initDStream(ds)
        inBuf = UnsafeMutableRawPointer.allocate(byteCount: inCap, alignment: 16)
    }
    deinit { ZSTD_freeDStream(ds); inBuf.deallocate() }

    public func read(into buf: UnsafeMutableRawBufferPointer) throws -> Int {
        if let e = pending { pending = nil; finished = true; throw e }
        if finished { return 0 }
        var output = ZSTD_outBuffer(dst: buf.baseAddress, size: buf.count, pos: 0)
        do {
            while output.pos < output.size {
                if input.pos == input.size && !ended {
                    let n = try inner.read(into: UnsafeMutableRawBufferPointer(start: inBuf, count: inCap))
                    if n == 0 { ended = true } else { input = ZSTD_inBuffer(src: inBuf, size: n, pos: 0) }
                }
                if input.pos == input.size && ended {
                    // All input consumed: done if the last frame completed, else flush what the
                    // decoder still holds; a frame that cannot finish is a truncated stream.
                    if lastRet == 0 { finished = true; break }
                    let before = output.pos
                    let r = ZSTD_decompressStream(ds, &output, &input)
                    if ZSTD_isError(r) != 0 {
                        throw StreamError(kind: .corrupt, message: "zstd: \(String(cString: ZSTD_getErrorName(r)))", fileOffset: fileOffset)
                    }
                    lastRet = r
                    if output.pos == before && r != 0 {
                        throw StreamError(kind: .truncated, message: "zstd stream truncated (frame incomplete at end of file)", fileOffset: fileOffset)
                    }
                    continue
                }
                let r = ZSTD_decompressStream(ds, &output, &input)
                if ZSTD_isError(r) != 0 {
                    throw StreamError(kind: .corrupt, message: "zstd: \(String(cString: ZSTD_getErrorName(r)))", fileOffset: fileOffset)
                }
                lastRet = r
            }
        } catch let e as StreamError {
            if output.pos > 0 { pending = e; return output.pos }
            finished = true
            throw e
        }
        return output.pos
    }
}
