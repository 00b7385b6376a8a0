// The Thrift compact protocol, read only: what Parquet's footer and page headers are written in.
// Every read is bounds-checked; a malformed structure throws, it never reads past the buffer.

typealias ThriftError = ParquetError

/// An unsigned LEB128 varint at `pos` (advanced past it), reading no further than `end`: shared by
/// the Thrift fields and the encodings inside pages.
func readVarint(_ bytes: UnsafeRawBufferPointer, _ pos: inout Int, end: Int) throws -> UInt64 {
    var v: UInt64 = 0, shift: UInt64 = 0
    while true {
        guard pos < end else { throw ParquetError("unexpected end of data in a varint") }
        let b = bytes[pos]
        pos += 1
        v |= UInt64(b & 0x7F) << shift
        if b & 0x80 == 0 { return v }
        shift += 7
        guard shift < 64 else { throw ParquetError("varint too long") }
    }
}

/// A cursor over compact-protocol bytes.
struct ThriftReader {
    let bytes: UnsafeRawBufferPointer
    var pos: Int
    /// Nesting depth, bounded so that a crafted footer cannot exhaust the stack.
    var depth = 0

    init(_ bytes: UnsafeRawBufferPointer, at pos: Int = 0) { self.bytes = bytes; self.pos = pos }

    mutating func byte() throws -> UInt8 {
        guard pos < bytes.count else { throw ThriftError("thrift: unexpected end of data") }
        pos += 1
        return bytes[pos - 1]
    }

    mutating func varint() throws -> UInt64 { try readVarint(bytes, &pos, end: bytes.count) }

    mutating func zigzag() throws -> Int64 {
        let u = try varint()
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    mutating func i32() throws -> Int32 {
        let v = try zigzag()
        guard let r = Int32(exactly: v) else { throw ThriftError("thrift: i32 out of range") }
        return r
    }

    mutating func binary() throws -> UnsafeRawBufferPointer {
        let n = try varint()
        guard n <= UInt64(bytes.count - pos) else { throw ThriftError("thrift: binary field longer than the data") }
        let r = UnsafeRawBufferPointer(rebasing: bytes[pos..<(pos + Int(n))])
        pos += Int(n)
        return r
    }

    mutating func string() throws -> String { String(decoding: try binary(), as: UTF8.self) }

    mutating func double() throws -> Double {
        guard bytes.count - pos >= 8 else { throw ThriftError("thrift: unexpected end of data") }
        let v = bytes.loadUnaligned(fromByteOffset: pos, as: UInt64.self)
        pos += 8
        return Double(bitPattern: UInt64(littleEndian: v))
    }

    /// Reads the fields of a struct, calling `field` with each id and type; `field` returns false
    /// for a field it does not read, which is then skipped.
    mutating func readStruct(_ field: (inout ThriftReader, Int16, UInt8) throws -> Bool) throws {
        depth += 1
        guard depth < 64 else { throw ThriftError("thrift: nesting too deep") }
        defer { depth -= 1 }
        var last: Int16 = 0
        while true {
            let h = try byte()
            let type = h & 0x0F
            if type == 0 { return }
            let delta = Int16(h >> 4)
            let id: Int16
            if delta == 0 {
                let z = try zigzag()
                guard let i = Int16(exactly: z) else { throw ThriftError("thrift: bad field id") }
                id = i
            } else { id = last &+ delta }
            last = id
            if try !field(&self, id, type) { try skip(type) }
        }
    }

    /// A list header: element count and element type.
    mutating func listHeader() throws -> (count: Int, type: UInt8) {
        let h = try byte()
        var n = Int(h >> 4)
        if n == 15 {
            let v = try varint()
            guard v <= UInt64(bytes.count) else { throw ThriftError("thrift: list longer than the data") }
            n = Int(v)
        }
        return (n, h & 0x0F)
    }

    mutating func list<T>(_ element: (inout ThriftReader) throws -> T) throws -> [T] {
        let (n, _) = try listHeader()
        var out: [T] = []
        out.reserveCapacity(min(n, 1 << 16))
        for _ in 0..<n { out.append(try element(&self)) }
        return out
    }

    /// A boolean field's value is in its type nibble (1 true, 2 false).
    static func bool(_ type: UInt8) -> Bool { type == 1 }

    mutating func skip(_ type: UInt8) throws {
        // Inside a list, set or map a boolean is one byte (only a struct field keeps it in its type
        // nibble), so every element consumes at least one byte: skipping is linear in the data.
        func element(_ r: inout ThriftReader, _ t: UInt8) throws { if t == 1 || t == 2 { _ = try r.byte() } else { try r.skip(t) } }
        switch type {
        case 1, 2: return
        case 3: _ = try byte()
        case 4, 5, 6: _ = try varint()
        case 7: _ = try double()
        case 8: _ = try binary()
        case 9, 10, 11:
            // Containers nest like structs: bounded, so a crafted footer cannot exhaust the stack.
            depth += 1
            guard depth < 64 else { throw ThriftError("thrift: nesting too deep") }
            defer { depth -= 1 }
            if type == 11 {
                let n = try varint()
                guard n <= UInt64(bytes.count - pos) else { throw ThriftError("thrift: map longer than the data") }
                if n > 0 {
                    let kv = try byte()
                    for _ in 0..<n { try element(&self, kv >> 4); try element(&self, kv & 0x0F) }
                }
            } else {
                let (n, t) = try listHeader()
                guard n <= bytes.count - pos else { throw ThriftError("thrift: list longer than the data") }
                for _ in 0..<n { try element(&self, t) }
            }
        case 12: try readStruct { _, _, _ in false }
        default: throw ThriftError("thrift: unknown field type \(type)")
        }
    }
}
