// Binary intermediates of phased runs (dedup sign / cluster, split, stats): named segments, each
// with its length and CRC-32, then a JSON index (the header and the segment table), its length and
// a magic tag at the end. A reader checks the tag, the index and every segment's bounds on open, a
// segment's CRC-32 as it is streamed (before the caller uses what it read is published), and a
// file cut short or overwritten is reported with its path, never read as data.
#if canImport(Glibc)
import Glibc
#endif
import CZlib

public struct PhaseFileError: Error, CustomStringConvertible {
    public var description: String
    /// The file's own checks failed (cut, overwritten, a flipped bit, numbers that do not fit): an
    /// I/O-class failure (exit 3), not a usage mistake such as a missing shard.
    public var isDamage: Bool
    public init(_ d: String, damage: Bool = false) { description = d; isDamage = damage }
}

public enum CRC32 {
    public static func update(_ crc: UInt32, _ p: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = p.baseAddress, p.count > 0 else { return crc }
        return UInt32(truncatingIfNeeded: CZlib.crc32(UInt(crc), base.assumingMemoryBound(to: UInt8.self), UInt32(p.count)))
    }
    public static func of(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { update(0, $0) } }
}

public final class PhaseFileWriter {
    static let magic: [UInt8] = Array("PKPHASE1".utf8)
    let file: AtomicFile
    public let path: String
    var offset: Int64 = 0
    var current: (name: String, start: Int64, crc: UInt32)?
    var segments: [JSONValue] = []
    /// Bytes not yet written out; those from `crcFrom` on belong to the current segment and are
    /// not yet in its CRC (small writes cost an append, the CRC runs over large spans).
    var buffer: [UInt8] = []
    var crcFrom = 0

    init(path: String) throws { self.path = path; file = try AtomicFile(path: path) }

    /// Writes a phase file: `body` writes its segments and returns the header; the file is
    /// published (atomically) when it returns, and removed if anything throws.
    public static func write(to path: String, _ body: (PhaseFileWriter) throws -> JSONValue) throws {
        let w = try PhaseFileWriter(path: path)
        do { try w.finish(header: try body(w)) } catch { w.file.abort(); throw error }
    }

    /// One segment: `body` writes its bytes and returns how many records it holds (for the reader's checks).
    public func segment(_ name: String, _ body: (PhaseFileWriter) throws -> Int) throws {
        precondition(current == nil, "segment \(name) begun inside another")
        current = (name, offset + Int64(buffer.count), 0)
        crcFrom = buffer.count
        let count = try body(self)
        settleCRC()
        let c = current!
        let end = offset + Int64(buffer.count)
        segments.append(.object([("name", .string(c.name)), ("offset", .int(c.start)), ("length", .int(end - c.start)),
                                 ("count", .int(Int64(count))), ("crc32", .int(Int64(c.crc)))]))
        current = nil
    }

    public func write(_ bytes: [UInt8]) throws {
        precondition(current != nil, "write outside a segment")
        buffer += bytes
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// A little-endian fixed-width value.
    public func put<T: FixedWidthInteger>(_ v: T) throws {
        precondition(current != nil, "write outside a segment")
        buffer.putLE(v)
        if buffer.count >= 1 << 20 { try flush() }
    }

    func settleCRC() {
        guard var c = current, crcFrom < buffer.count else { return }
        c.crc = buffer.withUnsafeBytes { CRC32.update(c.crc, UnsafeRawBufferPointer(rebasing: $0[crcFrom...])) }
        current = c
        crcFrom = buffer.count
    }

    func flush() throws {
        settleCRC()
        try buffer.withUnsafeBytes { try file.write($0) }
        offset += Int64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
        crcFrom = 0
    }

    /// Writes the index, its length and the end tag, and publishes the file.
    func finish(header: JSONValue) throws {
        precondition(current == nil)
        let index = Array(JSONValue.object([("header", header), ("segments", .array(segments))]).serialized().utf8)
        buffer += index
        buffer.putLE(UInt64(index.count))
        buffer += PhaseFileWriter.magic
        try flush()
        try file.commit()
    }
}

public final class PhaseFileReader {
    public struct Segment: Sendable { public var offset: Int64; public var length: Int64; public var count: Int; public var crc: UInt32 }
    public let path: String
    public let header: JSONValue
    public let segments: [String: Segment]
    let fd: Int32

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PhaseFileError("cannot open \(path): \(String(cString: strerror(errno)))") }
        var st = stat()
        fstat(fd, &st)
        let size = Int64(st.st_size)
        func damaged(_ what: String) -> PhaseFileError { PhaseFileError("\(path) is damaged (\(what)): it was cut short or overwritten; run the step that wrote it again", damage: true) }
        guard size >= 16 else { close(fd); throw damaged("\(size) bytes, no index") }
        var tail = [UInt8](repeating: 0, count: 16)
        guard PhaseFileReader.pread(fd, &tail, size - 16), Array(tail[8...]) == PhaseFileWriter.magic else { close(fd); throw damaged("no end tag") }
        let n = tail[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard n > 0, n <= UInt64(size - 16), n <= 1 << 30 else { close(fd); throw damaged("bad index length") }
        var index = [UInt8](repeating: 0, count: Int(n))
        guard PhaseFileReader.pread(fd, &index, size - 16 - Int64(n)), let v = try? JSONValue.parse(bytes: index),
              let h = v["header"], let segs = v["segments"]?.arrayValue else { close(fd); throw damaged("unreadable index") }
        var table: [String: Segment] = [:]
        for s in segs {
            guard let name = s["name"]?.stringValue, let o = s["offset"]?.intValue, let l = s["length"]?.intValue,
                  let c = s["count"]?.intValue, let crc = s["crc32"]?.intValue, o >= 0, l >= 0, c >= 0,
                  o <= size - 16 - Int64(n), l <= size - 16 - Int64(n) - o else {
                close(fd); throw damaged("bad segment table")
            }
            table[name] = Segment(offset: o, length: l, count: Int(c), crc: UInt32(truncatingIfNeeded: crc))
        }
        header = h
        segments = table
    }
    deinit { close(fd) }

    static func pread(_ fd: Int32, _ buf: inout [UInt8], _ at: Int64) -> Bool {
        let want = buf.count
        var got = 0
        while got < want {
            let r = buf.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress! + got, want - got, off_t(at) + off_t(got)) }
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { return false }
            got += r
        }
        return true
    }

    public func segment(_ name: String) throws -> Segment {
        guard let s = segments[name] else { throw PhaseFileError("\(path) has no segment \(name): it is not the file this step expects") }
        return s
    }

    /// `count` bytes at `at` within a segment (bounds checked); the caller checks its own record CRC.
    public func read(_ s: Segment, at: Int64, count: Int) throws -> [UInt8] {
        guard at >= 0, count >= 0, at <= s.length, Int64(count) <= s.length - at else { throw PhaseFileError("\(path): a record points outside its segment (damaged)", damage: true) }
        var b = [UInt8](repeating: 0, count: count)
        guard PhaseFileReader.pread(fd, &b, s.offset + at) else { throw PhaseFileError("\(path): read failed at \(s.offset + at): \(String(cString: strerror(errno)))") }
        return b
    }

    /// A segment's bytes whole, its CRC-32 checked.
    public func whole(_ name: String) throws -> [UInt8] {
        let s = try segment(name)
        let b = try read(s, at: 0, count: Int(s.length))
        guard CRC32.of(b) == s.crc else { throw PhaseFileError("\(path): segment \(name) fails its CRC-32 check (damaged); run the step that wrote it again", damage: true) }
        return b
    }

    public func stream(_ name: String, chunk: Int = 1 << 18) throws -> SegmentStream { SegmentStream(self, name: name, try segment(name), chunk: chunk) }
}

/// Sequential reading of one segment in chunks; the CRC-32 is checked when the segment ends, so a
/// caller publishes nothing derived from it before `next` has returned nil.
public final class SegmentStream {
    let file: PhaseFileReader
    let name: String
    let seg: PhaseFileReader.Segment
    let chunk: Int
    var pos: Int64 = 0
    var crc: UInt32 = 0
    var buf: [UInt8] = []
    var at = 0

    init(_ f: PhaseFileReader, name: String, _ s: PhaseFileReader.Segment, chunk: Int) { file = f; self.name = name; seg = s; self.chunk = chunk }

    public var count: Int { seg.count }

    /// The next `n` bytes, or nil at the segment's end (after the CRC check). Throws on a short read or a bad CRC.
    public func next(_ n: Int) throws -> ArraySlice<UInt8>? {
        if at + n > buf.count {
            let rest = Array(buf[at...])
            let left = seg.length - pos
            if left == 0 && rest.isEmpty {
                guard crc == seg.crc else { throw PhaseFileError("\(file.path): segment \(name) fails its CRC-32 check (damaged); run the step that wrote it again", damage: true) }
                return nil
            }
            let take = Int(min(Int64(max(chunk, n)), left))
            var more = try file.read(seg, at: pos, count: take)
            crc = more.withUnsafeBytes { CRC32.update(crc, $0) }
            pos += Int64(take)
            more.insert(contentsOf: rest, at: 0)
            buf = more; at = 0
            if buf.count < n {
                if buf.isEmpty && pos == seg.length { return try next(n) }
                throw PhaseFileError("\(file.path): segment \(name) ends inside a record (damaged)", damage: true)
            }
        }
        defer { at += n }
        return buf[at..<(at + n)]
    }
}

/// Little-endian reading and writing of fixed-width fields.
public extension Array where Element == UInt8 {
    mutating func putLE<T: FixedWidthInteger>(_ v: T) { Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) } }
}
public extension ArraySlice where Element == UInt8 {
    func le<T: FixedWidthInteger>(_ at: Int, as: T.Type = T.self) -> T {
        withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: T.self)) }
    }
}
