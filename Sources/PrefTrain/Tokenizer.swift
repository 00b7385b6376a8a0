// Byte-level BPE (GPT-2 style): GPT-2's pre-tokenization written by hand over Unicode scalars,
// deterministic merge training, rank-ordered encoding, special tokens for prefkit's chat
// template, and Hugging Face tokenizer.json / tokenizer_config.json files.
import Foundation
import PrefIO

/// Sendable because the vocabulary and merges change only while `train` or `load` builds the
/// tokenizer, before it is shared; the encode cache, the one thing threads write, is a `PieceCache` (locked).
public final class BPETokenizer: @unchecked Sendable {
    public static let specials = ["<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
    /// Token bytes by id (special tokens hold their text).
    public private(set) var vocab: [[UInt8]]
    /// Merges in rank order: (left id, right id) -> new id.
    public private(set) var merges: [(Int32, Int32)]
    var ranks: [UInt64: Int32] = [:]      // pair key -> merged id (rank = id order)
    public let specialIDs: [String: Int32]
    let cache = PieceCache()

    public var vocabSize: Int { vocab.count }
    public var eos: Int32 { specialIDs["<|endoftext|>"]! }
    public func special(_ s: String) -> Int32 { specialIDs[s]! }

    init(vocab: [[UInt8]], merges: [(Int32, Int32)]) {
        self.vocab = vocab
        self.merges = merges
        var sp: [String: Int32] = [:]
        for (i, v) in vocab.enumerated() where BPETokenizer.specials.contains(String(decoding: v, as: UTF8.self)) && i >= 256 {
            sp[String(decoding: v, as: UTF8.self)] = Int32(i)
        }
        specialIDs = sp
        for (r, m) in merges.enumerated() { ranks[BPETokenizer.key(m.0, m.1)] = Int32(256 + r) }
    }

    @inline(__always) static func key(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b)) }

    // MARK: Pre-tokenization

    enum Cat { case letter, number, space, other }

    @inline(__always) static func cat(_ u: Unicode.Scalar) -> Cat {
        let v = u.value
        if v < 0x80 {
            if (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) { return .letter }
            if v >= 0x30 && v <= 0x39 { return .number }
            if v == 0x20 || (v >= 0x09 && v <= 0x0D) { return .space }
            return .other
        }
        let p = u.properties
        if p.isWhitespace { return .space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// Splits text like GPT-2's pattern
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`, returning UTF-8 pieces.
    public static func pretokenize(_ text: String) -> [[UInt8]] { pretokenize(Array(text.unicodeScalars)) }

    /// The UTF-8 bytes of some scalars (one piece of a pre-tokenized text).
    static func utf8(_ scalars: ArraySlice<Unicode.Scalar>) -> [UInt8] {
        var bytes: [UInt8] = []
        for u in scalars { bytes += Array(String(u).utf8) }
        return bytes
    }

    static func pretokenize(_ s: [Unicode.Scalar]) -> [[UInt8]] {
        let n = s.count
        var cats = [Cat](); cats.reserveCapacity(n)
        for u in s { cats.append(cat(u)) }
        var out: [[UInt8]] = []
        func piece(_ a: Int, _ b: Int) { out.append(utf8(s[a..<b])) }
        var i = 0
        while i < n {
            // Contractions.
            if s[i] == "'" && i + 1 < n {
                let c1 = s[i + 1]
                if ["s", "t", "m", "d"].contains(c1) { piece(i, i + 2); i += 2; continue }
                if i + 2 < n {
                    let c2 = s[i + 2]
                    if (c1 == "r" && c2 == "e") || (c1 == "v" && c2 == "e") || (c1 == "l" && c2 == "l") { piece(i, i + 3); i += 3; continue }
                }
            }
            var j = i
            if s[i] == " " && i + 1 < n && cats[i + 1] != .space { j = i + 1 }
            let c = cats[j]
            if c != .space {
                var k = j + 1
                switch c {
                case .letter: while k < n && cats[k] == .letter { k += 1 }
                case .number: while k < n && cats[k] == .number { k += 1 }
                default: while k < n && cats[k] == .other { k += 1 }
                }
                piece(i, k); i = k
                continue
            }
            // White space: the run, minus its last character when a non-space follows (that one
            // starts the next piece), unless the run is a single character.
            var k = i
            while k < n && cats[k] == .space { k += 1 }
            if k < n && k - i >= 2 { k -= 1 }
            piece(i, k); i = k
        }
        return out
    }

    // MARK: Training

    /// Trains a vocabulary of `vocabSize` tokens (256 bytes, merges, then the special tokens).
    /// Deterministic: equal counts are broken by the smaller (left id, right id).
    public static func train(texts: [String], vocabSize: Int) -> BPETokenizer {
        var wordCount: [[UInt8]: Int] = [:]
        for t in texts { for p in pretokenize(t) { wordCount[p, default: 0] += 1 } }
        let entries = wordCount.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        var words: [[Int32]] = entries.map { $0.key.map { Int32($0) } }
        let freq: [Int] = entries.map(\.value)
        var vocab: [[UInt8]] = (0..<256).map { [UInt8($0)] }
        var merges: [(Int32, Int32)] = []
        let target = max(256, vocabSize - specials.count)

        var pairCount: [UInt64: Int] = [:]
        var where_: [UInt64: Set<Int32>] = [:]
        for (w, sym) in words.enumerated() where sym.count > 1 {
            for k in 0..<(sym.count - 1) {
                let key = BPETokenizer.key(sym[k], sym[k + 1])
                pairCount[key, default: 0] += freq[w]
                where_[key, default: []].insert(Int32(w))
            }
        }
        // Most frequent pair first; equal counts pop the smaller key first.
        var heap = MaxHeap<(Int, UInt64)>(above: { x, y in x.0 != y.0 ? x.0 > y.0 : x.1 < y.1 })
        for (k, c) in pairCount where c > 0 { heap.push((c, k)) }
        while vocab.count < target {
            guard let (c, best) = heap.pop() else { break }
            guard let cur = pairCount[best], cur == c, c > 0 else { continue }   // stale entry
            // Ties: the heap orders equal counts by key, so the smallest pair wins.
            let a = Int32(truncatingIfNeeded: best >> 32), b = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
            let newID = Int32(vocab.count)
            vocab.append(vocab[Int(a)] + vocab[Int(b)])
            merges.append((a, b))
            var touched: [UInt64: Int] = [:]
            for w in (where_[best] ?? []).sorted() {
                let old = words[Int(w)]
                var new: [Int32] = []
                new.reserveCapacity(old.count)
                var k = 0
                while k < old.count {
                    if k + 1 < old.count && old[k] == a && old[k + 1] == b { new.append(newID); k += 2 } else { new.append(old[k]); k += 1 }
                }
                if new.count == old.count { continue }
                let f = freq[Int(w)]
                for k in 0..<(old.count - 1) { let key = BPETokenizer.key(old[k], old[k + 1]); touched[key, default: 0] -= f }
                for k in 0..<max(0, new.count - 1) {
                    let key = BPETokenizer.key(new[k], new[k + 1]); touched[key, default: 0] += f
                    where_[key, default: []].insert(w)
                }
                words[Int(w)] = new
            }
            for (key, delta) in touched where delta != 0 {
                let c = (pairCount[key] ?? 0) + delta
                pairCount[key] = c
                if c > 0 { heap.push((c, key)) }
            }
            pairCount[best] = 0
            where_[best] = nil
        }
        for s in specials { vocab.append(Array(s.utf8)) }
        return BPETokenizer(vocab: vocab, merges: merges)
    }

    // MARK: Encoding

    func encodePiece(_ bytes: [UInt8]) -> [Int32] {
        cache.get(bytes) {
            BPEMerge.apply(bytes.map { Int32($0) }) { a, b in ranks[BPETokenizer.key(a, b)].map { ($0, $0) } }
        }
    }

    /// Encodes plain text (special-token strings in it are ordinary text).
    public func encode(_ text: String) -> [Int32] {
        var out: [Int32] = []
        for p in BPETokenizer.pretokenize(text) { out += encodePiece(p) }
        return out
    }

    public func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        for i in ids where Int(i) < vocab.count { bytes += vocab[Int(i)] }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: Hugging Face files

    /// GPT-2's bytes_to_unicode: printable stand-ins for every byte.
    static let byteChars: [Character] = {
        var bs: [Int] = Array(33...126) + Array(161...172) + Array(174...255)
        var cs = bs
        var n = 0
        for b in 0..<256 where !bs.contains(b) { bs.append(b); cs.append(256 + n); n += 1 }
        var table = [Character](repeating: " ", count: 256)
        for (b, c) in zip(bs, cs) { table[b] = Character(Unicode.Scalar(UInt32(c))!) }
        return table
    }()

    func tokenString(_ id: Int) -> String {
        if id >= 256 + merges.count { return String(decoding: vocab[id], as: UTF8.self) }
        return String(vocab[id].map { BPETokenizer.byteChars[Int($0)] })
    }

    public func tokenizerJSON() -> JSONValue {
        let added: [JSONValue] = (256 + merges.count..<vocab.count).map { id in
            .object([("id", .int(Int64(id))), ("content", .string(tokenString(id))), ("single_word", .bool(false)), ("lstrip", .bool(false)),
                     ("rstrip", .bool(false)), ("normalized", .bool(false)), ("special", .bool(true))])
        }
        let byteLevel: JSONValue = .object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)), ("trim_offsets", .bool(true)), ("use_regex", .bool(true))])
        return .object([
            ("version", .string("1.0")), ("truncation", .null), ("padding", .null), ("added_tokens", .array(added)),
            ("normalizer", .null), ("pre_tokenizer", byteLevel), ("post_processor", .null), ("decoder", byteLevel),
            ("model", .object([
                ("type", .string("BPE")), ("dropout", .null), ("unk_token", .null), ("continuing_subword_prefix", .null),
                ("end_of_word_suffix", .null), ("fuse_unk", .bool(false)), ("byte_fallback", .bool(false)), ("ignore_merges", .bool(false)),
                ("vocab", .object((0..<vocab.count).map { (tokenString($0), .int(Int64($0))) })),
                ("merges", .array(merges.map { .string(tokenString(Int($0.0)) + " " + tokenString(Int($0.1))) })),
            ])),
        ])
    }

    public static let chatTemplate = "{% for message in messages %}{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"

    public func tokenizerConfigJSON(maxLength: Int) -> JSONValue {
        .object([
            ("tokenizer_class", .string("PreTrainedTokenizerFast")), ("eos_token", .string("<|endoftext|>")),
            ("pad_token", .string("<|endoftext|>")), ("bos_token", .null), ("unk_token", .null),
            ("model_max_length", .int(Int64(maxLength))), ("clean_up_tokenization_spaces", .bool(false)),
            ("chat_template", .string(BPETokenizer.chatTemplate)),
        ])
    }

    /// Reads a tokenizer.json written by `tokenizerJSON` (or any byte-level BPE with these specials).
    public static func load(tokenizerJSON path: String) throws -> BPETokenizer {
        let v = try JSONValue.parse(bytes: Sources.readAll(path))
        guard let model = v["model"], case .object(let vocabEntries)? = model["vocab"], let mergeList = model["merges"]?.arrayValue else {
            throw TrainError("\(path): not a BPE tokenizer.json")
        }
        var inverse: [Character: UInt8] = [:]
        for (b, c) in byteChars.enumerated() { inverse[c] = UInt8(b) }
        var vocab = [[UInt8]](repeating: [], count: vocabEntries.count)
        var idOf: [String: Int32] = [:]
        for (tok, idv) in vocabEntries {
            guard let id = idv.intValue, id >= 0, Int(id) < vocab.count else { throw TrainError("\(path): bad vocab id for \(tok)") }
            idOf[tok] = Int32(id)
            if specials.contains(tok) { vocab[Int(id)] = Array(tok.utf8); continue }
            var bytes: [UInt8] = []
            for ch in tok { guard let b = inverse[ch] else { throw TrainError("\(path): token \(tok) is not byte-level") }; bytes.append(b) }
            vocab[Int(id)] = bytes
        }
        let merges: [(Int32, Int32)] = try mergeList.map { m in
            let parts: [String]
            if let s = m.stringValue { parts = s.split(separator: " ", maxSplits: 1).map(String.init) } else { parts = (m.arrayValue ?? []).compactMap(\.stringValue) }
            guard parts.count == 2, let a = idOf[parts[0]], let b = idOf[parts[1]] else { throw TrainError("\(path): bad merge \(m.serialized())") }
            return (a, b)
        }
        return BPETokenizer(vocab: vocab, merges: merges)
    }
}

public struct TrainError: Error, CustomStringConvertible {
    public var message: String
    public init(_ m: String) { message = m }
    public var description: String { message }
}

/// The BPE merge loop both tokenizers share: the adjacent pair of lowest rank is merged everywhere
/// (left to right), until no pair has a merge. `merge(a, b)` gives (rank, merged id) or nil.
enum BPEMerge {
    static func apply(_ start: [Int32], _ merge: (Int32, Int32) -> (rank: Int32, id: Int32)?) -> [Int32] {
        var sym = start
        while sym.count > 1 {
            var best: (rank: Int32, id: Int32) = (Int32.max, -1)
            var at = -1
            for k in 0..<(sym.count - 1) {
                if let m = merge(sym[k], sym[k + 1]), m.rank < best.rank { best = m; at = k }
            }
            if at < 0 { break }
            let (a, b) = (sym[at], sym[at + 1])
            var new: [Int32] = []
            new.reserveCapacity(sym.count)
            var k = 0
            while k < sym.count {
                if k + 1 < sym.count && sym[k] == a && sym[k + 1] == b { new.append(best.id); k += 2 } else { new.append(sym[k]); k += 1 }
            }
            sym = new
        }
        return sym
    }
}

/// Encoded pieces by their bytes, shared by the threads that tokenize (at most 2^20 entries).
final class PieceCache: @unchecked Sendable {
    private var items: [[UInt8]: [Int32]] = [:]
    private let lock = NSLock()
    func get(_ key: [UInt8], _ make: () -> [Int32]) -> [Int32] {
        lock.lock()
        if let c = items[key] { lock.unlock(); return c }
        lock.unlock()
        let v = make()
        lock.lock()
        if items.count < 1 << 20 { items[key] = v }
        lock.unlock()
        return v
    }
}
