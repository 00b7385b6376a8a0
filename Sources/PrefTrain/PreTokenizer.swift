// How pretrained tokenizers split text before BPE: GPT-2's pattern, Llama 3's and Qwen2's (the
// patterns their tokenizer.json files name, matched by hand over Unicode scalars, no regex
// engine), optionally after isolating every digit (SmolLM, StarCoder), optionally after Unicode
// NFC (Qwen2). A tokenizer.json or GGUF naming anything else is refused by name.
import Foundation
import PrefIO

public struct PreTokenizer: Sendable, Equatable {
    public enum Pattern: String, Sendable {
        case gpt2, llama3, qwen2
    }
    public var pattern: Pattern = .gpt2
    /// Every digit its own piece first (Hugging Face's `Digits(individual_digits=True)`).
    public var individualDigits = false
    /// Unicode NFC before splitting (a tokenizer.json `NFC` normalizer).
    public var nfc = false

    /// The exact patterns of the real tokenizer.json files.
    static let patterns: [String: Pattern] = [
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#: .gpt2,
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: .llama3,
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: .qwen2,
    ]

    /// GGUF's `tokenizer.ggml.pre` names (llama.cpp's), and whether merges are skipped for pieces
    /// that are whole tokens (Llama 3's `ignore_merges`).
    static func gguf(_ name: String?, origin: String) throws -> (PreTokenizer, ignoreMerges: Bool) {
        switch name {
        case nil, "gpt2"?, "gpt-2"?: return (PreTokenizer(), false)
        case "smollm"?, "starcoder"?, "refact"?: return (PreTokenizer(pattern: .gpt2, individualDigits: true), false)
        case "llama-bpe"?, "llama3"?: return (PreTokenizer(pattern: .llama3), true)
        case "qwen2"?: return (PreTokenizer(pattern: .qwen2, nfc: true), false)
        case let other?:
            throw TrainError("\(origin): pre-tokenizer '\(other)' is not supported (gpt2, smollm, starcoder, llama-bpe and qwen2 are)")
        }
    }

    /// A tokenizer.json's normalizer and pre_tokenizer.
    static func hf(normalizer: JSONValue?, preTokenizer: JSONValue?, origin: String) throws -> PreTokenizer {
        var p = PreTokenizer()
        switch normalizer?["type"]?.stringValue {
        case nil: break
        case "NFC"?: p.nfc = true
        case let other?: throw TrainError("\(origin): normalizer '\(other)' is not supported (none and NFC are)")
        }
        guard let pre = preTokenizer, !pre.isNull else { throw TrainError("\(origin): no pre_tokenizer (byte-level BPE tokenizers have one)") }
        let steps = pre["type"]?.stringValue == "Sequence" ? pre["pretokenizers"]?.arrayValue ?? [] : [pre]
        var split = false
        for s in steps {
            switch s["type"]?.stringValue ?? "(none)" {
            case "ByteLevel":
                if case .bool(true)? = s["add_prefix_space"] { throw TrainError("\(origin): ByteLevel with add_prefix_space is not supported") }
                // use_regex (default true): GPT-2's pattern, unless a Split has already split.
                if case .bool(false)? = s["use_regex"] {} else if !split { p.pattern = .gpt2; split = true }
            case "Split":
                let regex = s["pattern"]?["Regex"]?.stringValue ?? ""
                guard let pat = patterns[regex], s["behavior"]?.stringValue == "Isolated", s["invert"] != .bool(true), !split else {
                    throw TrainError("\(origin): pre-tokenizer split \(regex.debugDescription) is not supported (GPT-2's, Llama 3's and Qwen2's patterns are)")
                }
                p.pattern = pat
                split = true
            case "Digits":
                guard case .bool(true)? = s["individual_digits"], !split else { throw TrainError("\(origin): a Digits pre-tokenizer other than individual digits first is not supported") }
                p.individualDigits = true
            case let other: throw TrainError("\(origin): pre-tokenizer '\(other)' is not supported (ByteLevel, Split, Digits are)")
            }
        }
        guard split else { throw TrainError("\(origin): the pre-tokenizer never splits the text (no ByteLevel with use_regex, no Split)") }
        return p
    }

    /// The pieces of a text, as UTF-8.
    public func split(_ text: String) -> [[UInt8]] {
        let t = nfc ? text.precomposedStringWithCanonicalMapping : text
        guard individualDigits else { return PreTokenizer.split(Array(t.unicodeScalars), pattern) }
        var out: [[UInt8]] = []
        var run: [Unicode.Scalar] = []
        for u in t.unicodeScalars {
            if BPETokenizer.cat(u) == .number {
                if !run.isEmpty { out += PreTokenizer.split(run, pattern); run = [] }
                out.append(Array(String(u).utf8))
            } else {
                run.append(u)
            }
        }
        if !run.isEmpty { out += PreTokenizer.split(run, pattern) }
        return out
    }

    static func split(_ s: [Unicode.Scalar], _ pattern: Pattern) -> [[UInt8]] {
        pattern == .gpt2 ? BPETokenizer.pretokenize(s) : splitLlama3(s, maxDigits: pattern == .llama3 ? 3 : 1)
    }

    /// Llama 3's pattern (Qwen2's: `maxDigits` 1), alternative by alternative:
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    static func splitLlama3(_ s: [Unicode.Scalar], maxDigits: Int) -> [[UInt8]] {
        let n = s.count
        let cats = s.map(BPETokenizer.cat)
        func isNL(_ i: Int) -> Bool { s[i] == "\r" || s[i] == "\n" }
        var out: [[UInt8]] = []
        func piece(_ a: Int, _ b: Int) { out.append(BPETokenizer.utf8(s[a..<b])) }
        var i = 0
        while i < n {
            // Contractions, any case.
            if s[i] == "'" && i + 1 < n {
                let c1 = Character(s[i + 1]).lowercased()
                if ["s", "t", "m", "d"].contains(c1) { piece(i, i + 2); i += 2; continue }
                if i + 2 < n {
                    let two = c1 + Character(s[i + 2]).lowercased()
                    if ["re", "ve", "ll"].contains(two) { piece(i, i + 3); i += 3; continue }
                }
            }
            // Letters, after at most one character that is not a line break, letter or number.
            var j = i
            if cats[i] != .letter && cats[i] != .number && !isNL(i) && i + 1 < n && cats[i + 1] == .letter { j = i + 1 }
            if cats[j] == .letter {
                var k = j + 1
                while k < n && cats[k] == .letter { k += 1 }
                piece(i, k); i = k
                continue
            }
            // Numbers, up to maxDigits.
            if cats[i] == .number {
                var k = i + 1
                while k < n && k - i < maxDigits && cats[k] == .number { k += 1 }
                piece(i, k); i = k
                continue
            }
            // Punctuation and symbols, after an optional space, then any line breaks.
            j = s[i] == " " && i + 1 < n && cats[i + 1] == .other ? i + 1 : i
            if cats[j] == .other {
                var k = j + 1
                while k < n && cats[k] == .other { k += 1 }
                while k < n && isNL(k) { k += 1 }
                piece(i, k); i = k
                continue
            }
            // White space: up to the run's last line break; else the run, less its last character
            // when a non-space follows (unless that leaves nothing).
            var k = i
            while k < n && cats[k] == .space { k += 1 }
            if let last = (i..<k).last(where: isNL) { piece(i, last + 1); i = last + 1; continue }
            if k < n && k - i >= 2 { k -= 1 }
            piece(i, k); i = k
        }
        return out
    }
}
