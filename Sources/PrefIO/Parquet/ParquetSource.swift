// Parquet input: a file's rows as JSON Lines, so that every corpus adapter, the joins and the
// curation commands read Parquet unchanged. The footer is read first; then one row group at a time
// is decoded (memory is bounded by the largest row group) and its rows assembled from the
// repetition and definition levels into JSON objects: a LIST becomes an array, a MAP an object, a
// struct an object, a null a null. Byte arrays that are not valid UTF-8 (and BSON) become base64.
#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A node of the schema tree with its cumulative levels.
final class SchemaNode {
    let e: SchemaElement
    var children: [SchemaNode] = []
    /// Definition level when this node is present (counting optional and repeated ancestors and itself).
    var defLevel = 0
    var repLevel = 0
    var leaf: Int?
    init(_ e: SchemaElement) { self.e = e }
    var isLeaf: Bool { e.numChildren == 0 && e.type != nil }

    /// For a LIST node whose one child repeats: whether it is the standard three-level list (each
    /// element wrapped in a one-field group) rather than a legacy two-level one (`array`, `NAME_tuple`).
    var isThreeLevelList: Bool {
        guard let rep = children.first else { return false }
        return !rep.isLeaf && rep.children.count == 1 && rep.e.name != "array" && rep.e.name != e.name + "_tuple"
    }
}

/// A row being assembled: a group's fields by child index, a repeated node's items, a leaf's value.
final class RowNode {
    var isNull = false
    var fields: [RowNode?]
    var items: [RowNode] = []
    var value = -1
    init(fields n: Int) { fields = [RowNode?](repeating: nil, count: n) }
}

public final class ParquetSource: ByteSource {
    let fd: Int32
    let path: String
    let meta: FileMeta
    let root: SchemaNode
    let fileSize: Int64
    var leaves: [SchemaNode] = []
    /// Column bytes read so far, plus the footer.
    public private(set) var fileOffset: Int64 = 0
    public var rowGroups: Int { meta.rowGroups.count }
    public var rows: Int64 { meta.numRows }

    var group = 0
    var columns: [ColumnData] = []
    var rowsLeft = 0
    /// Per leaf, in the current row group: the next entry of its levels, and of its values.
    var levelPos: [Int] = []
    var valuePos: [Int] = []
    var out: [UInt8] = []
    var outPos = 0
    /// The direct assembly plan when every field has a common flat shape (FlatRows.swift).
    var flat: [FlatField]? = nil

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StreamError(kind: .io, message: "cannot open \(path): \(String(cString: strerror(errno)))", fileOffset: 0) }
        guard InputRegistry.isSameInput(path, fd: fd) else {
            close(fd)
            throw StreamError(kind: .io, message: "\(path) was replaced by another file while this run read it; run again", fileOffset: 0)
        }
        do {
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw StreamError(kind: .io, message: "cannot stat \(path)", fileOffset: 0) }
            let size = Int64(st.st_size)
            fileSize = size
            guard size >= 12 else { throw StreamError(kind: .truncated, message: "parquet: \(path) is too short for a footer", fileOffset: size) }
            let tail = try ParquetSource.pread(fd, at: size - 8, count: 8)
            guard tail[4...] == [0x50, 0x41, 0x52, 0x31] else {
                throw StreamError(kind: .truncated, message: "parquet: \(path) does not end in PAR1 (truncated or not Parquet)", fileOffset: size)
            }
            let metaLen = Int64(UInt32(tail[0]) | UInt32(tail[1]) << 8 | UInt32(tail[2]) << 16 | UInt32(tail[3]) << 24)
            guard metaLen > 0, metaLen <= size - 12 else { throw StreamError(kind: .corrupt, message: "parquet: footer length \(metaLen) does not fit the file", fileOffset: size - 8) }
            let metaBytes = try ParquetSource.pread(fd, at: size - 8 - metaLen, count: Int(metaLen))
            do { meta = try metaBytes.withUnsafeBytes { try FileMeta.parse($0) } } catch {
                throw StreamError(kind: .corrupt, message: "parquet: bad footer: \(error)", fileOffset: size - 8 - metaLen)
            }
            fileOffset = 8 + metaLen
            guard let first = meta.schema.first else { throw StreamError(kind: .corrupt, message: "parquet: empty schema", fileOffset: size - 8 - metaLen) }
            root = SchemaNode(first)
            var next = 1
            try ParquetSource.build(root, meta.schema, &next, &leaves, depth: 0)
            leafPaths = leaves.map { ParquetSource.path(root, to: $0) }
            flat = ParquetSource.flatPlan(root)
            // A schema without columns has no rows to give, whatever its row groups claim.
            guard !leaves.isEmpty else { throw StreamError(kind: .corrupt, message: "parquet: the schema has no columns", fileOffset: size - 8 - metaLen) }
            for g in meta.rowGroups where g.columns.count != leaves.count || g.numRows < 0 {
                throw StreamError(kind: .corrupt, message: "parquet: a row group has \(g.columns.count) columns, the schema \(leaves.count)", fileOffset: size - 8 - metaLen)
            }
        } catch { close(fd); throw error }
    }

    deinit { close(fd) }

    static func build(_ node: SchemaNode, _ schema: [SchemaElement], _ next: inout Int, _ leaves: inout [SchemaNode], depth: Int) throws {
        guard depth < 100 else { throw StreamError(kind: .corrupt, message: "parquet: schema nested too deep", fileOffset: 0) }
        for _ in 0..<node.e.numChildren {
            guard next < schema.count else { throw StreamError(kind: .corrupt, message: "parquet: schema has fewer elements than its children counts", fileOffset: 0) }
            let c = SchemaNode(schema[next]); next += 1
            let rep = c.e.repetition
            c.defLevel = node.defLevel + (rep == .required ? 0 : 1)
            c.repLevel = node.repLevel + (rep == .repeated ? 1 : 0)
            node.children.append(c)
            if c.e.numChildren == 0 {
                guard c.e.type != nil else { throw StreamError(kind: .corrupt, message: "parquet: leaf '\(c.e.name)' has no type", fileOffset: 0) }
                c.leaf = leaves.count
                leaves.append(c)
            } else {
                try build(c, schema, &next, &leaves, depth: depth + 1)
            }
        }
    }

    static func pread(_ fd: Int32, at offset: Int64, count: Int) throws -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = buf.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw StreamError(kind: n == 0 ? .truncated : .io, message: "parquet: cannot read \(count) bytes at \(offset)", fileOffset: offset + Int64(done)) }
            done += n
        }
        return buf
    }

    /// Decodes row group `group` (all its columns).
    func loadGroup() throws {
        let g = meta.rowGroups[group]
        columns = []
        rowsLeft = 0
        // A row group without rows may have no pages at all (pyarrow writes one for an empty table).
        guard g.numRows > 0 else { return }
        // The whole row group's decoded columns share one budget (--memory-limit).
        var budget = DecodeBudget.memoryBytes
        for (k, c) in g.columns.enumerated() {
            let leaf = leaves[k]
            guard c.type == leaf.e.type else { throw StreamError(kind: .corrupt, message: "parquet: row group \(group) column '\(leaf.e.name)': type differs from the schema", fileOffset: c.dataPageOffset) }
            // The chunk starts at its dictionary page when it has one (some writers set the field to 0 otherwise).
            let start = min(c.dataPageOffset, c.dictionaryPageOffset.flatMap { $0 > 0 ? $0 : nil } ?? c.dataPageOffset)
            guard start >= 4, c.totalCompressedSize >= 0, c.totalCompressedSize <= fileSize - start, c.totalCompressedSize <= Int64(budget) else {
                throw StreamError(kind: .corrupt, message: "parquet: row group \(group) column '\(leaf.e.name)': bad offsets", fileOffset: start)
            }
            let bytes = try ParquetSource.pread(fd, at: start, count: Int(c.totalCompressedSize))
            fileOffset += c.totalCompressedSize
            let info = LeafInfo(type: leaf.e.type!, typeLength: leaf.e.typeLength, maxDef: leaf.defLevel, maxRep: leaf.repLevel, name: c.path.joined(separator: "."))
            do {
                let col = try bytes.withUnsafeBytes { try ColumnReader.read($0, base: start, meta: c, leaf: info, budget: budget) }
                budget -= col.byteSize
                columns.append(col)
            } catch {
                throw StreamError(kind: .corrupt, message: "parquet: row group \(group) column '\(info.name)': \(error)", fileOffset: start)
            }
        }
        rowsLeft = Int(g.numRows)
        levelPos = [Int](repeating: 0, count: leaves.count)
        valuePos = [Int](repeating: 0, count: leaves.count)
        // Every column must describe the same number of rows.
        for (k, c) in columns.enumerated() {
            let entries = leaves[k].repLevel == 0 ? (leaves[k].defLevel == 0 ? c.values.count : c.def.count) : c.rep.filter { $0 == 0 }.count
            guard entries == rowsLeft else {
                throw StreamError(kind: .corrupt, message: "parquet: row group \(group) column '\(leaves[k].e.name)' has \(entries) rows, the row group \(rowsLeft)", fileOffset: 0)
            }
        }
    }

    public func read(into buf: UnsafeMutableRawBufferPointer) throws -> Int {
        while outPos >= out.count {
            out.removeAll(keepingCapacity: true); outPos = 0
            if rowsLeft == 0 {
                guard group < meta.rowGroups.count else { return 0 }
                try loadGroup()
                group += 1
                if rowsLeft == 0 { continue }
            }
            var b = ByteBuffer(capacity: 1 << 16)
            var n = 0
            while rowsLeft > 0 && (n < 64 || b.count < 1 << 16) {
                if let plan = flat { try assembleFlatRow(plan, into: &b) } else { try assembleRow(into: &b) }
                rowsLeft -= 1; n += 1
            }
            out = b.bytes
        }
        let n = min(buf.count, out.count - outPos)
        out.withUnsafeBytes { src in buf.baseAddress!.copyMemory(from: src.baseAddress! + outPos, byteCount: n) }
        outPos += n
        return n
    }

    /// The next row of the current row group, as one JSON line.
    func assembleRow(into b: inout ByteBuffer) throws {
        let row = RowNode(fields: root.children.count)
        for (k, leaf) in leaves.enumerated() {
            let col = columns[k]
            let (path, childIndex) = leafPaths[k]
            if leaf.repLevel == 0 {
                // One entry per row: no repetition bookkeeping.
                let d = leaf.defLevel > 0 ? Int(col.def[levelPos[k]]) : 0
                insert(row, path, childIndex, [], d, try nextValue(k, d))
                levelPos[k] += 1
                continue
            }
            var idx = [Int](repeating: 0, count: path.count)
            var first = true
            // A repeated leaf: every entry up to the next one that starts a row (repetition level 0).
            while levelPos[k] < col.rep.count {
                let li = levelPos[k]
                let r = Int(col.rep[li])
                if !first && r == 0 { break }
                let d = Int(col.def[li])
                if !first {
                    for (i, n) in path.enumerated() where n.e.repetition == .repeated {
                        if n.repLevel == r { idx[i] += 1 } else if n.repLevel > r { idx[i] = 0 }
                    }
                }
                first = false
                insert(row, path, childIndex, idx, d, try nextValue(k, d))
                levelPos[k] += 1
            }
        }
        emitFields(root, row, &b)
        b.append(0x0A)
    }

    /// The index of leaf `k`'s next value when an entry with definition level `d` holds one
    /// (`d` at the leaf's maximum), else -1.
    func nextValue(_ k: Int, _ d: Int) throws -> Int {
        guard d == leaves[k].defLevel else { return -1 }
        guard valuePos[k] < columns[k].values.count else {
            throw StreamError(kind: .corrupt, message: "parquet: column '\(leaves[k].e.name)' has fewer values than its levels", fileOffset: 0)
        }
        valuePos[k] += 1
        return valuePos[k] - 1
    }

    /// Per leaf: the schema nodes from the root's child down to the leaf, and each one's index
    /// among its parent's children.
    var leafPaths: [(nodes: [SchemaNode], childIndex: [Int])] = []
    static func path(_ root: SchemaNode, to leaf: SchemaNode) -> (nodes: [SchemaNode], childIndex: [Int]) {
        func find(_ n: SchemaNode) -> ([SchemaNode], [Int])? {
            if n === leaf { return ([], []) }
            for (k, c) in n.children.enumerated() { if let (p, i) = find(c) { return ([c] + p, [k] + i) } }
            return nil
        }
        return find(root) ?? ([], [])
    }

    func insert(_ row: RowNode, _ path: [SchemaNode], _ childIndex: [Int], _ idx: [Int], _ d: Int, _ v: Int) {
        var container = row
        for (i, node) in path.enumerated() {
            let ci = childIndex[i]
            if node.e.repetition == .repeated {
                let holder = container.fields[ci] ?? RowNode(fields: 0)
                container.fields[ci] = holder
                if d < node.defLevel { return }
                while holder.items.count <= idx[i] { holder.items.append(RowNode(fields: node.children.count)) }
                container = holder.items[idx[i]]
                if node.isLeaf { container.value = v; return }
            } else {
                if node.e.repetition == .optional && d < node.defLevel {
                    if container.fields[ci] == nil { let n = RowNode(fields: 0); n.isNull = true; container.fields[ci] = n }
                    return
                }
                if node.isLeaf { let n = RowNode(fields: 0); n.value = v; container.fields[ci] = n; return }
                let child = container.fields[ci] ?? RowNode(fields: node.children.count)
                container.fields[ci] = child
                container = child
            }
        }
    }

    // MARK: - JSON

    func emitFields(_ node: SchemaNode, _ r: RowNode, _ b: inout ByteBuffer) {
        b.append(UInt8(ascii: "{"))
        for (i, c) in node.children.enumerated() {
            if i > 0 { b.append(", ") }
            b.appendJSONString(c.e.name); b.append(": ")
            emit(c, r.fields[i], &b)
        }
        b.append(UInt8(ascii: "}"))
    }

    /// A field: null, a repeated node's array, or its value.
    func emit(_ node: SchemaNode, _ r: RowNode?, _ b: inout ByteBuffer) {
        guard let r, !r.isNull else {
            if node.e.repetition == .repeated { b.append("[]") } else { b.append("null") }
            return
        }
        if node.e.repetition == .repeated {
            b.append(UInt8(ascii: "["))
            for (k, item) in r.items.enumerated() { if k > 0 { b.append(", ") }; emitValue(node, item, &b) }
            b.append(UInt8(ascii: "]"))
        } else {
            emitValue(node, r, &b)
        }
    }

    func emitValue(_ node: SchemaNode, _ r: RowNode, _ b: inout ByteBuffer) {
        if node.isLeaf { emitLeaf(node, r.value, &b); return }
        if node.e.annotation == .list, node.children.count == 1, node.children[0].e.repetition == .repeated {
            let rep = node.children[0]
            let holder = r.fields[0]
            b.append(UInt8(ascii: "["))
            let threeLevel = node.isThreeLevelList
            for (k, item) in (holder?.items ?? []).enumerated() {
                if k > 0 { b.append(", ") }
                if threeLevel { emit(rep.children[0], item.fields[0], &b) } else { emitValue(rep, item, &b) }
            }
            b.append(UInt8(ascii: "]"))
            return
        }
        if node.e.annotation == .map, node.children.count == 1, node.children[0].children.count >= 1 {
            let kv = node.children[0]
            b.append(UInt8(ascii: "{"))
            for (k, item) in (r.fields[0]?.items ?? []).enumerated() {
                if k > 0 { b.append(", ") }
                var key = ByteBuffer()
                emit(kv.children[0], item.fields[0], &key)
                // Keys are strings in JSON: a string key as is, any other key as its JSON text.
                if key.bytes.first == UInt8(ascii: "\"") { b.append(key.bytes) } else { b.appendJSONString(key.bytes) }
                b.append(": ")
                if kv.children.count > 1 { emit(kv.children[1], item.fields[1], &b) } else { b.append("null") }
            }
            b.append(UInt8(ascii: "}"))
            return
        }
        emitFields(node, r, &b)
    }

    func emitLeaf(_ node: SchemaNode, _ i: Int, _ b: inout ByteBuffer) {
        guard i >= 0 else { b.append("null"); return }
        // Read through the column (a class): no copy of its value arrays per value.
        let col = columns[node.leaf!]
        let a = node.e.annotation
        switch col.values.type {
        case .boolean: b.append(col.values.bools[i] ? "true" : "false")
        case .int32, .int64:
            let x = col.values.ints[i]
            if case .decimal(let scale, _) = a { b.appendJSONNumber(Double(x) / pow(10, Double(scale))); return }
            if case .integer(let bits, false) = a, bits == 64 { b.append(String(UInt64(bitPattern: x))); return }
            if case .integer(let bits, false) = a, bits == 32 { b.append(String(UInt32(truncatingIfNeeded: x))); return }
            b.append(String(x))
        case .float, .double:
            b.appendJSONNumber(col.values.doubles[i])
        case .int96:
            let s = Array(col.values.bytes(i))
            var nanos: Int64 = 0
            for k in 0..<8 { nanos |= Int64(s[k]) << (8 * Int64(k)) }
            var day: Int64 = 0
            for k in 0..<4 { day |= Int64(s[8 + k]) << (8 * Int64(k)) }
            b.append(String((day - 2_440_588) &* 86_400_000_000_000 &+ nanos))
        case .byteArray, .fixedLenByteArray:
            let s = col.values.bytes(i)
            switch a {
            case .uuid where s.count == 16:
                let h = s.map { String(format: "%02x", $0) }.joined()
                let parts = [h.prefix(8), h.dropFirst(8).prefix(4), h.dropFirst(12).prefix(4), h.dropFirst(16).prefix(4), h.dropFirst(20)]
                b.appendJSONString(parts.joined(separator: "-"))
            case .decimal(let scale, _):
                var x: Int64 = s.first.map { $0 & 0x80 != 0 ? -1 : 0 } ?? 0
                for byte in s.suffix(8) { x = x << 8 | Int64(byte) }
                b.appendJSONNumber(Double(x) / pow(10, Double(scale)))
            case .float16 where s.count == 2:
                b.appendJSONNumber(Double(Float(Float16(bitPattern: UInt16(s[s.startIndex]) | UInt16(s[s.startIndex + 1]) << 8))))
            case .bson:
                b.appendJSONString(Data(s).base64EncodedString())
            default:
                // Text (strings, JSON, enums, unannotated bytes) as a string; bytes that are not UTF-8 as base64.
                s.withUnsafeBytes { raw in
                    if UTF8Check.firstInvalid(raw) == nil { b.appendJSONString(raw.bindMemory(to: UInt8.self)) } else { b.appendJSONString(Data(raw).base64EncodedString()) }
                }
            }
        }
    }
}
