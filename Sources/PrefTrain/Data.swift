// From pairs to token sequences: prefkit's chat rendering (the same as the Jinja chat_template in
// tokenizer_config.json), truncation, packed batches.
import Foundation
import PrefCore

public struct Sequence2: Sendable {
    public var prompt: [Int32]
    public var response: [Int32]     // ends with EOS unless truncated
}

public struct TokenizedPair: Sendable {
    public var id: String
    public var chosen: Sequence2
    public var rejected: Sequence2
}

public enum ChatRender {
    /// `<|role|>content<|end|>` per message, then `<|assistant|>` (the generation prompt).
    public static func prompt(_ ms: [Message], _ tok: BPETokenizer) -> [Int32] {
        var out: [Int32] = []
        for m in ms { out += [tok.special("<|\(m.role.name)|>")] + tok.encode(m.text) + [tok.special("<|end|>")] }
        out.append(tok.special("<|assistant|>"))
        return out
    }

    /// The reply after the generation prompt: `content<|end|>`, further turns with their role
    /// tags, then EOS.
    public static func response(_ ms: [Message], _ tok: BPETokenizer) -> [Int32] {
        var out: [Int32] = []
        for (i, m) in ms.enumerated() {
            if i > 0 { out.append(tok.special("<|\(m.role.name)|>")) }
            out += tok.encode(m.text) + [tok.special("<|end|>")]
        }
        out.append(tok.eos)
        return out
    }

    /// Truncation: the prompt keeps its end (at most maxPrompt tokens), the response keeps its start
    /// (the total at most maxLength). nil when no response token is left.
    public static func fit(_ prompt: [Int32], _ response: [Int32], maxLength: Int, maxPrompt: Int) -> Sequence2? {
        let p = prompt.count > maxPrompt ? Array(prompt.suffix(maxPrompt)) : prompt
        let room = maxLength - p.count
        guard room > 0, !response.isEmpty else { return nil }
        return Sequence2(prompt: p, response: Array(response.prefix(room)))
    }

    /// Training sequences: each pair's prompt with each of `replies(pair)`, truncated; pairs left
    /// with no response token are skipped.
    public static func sequences(_ pairs: [Pair], replies: (Pair) -> [[Message]], _ tok: BPETokenizer, maxLength: Int, maxPrompt: Int) -> [Sequence2] {
        var out: [Sequence2] = []
        for p in pairs where p.isPlainText {
            let pr = prompt(p.prompt, tok)
            for reply in replies(p) {
                if let q = fit(pr, response(reply, tok), maxLength: maxLength, maxPrompt: maxPrompt) { out.append(q) }
            }
        }
        return out
    }

    public enum Dropped: String, Sendable {
        case noResponseTokens = "no_response_tokens", identicalAfterTruncation = "identical_after_truncation"
        /// Tool turns, tool calls, images or other non-text parts: prefkit's plain-text template cannot render them.
        case notRenderable = "not_renderable"
    }

    public static func tokenize(_ p: Pair, _ tok: BPETokenizer, maxLength: Int, maxPrompt: Int) -> Result<TokenizedPair, DroppedError> {
        guard p.isPlainText else { return .failure(DroppedError(reason: .notRenderable)) }
        let pr = prompt(p.prompt, tok)
        guard let c = fit(pr, response(p.chosen, tok), maxLength: maxLength, maxPrompt: maxPrompt),
              let r = fit(pr, response(p.rejected, tok), maxLength: maxLength, maxPrompt: maxPrompt) else {
            return .failure(DroppedError(reason: .noResponseTokens))
        }
        if c.response == r.response { return .failure(DroppedError(reason: .identicalAfterTruncation)) }
        return .success(TokenizedPair(id: p.id, chosen: c, rejected: r))
    }
}

public struct DroppedError: Error { public var reason: ChatRender.Dropped }

/// What one forward pass runs: B rows of T input tokens with their position ids, and the targets
/// whose log-probabilities it sums, each for one sequence. A preference pair is one row: the
/// prompt once, then the chosen reply, then the rejected reply; each reply attends to the prompt
/// and to itself only and its positions continue from the prompt's end, so both replies get
/// exactly the log-probabilities they would get alone, and the prompt runs once instead of twice.
public struct PackedBatch: Sendable {
    public var B: Int, T: Int
    public var tokens: [Int32]
    public var positions: [Int32]
    /// Per token: 0 for a shared prefix, k > 0 for the k-th reply of its row. Empty: plain causal.
    public var branch: [Int32] = []
    /// Per target: the flat index (b * T + t) of the position that predicts it, the target token,
    /// and the sequence whose log-probability it adds to.
    public var rows: [Int32] = [], targets: [Int32] = [], sequence: [Int32] = []
    public var sequences = 0

    static let empty = PackedBatch(B: 0, T: 0, tokens: [], positions: [])

    init(B: Int, T: Int, tokens: [Int32], positions: [Int32]) {
        self.B = B; self.T = T; self.tokens = tokens; self.positions = positions
    }

    mutating func add(row: Int, target: Int32, sequence q: Int) {
        rows.append(Int32(row)); targets.append(target); sequence.append(Int32(q))
    }

    /// A row: a prefix, then replies that each see the prefix and themselves.
    struct Row { var prefix: [Int32]; var replies: [(tokens: [Int32], sequence: Int)] }

    init(_ rowSpecs: [Row], sequences n: Int, pad: Int32) {
        let lengths = rowSpecs.map { r in r.prefix.count + r.replies.reduce(0) { $0 + $1.tokens.count - 1 } }
        B = rowSpecs.count
        T = max(1, lengths.max() ?? 1)
        tokens = [Int32](repeating: pad, count: B * T)
        positions = [Int32](repeating: 0, count: B * T)
        let branched = rowSpecs.contains { $0.replies.count > 1 }
        if branched { branch = [Int32](repeating: 0, count: B * T) }
        sequences = n
        for (b, spec) in rowSpecs.enumerated() {
            let P = spec.prefix.count, base = b * T
            precondition(P >= 1, "a sequence needs at least one prompt token")
            for t in 0..<P { tokens[base + t] = spec.prefix[t]; positions[base + t] = Int32(t) }
            var at = P
            for (k, reply) in spec.replies.enumerated() {
                let L = reply.tokens.count
                guard L > 0 else { continue }
                // The prefix's last position predicts the reply's first token; reply token j-1
                // (at position P + j - 1) predicts token j.
                add(row: base + P - 1, target: reply.tokens[0], sequence: reply.sequence)
                for j in 1..<L {
                    let idx = base + at + j - 1
                    tokens[idx] = reply.tokens[j - 1]
                    positions[idx] = Int32(P + j - 1)
                    if branched { branch[idx] = Int32(k + 1) }
                    add(row: idx, target: reply.tokens[j], sequence: reply.sequence)
                }
                at += L - 1
            }
        }
    }

    /// One row per sequence (prompt + response), padded to the longest: SFT and plain scoring.
    public init(sequences seqs: [Sequence2], pad: Int32) {
        self.init(seqs.enumerated().map { Row(prefix: $0.1.prompt, replies: [($0.1.response, $0.0)]) }, sequences: seqs.count, pad: pad)
    }

    /// One row per pair, its prompt shared by both replies: sequence k is pair k's chosen reply,
    /// sequence n + k its rejected one. (A pair whose two prompts differ gets two rows.)
    public init(pairs: [TokenizedPair], pad: Int32) {
        let n = pairs.count
        var specs: [Row] = []
        for (k, p) in pairs.enumerated() {
            if p.chosen.prompt == p.rejected.prompt {
                specs.append(Row(prefix: p.chosen.prompt, replies: [(p.chosen.response, k), (p.rejected.response, n + k)]))
            } else {
                specs.append(Row(prefix: p.chosen.prompt, replies: [(p.chosen.response, k)]))
                specs.append(Row(prefix: p.rejected.prompt, replies: [(p.rejected.response, n + k)]))
            }
        }
        self.init(specs, sequences: 2 * n, pad: pad)
    }

    /// The length of the longest row `PackedBatch(pairs: [p])` would have, without building it
    /// (for sorting pairs into batches of similar length).
    public static func rowLength(_ p: TokenizedPair) -> Int {
        let c = p.chosen, r = p.rejected
        if c.prompt == r.prompt { return max(1, c.prompt.count + max(0, c.response.count - 1) + max(0, r.response.count - 1)) }
        return max(1, c.prompt.count + c.response.count - 1, r.prompt.count + r.response.count - 1)
    }

    /// Tokens the pass runs, padding included.
    public var paddedTokens: Int { B * T }
}

extension GPT where S == Float {
    /// Summed response log-probs of sequences, in batches (inference only).
    public func logps(_ seqs: [Sequence2], batchSize: Int, pad: Int32) -> [(logp: Double, count: Int)] {
        var out: [(Double, Int)] = []
        var i = 0
        while i < seqs.count {
            let chunk = Array(seqs[i..<min(seqs.count, i + batchSize)])
            let r = forward(PackedBatch(sequences: chunk, pad: pad))
            for k in 0..<chunk.count { out.append((r.logp[k], r.count[k])) }
            i += batchSize
        }
        return out
    }
}
