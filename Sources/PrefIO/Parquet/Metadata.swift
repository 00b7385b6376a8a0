// Parquet's file metadata (the footer) and page headers, decoded from the Thrift compact protocol.
// Only the fields a reader needs are kept; unknown fields are skipped, as Thrift intends.

enum PhysicalType: Int32 {
    case boolean = 0, int32 = 1, int64 = 2, int96 = 3, float = 4, double = 5, byteArray = 6, fixedLenByteArray = 7
}

enum Repetition: Int32 { case required = 0, optional = 1, repeated = 2 }

/// How a column's values are to be read back (converted types and logical types, merged).
enum Annotation: Equatable {
    case none, string, json, bson, enumeration, uuid, float16, list, map, date, timeMillis, timeMicros, timestampMillis, timestampMicros, timestampNanos
    case decimal(scale: Int, precision: Int)
    case integer(bits: Int, signed: Bool)
}

struct SchemaElement {
    var type: PhysicalType?
    var typeLength = 0
    var repetition: Repetition = .required
    var name = ""
    var numChildren = 0
    var annotation: Annotation = .none
}

struct ColumnMeta {
    var type: PhysicalType = .byteArray
    var path: [String] = []
    var codec: Int32 = 0
    var numValues: Int64 = 0
    var totalCompressedSize: Int64 = 0
    var dataPageOffset: Int64 = 0
    var dictionaryPageOffset: Int64?
}

struct RowGroupMeta {
    var columns: [ColumnMeta] = []
    var numRows: Int64 = 0
}

struct FileMeta {
    var schema: [SchemaElement] = []
    var numRows: Int64 = 0
    var rowGroups: [RowGroupMeta] = []
    var createdBy = ""
}

enum PageType: Int32 { case dataPage = 0, indexPage = 1, dictionaryPage = 2, dataPageV2 = 3 }

struct PageHeader {
    var type: Int32 = -1
    var uncompressedSize: Int32 = 0
    var compressedSize: Int32 = 0
    var crc: Int32?
    // Data page (v1 and v2) and dictionary page fields.
    var numValues: Int32 = 0
    var encoding: Int32 = 0
    var defEncoding: Int32 = 3
    var repEncoding: Int32 = 3
    var numNulls: Int32 = 0
    var numRows: Int32 = 0
    var defLength: Int32 = 0
    var repLength: Int32 = 0
    var isCompressed = true
}

extension FileMeta {
    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> FileMeta {
        var r = ThriftReader(bytes)
        var m = FileMeta()
        try r.readStruct { r, id, type in
            switch (id, type) {
            case (2, 9): m.schema = try r.list { r in try SchemaElement.parse(&r) }
            case (3, 6): m.numRows = try r.zigzag()
            case (4, 9): m.rowGroups = try r.list { r in try RowGroupMeta.parse(&r) }
            case (6, 8): m.createdBy = try r.string()
            default: return false
            }
            return true
        }
        return m
    }
}

extension SchemaElement {
    static func parse(_ r: inout ThriftReader) throws -> SchemaElement {
        var e = SchemaElement()
        var converted: Int32?
        var scale = 0, precision = 0
        var logical: Annotation?
        try r.readStruct { r, id, type in
            switch (id, type) {
            case (1, 5): e.type = PhysicalType(rawValue: try r.i32())
            case (2, 5): e.typeLength = Int(try r.i32())
            case (3, 5): e.repetition = Repetition(rawValue: try r.i32()) ?? .optional
            case (4, 8): e.name = try r.string()
            case (5, 5): e.numChildren = Int(max(0, try r.i32()))
            case (6, 5): converted = try r.i32()
            case (7, 5): scale = Int(try r.i32())
            case (8, 5): precision = Int(try r.i32())
            case (10, 12): logical = try parseLogical(&r)
            default: return false
            }
            return true
        }
        if let l = logical {
            e.annotation = l
        } else if let c = converted {
            switch c {
            case 0: e.annotation = .string
            case 1, 2: e.annotation = .map
            case 3: e.annotation = .list
            case 4: e.annotation = .enumeration
            case 5: e.annotation = .decimal(scale: scale, precision: precision)
            case 6: e.annotation = .date
            case 7: e.annotation = .timeMillis
            case 8: e.annotation = .timeMicros
            case 9: e.annotation = .timestampMillis
            case 10: e.annotation = .timestampMicros
            case 11...14: e.annotation = .integer(bits: 8 << Int(c - 11), signed: false)
            case 15...18: e.annotation = .integer(bits: 8 << Int(c - 15), signed: true)
            case 19: e.annotation = .json
            case 20: e.annotation = .bson
            default: break
            }
        }
        return e
    }

    /// The LogicalType union: one field set, naming the type.
    static func parseLogical(_ r: inout ThriftReader) throws -> Annotation {
        var a: Annotation = .none
        try r.readStruct { r, id, type in
            guard type == 12 else { return false }
            switch id {
            case 1: a = .string
            case 2: a = .map
            case 3: a = .list
            case 4: a = .enumeration
            case 5:
                var scale = 0, precision = 0
                try r.readStruct { r, fid, t in
                    guard t == 5 else { return false }
                    if fid == 1 { scale = Int(try r.i32()) } else if fid == 2 { precision = Int(try r.i32()) } else { return false }
                    return true
                }
                a = .decimal(scale: scale, precision: precision)
                return true
            case 6: a = .date
            case 7, 8:
                // TimeType / TimestampType: {1: isAdjustedToUTC, 2: unit {1: MILLIS, 2: MICROS, 3: NANOS}}.
                var unit = 1
                try r.readStruct { r, fid, t in
                    guard fid == 2, t == 12 else { return false }
                    try r.readStruct { r, u, ut in
                        guard ut == 12 else { return false }
                        unit = Int(u)
                        try r.skip(12)
                        return true
                    }
                    return true
                }
                if id == 7 { a = unit == 1 ? .timeMillis : .timeMicros } else { a = unit == 1 ? .timestampMillis : unit == 2 ? .timestampMicros : .timestampNanos }
                return true
            case 10:
                var bits = 64, signed = true
                try r.readStruct { r, fid, t in
                    if fid == 1 && t == 3 { bits = Int(Int8(bitPattern: try r.byte())); return true }
                    if fid == 2 && (t == 1 || t == 2) { signed = ThriftReader.bool(t); return true }
                    return false
                }
                a = .integer(bits: bits, signed: signed)
                return true
            case 12: a = .json
            case 13: a = .bson
            case 14: a = .uuid
            case 15: a = .float16
            default: break
            }
            try r.skip(12)
            return true
        }
        return a
    }
}

extension RowGroupMeta {
    static func parse(_ r: inout ThriftReader) throws -> RowGroupMeta {
        var g = RowGroupMeta()
        try r.readStruct { r, id, type in
            switch (id, type) {
            case (1, 9): g.columns = try r.list { r in try ColumnMeta.parseChunk(&r) }
            case (3, 6): g.numRows = try r.zigzag()
            default: return false
            }
            return true
        }
        return g
    }
}

extension ColumnMeta {
    /// A ColumnChunk, of which only the metadata is used (file_path, for columns in other files, is refused).
    static func parseChunk(_ r: inout ThriftReader) throws -> ColumnMeta {
        var c: ColumnMeta?
        var external = false
        try r.readStruct { r, id, type in
            switch (id, type) {
            case (1, 8): external = !(try r.binary()).isEmpty
            case (3, 12): c = try parse(&r)
            default: return false
            }
            return true
        }
        if external { throw ThriftError("column chunks in other files (file_path) are not supported") }
        guard let c else { throw ThriftError("a column chunk has no metadata") }
        return c
    }

    static func parse(_ r: inout ThriftReader) throws -> ColumnMeta {
        var c = ColumnMeta()
        try r.readStruct { r, id, type in
            switch (id, type) {
            case (1, 5):
                guard let t = PhysicalType(rawValue: try r.i32()) else { throw ThriftError("unknown physical type") }
                c.type = t
            case (3, 9): c.path = try r.list { r in try r.string() }
            case (4, 5): c.codec = try r.i32()
            case (5, 6): c.numValues = try r.zigzag()
            case (7, 6): c.totalCompressedSize = try r.zigzag()
            case (9, 6): c.dataPageOffset = try r.zigzag()
            case (11, 6): c.dictionaryPageOffset = try r.zigzag()
            default: return false
            }
            return true
        }
        return c
    }
}

extension PageHeader {
    static func parse(_ r: inout ThriftReader) throws -> PageHeader {
        var h = PageHeader()
        try r.readStruct { r, id, type in
            switch (id, type) {
            case (1, 5): h.type = try r.i32()
            case (2, 5): h.uncompressedSize = try r.i32()
            case (3, 5): h.compressedSize = try r.i32()
            case (4, 5): h.crc = try r.i32()
            case (5, 12):
                try r.readStruct { r, f, t in
                    guard t == 5 else { return false }
                    switch f {
                    case 1: h.numValues = try r.i32()
                    case 2: h.encoding = try r.i32()
                    case 3: h.defEncoding = try r.i32()
                    case 4: h.repEncoding = try r.i32()
                    default: return false
                    }
                    return true
                }
            case (7, 12):
                try r.readStruct { r, f, t in
                    guard t == 5 else { return false }
                    switch f {
                    case 1: h.numValues = try r.i32()
                    case 2: h.encoding = try r.i32()
                    default: return false
                    }
                    return true
                }
            case (8, 12):
                try r.readStruct { r, f, t in
                    if f == 7 && (t == 1 || t == 2) { h.isCompressed = ThriftReader.bool(t); return true }
                    guard t == 5 else { return false }
                    switch f {
                    case 1: h.numValues = try r.i32()
                    case 2: h.numNulls = try r.i32()
                    case 3: h.numRows = try r.i32()
                    case 4: h.encoding = try r.i32()
                    case 5: h.defLength = try r.i32()
                    case 6: h.repLength = try r.i32()
                    default: return false
                    }
                    return true
                }
            default: return false
            }
            return true
        }
        guard h.compressedSize >= 0, h.uncompressedSize >= 0, h.numValues >= 0, h.defLength >= 0, h.repLength >= 0 else {
            throw ThriftError("page header with negative sizes")
        }
        return h
    }
}
