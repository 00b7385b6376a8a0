// Using existing checkpoints: the implicit-reward accuracy of a trained policy (`score --model`,
// as RewardBench scores DPO models) and each pair's response log-probabilities (`logps`).
import Foundation
import PrefCore
import PrefIO

public enum CheckpointEval {
    /// How a pair is judged without a reference model: by the policy's own summed or per-token
    /// (average) log-probabilities of the two replies.
    public enum RefFree: String, Sendable, CaseIterable { case avg, sum }

    /// The prompt truncation to use with a checkpoint: `requested`, else what the model was
    /// trained with (its config.json), else `fallback`; always below `maxLength`.
    static func promptLength(_ dir: String, requested: Int?, fallback: Int, maxLength: Int) -> Int {
        min(requested ?? Checkpoint.maxPromptLength(dir) ?? fallback, maxLength - 1)
    }

    /// A checkpoint with its tokenizer, and the lengths to render pairs for it: at most `maxLength`
    /// (default: the model's context) and the prompt length of `promptLength`, where `fallback`
    /// gives it from the sequence length when neither the request nor the checkpoint does.
    static func open(_ dir: String, maxBatch: Int, threads: Int, maxLength: Int?, maxPromptLength: Int?,
                     fallback: (Int) -> Int) throws -> (model: GPT<Float>, tok: BPETokenizer, maxLen: Int, maxPrompt: Int) {
        let (model, tokOpt) = try Checkpoint.load(dir, maxBatch: maxBatch, threads: threads)
        guard let tok = tokOpt else { throw TrainError("\(dir) has no tokenizer.json") }
        let maxLen = min(maxLength ?? model.config.maxT, model.config.maxT)
        return (model, tok, maxLen, promptLength(dir, requested: maxPromptLength, fallback: fallback(maxLen), maxLength: maxLen))
    }

    /// The fraction of pairs whose chosen reply the policy prefers: by the implicit reward against
    /// `reference` (log-prob ratios), or without one by `refFree`. Returns score.json's content.
    public static func accuracy(_ pairs: [Pair], policy: String, reference: String?, refFree: RefFree?, maxLength: Int,
                                maxPromptLength: Int?, fallbackPromptLength: Int, batchPairs: Int, threads: Int) throws -> (json: JSONValue, accuracy: Double, ci: (low: Double, high: Double), n: Int) {
        guard reference != nil || refFree != nil else { throw TrainError("evaluation needs a reference model or a reference-free mode") }
        BLAS.setThreads(threads)
        let (pm, tok, maxLen, maxPrompt) = try open(policy, maxBatch: 2 * batchPairs, threads: threads, maxLength: maxLength,
                                                    maxPromptLength: maxPromptLength, fallback: { _ in fallbackPromptLength })
        let ref = try reference.map { try Checkpoint.load($0, maxBatch: 2 * batchPairs, threads: threads).0 }
        // The reference reads the policy's token ids and positions: it must have room for them.
        if let ref, let dir = reference, ref.config.vocabSize < tok.vocabSize || ref.config.maxT < maxLen {
            throw TrainError("\(dir) does not fit \(policy): its vocabulary (\(ref.config.vocabSize)) or context (\(ref.config.maxT)) is smaller than the policy's tokenizer (\(tok.vocabSize)) and length (\(maxLen))")
        }
        var tp: [TokenizedPair] = []
        var dropped = 0
        for p in pairs {
            if case .success(let t) = ChatRender.tokenize(p, tok, maxLength: maxLen, maxPrompt: maxPrompt) { tp.append(t) } else { dropped += 1 }
        }
        let pl = DPOTrainer.logps(pm, tp, batchPairs: batchPairs, pad: tok.eos)
        let rl = ref.map { DPOTrainer.logps($0, tp, batchPairs: batchPairs, pad: tok.eos) }
        var correct = 0
        for i in 0..<tp.count {
            let c: Double, r: Double
            if let rl {
                c = pl.c[i] - rl.c[i]; r = pl.r[i] - rl.r[i]
            } else if refFree == .avg {
                c = pl.c[i] / Double(max(1, pl.nc[i])); r = pl.r[i] / Double(max(1, pl.nr[i]))
            } else {
                c = pl.c[i]; r = pl.r[i]
            }
            if c > r { correct += 1 }
        }
        let ci = Wilson.interval(correct, tp.count)
        let acc = Double(correct) / Double(max(1, tp.count))
        let mode = reference != nil ? "implicit_reward" : "ref_free_\(refFree!.rawValue)"
        let json: JSONValue = .object([("mode", .string(mode)), ("score", .double(acc)),
                                       ("ci95", .array([.double(ci.low), .double(ci.high)])), ("n_eval", .int(Int64(tp.count))),
                                       ("dropped", .int(Int64(dropped))), ("model", .string(policy)), ("ref_model", reference.map { .string($0) } ?? .null)])
        return (json, acc, ci, tp.count)
    }

    /// Writes, per pair in order, `{"id", "logp_chosen", "logp_rejected", "n_chosen", "n_rejected"}`
    /// (summed response log-probabilities, EOS included) under the model in `dir`. Returns the
    /// pairs left out because a reply has no token within the length.
    public static func writeLogps(_ pairs: [Pair], model dir: String, maxLength: Int?, maxPromptLength: Int?, batchSize: Int, threads: Int,
                                  to out: EncodedFile) throws -> Int {
        BLAS.setThreads(threads)
        let (gpt, tok, maxLen, maxPrompt) = try open(dir, maxBatch: batchSize, threads: threads, maxLength: maxLength,
                                                     maxPromptLength: maxPromptLength, fallback: { $0 / 2 })
        var dropped = 0
        var chunk: [(Pair, Sequence2, Sequence2)] = []
        func flush() throws {
            let r = gpt.logps(chunk.flatMap { [$0.1, $0.2] }, batchSize: batchSize, pad: tok.eos)
            var b = ByteBuffer()
            for (k, c) in chunk.enumerated() {
                b.appendJSONValue(.object([("id", .string(c.0.id)), ("logp_chosen", .double(r[2 * k].logp)), ("logp_rejected", .double(r[2 * k + 1].logp)),
                                           ("n_chosen", .int(Int64(r[2 * k].count))), ("n_rejected", .int(Int64(r[2 * k + 1].count)))]))
                b.append(0x0A)
            }
            try out.write(b.bytes)
            chunk.removeAll()
        }
        for p in pairs {
            // The same rendering and truncation as scoring; identical replies still get their log-probs.
            guard p.isPlainText else { dropped += 1; continue }
            let pr = ChatRender.prompt(p.prompt, tok)
            guard let c = ChatRender.fit(pr, ChatRender.response(p.chosen, tok), maxLength: maxLen, maxPrompt: maxPrompt),
                  let r = ChatRender.fit(pr, ChatRender.response(p.rejected, tok), maxLength: maxLen, maxPrompt: maxPrompt) else { dropped += 1; continue }
            chunk.append((p, c, r))
            if chunk.count * 2 >= batchSize * 8 { try flush() }
        }
        if !chunk.isEmpty { try flush() }
        return dropped
    }
}
