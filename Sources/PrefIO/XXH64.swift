// XXH64, the 64-bit xxHash (Yann Collet's specification), over raw bytes.
// Used for stable record ids and for exact deduplication.

@usableFromInline let xxP1: UInt64 = 0x9E37_79B1_85EB_CA87
@usableFromInline let xxP2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
@usableFromInline let xxP3: UInt64 = 0x1656_67B1_9E37_79F9
@usableFromInline let xxP4: UInt64 = 0x85EB_CA77_C2B2_AE63
@usableFromInline let xxP5: UInt64 = 0x27D4_EB2F_1656_67C5

@inline(__always) func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }
@inline(__always) func xxRound(_ acc: UInt64, _ input: UInt64) -> UInt64 {
    rotl(acc &+ input &* xxP2, 31) &* xxP1
}
@inline(__always) func xxMerge(_ acc: UInt64, _ val: UInt64) -> UInt64 {
    (acc ^ xxRound(0, val)) &* xxP1 &+ xxP4
}

public enum XXH64 {
    public static func hash(_ buf: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        let n = buf.count
        guard let base = buf.baseAddress else { return finalize(seed &+ xxP5, length: 0) }
        var i = 0
        var h: UInt64
        if n >= 32 {
            var v1 = seed &+ xxP1 &+ xxP2, v2 = seed &+ xxP2, v3 = seed, v4 = seed &- xxP1
            while i + 32 <= n {
                v1 = xxRound(v1, base.loadUnaligned(fromByteOffset: i, as: UInt64.self).littleEndian)
                v2 = xxRound(v2, base.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self).littleEndian)
                v3 = xxRound(v3, base.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self).littleEndian)
                v4 = xxRound(v4, base.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self).littleEndian)
                i += 32
            }
            h = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
            h = xxMerge(h, v1); h = xxMerge(h, v2); h = xxMerge(h, v3); h = xxMerge(h, v4)
        } else {
            h = seed &+ xxP5
        }
        h = h &+ UInt64(n)
        while i + 8 <= n {
            let k = xxRound(0, base.loadUnaligned(fromByteOffset: i, as: UInt64.self).littleEndian)
            h = rotl(h ^ k, 27) &* xxP1 &+ xxP4
            i += 8
        }
        if i + 4 <= n {
            let k = UInt64(base.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian)
            h = rotl(h ^ (k &* xxP1), 23) &* xxP2 &+ xxP3
            i += 4
        }
        while i < n {
            let k = UInt64(base.load(fromByteOffset: i, as: UInt8.self))
            h = rotl(h ^ (k &* xxP5), 11) &* xxP1
            i += 1
        }
        return avalanche(h)
    }

    public static func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { hash($0, seed: seed) }
    }

    public static func hash(_ s: String, seed: UInt64 = 0) -> UInt64 {
        var s = s
        return s.withUTF8 { hash(UnsafeRawBufferPointer($0), seed: seed) }
    }

    @inline(__always) static func finalize(_ h: UInt64, length: Int) -> UInt64 { avalanche(h &+ UInt64(length)) }
    @inline(__always) static func avalanche(_ h0: UInt64) -> UInt64 {
        var h = h0
        h ^= h >> 33; h = h &* xxP2
        h ^= h >> 29; h = h &* xxP3
        h ^= h >> 32
        return h
    }
}

/// 16 lowercase hex digits, zero-padded.
public func hex16(_ v: UInt64) -> String {
    let digits: [UInt8] = Array("0123456789abcdef".utf8)
    var out = [UInt8](repeating: 0, count: 16)
    var x = v
    for i in stride(from: 15, through: 0, by: -1) { out[i] = digits[Int(x & 15)]; x >>= 4 }
    return String(decoding: out, as: UTF8.self)
}
