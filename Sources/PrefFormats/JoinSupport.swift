// Shared plumbing for the conversions that join many records into pairs (Stack Exchange,
// OpenAssistant): emitting pairs in order, counting every source row, binary payload helpers.
import PrefCore
import PrefIO

/// Collects the pairs and accounting of a join-based conversion and hands them to the run.
final class JoinEmitter {
    let fmt: String
    let display: String
    var out = ByteBuffer(capacity: 1 << 20)
    var ends: [Int] = []
    var tally = Tally()
    var removedOut = ByteBuffer()
    var rejects: [RecordFailure] = []
    let flush: (JoinEmitter) throws -> Void
    /// Source rows the join has read so far (counted or still buffered): what `--strict` reports as
    /// read when it stops the run.
    var taken = 0
    /// `--strict`: a reject is published at once, so the run stops at the first bad row.
    var strict = false

    init(format: String, display: String, flush: @escaping (JoinEmitter) throws -> Void) {
        fmt = format; self.display = display; self.flush = flush
    }

    func pair(_ p: Pair, key: String) throws {
        var p = p
        p.source = "\(fmt):\(display):\(key)"
        p.id = hex16(XXH64.hash(p.source))
        if let (reason, message) = p.validate() {
            reject(line: 0, offset: 0, reason: reason, message: "\(key): \(message)", raw: [])
            return
        }
        p.write(to: &out)
        ends.append(out.count)
        tally.pairs += 1
        if out.count >= 1 << 20 { try flushNow() }
    }

    /// A source row that ended up in at least one written pair.
    func used(_ n: Int = 1) { tally.read += n; tally.written += n }

    func removed(_ reason: String, ref: String, n: Int = 1) {
        tally.read += n
        tally.removed[reason, default: 0] += n
        RemovedRecord.append(to: &removedOut, reason: reason, stage: "convert", source: "\(fmt):\(display):\(ref)", rows: n > 1 ? n : nil)
    }

    func reject(line: Int, offset: Int64, reason: String, message: String, raw: [UInt8], count: Bool = true) {
        if count { tally.read += 1; tally.rejected[reason, default: 0] += 1 }
        rejects.append(RecordFailure(file: display, line: line, offset: offset, reason: reason, message: message, raw: raw))
    }

    /// A bad source row while rows are being read: with `--strict`, the run stops here.
    func rejectRow(line: Int, offset: Int64, reason: String, message: String, raw: [UInt8]) throws {
        reject(line: line, offset: offset, reason: reason, message: message, raw: raw)
        if strict { try flushNow() }
    }

    func flushNow() throws {
        try flush(self)
        out.removeAll(); ends.removeAll(); removedOut.removeAll(); rejects.removeAll()
        tally = Tally()
    }
}

/// Little-endian binary fields for spill payloads.
struct PayloadWriter {
    var bytes: [UInt8] = []
    mutating func int(_ v: Int) { withUnsafeBytes(of: Int64(v).littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func byte(_ v: UInt8) { bytes.append(v) }
    mutating func data(_ d: [UInt8]) { int(d.count); bytes.append(contentsOf: d) }
}

struct PayloadReader {
    let bytes: [UInt8]
    var pos = 0
    init(_ b: [UInt8]) { bytes = b }
    mutating func int() -> Int {
        let v = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: pos, as: Int64.self) }
        pos += 8
        return Int(Int64(littleEndian: v))
    }
    mutating func byte() -> UInt8 { pos += 1; return bytes[pos - 1] }
    mutating func data() -> [UInt8] { let n = int(); pos += n; return Array(bytes[(pos - n)..<pos]) }
}

func bigEndianKey(_ values: [Int]) -> [UInt8] {
    var k: [UInt8] = []
    for v in values { withUnsafeBytes(of: UInt64(bitPattern: Int64(v) &+ Int64.min).bigEndian) { k.append(contentsOf: $0) } }
    return k
}

/// The integer at field `index` of a key made by `bigEndianKey`.
func keyInt(_ key: [UInt8], _ index: Int) -> Int {
    let u = key[(index * 8)..<(index * 8 + 8)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    return Int(Int64(bitPattern: u &- UInt64(bitPattern: Int64.min)))
}
