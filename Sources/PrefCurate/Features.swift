// Small measurements of a pair shared by the curation commands.
import PrefCore
import PrefIO

public enum Measure {
    /// Unicode scalars (not bytes): UTF-8 lead bytes.
    public static func chars(_ b: [UInt8]) -> Int { b.reduce(0) { $0 + (($1 & 0xC0) != 0x80 ? 1 : 0) } }
    public static func words(_ b: [UInt8]) -> Int {
        var n = 0, inWord = false
        for c in b {
            let ws = c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D
            if !ws && !inWord { n += 1 }
            inWord = !ws
        }
        return n
    }
    public static func chars(_ ms: [Message]) -> Int { ms.reduce(0) { $0 + chars($1.content) } }
    public static func words(_ ms: [Message]) -> Int { ms.reduce(0) { $0 + words($1.content) } }

    public static func margin(_ p: Pair) -> Double? {
        guard let c = p.scoreChosen, let r = p.scoreRejected else { return nil }
        return c - r
    }

    /// The corpus part of `source` (before the first colon).
    public static func sourceFormat(_ p: Pair) -> String {
        String(p.source.prefix { $0 != ":" })
    }

    /// The exact-duplicate key of a pair from its normalized texts: prompt, chosen, rejected, and
    /// the `images` and `tools` columns when present, so that pairs differing only in their image
    /// are not duplicates.
    public static func exactKey(_ p: Pair, prompt np: [UInt8], chosen nc: [UInt8], rejected nr: [UInt8]) -> Hash128 {
        Hash128(hash128([np, nc, nr] + columns(p)))
    }

    /// The `images` and `tools` columns as JSON bytes (none when a pair has neither).
    public static func columns(_ p: Pair) -> [[UInt8]] {
        guard p.images != nil || p.tools != nil else { return [] }
        var b = ByteBuffer()
        if let i = p.images { b.append("images"); b.appendJSONValue(i) }
        if let t = p.tools { b.append("tools"); b.appendJSONValue(t) }
        return [b.bytes]
    }

    public static func hash128(_ parts: [[UInt8]]) -> (UInt64, UInt64) {
        var joined: [UInt8] = []
        for (i, p) in parts.enumerated() { if i > 0 { joined.append(0) }; joined += p }
        return (XXH64.hash(joined, seed: 0), XXH64.hash(joined, seed: 0x5EED))
    }
}

public struct Hash128: Hashable, Sendable {
    public var a: UInt64, b: UInt64
    public init(_ t: (UInt64, UInt64)) { a = t.0; b = t.1 }
}
