// Writing JSON rows as Parquet through a fixed column layout: strings, doubles, booleans, JSON
// text, and messages (struct<role, content> or a list of them). Normalized pairs use
// `ParquetLayout.pairs`: TRL's conversational columns, `id`, `source`, the scores as nullable
// doubles, `tools`, `images` and `meta` as JSON strings; the exports have their own layouts.
// PLAIN values, RLE levels, one data page (v1) per column chunk, row groups bounded in rows and
// bytes, pages compressed with zstd, snappy or gzip: what pyarrow and `datasets` read back as is.
#if canImport(Glibc)
import Glibc
#endif
import CSnappy
import CZlib
import CZstd

/// The Thrift compact protocol, write side: just what a Parquet footer and page header need.
struct ThriftWriter {
    var out: [UInt8] = []
    var last: [Int16] = [0]

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }
    mutating func zigzag(_ v: Int64) { varint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }

    mutating func field(_ id: Int16, _ type: UInt8) {
        let delta = id - last[last.count - 1]
        if delta > 0 && delta <= 15 { out.append(UInt8(delta) << 4 | type) } else { out.append(type); zigzag(Int64(id)) }
        last[last.count - 1] = id
    }
    mutating func i32(_ id: Int16, _ v: Int32) { field(id, 5); zigzag(Int64(v)) }
    mutating func i64(_ id: Int16, _ v: Int64) { field(id, 6); zigzag(v) }
    mutating func binary(_ id: Int16, _ b: [UInt8]) { field(id, 8); varint(UInt64(b.count)); out += b }
    mutating func string(_ id: Int16, _ s: String) { binary(id, Array(s.utf8)) }
    mutating func beginStruct(_ id: Int16) { field(id, 12); last.append(0) }
    mutating func endStruct() { out.append(0); last.removeLast() }
    mutating func listHeader(_ id: Int16, count: Int, type: UInt8) {
        field(id, 9)
        if count < 15 { out.append(UInt8(count) << 4 | type) } else { out.append(0xF0 | type); varint(UInt64(count)) }
    }
    /// A struct inside a list (no field header).
    mutating func beginElement() { last.append(0) }
    mutating func stop() { out.append(0) }
}

public enum ParquetCodec: String, Sendable, CaseIterable {
    case zstd, snappy, gzip, none
    var thrift: Int32 { switch self { case .none: return 0; case .snappy: return 1; case .gzip: return 2; case .zstd: return 6 } }

    func compress(_ src: [UInt8], level: Int32) throws -> [UInt8] {
        switch self {
        case .none: return src
        case .zstd:
            var out = [UInt8](repeating: 0, count: ZSTD_compressBound(src.count))
            let n = src.withUnsafeBytes { s in out.withUnsafeMutableBytes { o in ZSTD_compress(o.baseAddress, o.count, s.baseAddress, s.count, level) } }
            guard ZSTD_isError(n) == 0 else { throw ParquetError("zstd compression failed") }
            out.removeSubrange(n...)
            return out
        case .snappy:
            var n = snappy_max_compressed_length(src.count)
            var out = [UInt8](repeating: 0, count: n)
            let st = src.withUnsafeBytes { s in out.withUnsafeMutableBytes { o in
                snappy_compress(s.baseAddress?.assumingMemoryBound(to: CChar.self), s.count, o.baseAddress?.assumingMemoryBound(to: CChar.self), &n) } }
            guard st == SNAPPY_OK else { throw ParquetError("snappy compression failed") }
            out.removeSubrange(n...)
            return out
        case .gzip:
            var zs = z_stream()
            guard deflateInit2_(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                throw ParquetError("zlib init failed")
            }
            defer { deflateEnd(&zs) }
            var out = [UInt8](repeating: 0, count: Int(deflateBound(&zs, UInt(src.count))) + 32)
            var input = src
            let rc = input.withUnsafeMutableBytes { s in out.withUnsafeMutableBytes { o -> Int32 in
                zs.next_in = s.baseAddress?.assumingMemoryBound(to: Bytef.self); zs.avail_in = uInt(s.count)
                zs.next_out = o.baseAddress?.assumingMemoryBound(to: Bytef.self); zs.avail_out = uInt(o.count)
                return deflate(&zs, Z_FINISH) } }
            guard rc == Z_STREAM_END else { throw ParquetError("gzip compression failed (zlib \(rc))") }
            out.removeSubrange(Int(zs.total_out)...)
            return out
        }
    }
}

/// One column of a layout, read from the row's member of the same name.
public struct ParquetColumn: Sendable {
    public enum Kind: Sendable {
        /// A string; missing or null is an empty string when required, null otherwise.
        case string(optional: Bool)
        case double
        case bool
        /// Any JSON value, stored as its JSON text (optional).
        case json
        /// One message: a required struct of these string fields.
        case message([String])
        /// A list of messages: list<struct<fields>>.
        case messages([String])
    }
    public var name: String
    public var kind: Kind
    public init(_ name: String, _ kind: Kind) { self.name = name; self.kind = kind }
}

public enum ParquetLayout {
    /// Normalized pairs (docs/format.md "Parquet output").
    public static let pairs: [ParquetColumn] = [
        .init("id", .string(optional: false)), .init("source", .string(optional: false)),
        .init("prompt", .messages(["role", "content"])), .init("chosen", .messages(["role", "content"])), .init("rejected", .messages(["role", "content"])),
        .init("score_chosen", .double), .init("score_rejected", .double),
        .init("tools", .json), .init("images", .json), .init("meta", .json),
    ]
}

/// One leaf column's buffered page: PLAIN values and its levels.
struct LeafBuffer {
    enum Kind { case string, double, bool }
    let path: [String]
    let kind: Kind
    let maxDef: Int, maxRep: Int
    var values: [UInt8] = []
    var bits: [Bool] = []
    var defs: [UInt8] = []
    var reps: [UInt8] = []
    var count = 0                 // level entries (= values for a required column)

    var physicalType: Int32 { switch kind { case .string: return 6; case .double: return 5; case .bool: return 0 } }

    mutating func add(_ b: [UInt8], def: UInt8 = 1, rep: UInt8 = 0) {
        withUnsafeBytes(of: UInt32(b.count).littleEndian) { values += $0 }
        values += b
        level(def: def, rep: rep)
    }
    mutating func add(_ d: Double) {
        withUnsafeBytes(of: d.bitPattern.littleEndian) { values += $0 }
        level(def: 1, rep: 0)
    }
    mutating func add(_ x: Bool) { bits.append(x); level(def: 0, rep: 0) }
    mutating func null(def: UInt8 = 0, rep: UInt8 = 0) { level(def: def, rep: rep) }
    mutating func level(def: UInt8, rep: UInt8) {
        if maxDef > 0 { defs.append(def) }
        if maxRep > 0 { reps.append(rep) }
        count += 1
    }
    mutating func reset() {
        values.removeAll(keepingCapacity: true); bits.removeAll(keepingCapacity: true)
        defs.removeAll(keepingCapacity: true); reps.removeAll(keepingCapacity: true); count = 0
    }

    /// PLAIN values: booleans bit-packed, least significant bit first.
    var plainValues: [UInt8] {
        guard kind == .bool else { return values }
        var out = [UInt8](repeating: 0, count: (bits.count + 7) / 8)
        for (i, x) in bits.enumerated() where x { out[i >> 3] |= 1 << UInt8(i & 7) }
        return out
    }

    /// Levels of bit width 1 as RLE runs, with the 4-byte length prefix of data page v1.
    static func encodeLevels(_ ls: [UInt8]) -> [UInt8] {
        var body: [UInt8] = []
        var i = 0
        while i < ls.count {
            var j = i + 1
            while j < ls.count && ls[j] == ls[i] { j += 1 }
            var w = ThriftWriter()
            w.varint(UInt64(j - i) << 1)
            body += w.out
            body.append(ls[i])
            i = j
        }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt32(body.count).littleEndian) { out += $0 }
        return out + body
    }
}

/// Streams JSON rows (one object per call) into a Parquet file with a fixed column layout.
public final class ParquetPairWriter {
    /// Row groups close at this many rows or this many bytes of input records, whichever comes first.
    public let rowGroupRows: Int
    public let rowGroupBytes: Int

    let file: AtomicFile
    let codec: ParquetCodec
    let level: Int32
    let layout: [ParquetColumn]
    /// Per column: its first leaf.
    var firstLeaf: [Int] = []
    var leaves: [LeafBuffer] = []
    var rows = 0
    var buffered = 0
    var offset: Int64 = 4
    var rowGroups: [(columns: [(path: [String], type: Int32, offset: Int64, values: Int64, raw: Int64, compressed: Int64)], rows: Int64, bytes: Int64)] = []
    public private(set) var totalRows = 0
    /// Rows whose messages had keys other than the layout's, or content parts: Parquet output
    /// holds their text only.
    public private(set) var textOnly = 0
    var scanner = JSONScanner()

    public init(path: String, layout: [ParquetColumn] = ParquetLayout.pairs, codec: ParquetCodec = .zstd, level: Int = 3,
                rowGroupRows: Int = 100_000, rowGroupBytes: Int = 32 << 20) throws {
        self.rowGroupRows = rowGroupRows
        self.rowGroupBytes = rowGroupBytes
        self.layout = layout
        file = try AtomicFile(path: path)
        self.codec = codec
        self.level = Int32(level)
        for c in layout {
            firstLeaf.append(leaves.count)
            switch c.kind {
            case .string(let optional): leaves.append(LeafBuffer(path: [c.name], kind: .string, maxDef: optional ? 1 : 0, maxRep: 0))
            case .double: leaves.append(LeafBuffer(path: [c.name], kind: .double, maxDef: 1, maxRep: 0))
            case .bool: leaves.append(LeafBuffer(path: [c.name], kind: .bool, maxDef: 0, maxRep: 0))
            case .json: leaves.append(LeafBuffer(path: [c.name], kind: .string, maxDef: 1, maxRep: 0))
            case .message(let keys): for k in keys { leaves.append(LeafBuffer(path: [c.name, k], kind: .string, maxDef: 0, maxRep: 0)) }
            case .messages(let keys): for k in keys { leaves.append(LeafBuffer(path: [c.name, "list", "element", k], kind: .string, maxDef: 1, maxRep: 1)) }
            }
        }
        try Array("PAR1".utf8).withUnsafeBytes { try file.write($0) }
    }

    /// A message field's text: a string, or the text of a list of parts; `lossy` when that loses something.
    static func text(_ v: JRef?, _ lossy: inout Bool) -> [UInt8] {
        guard let v, !v.isNull else { return [] }
        if let t = v.bytes { return t }
        lossy = true
        return v.textOfParts
    }

    /// Adds one row (a JSON object, without its newline).
    public func add(_ record: UnsafeRawBufferPointer) throws {
        let doc = try scanner.parse(record)
        let r = doc.root
        var lossy = false
        for (ci, c) in layout.enumerated() {
            let k = firstLeaf[ci]
            let v = r.member(c.name).flatMap { $0.isNull ? nil : $0 }
            switch c.kind {
            case .string(let optional):
                if let v { leaves[k].add(v.bytes ?? Array(v.rawText.utf8), def: 1) } else if optional { leaves[k].null() } else { leaves[k].add([], def: 0) }
            case .double:
                if let d = v?.double { leaves[k].add(d) } else { leaves[k].null() }
            case .bool:
                leaves[k].add(v?.bool ?? false)
            case .json:
                if let v { var b = ByteBuffer(); b.appendJSONValue(v.value); leaves[k].add(b.bytes) } else { leaves[k].null() }
            case .message(let keys):
                for (j, key) in keys.enumerated() { leaves[k + j].add(ParquetPairWriter.text(v?.member(key), &lossy), def: 0) }
                if let v, v.count > keys.count { lossy = true }
            case .messages(let keys):
                let ms = v?.elements ?? []
                if ms.isEmpty { for j in keys.indices { leaves[k + j].null() }; continue }
                for (i, m) in ms.enumerated() {
                    let rep: UInt8 = i == 0 ? 0 : 1
                    for (j, key) in keys.enumerated() { leaves[k + j].add(ParquetPairWriter.text(m.member(key), &lossy), def: 1, rep: rep) }
                    if m.count > keys.count { lossy = true }
                }
            }
        }
        if lossy { textOnly += 1 }
        rows += 1
        totalRows += 1
        buffered += record.count
        if rows >= rowGroupRows || buffered >= rowGroupBytes { try flushRowGroup() }
    }

    func flushRowGroup() throws {
        guard rows > 0 else { return }
        var cols: [(path: [String], type: Int32, offset: Int64, values: Int64, raw: Int64, compressed: Int64)] = []
        var total: Int64 = 0
        for i in leaves.indices {
            let l = leaves[i]
            var page: [UInt8] = []
            if l.maxRep > 0 { page += LeafBuffer.encodeLevels(l.reps) }
            if l.maxDef > 0 { page += LeafBuffer.encodeLevels(l.defs) }
            page += l.plainValues
            let body = try codec.compress(page, level: level)
            var h = ThriftWriter()
            h.i32(1, 0)                                   // DATA_PAGE
            h.i32(2, Int32(page.count))
            h.i32(3, Int32(body.count))
            h.beginStruct(5)                              // DataPageHeader
            h.i32(1, Int32(l.count)); h.i32(2, 0); h.i32(3, 3); h.i32(4, 3)   // PLAIN values, RLE levels
            h.endStruct()
            h.stop()
            let start = offset
            try h.out.withUnsafeBytes { try file.write($0) }
            try body.withUnsafeBytes { try file.write($0) }
            let written = Int64(h.out.count + body.count)
            offset += written
            total += Int64(h.out.count + page.count)
            cols.append((l.path, l.physicalType, start, Int64(l.count), Int64(h.out.count + page.count), written))
            leaves[i].reset()
        }
        rowGroups.append((cols, Int64(rows), total))
        rows = 0
        buffered = 0
    }

    /// Writes the footer and publishes the file under its name (or `path`, when given).
    public func commit(as path: String? = nil) throws {
        try finish()
        try file.publish(renamingTo: path)
    }

    /// Publishes a finished file under its name (or `path`, in the same directory).
    public func publish(as path: String? = nil) throws { try file.publish(renamingTo: path) }

    var finished = false
    /// Writes the last row group and the footer; the file stays private until `publish`.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        try flushRowGroup()
        var w = ThriftWriter()
        w.i32(1, 1)                                                       // version
        // Schema, depth first: the root, then each column.
        typealias Element = (name: String, type: Int32?, repetition: Int32?, children: Int32?, converted: Int32?, string: Bool)
        var schema: [Element] = [("schema", nil, nil, Int32(layout.count), nil, false)]
        for c in layout {
            switch c.kind {
            case .string(let optional): schema.append((c.name, 6, optional ? 1 : 0, nil, 0, true))
            case .double: schema.append((c.name, 5, 1, nil, nil, false))
            case .bool: schema.append((c.name, 0, 0, nil, nil, false))
            case .json: schema.append((c.name, 6, 1, nil, 0, true))
            case .message(let keys):
                schema.append((c.name, nil, 0, Int32(keys.count), nil, false))                 // required group
                for k in keys { schema.append((k, 6, 0, nil, 0, true)) }
            case .messages(let keys):
                schema.append((c.name, nil, 0, 1, 3, false))                                   // required group (LIST)
                schema.append(("list", nil, 2, 1, nil, false))                                 // repeated group list
                schema.append(("element", nil, 0, Int32(keys.count), nil, false))              // required group element
                for k in keys { schema.append((k, 6, 0, nil, 0, true)) }
            }
        }
        w.listHeader(2, count: schema.count, type: 12)
        for s in schema {
            w.beginElement()
            if let t = s.type { w.i32(1, t) }
            if let r = s.repetition { w.i32(3, r) }
            w.string(4, s.name)
            if let c = s.children { w.i32(5, c) }
            if let c = s.converted { w.i32(6, c) }
            if s.string { w.beginStruct(10); w.beginStruct(1); w.endStruct(); w.endStruct() }   // LogicalType STRING
            w.endStruct()
        }
        w.i64(3, Int64(totalRows))
        w.listHeader(4, count: rowGroups.count, type: 12)
        for g in rowGroups {
            w.beginElement()
            w.listHeader(1, count: g.columns.count, type: 12)
            for c in g.columns {
                w.beginElement()
                w.i64(2, c.offset)                                        // file_offset
                w.beginStruct(3)                                          // ColumnMetaData
                w.i32(1, c.type)
                w.listHeader(2, count: 2, type: 5); w.zigzag(0); w.zigzag(3)   // PLAIN, RLE
                w.listHeader(3, count: c.path.count, type: 8)
                for p in c.path { w.varint(UInt64(p.utf8.count)); w.out += Array(p.utf8) }
                w.i32(4, codec.thrift)
                w.i64(5, c.values)
                w.i64(6, c.raw)
                w.i64(7, c.compressed)
                w.i64(9, c.offset)                                        // data_page_offset
                w.endStruct()
                w.endStruct()
            }
            w.i64(2, g.bytes)
            w.i64(3, g.rows)
            w.endStruct()
        }
        w.string(6, "prefkit")
        w.stop()
        var tail = w.out
        withUnsafeBytes(of: UInt32(w.out.count).littleEndian) { tail += $0 }
        tail += Array("PAR1".utf8)
        try tail.withUnsafeBytes { try file.write($0) }
        try file.prepare()
    }

    public func abort() { file.abort() }
}
