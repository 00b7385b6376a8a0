// The tokenizer of a pretrained model: byte-level BPE with any vocabulary order (GPT-2, SmolLM2,
// Llama 3, Qwen2 style), its merges by rank, and its added tokens (`<|im_start|>`, ...) matched
// before pre-tokenization. Read from a GGUF file's `tokenizer.ggml.*` metadata or from a Hugging
// Face `tokenizer.json`. Ids equal Hugging Face `tokenizers` (checked in the tests on real text).
import Foundation
import PrefIO

public final class ByteBPETokenizer: @unchecked Sendable {
    /// Token bytes by id (an added token holds its text).
    public let tokens: [[UInt8]]
    /// The id of each byte's one-byte token (-1: none; the byte is left out).
    let byteIDs: [Int32]
    /// (left id, right id) -> (rank, merged id).
    let merges: [UInt64: (rank: Int32, id: Int32)]
    /// Added tokens (special or not), longest first: matched in the text before anything else.
    public let added: [(text: [UInt8], id: Int32)]
    public let bos: Int32?
    public let eos: Int32?
    public let preTokenizer: PreTokenizer
    /// Pieces that are whole tokens, when merges are skipped for them (Llama 3's `ignore_merges`).
    let wholePieces: [[UInt8]: Int32]?
    let cache = PieceCache()

    public var vocabSize: Int { tokens.count }

    /// `vocab`: byte-level token strings by id; `mergeList`: "left right" in rank order;
    /// `addedIDs`: ids of the added tokens (their text is taken as it is, not byte-level).
    init(vocab: [String], mergeList: [String], addedIDs: Set<Int>, bos: Int32?, eos: Int32?, preTokenizer: PreTokenizer, ignoreMerges: Bool,
         origin: String) throws {
        var inverse: [Character: UInt8] = [:]
        for (b, c) in BPETokenizer.byteChars.enumerated() { inverse[c] = UInt8(b) }
        var tokens: [[UInt8]] = []
        tokens.reserveCapacity(vocab.count)
        var idOf: [String: Int32] = [:]
        for (i, t) in vocab.enumerated() {
            if idOf[t] == nil { idOf[t] = Int32(i) }
            if addedIDs.contains(i) { tokens.append(Array(t.utf8)); continue }
            var bytes: [UInt8] = []
            for ch in t {
                guard let b = inverse[ch] else { throw TrainError("\(origin): token \(i) (\(t.debugDescription)) is not byte-level") }
                bytes.append(b)
            }
            tokens.append(bytes)
        }
        // A vocabulary may lack some bytes (SmolLM2 has no token for most control bytes): as in
        // Hugging Face's BPE without an unknown token, such a byte is left out of the text.
        var byteIDs = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            if let id = idOf[String(BPETokenizer.byteChars[b])], !addedIDs.contains(Int(id)) { byteIDs[b] = id }
        }
        guard byteIDs.filter({ $0 >= 0 }).count >= 188 else { throw TrainError("\(origin): not a byte-level BPE vocabulary (its tokens do not cover the printable bytes)") }
        var merges: [UInt64: (rank: Int32, id: Int32)] = [:]
        merges.reserveCapacity(mergeList.count)
        for (r, m) in mergeList.enumerated() {
            let parts = m.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, let a = idOf[parts[0]], let b = idOf[parts[1]], let c = idOf[parts[0] + parts[1]] else {
                throw TrainError("\(origin): merge \(r) (\(m.debugDescription)) names tokens the vocabulary does not have")
            }
            let key = BPETokenizer.key(a, b)
            if merges[key] == nil { merges[key] = (Int32(r), c) }
        }
        self.tokens = tokens
        self.byteIDs = byteIDs
        self.merges = merges
        added = addedIDs.sorted().map { (Array(vocab[$0].utf8), Int32($0)) }.filter { !$0.0.isEmpty }.sorted { $0.0.count > $1.0.count }
        self.bos = bos
        self.eos = eos
        self.preTokenizer = preTokenizer
        if ignoreMerges {
            var whole: [[UInt8]: Int32] = [:]
            for (i, t) in tokens.enumerated() where !addedIDs.contains(i) && whole[t] == nil { whole[t] = Int32(i) }
            wholePieces = whole
        } else {
            wholePieces = nil
        }
    }

    /// The tokenizer a GGUF file carries (`tokenizer.ggml.model` "gpt2": byte-level BPE).
    public convenience init(gguf f: GGUFFile) throws {
        let origin = f.path
        guard let model = f.metadata["tokenizer.ggml.model"]?.string else { throw TrainError("\(origin) carries no tokenizer") }
        guard model == "gpt2" else {
            throw TrainError("\(origin): tokenizer model '\(model)' is not supported (byte-level BPE, 'gpt2', is)")
        }
        guard let toks = f.metadata["tokenizer.ggml.tokens"]?.array?.compactMap(\.string), !toks.isEmpty else {
            throw TrainError("\(origin): tokenizer.ggml.tokens is missing or not strings")
        }
        let merges = f.metadata["tokenizer.ggml.merges"]?.array?.compactMap(\.string) ?? []
        // Token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
        let types = f.metadata["tokenizer.ggml.token_type"]?.array?.compactMap(\.int) ?? []
        var addedIDs = Set<Int>()
        for (i, t) in types.enumerated() where i < toks.count && (t == 3 || t == 4) { addedIDs.insert(i) }
        func id(_ k: String) -> Int32? { f.metadata[k]?.int.flatMap { $0 >= 0 && $0 < toks.count ? Int32($0) : nil } }
        let (pre, ignoreMerges) = try PreTokenizer.gguf(f.metadata["tokenizer.ggml.pre"]?.string, origin: origin)
        try self.init(vocab: toks, mergeList: merges, addedIDs: addedIDs, bos: id("tokenizer.ggml.bos_token_id"), eos: id("tokenizer.ggml.eos_token_id"),
                      preTokenizer: pre, ignoreMerges: ignoreMerges, origin: origin)
    }

    /// A Hugging Face `tokenizer.json` with a byte-level BPE model.
    public convenience init(tokenizerJSON path: String, bos: String? = nil, eos: String? = nil) throws {
        let v = try JSONValue.parse(bytes: Sources.readAll(path))
        guard let model = v["model"], model["type"]?.stringValue == "BPE", case .object(let vocabEntries)? = model["vocab"] else {
            throw TrainError("\(path): not a BPE tokenizer.json")
        }
        guard vocabEntries.count <= 1 << 21 else { throw TrainError("\(path): a vocabulary of \(vocabEntries.count) tokens") }
        var added: [(Int, String)] = []
        for a in v["added_tokens"]?.arrayValue ?? [] {
            if let id = a["id"]?.intValue, let c = a["content"]?.stringValue { added.append((Int(id), c)) }
        }
        let size = max(vocabEntries.count, (added.map(\.0).max() ?? -1) + 1)
        guard size <= 1 << 21 else { throw TrainError("\(path): an added token id of \(size - 1)") }
        var vocab = [String](repeating: "", count: size)
        for (tok, idv) in vocabEntries {
            guard let id = idv.intValue, id >= 0, Int(id) < size else { throw TrainError("\(path): bad vocab id for \(tok.debugDescription)") }
            vocab[Int(id)] = tok
        }
        var addedIDs = Set<Int>()
        for (id, c) in added where id >= 0 { vocab[id] = c; addedIDs.insert(id) }
        let merges: [String] = (model["merges"]?.arrayValue ?? []).map { m in
            m.stringValue ?? (m.arrayValue ?? []).compactMap(\.stringValue).joined(separator: " ")
        }
        func id(_ s: String?) -> Int32? { s.flatMap { t in vocab.firstIndex(of: t).map(Int32.init) } }
        let pre = try PreTokenizer.hf(normalizer: v["normalizer"], preTokenizer: v["pre_tokenizer"], origin: path)
        var ignoreMerges = false
        if case .bool(true)? = model["ignore_merges"] { ignoreMerges = true }
        try self.init(vocab: vocab, mergeList: merges, addedIDs: addedIDs, bos: id(bos), eos: id(eos), preTokenizer: pre, ignoreMerges: ignoreMerges,
                      origin: path)
    }

    func encodePiece(_ bytes: [UInt8]) -> [Int32] {
        if let id = wholePieces?[bytes] { return [id] }
        return cache.get(bytes) {
            BPEMerge.apply(bytes.compactMap { b in byteIDs[Int(b)] >= 0 ? byteIDs[Int(b)] : nil }) { a, b in merges[BPETokenizer.key(a, b)] }
        }
    }

    /// Encodes text: added tokens where they occur, everything between them pre-tokenized (the
    /// tokenizer's own pattern) and merged.
    public func encode(_ text: String) -> [Int32] {
        var out: [Int32] = []
        let bytes = Array(text.utf8)
        var start = 0, i = 0
        func plain(_ a: Int, _ b: Int) {
            guard a < b else { return }
            for p in preTokenizer.split(String(decoding: bytes[a..<b], as: UTF8.self)) { out += encodePiece(p) }
        }
        while i < bytes.count {
            var matched: (len: Int, id: Int32)? = nil
            if !added.isEmpty {
                for a in added where a.text.count <= bytes.count - i && a.text[0] == bytes[i] {
                    if bytes[i..<(i + a.text.count)].elementsEqual(a.text) { matched = (a.text.count, a.id); break }
                }
            }
            if let m = matched {
                plain(start, i)
                out.append(m.id)
                i += m.len
                start = i
            } else {
                i += 1
            }
        }
        plain(start, bytes.count)
        return out
    }

    public func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        for i in ids where i >= 0 && Int(i) < tokens.count { bytes += tokens[Int(i)] }
        return String(decoding: bytes, as: UTF8.self)
    }
}
