// GGUF, llama.cpp's model file (what Ollama and LM Studio users have): a header, typed metadata
// (architecture, sizes, the tokenizer and its chat template), tensor descriptions, then aligned
// tensor data, F32/F16/BF16 or block-quantized. The file is mapped read-only; every count, length,
// dimension and offset in it is checked against the file's own size before anything is allocated
// from it, and tensors are dequantized to Float on request.
#if canImport(Glibc)
import Glibc
#endif
import PrefIO

/// The tensor element types prefkit reads (ggml's numbering).
public enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q8_0 = 8, q4_K = 12, q6_K = 14, bf16 = 30

    /// Elements per block and bytes per block.
    public var block: (elements: Int, bytes: Int) {
        switch self {
        case .f32: return (1, 4)
        case .f16, .bf16: return (1, 2)
        case .q4_0: return (32, 18)      // f16 scale, 16 bytes of 4-bit values
        case .q4_1: return (32, 20)      // f16 scale, f16 minimum, 16 bytes of 4-bit values
        case .q8_0: return (32, 34)      // f16 scale, 32 signed bytes
        case .q4_K: return (256, 144)    // f16 scale, f16 minimum scale, 12 bytes of 6-bit sub-scales and minima, 128 bytes of 4-bit values
        case .q6_K: return (256, 210)    // 128 bytes of low 4 bits, 64 of high 2 bits, 16 signed sub-scales, f16 scale
        }
    }

    /// ggml's names of every type, for messages about the ones not read.
    static let names: [UInt32: String] = [0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1",
                                          10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS",
                                          17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS",
                                          24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16"]
    public var name: String { GGMLType.names[rawValue] ?? "type \(rawValue)" }
}

public struct GGUFError: Error, CustomStringConvertible {
    public var description: String
    init(_ path: String, _ what: String) { description = "\(path): \(what)" }
}

public final class GGUFFile: @unchecked Sendable {
    /// A metadata value.
    public indirect enum Value: Sendable, Equatable {
        case uint(UInt64), int(Int64), float(Double), bool(Bool), string(String), array([Value])

        public var int: Int? {
            switch self {
            case .uint(let v): return v <= UInt64(Int.max) ? Int(v) : nil
            case .int(let v): return Int(v)
            default: return nil
            }
        }
        public var double: Double? {
            switch self {
            case .float(let v): return v
            case .uint(let v): return Double(v)
            case .int(let v): return Double(v)
            default: return nil
            }
        }
        public var string: String? { if case .string(let s) = self { return s }; return nil }
        public var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
        public var array: [Value]? { if case .array(let a) = self { return a }; return nil }
    }

    public struct Tensor: Sendable {
        public var name: String
        /// ggml's order: dims[0] varies fastest (a PyTorch [out, in] matrix is [in, out] here).
        public var dims: [Int]
        public var type: GGMLType
        /// Byte offset in the file, and length.
        public var offset: Int
        public var bytes: Int
        public var count: Int { dims.reduce(1, *) }
    }

    public let path: String
    public let version: UInt32
    /// Metadata keys in file order, and their values.
    public let keys: [String]
    public let metadata: [String: Value]
    public let tensorNames: [String]
    public let tensors: [String: Tensor]
    let map: MappedFile
    var base: UnsafeRawPointer { map.base }

    /// Bounds on what a header may claim (a real model's metadata is a few MB, mostly its vocabulary).
    static let maxString = 64 << 20
    static let maxArrayDepth = 4

    public init(path: String) throws {
        self.path = path
        let map = try MappedFile(path: path, what: "a GGUF header", minSize: 24)
        let base = map.base, size = map.size
        do {
            var c = Cursor(base: base, size: size, path: path)
            guard try c.u32() == 0x4655_4747 else { throw GGUFError(path, "not a GGUF file (no GGUF magic)") }
            let version = try c.u32()
            guard version == 2 || version == 3 else { throw GGUFError(path, "GGUF version \(version) is not supported (2 and 3 are)") }
            // Each tensor description takes at least 8+1+4+8+4+8 bytes and each key-value at least
            // 8+1+4+1: counts beyond what the file can hold are lies, refused before any allocation.
            let tensorCount = try c.u64(), kvCount = try c.u64()
            guard tensorCount <= UInt64(size / 33), kvCount <= UInt64(size / 14) else {
                throw GGUFError(path, "the header claims \(tensorCount) tensors and \(kvCount) metadata entries, more than the file can hold")
            }
            var keys: [String] = [], meta: [String: Value] = [:]
            for _ in 0..<kvCount {
                let k = try c.string()
                let t = try c.u32()
                meta[k] = try c.value(type: t, depth: 0)
                keys.append(k)
            }
            var alignment = 32
            if let a = meta["general.alignment"] {
                guard let v = a.int, v > 0, v <= 1 << 20, v & (v - 1) == 0 else { throw GGUFError(path, "general.alignment is not a power of two up to 1 MB") }
                alignment = v
            }
            var infos: [(String, [Int], GGMLType, UInt64)] = []
            for _ in 0..<tensorCount {
                let name = try c.string()
                let nd = try c.u32()
                guard nd >= 1, nd <= 4 else { throw GGUFError(path, "tensor \(name) has \(nd) dimensions (1 to 4)") }
                var dims: [Int] = []
                for _ in 0..<nd {
                    let d = try c.u64()
                    guard d >= 1, d <= UInt64(size) * 2 else { throw GGUFError(path, "tensor \(name) has a dimension of \(d)") }
                    dims.append(Int(d))
                }
                let raw = try c.u32()
                guard let type = GGMLType(rawValue: raw) else {
                    throw GGUFError(path, "tensor \(name) is \(GGMLType.names[raw] ?? "of type \(raw)"), which prefkit does not read (it reads \(GGMLType.allCases.map(\.name).joined(separator: ", ")))")
                }
                infos.append((name, dims, type, try c.u64()))
            }
            let dataStart = (c.pos + alignment - 1) / alignment * alignment
            guard dataStart <= size else { throw GGUFError(path, "no tensor data after the header") }
            var table: [String: Tensor] = [:], order: [String] = []
            for (name, dims, type, off) in infos {
                var count = 1
                for d in dims {
                    let (m, o) = count.multipliedReportingOverflow(by: d)
                    guard !o, m <= size * 8 else { throw GGUFError(path, "tensor \(name) of shape \(dims) is larger than the file") }
                    count = m
                }
                let (per, bpb) = type.block
                guard dims[0] % per == 0 else { throw GGUFError(path, "tensor \(name): a row of \(dims[0]) is not whole \(type.name) blocks of \(per)") }
                let bytes = count / per * bpb
                guard off % UInt64(alignment) == 0, off <= UInt64(size - dataStart), UInt64(bytes) <= UInt64(size - dataStart) - off else {
                    throw GGUFError(path, "tensor \(name) (offset \(off), \(bytes) bytes) lies outside the file's data")
                }
                guard table[name] == nil else { throw GGUFError(path, "tensor \(name) is described twice") }
                table[name] = Tensor(name: name, dims: dims, type: type, offset: dataStart + Int(off), bytes: bytes)
                order.append(name)
            }
            // No two tensors share bytes.
            let sorted = table.values.sorted { ($0.offset, $0.name) < ($1.offset, $1.name) }
            for (a, b) in zip(sorted, sorted.dropFirst()) where b.offset < a.offset + a.bytes {
                throw GGUFError(path, "tensors \(a.name) and \(b.name) overlap")
            }
            self.version = version
            self.keys = keys
            metadata = meta
            tensorNames = order
            tensors = table
            self.map = map
        }
    }

    /// A bounds-checked little-endian reader over the mapped header.
    struct Cursor {
        let base: UnsafeRawPointer
        let size: Int
        let path: String
        var pos = 0

        mutating func take(_ n: Int) throws -> UnsafeRawPointer {
            guard n >= 0, n <= size - pos else { throw GGUFError(path, "the header runs past the end of the file (at byte \(pos))") }
            defer { pos += n }
            return base + pos
        }
        mutating func u8() throws -> UInt8 { try take(1).load(as: UInt8.self) }
        mutating func u32() throws -> UInt32 { UInt32(littleEndian: try take(4).loadUnaligned(as: UInt32.self)) }
        mutating func u64() throws -> UInt64 { UInt64(littleEndian: try take(8).loadUnaligned(as: UInt64.self)) }
        mutating func string() throws -> String {
            let n = try u64()
            guard n <= UInt64(min(size - pos, GGUFFile.maxString)) else { throw GGUFError(path, "a string of \(n) bytes at byte \(pos) runs past the end of the file") }
            return String(decoding: UnsafeRawBufferPointer(start: try take(Int(n)), count: Int(n)), as: UTF8.self)
        }

        /// Smallest size of one value of a type (for checking an array's count before allocating).
        static func minSize(_ t: UInt32) -> Int? {
            switch t {
            case 0, 1, 7: return 1
            case 2, 3: return 2
            case 4, 5, 6: return 4
            case 10, 11, 12, 8: return 8
            case 9: return 12
            default: return nil
            }
        }

        mutating func value(type t: UInt32, depth: Int) throws -> Value {
            switch t {
            case 0: return .uint(UInt64(try u8()))
            case 1: return .int(Int64(Int8(bitPattern: try u8())))
            case 2: return .uint(UInt64(UInt16(littleEndian: try take(2).loadUnaligned(as: UInt16.self))))
            case 3: return .int(Int64(Int16(littleEndian: try take(2).loadUnaligned(as: Int16.self))))
            case 4: return .uint(UInt64(try u32()))
            case 5: return .int(Int64(Int32(bitPattern: try u32())))
            case 6: return .float(Double(Float(bitPattern: try u32())))
            case 7: return .bool(try u8() != 0)
            case 8: return .string(try string())
            case 10: return .uint(try u64())
            case 11: return .int(Int64(bitPattern: try u64()))
            case 12: return .float(Double(bitPattern: try u64()))
            case 9:
                guard depth < GGUFFile.maxArrayDepth else { throw GGUFError(path, "metadata arrays nested deeper than \(GGUFFile.maxArrayDepth)") }
                let et = try u32()
                let n = try u64()
                guard let least = Cursor.minSize(et) else { throw GGUFError(path, "metadata array of unknown type \(et)") }
                guard n <= UInt64((size - pos) / least) else { throw GGUFError(path, "a metadata array of \(n) values runs past the end of the file") }
                var out: [Value] = []
                out.reserveCapacity(Int(n))
                for _ in 0..<n { out.append(try value(type: et, depth: depth + 1)) }
                return .array(out)
            default:
                throw GGUFError(path, "metadata value of unknown type \(t) at byte \(pos)")
            }
        }
    }

    /// A tensor's values as Float, in ggml order (dims[0] fastest).
    public func floats(_ name: String) throws -> [Float] {
        guard let t = tensors[name] else { throw GGUFError(path, "no tensor \(name)") }
        return [Float](unsafeUninitializedCapacity: t.count) { buf, n in
            GGUFFile.dequantize(base + t.offset, type: t.type, count: t.count, into: buf.baseAddress!)
            n = t.count
        }
    }

    /// Half precision to single, exactly (subnormals, infinities and NaN included).
    @inline(__always) static func half(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16, exp = Int((h >> 10) & 0x1F), frac = UInt32(h & 0x3FF)
        if exp == 0 {
            // Zero or subnormal: frac x 2^-24.
            let v = Float(frac) * Float(bitPattern: 0x3380_0000)
            return sign != 0 ? -v : v
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (frac << 13)) }
        return Float(bitPattern: sign | UInt32(exp + 112) << 23 | frac << 13)
    }

    static func dequantize(_ src: UnsafeRawPointer, type: GGMLType, count: Int, into dst: UnsafeMutablePointer<Float>) {
        @inline(__always) func h(_ p: UnsafeRawPointer) -> Float { half(UInt16(littleEndian: p.loadUnaligned(as: UInt16.self))) }
        switch type {
        case .f32:
            for i in 0..<count { dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case .f16:
            for i in 0..<count { dst[i] = h(src + 2 * i) }
        case .bf16:
            for i in 0..<count { dst[i] = Float(bitPattern: UInt32(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
        case .q4_0, .q4_1:
            let (per, bpb) = type.block
            let withMin = type == .q4_1
            for b in 0..<(count / per) {
                let blk = src + b * bpb
                let d = h(blk), m: Float = withMin ? h(blk + 2) : 0
                let qs = (blk + (withMin ? 4 : 2)).assumingMemoryBound(to: UInt8.self)
                let out = dst + b * per
                for j in 0..<16 {
                    let lo = Int(qs[j] & 0x0F), hi = Int(qs[j] >> 4)
                    if withMin {
                        out[j] = Float(lo) * d + m
                        out[j + 16] = Float(hi) * d + m
                    } else {
                        out[j] = Float(lo - 8) * d
                        out[j + 16] = Float(hi - 8) * d
                    }
                }
            }
        case .q4_K:
            // Eight sub-blocks of 32, each with a 6-bit scale and a 6-bit minimum packed in 12 bytes.
            for b in 0..<(count / 256) {
                let blk = src + b * 144
                let d = h(blk), dmin = h(blk + 2)
                let sc = (blk + 4).assumingMemoryBound(to: UInt8.self), qs = (blk + 16).assumingMemoryBound(to: UInt8.self)
                func scaleMin(_ j: Int) -> (Float, Float) {
                    if j < 4 { return (Float(sc[j] & 63), Float(sc[j + 4] & 63)) }
                    return (Float((sc[j + 4] & 0x0F) | ((sc[j - 4] >> 6) << 4)), Float((sc[j + 4] >> 4) | ((sc[j] >> 6) << 4)))
                }
                let out = dst + b * 256
                for j in 0..<4 {
                    let (s1, m1) = scaleMin(2 * j), (s2, m2) = scaleMin(2 * j + 1)
                    let q = qs + 32 * j, y = out + 64 * j
                    for l in 0..<32 {
                        y[l] = d * s1 * Float(q[l] & 0x0F) - dmin * m1
                        y[32 + l] = d * s2 * Float(q[l] >> 4) - dmin * m2
                    }
                }
            }
        case .q6_K:
            // Sixteen sub-blocks of 16 with signed 8-bit scales; 6-bit values from 4 low and 2 high bits.
            for b in 0..<(count / 256) {
                let blk = src + b * 210
                let d = h(blk + 208)
                let out = dst + b * 256
                for n in 0..<2 {
                    let ql = (blk + 64 * n).assumingMemoryBound(to: UInt8.self), qh = (blk + 128 + 32 * n).assumingMemoryBound(to: UInt8.self)
                    let sc = (blk + 192 + 8 * n).assumingMemoryBound(to: Int8.self), y = out + 128 * n
                    for l in 0..<32 {
                        let k = l / 16
                        let q1 = Int(ql[l] & 0x0F | ((qh[l] >> 0) & 3) << 4) - 32, q2 = Int(ql[l + 32] & 0x0F | ((qh[l] >> 2) & 3) << 4) - 32
                        let q3 = Int(ql[l] >> 4 | ((qh[l] >> 4) & 3) << 4) - 32, q4 = Int(ql[l + 32] >> 4 | ((qh[l] >> 6) & 3) << 4) - 32
                        y[l] = d * Float(sc[k]) * Float(q1)
                        y[l + 32] = d * Float(sc[k + 2]) * Float(q2)
                        y[l + 64] = d * Float(sc[k + 4]) * Float(q3)
                        y[l + 96] = d * Float(sc[k + 6]) * Float(q4)
                    }
                }
            }
        case .q8_0:
            for b in 0..<(count / 32) {
                let blk = src + b * 34
                let d = h(blk)
                let qs = (blk + 2).assumingMemoryBound(to: Int8.self)
                let out = dst + b * 32
                for j in 0..<32 { out[j] = Float(qs[j]) * d }
            }
        }
    }
}
