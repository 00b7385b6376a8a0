// Parquet column chunks: pages decompressed (SNAPPY, GZIP, ZSTD or none, with the page CRC checked
// where written), repetition and definition levels (RLE/bit-packed hybrid), and values in the
// PLAIN, dictionary (PLAIN_DICTIONARY, RLE_DICTIONARY), RLE (booleans), DELTA_BINARY_PACKED,
// DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY and BYTE_STREAM_SPLIT encodings.
#if canImport(Glibc)
import Glibc
#endif
import CSnappy
import CZlib
import CZstd

struct ParquetError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// The values of one column: only the defined ones (definition level at its maximum), in order.
struct ColumnValues {
    var type: PhysicalType
    var ints: [Int64] = []
    var doubles: [Double] = []
    var bools: [Bool] = []
    /// Byte arrays (and fixed-length ones, and INT96): all bytes, and where each ends.
    var data: [UInt8] = []
    var ends: [Int] = []

    init(type: PhysicalType) { self.type = type }

    var count: Int {
        switch type {
        case .boolean: return bools.count
        case .int32, .int64: return ints.count
        case .float, .double: return doubles.count
        case .byteArray, .fixedLenByteArray, .int96: return ends.count
        }
    }

    func bytes(_ i: Int) -> ArraySlice<UInt8> { data[(i == 0 ? 0 : ends[i - 1])..<ends[i]] }

    /// Memory element `i` takes.
    func elementSize(_ i: Int) -> Int {
        switch type {
        case .byteArray, .fixedLenByteArray, .int96: return ends[i] - (i == 0 ? 0 : ends[i - 1]) + 8
        default: return 8
        }
    }

    /// Memory the decoded values take (for the decode budget).
    var byteSize: Int { data.count + 8 * (ends.count + ints.count + doubles.count) + bools.count }

    mutating func appendBytes(_ b: UnsafeRawBufferPointer) { data.append(contentsOf: b); ends.append(data.count) }

    /// Appends element `i` of `dict` (a dictionary page's values).
    mutating func append(from dict: ColumnValues, _ i: Int) {
        switch type {
        case .boolean: bools.append(dict.bools[i])
        case .int32, .int64: ints.append(dict.ints[i])
        case .float, .double: doubles.append(dict.doubles[i])
        case .byteArray, .fixedLenByteArray, .int96: data.append(contentsOf: dict.bytes(i)); ends.append(data.count)
        }
    }
}

/// A leaf column read from one row group: levels for every entry, values for the defined ones.
/// A class: rows are assembled by reading it many times, which must not copy (or retain) its arrays.
final class ColumnData {
    var rep: [Int16] = []
    var def: [Int16] = []
    var values: ColumnValues
    init(values: ColumnValues) { self.values = values }
    var byteSize: Int { values.byteSize + 2 * (rep.count + def.count) }
}

/// What the in-memory decoding of an input may take, checked before allocating: a row group's
/// decoded columns (Parquet), set from `--memory-limit`; and the largest single value, set from
/// `--max-record-bytes` (a value larger than a record cannot be part of one).
public enum DecodeBudget {
    /// The limit asked for (`--memory-limit`; 1 GiB by default).
    nonisolated(unsafe) public static var memoryLimit: Int = 1 << 30
    nonisolated(unsafe) public static var recordBytes: Int = 256 << 20
    /// What a decoder may hold: the limit, and never more than a third of the memory the process
    /// can have (growing arrays briefly hold their old and new storage, and threads reserve address space).
    public static var memoryBytes: Int { min(memoryLimit, SystemMemory.available / 4) }
}

/// The memory this process can use: the machine's, or less under `ulimit -v`.
public enum SystemMemory {
    public static var available: Int {
        var b = Int(sysconf(Int32(_SC_PHYS_PAGES))) &* Int(sysconf(Int32(_SC_PAGESIZE)))
        if b <= 0 { b = Int.max }
        var rl = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &rl) == 0, rl.rlim_cur < UInt64(Int.max) { b = min(b, Int(rl.rlim_cur)) }
        return b
    }
}

/// A bounds-checked cursor over a decoded page.
struct ByteCursor {
    let b: UnsafeRawBufferPointer
    var pos = 0
    var end: Int
    init(_ b: UnsafeRawBufferPointer, from: Int = 0, to: Int? = nil) { self.b = b; pos = from; end = to ?? b.count }
    var remaining: Int { end - pos }

    mutating func need(_ n: Int) throws {
        guard n >= 0, n <= end - pos else { throw ParquetError("page data ends early (needed \(n) bytes, \(end - pos) left)") }
    }
    mutating func byte() throws -> UInt8 { try need(1); pos += 1; return b[pos - 1] }
    mutating func le32() throws -> UInt32 { try need(4); let v = b.loadUnaligned(fromByteOffset: pos, as: UInt32.self); pos += 4; return UInt32(littleEndian: v) }
    mutating func le64() throws -> UInt64 { try need(8); let v = b.loadUnaligned(fromByteOffset: pos, as: UInt64.self); pos += 8; return UInt64(littleEndian: v) }
    mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
        try need(n)
        defer { pos += n }
        return UnsafeRawBufferPointer(rebasing: b[pos..<(pos + n)])
    }
    mutating func varint() throws -> UInt64 { try readVarint(b, &pos, end: end) }
    mutating func zigzag() throws -> Int64 { let u = try varint(); return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1))) }
}

func bitWidth(_ maxValue: Int) -> Int { maxValue == 0 ? 0 : 64 - UInt64(maxValue).leadingZeroBitCount }

/// Decodes `count` values of the RLE/bit-packed hybrid encoding with `width` bits each.
func decodeHybrid(_ c: inout ByteCursor, width: Int, count: Int, into out: (Int, UInt64) throws -> Void) throws {
    guard width >= 0 && width <= 32 else { throw ParquetError("bit width \(width) out of range") }
    var n = 0
    let valueBytes = (width + 7) / 8
    while n < count {
        let header = try c.varint()
        if header & 1 == 0 {
            let run = Int(clamping: header >> 1)
            var v: UInt64 = 0
            for k in 0..<valueBytes { v |= UInt64(try c.byte()) << (8 * UInt64(k)) }
            guard run > 0 else { throw ParquetError("empty RLE run") }
            for _ in 0..<min(run, count - n) { try out(n, v); n += 1 }
        } else {
            let groups = Int(clamping: header >> 1)
            guard groups > 0, groups <= (c.remaining + 1) else { throw ParquetError("bit-packed run longer than the page") }
            let total = groups * 8
            let bytes = try c.take(min(groups * width, c.remaining))
            guard bytes.count == groups * width else { throw ParquetError("bit-packed run ends early") }
            var bitPos = 0
            let mask: UInt64 = width == 0 ? 0 : (1 << UInt64(width)) - 1
            for _ in 0..<total {
                if n >= count { break }
                var v: UInt64 = 0
                if width > 0 {
                    let byteIdx = bitPos >> 3, shift = bitPos & 7
                    var raw: UInt64 = 0
                    for k in 0..<min(8, bytes.count - byteIdx) { raw |= UInt64(bytes[byteIdx + k]) << (8 * UInt64(k)) }
                    v = (raw >> UInt64(shift)) & mask
                }
                try out(n, v); n += 1
                bitPos += width
            }
        }
    }
}

/// Reads `count` values of DELTA_BINARY_PACKED.
func decodeDeltaBinary(_ c: inout ByteCursor, count limit: Int? = nil) throws -> [Int64] {
    let blockSize = Int(clamping: try c.varint())
    let miniblocks = Int(clamping: try c.varint())
    let total = Int(clamping: try c.varint())
    var last = try c.zigzag()
    guard blockSize > 0, blockSize <= 1 << 20, blockSize % 128 == 0, miniblocks > 0, blockSize % miniblocks == 0, (blockSize / miniblocks) % 32 == 0 else {
        throw ParquetError("bad DELTA_BINARY_PACKED header")
    }
    guard total <= (limit ?? Int.max), total <= c.remaining * 64 + 1 else { throw ParquetError("DELTA_BINARY_PACKED count beyond the page") }
    var out: [Int64] = []
    out.reserveCapacity(total)
    if total > 0 { out.append(last) }
    let perMini = blockSize / miniblocks
    while out.count < total {
        let minDelta = try c.zigzag()
        let widths = try c.take(miniblocks)
        for m in 0..<miniblocks {
            if out.count >= total { break }
            let w = Int(widths[m])
            guard w <= 64 else { throw ParquetError("delta bit width \(w)") }
            let bytes = try c.take(min(perMini * w / 8, c.remaining))
            guard bytes.count == perMini * w / 8 else { throw ParquetError("delta miniblock ends early") }
            var bitPos = 0
            for _ in 0..<perMini {
                if out.count >= total { break }
                var v: UInt64 = 0
                if w > 0 {
                    for k in 0..<w {
                        let bit = bitPos + k
                        if bytes[bit >> 3] & (1 << UInt8(bit & 7)) != 0 { v |= 1 << UInt64(k) }
                    }
                }
                bitPos += w
                last = last &+ minDelta &+ Int64(bitPattern: v)
                out.append(last)
            }
        }
    }
    return out
}

enum Codec {
    static func decompress(_ codec: Int32, _ src: UnsafeRawBufferPointer, size: Int) throws -> [UInt8] {
        switch codec {
        case 0:
            guard src.count == size else { throw ParquetError("uncompressed page of \(src.count) bytes, header says \(size)") }
            return Array(src)
        case 1:
            // The stream states its length: checked before the page's size is allocated.
            var stated = 0
            guard snappy_uncompressed_length(src.baseAddress?.assumingMemoryBound(to: CChar.self), src.count, &stated) == SNAPPY_OK, stated == size else {
                throw ParquetError("snappy page does not decompress to the \(size) bytes its header says")
            }
            var out = [UInt8](repeating: 0, count: size)
            var n = size
            let st = out.withUnsafeMutableBytes { o in
                snappy_uncompress(src.baseAddress?.assumingMemoryBound(to: CChar.self), src.count, o.baseAddress?.assumingMemoryBound(to: CChar.self), &n)
            }
            guard st == SNAPPY_OK, n == size else { throw ParquetError("snappy page does not decompress (\(st.rawValue))") }
            return out
        case 2:
            // gzip states no length up front: the output grows with what the stream really gives
            // (at most `size`), so a small page cannot make its header's size be allocated.
            var out = [UInt8]()
            var zs = z_stream()
            guard inflateInit2_(&zs, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { throw ParquetError("zlib init failed") }
            defer { inflateEnd(&zs) }
            zs.next_in = UnsafeMutablePointer(mutating: src.baseAddress?.assumingMemoryBound(to: UInt8.self))
            zs.avail_in = UInt32(src.count)
            var rc: Int32 = Z_OK
            while rc == Z_OK {
                let have = out.count
                let grow = min(max(1 << 16, have), size - have + 1)
                out.append(contentsOf: repeatElement(0, count: grow))
                rc = out.withUnsafeMutableBytes { o in
                    zs.next_out = o.baseAddress!.assumingMemoryBound(to: UInt8.self) + have
                    zs.avail_out = UInt32(grow)
                    return inflate(&zs, Z_NO_FLUSH)
                }
                out.removeLast(Int(zs.avail_out))
                if out.count > size { break }
                if rc == Z_BUF_ERROR && zs.avail_in > 0 { rc = Z_OK }
            }
            guard rc == Z_STREAM_END, out.count == size else { throw ParquetError("gzip page does not decompress to the \(size) bytes its header says (zlib \(rc))") }
            return out
        case 6:
            // A frame that states its content size must state this page's.
            let stated = ZSTD_getFrameContentSize(src.baseAddress, src.count)
            guard stated == ZSTD_CONTENTSIZE_UNKNOWN || stated == UInt64(size) else {
                throw ParquetError("zstd page does not decompress to the \(size) bytes its header says")
            }
            var out = [UInt8](repeating: 0, count: size)
            let n = out.withUnsafeMutableBytes { o in ZSTD_decompress(o.baseAddress, size, src.baseAddress, src.count) }
            guard ZSTD_isError(n) == 0, n == size else { throw ParquetError("zstd page does not decompress") }
            return out
        default:
            let names: [Int32: String] = [3: "LZO", 4: "BROTLI", 5: "LZ4", 7: "LZ4_RAW"]
            throw ParquetError("compression codec \(names[codec] ?? String(codec)) is not supported (SNAPPY, GZIP, ZSTD and none are)")
        }
    }
}

/// One leaf column of the schema: its physical type and the maximum levels of its path.
struct LeafInfo {
    var type: PhysicalType
    var typeLength: Int
    var maxDef: Int
    var maxRep: Int
    var name: String
}

enum ColumnReader {
    /// Reads every page of a column chunk (`chunk` holds its bytes, which start at file offset `base`).
    /// `budget`: bytes the decoded column may take (pages are checked before they are decompressed,
    /// dictionary references before they are expanded).
    static func read(_ chunk: UnsafeRawBufferPointer, base: Int64, meta: ColumnMeta, leaf: LeafInfo, budget: Int) throws -> ColumnData {
        let col = ColumnData(values: ColumnValues(type: leaf.type))
        func overBudget() -> ParquetError {
            ParquetError("column '\(leaf.name)' decodes to more than the memory budget of \(budget) bytes (--memory-limit); split the file into smaller row groups or raise the limit")
        }
        var dict: ColumnValues?
        var pos = 0
        var valuesSeen: Int64 = 0
        while pos < chunk.count && valuesSeen < meta.numValues {
            var tr = ThriftReader(chunk, at: pos)
            let h: PageHeader
            do { h = try PageHeader.parse(&tr) } catch { throw ParquetError("page header at file byte \(base + Int64(pos)): \(error)") }
            let start = tr.pos, size = Int(h.compressedSize)
            guard size <= chunk.count - start else { throw ParquetError("page at file byte \(base + Int64(pos)) runs past its column chunk (truncated file?)") }
            let body = UnsafeRawBufferPointer(rebasing: chunk[start..<(start + size)])
            if let crc = h.crc {
                let actual = UInt32(truncatingIfNeeded: crc32(0, body.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt32(body.count)))
                guard actual == UInt32(bitPattern: crc) else { throw ParquetError("page at file byte \(base + Int64(pos)): CRC mismatch") }
            }
            pos = start + size
            // Bounds no real writer comes near, so that a crafted header cannot ask for gigabytes.
            guard h.uncompressedSize <= 1 << 30, h.numValues <= 1 << 26 else {
                throw ParquetError("page at file byte \(base + Int64(start)) claims \(h.uncompressedSize) bytes and \(h.numValues) values")
            }
            // What this page would add (its bytes and its levels) must fit what is left of the budget.
            guard col.byteSize + Int(h.uncompressedSize) + 4 * Int(h.numValues) <= budget else { throw overBudget() }
            switch PageType(rawValue: h.type) {
            case .dictionaryPage:
                let page = try Codec.decompress(meta.codec, body, size: Int(h.uncompressedSize))
                var d = ColumnValues(type: leaf.type)
                try page.withUnsafeBytes { p in
                    var c = ByteCursor(p)
                    try decodePlain(&c, count: Int(h.numValues), leaf: leaf, into: &d)
                }
                dict = d
            case .dataPage:
                let page = try Codec.decompress(meta.codec, body, size: Int(h.uncompressedSize))
                try page.withUnsafeBytes { p in
                    var c = ByteCursor(p)
                    let n = Int(h.numValues)
                    if leaf.maxRep > 0 { try levels(&c, max: leaf.maxRep, count: n, encoding: h.repEncoding, prefixed: true, into: &col.rep) }
                    if leaf.maxDef > 0 { try levels(&c, max: leaf.maxDef, count: n, encoding: h.defEncoding, prefixed: true, into: &col.def) }
                    let defined = leaf.maxDef == 0 ? n : col.def.suffix(n).reduce(0) { $0 + ($1 == leaf.maxDef ? 1 : 0) }
                    try decodeValues(&c, encoding: h.encoding, count: defined, leaf: leaf, dict: dict, into: &col.values, limit: budget - 2 * (col.rep.count + col.def.count))
                }
                valuesSeen += Int64(h.numValues)
                guard col.byteSize <= budget else { throw overBudget() }
            case .dataPageV2:
                let n = Int(h.numValues)
                let levelBytes = Int(h.repLength) + Int(h.defLength)
                guard levelBytes <= body.count else { throw ParquetError("data page v2 levels longer than the page") }
                var lc = ByteCursor(body, from: 0, to: Int(h.repLength))
                if leaf.maxRep > 0 { try levels(&lc, max: leaf.maxRep, count: n, encoding: 3, prefixed: false, into: &col.rep) }
                var dc = ByteCursor(body, from: Int(h.repLength), to: levelBytes)
                if leaf.maxDef > 0 { try levels(&dc, max: leaf.maxDef, count: n, encoding: 3, prefixed: false, into: &col.def) }
                let rest = UnsafeRawBufferPointer(rebasing: body[levelBytes...])
                let valuesSize = Int(h.uncompressedSize) - levelBytes
                guard valuesSize >= 0 else { throw ParquetError("data page v2 sizes disagree") }
                let page = h.isCompressed ? try Codec.decompress(meta.codec, rest, size: valuesSize) : Array(rest)
                try page.withUnsafeBytes { p in
                    var c = ByteCursor(p)
                    let defined = leaf.maxDef == 0 ? n : col.def.suffix(n).reduce(0) { $0 + ($1 == leaf.maxDef ? 1 : 0) }
                    try decodeValues(&c, encoding: h.encoding, count: defined, leaf: leaf, dict: dict, into: &col.values, limit: budget - 2 * (col.rep.count + col.def.count))
                }
                valuesSeen += Int64(h.numValues)
                guard col.byteSize <= budget else { throw overBudget() }
            case .indexPage: continue
            case nil: throw ParquetError("unknown page type \(h.type)")
            }
        }
        guard valuesSeen == meta.numValues else { throw ParquetError("column '\(leaf.name)' has \(valuesSeen) values, its metadata says \(meta.numValues) (truncated file?)") }
        return col
    }

    static func levels(_ c: inout ByteCursor, max: Int, count: Int, encoding: Int32, prefixed: Bool, into out: inout [Int16]) throws {
        let w = bitWidth(max)
        let base = out.count
        out.append(contentsOf: repeatElement(0, count: count))
        if encoding == 4 {
            // BIT_PACKED (deprecated): most significant bit first, no length prefix.
            let bytes = try c.take((count * w + 7) / 8)
            for i in 0..<count {
                var v = 0
                for k in 0..<w { let bit = i * w + k; v = v << 1 | Int((bytes[bit >> 3] >> UInt8(7 - bit & 7)) & 1) }
                guard v <= max else { throw ParquetError("level \(v) above its maximum \(max)") }
                out[base + i] = Int16(v)
            }
            return
        }
        var sub = c
        if prefixed {
            let len = Int(try c.le32())
            try c.need(len)
            sub = ByteCursor(c.b, from: c.pos, to: c.pos + len)
            c.pos += len
        }
        try decodeHybrid(&sub, width: w, count: count) { i, v in
            guard v <= UInt64(max) else { throw ParquetError("level \(v) above its maximum \(max)") }
            out[base + i] = Int16(v)
        }
        if !prefixed { c = sub }
    }

    static func decodePlain(_ c: inout ByteCursor, count: Int, leaf: LeafInfo, into v: inout ColumnValues) throws {
        switch leaf.type {
        case .boolean:
            let bytes = try c.take((count + 7) / 8)
            for i in 0..<count { v.bools.append(bytes[i >> 3] & (1 << UInt8(i & 7)) != 0) }
        case .int32:
            try c.need(4 * count)
            for _ in 0..<count { v.ints.append(Int64(Int32(bitPattern: try c.le32()))) }
        case .int64:
            try c.need(8 * count)
            for _ in 0..<count { v.ints.append(Int64(bitPattern: try c.le64())) }
        case .float:
            try c.need(4 * count)
            for _ in 0..<count { v.doubles.append(Double(Float(bitPattern: try c.le32()))) }
        case .double:
            try c.need(8 * count)
            for _ in 0..<count { v.doubles.append(Double(bitPattern: try c.le64())) }
        case .byteArray:
            for _ in 0..<count {
                let n = Int(try c.le32())
                guard n <= DecodeBudget.recordBytes else {
                    throw ParquetError("a value of \(n) bytes in column '\(leaf.name)' is larger than a record may be (--max-record-bytes \(DecodeBudget.recordBytes))")
                }
                v.appendBytes(try c.take(n))
            }
        case .fixedLenByteArray, .int96:
            let n = leaf.type == .int96 ? 12 : leaf.typeLength
            guard n > 0 else { throw ParquetError("fixed-length column without a length") }
            for _ in 0..<count { v.appendBytes(try c.take(n)) }
        }
    }

    /// `limit`: the size `v` may reach (dictionary references expand values: checked one by one).
    static func decodeValues(_ c: inout ByteCursor, encoding: Int32, count: Int, leaf: LeafInfo, dict: ColumnValues?, into v: inout ColumnValues,
                             limit: Int = .max) throws {
        switch encoding {
        case 0:
            try decodePlain(&c, count: count, leaf: leaf, into: &v)
        case 2, 8:
            guard let dict else { throw ParquetError("dictionary-encoded page without a dictionary page") }
            guard count > 0 else { return }
            let w = Int(try c.byte())
            let n = dict.count
            try decodeHybrid(&c, width: w, count: count) { _, idx in
                guard idx < UInt64(n) else { throw ParquetError("dictionary index \(idx) out of range (\(n) entries)") }
                let size = dict.elementSize(Int(idx))
                guard v.byteSize + size <= limit else {
                    throw ParquetError("dictionary references in column '\(leaf.name)' expand past the memory budget of \(limit) bytes (--memory-limit)")
                }
                // Growth stops at the budget (an array doubling past it would overshoot it by up to 2x).
                if v.data.count + size > v.data.capacity { v.data.reserveCapacity(min(max(2 * v.data.capacity, v.data.count + size), limit)) }
                v.append(from: dict, Int(idx))
            }
        case 3:
            guard leaf.type == .boolean else { throw ParquetError("RLE values for a non-boolean column") }
            _ = try c.le32()
            try decodeHybrid(&c, width: 1, count: count) { _, b in v.bools.append(b != 0) }
        case 5:
            guard leaf.type == .int32 || leaf.type == .int64 else { throw ParquetError("DELTA_BINARY_PACKED for a non-integer column") }
            let vals = try decodeDeltaBinary(&c, count: count)
            guard vals.count == count else { throw ParquetError("DELTA_BINARY_PACKED has \(vals.count) values, expected \(count)") }
            v.ints += leaf.type == .int32 ? vals.map { Int64(Int32(truncatingIfNeeded: $0)) } : vals
        case 6:
            let lengths = try decodeDeltaBinary(&c, count: count)
            guard lengths.count == count else { throw ParquetError("DELTA_LENGTH_BYTE_ARRAY count mismatch") }
            for n in lengths {
                guard n >= 0 else { throw ParquetError("negative length") }
                v.appendBytes(try c.take(Int(n)))
            }
        case 7:
            let prefixes = try decodeDeltaBinary(&c, count: count)
            let lengths = try decodeDeltaBinary(&c, count: count)
            guard prefixes.count == count, lengths.count == count else { throw ParquetError("DELTA_BYTE_ARRAY count mismatch") }
            var prev: [UInt8] = []
            for i in 0..<count {
                let p = Int(prefixes[i]), n = Int(lengths[i])
                guard p >= 0, p <= prev.count, n >= 0 else { throw ParquetError("DELTA_BYTE_ARRAY prefix out of range") }
                // Shared prefixes let each value grow by a byte: the values' total size is checked as they come.
                guard p + n <= DecodeBudget.recordBytes, v.byteSize + p + n + 8 <= limit else {
                    throw ParquetError("DELTA_BYTE_ARRAY values in column '\(leaf.name)' grow past the memory budget (--memory-limit, --max-record-bytes)")
                }
                var cur = Array(prev[0..<p])
                cur.append(contentsOf: try c.take(n))
                cur.withUnsafeBytes { v.appendBytes($0) }
                prev = cur
            }
        case 9:
            // BYTE_STREAM_SPLIT: byte k of every value, then byte k+1, ...
            let width: Int
            switch leaf.type {
            case .float, .int32: width = 4
            case .double, .int64: width = 8
            case .fixedLenByteArray: width = leaf.typeLength
            default: throw ParquetError("BYTE_STREAM_SPLIT for an unsupported type")
            }
            let all = try c.take(width * count)
            var buf = [UInt8](repeating: 0, count: width)
            for i in 0..<count {
                for k in 0..<width { buf[k] = all[k * count + i] }
                try buf.withUnsafeBytes { b in
                    var bc = ByteCursor(b)
                    try decodePlain(&bc, count: 1, leaf: leaf, into: &v)
                }
            }
        default:
            throw ParquetError("value encoding \(encoding) is not supported")
        }
    }
}
