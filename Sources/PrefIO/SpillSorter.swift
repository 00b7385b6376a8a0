// External sort of (key, payload) records under a memory budget: records are buffered, sorted and
// spilled to temporary run files when the budget is reached, then merged. Keys compare bytewise;
// equal keys keep insertion order, so the result does not depend on whether anything spilled.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class SpillSorter {
    struct Entry { var key: [UInt8]; var seq: Int; var payload: [UInt8] }

    public let memoryLimit: Int
    let tempDir: String
    var buffer: [Entry] = []
    var bufferedBytes = 0
    var seq = 0
    public private(set) var runs: [String] = []
    public private(set) var spilledRecords = 0
    /// Largest buffered size reached, for reports.
    public private(set) var peakBufferedBytes = 0
    /// Per-entry cost beyond the key and payload bytes: two array headers and their malloc
    /// rounding, and the entry itself (measured: about 150 bytes on 64-bit Linux).
    static let entryOverhead = 160

    public init(memoryLimit: Int, tempDir: String? = nil) {
        self.memoryLimit = max(1 << 16, memoryLimit)
        self.tempDir = tempDir ?? (ProcessEnv.get("TMPDIR") ?? "/tmp")
    }

    deinit { removeRuns() }

    public func add(key: [UInt8], payload: [UInt8]) throws {
        // Exact-size copies: arrays grown by appending can hold up to twice their count.
        buffer.append(Entry(key: exact(key), seq: seq, payload: exact(payload)))
        seq += 1
        bufferedBytes += key.count + payload.count + SpillSorter.entryOverhead
        peakBufferedBytes = max(peakBufferedBytes, bufferedBytes)
        if bufferedBytes >= memoryLimit { try spill() }
    }

    func exact(_ a: [UInt8]) -> [UInt8] {
        if a.capacity <= a.count + 16 { return a }
        return [UInt8](unsafeUninitializedCapacity: a.count) { buf, n in
            _ = buf.initialize(from: a); n = a.count
        }
    }

    static func less(_ a: Entry, _ b: Entry) -> Bool {
        let c = compareBytes(a.key, b.key)
        return c != 0 ? c < 0 : a.seq < b.seq
    }

    func spill() throws {
        guard !buffer.isEmpty else { return }
        buffer.sort(by: SpillSorter.less)
        let (fd, path) = try TempFiles.create(prefix: "prefkit-run", in: tempDir, what: "a spill file")
        runs.append(path)
        let w = RunWriter(fd: fd)
        for e in buffer { try w.write(e) }
        try w.close()
        spilledRecords += buffer.count
        buffer.removeAll(keepingCapacity: false)
        bufferedBytes = 0
    }

    func removeRuns() {
        for r in runs { unlink(r); TempFiles.unregister(r) }
        runs = []
    }

    /// Calls `body` with every record in key order. The sorter is empty afterwards.
    public func drain(_ body: (_ key: [UInt8], _ payload: [UInt8]) throws -> Void) throws {
        buffer.sort(by: SpillSorter.less)
        if runs.isEmpty {
            for e in buffer { try body(e.key, e.payload) }
            buffer = []
            return
        }
        defer { removeRuns() }
        // k-way merge: the runs and the in-memory remainder.
        var sources: [RunReader] = try runs.map { try RunReader(path: $0) }
        var memIndex = 0
        var heads: [Entry?] = try sources.map { try $0.next() }
        while true {
            var best = -1
            for (i, h) in heads.enumerated() {
                guard let h else { continue }
                if best < 0 || SpillSorter.less(h, heads[best]!) { best = i }
            }
            let mem = memIndex < buffer.count ? buffer[memIndex] : nil
            if let m = mem, best < 0 || SpillSorter.less(m, heads[best]!) {
                try body(m.key, m.payload); memIndex += 1; continue
            }
            guard best >= 0 else { break }
            let e = heads[best]!
            try body(e.key, e.payload)
            heads[best] = try sources[best].next()
        }
        sources.removeAll()
        buffer = []
    }
}

public func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
    let n = min(a.count, b.count)
    let c = a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in n == 0 ? 0 : memcmp(ap.baseAddress!, bp.baseAddress!, n) } }
    if c != 0 { return Int(c) }
    return a.count - b.count
}

enum ProcessEnv {
    static func get(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
}

/// Run file format: per entry [u32 keyLen][u64 seq][u32 payloadLen][key][payload], little-endian.
final class RunWriter {
    let fd: Int32
    var buf: [UInt8] = []
    init(fd: Int32) { self.fd = fd; buf.reserveCapacity(1 << 20) }
    func put32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { buf.append(contentsOf: $0) } }
    func put64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { buf.append(contentsOf: $0) } }
    func write(_ e: SpillSorter.Entry) throws {
        put32(UInt32(e.key.count)); put64(UInt64(e.seq)); put32(UInt32(e.payload.count))
        buf.append(contentsOf: e.key); buf.append(contentsOf: e.payload)
        if buf.count >= 1 << 20 { try flush() }
    }
    func flush() throws {
        if let e = buf.withUnsafeBytes({ writeAll(fd, $0) }) { throw OutputError("spill write failed: \(e)") }
        buf.removeAll(keepingCapacity: true)
    }
    func close() throws { try flush(); Glibc.close(fd) }
}

final class RunReader {
    let src: FileSource
    var buf: [UInt8] = []
    var pos = 0
    var eof = false
    init(path: String) throws { src = try FileSource(path: path) }

    func ensure(_ n: Int) throws -> Bool {
        while buf.count - pos < n && !eof {
            if pos > 0 { buf.removeFirst(pos); pos = 0 }
            var chunk = [UInt8](repeating: 0, count: max(1 << 18, n))
            let r = try chunk.withUnsafeMutableBytes { try src.read(into: $0) }
            if r == 0 { eof = true } else { buf.append(contentsOf: chunk[0..<r]) }
        }
        return buf.count - pos >= n
    }
    func u32() -> Int { let v = buf.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: pos, as: UInt32.self) }; pos += 4; return Int(UInt32(littleEndian: v)) }
    func u64() -> Int { let v = buf.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: pos, as: UInt64.self) }; pos += 8; return Int(UInt64(littleEndian: v)) }

    func next() throws -> SpillSorter.Entry? {
        guard try ensure(16) else { return nil }
        let kl = u32(), seq = u64(), pl = u32()
        guard try ensure(kl + pl) else { throw OutputError("spill file \(src.path) is truncated") }
        let key = Array(buf[pos..<pos + kl]); pos += kl
        let payload = Array(buf[pos..<pos + pl]); pos += pl
        return SpillSorter.Entry(key: key, seq: seq, payload: payload)
    }
}
