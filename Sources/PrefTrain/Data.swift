// From pairs to token sequences: prefkit's chat rendering (the same as the Jinja chat_template in
// tokenizer_config.json), truncation, batching with response masks.
import Foundation
import PrefFormats

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

    public enum Dropped: String { case noResponseTokens = "no_response_tokens", identicalAfterTruncation = "identical_after_truncation" }

    public static func tokenize(_ p: Pair, _ tok: BPETokenizer, maxLength: Int, maxPrompt: Int) -> Result<TokenizedPair, DroppedError> {
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

/// Sequences padded to the longest in the batch: inputs, next-token targets, response mask.
public struct Batch {
    public var tokens: [Int32], targets: [Int32], mask: [Float]
    public var B: Int, T: Int

    public init(_ seqs: [Sequence2], pad: Int32) {
        B = seqs.count
        T = max(1, seqs.map { $0.prompt.count + $0.response.count - 1 }.max() ?? 1)
        tokens = [Int32](repeating: pad, count: B * T)
        targets = [Int32](repeating: pad, count: B * T)
        mask = [Float](repeating: 0, count: B * T)
        for (b, s) in seqs.enumerated() {
            let full = s.prompt + s.response
            for t in 0..<(full.count - 1) {
                tokens[b * T + t] = full[t]
                targets[b * T + t] = full[t + 1]
                if t + 1 >= s.prompt.count { mask[b * T + t] = 1 }
            }
        }
    }
}

extension GPT where S == Float {
    /// Summed response log-probs of sequences, in batches (inference only).
    public func logps(_ seqs: [Sequence2], batchSize: Int, pad: Int32) -> [(logp: Double, count: Int)] {
        var out: [(Double, Int)] = []
        var i = 0
        while i < seqs.count {
            let chunk = Array(seqs[i..<min(seqs.count, i + batchSize)])
            let b = Batch(chunk, pad: pad)
            let r = forward(tokens: b.tokens, targets: b.targets, mask: b.mask, B: b.B, T: b.T)
            for k in 0..<chunk.count { out.append((r.logp[k], r.count[k])) }
            i += batchSize
        }
        return out
    }
}

public struct SFTSettings: Sendable {
    public var steps = 200
    public var batchSize = 8
    /// Micro-batches whose gradients are summed before each optimizer step.
    public var gradAccum = 1
    public var seed: UInt64 = 0
    public var optimizer = AdamWSettings()
    public init() {}
}

public struct StepLog: Sendable {
    public var step: Int, loss: Double, lr: Double, gradNorm: Double, tokens: Int, seconds: Double
}

public enum SFT {
    /// Trains on prompt + response sequences (loss on response tokens), shuffling with the seed.
    @discardableResult
    public static func train(_ model: GPT<Float>, _ data: [Sequence2], _ s: SFTSettings, pad: Int32,
                             log: ((StepLog) -> Void)? = nil) -> [StepLog] {
        precondition(!data.isEmpty)
        var opt = s.optimizer
        opt.totalSteps = s.steps
        let adam = AdamW(model: model, settings: opt)
        var rng = Normal(seed: s.seed)
        var order = Array(0..<data.count)
        var pos = order.count
        var logs: [StepLog] = []
        func nextSequences() -> [Sequence2] {
            var seqs: [Sequence2] = []
            for _ in 0..<s.batchSize {
                if pos >= order.count {
                    // Fisher-Yates with the seeded generator.
                    for k in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(k, Int(rng.u64() % UInt64(k + 1))) }
                    pos = 0
                }
                seqs.append(data[order[pos]]); pos += 1
            }
            return seqs
        }
        for step in 0..<s.steps {
            let t0 = Date()
            // The loss is the mean token NLL over all micro-batches of the step.
            let micro = (0..<max(1, s.gradAccum)).map { _ in Batch(nextSequences(), pad: pad) }
            let totalTokens = Double(max(1, micro.reduce(0) { acc, b in acc + Int(b.mask.reduce(0, +)) }))
            model.zeroGrad()
            var loss = 0.0, tokens = 0
            for b in micro {
                let r = model.forward(tokens: b.tokens, targets: b.targets, mask: b.mask, B: b.B, T: b.T)
                loss += -r.logp.reduce(0, +) / totalTokens
                model.backward(dlogp: r.logp.map { _ in -1 / totalTokens })
                tokens += b.B * b.T
            }
            let (gn, lr) = adam.update(model)
            let entry = StepLog(step: step + 1, loss: loss, lr: lr, gradNorm: gn, tokens: tokens, seconds: Date().timeIntervalSince(t0))
            logs.append(entry)
            log?(entry)
        }
        return logs
    }
}
