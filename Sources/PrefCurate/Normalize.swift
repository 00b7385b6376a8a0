// Text normalization for matching: Unicode NFC, case folding, punctuation removed, white space
// collapsed. Used by exact dedup, near-dup shingles, decontamination n-grams and split grouping.
import Foundation
import PrefIO

public enum TextNorm {
    /// NFC, lowercased, punctuation and symbols dropped, runs of white space collapsed to one
    /// space, trimmed. ASCII text takes a fast path with the same result.
    public static func normalize(_ bytes: [UInt8]) -> [UInt8] {
        if bytes.allSatisfy({ $0 < 0x80 }) { return normalizeASCII(bytes) }
        let s = String(decoding: bytes, as: UTF8.self).precomposedStringWithCanonicalMapping.lowercased()
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var space = false
        for u in s.unicodeScalars {
            let p = u.properties
            if p.isWhitespace { space = !out.isEmpty; continue }
            switch p.generalCategory {
            case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
                 .finalPunctuation, .otherPunctuation, .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol,
                 .control, .format:
                continue
            default:
                if space { out.append(0x20); space = false }
                out.append(contentsOf: Array(String(u).utf8))
            }
        }
        return out
    }

    static func normalizeASCII(_ b: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var space = false
        for c in b {
            if c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D || c == 0x0B || c == 0x0C { space = !out.isEmpty; continue }
            let isAlnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
            if !isAlnum { if c < 0x20 || c == 0x7F { continue }; continue }   // punctuation, symbols, controls
            if space { out.append(0x20); space = false }
            out.append(c >= 0x41 && c <= 0x5A ? c + 32 : c)
        }
        return out
    }

    /// White space collapsed and trimmed only (for "identical" responses).
    public static func collapseSpace(_ b: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var space = false
        for c in b {
            if c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D { space = !out.isEmpty; continue }
            if space { out.append(0x20); space = false }
            out.append(c)
        }
        return out
    }

    /// Words of a normalized text.
    public static func words(_ norm: [UInt8]) -> [ArraySlice<UInt8>] { norm.split(separator: 0x20) }

    /// Hashes of the word n-grams of a normalized text (a text shorter than n gives one gram of all its words).
    public static func ngramHashes(_ norm: [UInt8], n: Int, seed: UInt64 = 0) -> [UInt64] {
        let ws = words(norm)
        if ws.isEmpty { return [] }
        var out: [UInt64] = []
        out.reserveCapacity(max(1, ws.count - n + 1))
        if ws.count <= n {
            return [XXH64.hash(norm, seed: seed)]
        }
        // Each gram is the byte range from its first to its last word (single spaces between).
        norm.withUnsafeBytes { raw in
            for i in 0...(ws.count - n) {
                let start = ws[i].startIndex, end = ws[i + n - 1].endIndex
                out.append(XXH64.hash(UnsafeRawBufferPointer(rebasing: raw[start..<end]), seed: seed))
            }
        }
        return out
    }

    /// The text the curation commands see of a list of messages: each message's content text
    /// (the text parts of a list of parts; images and other parts give none), and after it the
    /// JSON of its tool calls, which are what an assistant turn produced. Messages are joined by
    /// newlines. Other message keys (reasoning, names) are not part of it.
    public static func text(_ ms: [Message]) -> [UInt8] {
        var out: [UInt8] = []
        for (i, m) in ms.enumerated() {
            if i > 0 { out.append(0x0A) }
            out += m.content
            if !m.extra.isEmpty, let calls = m.toolCalls {
                var b = ByteBuffer()
                b.appendJSONValue(calls)
                out.append(0x0A); out += b.bytes
            }
        }
        return out
    }
}

import PrefCore
