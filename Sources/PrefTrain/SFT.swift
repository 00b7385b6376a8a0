// Supervised fine-tuning on prompt + response sequences (the loss on response tokens): the
// reference model of `prefkit sft` and `prefkit score`.
import Foundation
import PrefCore
import PrefIO

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
            let micro = (0..<max(1, s.gradAccum)).map { _ in PackedBatch(sequences: nextSequences(), pad: pad) }
            let totalTokens = Double(max(1, micro.reduce(0) { acc, b in acc + b.rows.count }))
            model.zeroGrad()
            var loss = 0.0, tokens = 0
            for b in micro {
                let r = model.forward(b)
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

    /// A fresh GPT-2 of `config`, initialized with `s.seed` and fine-tuned on `sequences` for
    /// `s.steps` steps: the reference model of `prefkit sft` and of `prefkit score`.
    public static func trainModel(_ sequences: [Sequence2], config: GPTConfig, _ s: SFTSettings, pad: Int32, maxBatch: Int, threads: Int,
                                  maxSequence: Int? = nil, log: ((StepLog) -> Void)? = nil) throws -> (model: GPT<Float>, logs: [StepLog], tokensPerSecond: Double, seconds: Double) {
        let t0 = Date()
        let model = try GPT<Float>(config: config, maxBatch: maxBatch, threads: threads, maxSequence: maxSequence)
        model.initialize(seed: s.seed)
        var tokens = 0
        let logs = s.steps > 0 ? train(model, sequences, s, pad: pad) { e in tokens += e.tokens; log?(e) } : []
        let secs = Date().timeIntervalSince(t0)
        return (model, logs, Double(tokens) / max(secs, 1e-9), secs)
    }

    /// `prefkit sft`: trains a BPE tokenizer on every text of the pairs, then a fresh GPT-2 of
    /// `shape` on prompt + chosen, and saves both in the Hugging Face layout in `dir` (the prompt
    /// length goes into config.json). Returns sft_summary.json's content, also written to `dir`.
    public static func trainReference(_ pairs: [Pair], shape: ModelShape, _ s: SFTSettings, threads: Int, to dir: String,
                                      log: ((StepLog) -> Void)? = nil) throws -> JSONValue {
        guard !pairs.isEmpty else { throw TrainError("no pairs in the input") }
        let started = Date()
        BLAS.setThreads(threads)
        var texts: [String] = []
        for p in pairs { texts += (p.prompt + p.chosen + p.rejected).map(\.text) }
        let tok = BPETokenizer.train(texts: texts, vocabSize: shape.vocabSize)
        let tTok = Date().timeIntervalSince(started)
        let seqs = ChatRender.sequences(pairs, replies: { [$0.chosen] }, tok, maxLength: shape.maxLength, maxPrompt: shape.maxPromptLength)
        guard !seqs.isEmpty else { throw TrainError("no sequence has response tokens within the maximum length (\(shape.maxLength))") }
        let config = GPTConfig(vocabSize: tok.vocabSize, maxT: shape.maxLength, nLayer: shape.nLayer, nHead: shape.nHead, nEmbd: shape.nEmbd)
        var settings = s
        settings.batchSize = shape.batchSize
        let r = try trainModel(seqs, config: config, settings, pad: tok.eos, maxBatch: shape.batchSize, threads: threads, maxSequence: config.maxT, log: log)
        try Checkpoint.save(r.model, tokenizer: tok, to: dir, maxPromptLength: shape.maxPromptLength, extra: [("prefkit", .string("sft"))])
        var summary: [(String, JSONValue)] = [
            ("pairs", .int(Int64(pairs.count))), ("sequences", .int(Int64(seqs.count))), ("parameters", .int(Int64(r.model.parameterCount))),
            ("tokenizer_seconds", .double(tTok)), ("train_seconds", .double(r.seconds)), ("tokens_per_second", .double(r.tokensPerSecond)),
        ]
        if let first = r.logs.first, let last = r.logs.last { summary += [("first_loss", .double(first.loss)), ("final_loss", .double(last.loss))] }
        let json = JSONValue.object(summary)
        try json.write(to: dir + "/sft_summary.json")
        return json
    }
}
