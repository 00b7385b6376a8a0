import ArgumentParser
import Foundation
import PrefCore
import PrefCurate
import PrefFormats
import PrefIO
import PrefTrain

/// Model and tokenization options shared by the training commands.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "Transformer layers.") var nLayer: Int = 2
    @Option(name: .long, parsing: .unconditional, help: "Attention heads.") var nHead: Int = 4
    @Option(name: .long, parsing: .unconditional, help: "Embedding width.") var nEmbd: Int = 128
    @Option(name: .long, parsing: .unconditional, help: "Tokenizer vocabulary size (including 5 special tokens).") var vocabSize: Int = 4096
    @Option(name: .long, parsing: .unconditional, help: "Maximum tokens per sequence (prompt + response).") var maxLength: Int = 256
    @Option(name: .long, parsing: .unconditional, help: "Maximum prompt tokens, the prompt keeping its end (default: half of --max-length).") var maxPromptLength: Int?
    @Option(name: .long, parsing: .unconditional, help: "Sequences per step.") var batchSize: Int = 8
    @Option(name: .long, parsing: .unconditional, help: "Random seed (initialization and data order).") var seed: UInt64 = 0
    @Option(name: .long, parsing: .unconditional, help: "Threads (OpenBLAS and the model's loops; results are reproducible for a given count).") var threads: Int?

    var threadCount: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }
    var promptLength: Int { maxPromptLength ?? maxLength / 2 }

    func validate() throws {
        try Range.checkModel(nLayer: nLayer, nHead: nHead, nEmbd: nEmbd, vocabSize: vocabSize, maxLength: maxLength,
                             maxPromptLength: maxPromptLength, batchSize: batchSize, threads: threads)
        guard nEmbd % nHead == 0 else { throw ValidationError("--n-embd must be a multiple of --n-head") }
        if let p = maxPromptLength, p >= maxLength { throw ValidationError("--max-prompt-length must be below --max-length") }
        guard vocabSize > 261 else { throw ValidationError("--vocab-size must exceed 261 (256 bytes + 5 special tokens)") }
    }
}

/// Expands the inputs (registering them) and refuses, before anything is read, an output that is one of them.
func checkOutputs(_ inputs: [String], _ outputs: [(flag: String, path: String?)]) throws {
    do {
        _ = try InputExpander.expand(inputs.filter { $0 != "-" })
        try InputRegistry.checkOutputs(outputs)
    } catch let e as ValidationError { throw e } catch { throw ValidationError("\(error)") }
}

/// Files, directories and globs as inputs; a name that matches nothing is a usage error.
func expandedInputs(_ args: [String]) throws -> [InputFile] {
    do { return try InputExpander.expand(args) } catch { throw ValidationError("\(error)") }
}

/// A seeded uniform sample of at most `cap` valid pairs, streamed (`PairSource.readSample`).
func readPairsSampled(_ inputs: [String], cap: Int, seed: UInt64) throws -> (pairs: [Pair], read: Int, rejected: Int) {
    let r = try PairSource.readSample(try expandedInputs(inputs), cap: cap, seed: seed)
    if r.rejected > 0 { FileHandle.standardError.write("prefkit: \(r.rejected) malformed records skipped\n".data(using: .utf8)!) }
    return r
}

/// Every valid pair of the inputs (`PairSource.readAll`).
func readPairs(_ inputs: [String]) throws -> [Pair] {
    let r = try PairSource.readAll(try expandedInputs(inputs), threads: ProcessInfo.processInfo.activeProcessorCount)
    if r.rejected > 0 { FileHandle.standardError.write("prefkit: \(r.rejected) malformed records skipped\n".data(using: .utf8)!) }
    return r.pairs
}

struct SFTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sft",
        abstract: "Train a BPE tokenizer and a small GPT-2 on prompt + chosen (the reference model), saved in the Hugging Face layout."
    )

    @Argument(help: "Normalized pair files.") var inputs: [String]
    @Option(name: [.short, .long], help: "Output directory (config.json, model.safetensors, tokenizer files).") var output: String
    @OptionGroup var model: ModelOptions
    @Option(name: .long, parsing: .unconditional, help: "Optimizer steps.") var steps: Int = 200
    @Option(name: .long, parsing: .unconditional, help: "Peak learning rate.") var lr: Double = 1e-3
    @Option(name: .long, parsing: .unconditional, help: "Warmup steps.") var warmup: Int = 20
    @Option(name: .long, parsing: .unconditional, help: "AdamW weight decay (matrices only).") var weightDecay: Double = 0.1
    @Option(name: .long, parsing: .unconditional, help: "Micro-batches accumulated per optimizer step.") var gradAccum: Int = 1
    @Option(name: .long, help: "Learning-rate schedule after warmup.") var schedule: AdamWSettings.Schedule = .cosine
    @Flag(name: [.short, .long], help: "No progress on stderr.") var quiet = false

    func validate() throws {
        try Range.check(steps, "steps", Range.steps)
        try Range.check(lr, "lr", Range.learningRate)
        try Range.check(warmup, "warmup", 0...Range.steps.upperBound)
        try Range.check(weightDecay, "weight-decay", 0.0...1.0)
        try Range.check(gradAccum, "grad-accum", 1...4096)
    }

    func run() throws {
        let started = Date()
        try checkOutputs(inputs, [("-o", output + "/model.safetensors"), ("-o", output + "/tokenizer.json"), ("-o", output + "/config.json")])
        BLAS.setThreads(model.threadCount)
        let pairs = try readPairs(inputs)
        guard !pairs.isEmpty else { throw ValidationError("no pairs in the input") }
        var texts: [String] = []
        for p in pairs { texts += (p.prompt + p.chosen + p.rejected).map(\.text) }
        let tok = BPETokenizer.train(texts: texts, vocabSize: model.vocabSize)
        let tTok = Date().timeIntervalSince(started)
        let seqs = ChatRender.sequences(pairs, replies: { [$0.chosen] }, tok, maxLength: model.maxLength, maxPrompt: model.promptLength)
        guard !seqs.isEmpty else { throw ValidationError("no sequence has response tokens within --max-length") }
        let config = GPTConfig(vocabSize: tok.vocabSize, maxT: model.maxLength, nLayer: model.nLayer, nHead: model.nHead, nEmbd: model.nEmbd)
        var s = SFTSettings()
        s.steps = steps; s.batchSize = model.batchSize; s.seed = model.seed
        s.optimizer.lr = lr; s.optimizer.warmupSteps = warmup; s.optimizer.weightDecay = weightDecay
        s.gradAccum = max(1, gradAccum)
        s.optimizer.schedule = schedule
        let t0 = Date()
        var tokens = 0
        let r = SFT.trainModel(seqs, config: config, s, pad: tok.eos, maxBatch: model.batchSize, threads: model.threadCount, maxSequence: config.maxT) { e in
            tokens += e.tokens
            if !quiet && (e.step % 10 == 0 || e.step == steps) {
                FileHandle.standardError.write(String(format: "sft step %d/%d  loss %.4f  lr %.2e  %.0f tokens/s\n", e.step, steps, e.loss, e.lr,
                                                      Double(tokens) / Date().timeIntervalSince(t0)).data(using: .utf8)!)
            }
        }
        let gpt = r.model, logs = r.logs, secs = r.seconds
        try Checkpoint.save(gpt, tokenizer: tok, to: output, maxPromptLength: model.promptLength, extra: [("prefkit", .string("sft"))])
        let summary: JSONValue = .object([
            ("pairs", .int(Int64(pairs.count))), ("sequences", .int(Int64(seqs.count))), ("parameters", .int(Int64(gpt.parameterCount))),
            ("tokenizer_seconds", .double(tTok)), ("train_seconds", .double(secs)), ("tokens_per_second", .double(r.tokensPerSecond)),
            ("first_loss", .double(logs.first!.loss)), ("final_loss", .double(logs.last!.loss)),
        ])
        try summary.write(to: output + "/sft_summary.json")
        if !quiet { FileHandle.standardError.write("prefkit sft: \(summary.serialized())\n".data(using: .utf8)!) }
    }
}

struct LogpsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logps",
        abstract: "Write each pair's summed response log-probabilities and token counts (EOS included) under a model."
    )

    @Argument(help: "Normalized pair files.") var inputs: [String]
    @Option(name: .long, help: "Model directory (Hugging Face GPT-2 layout with tokenizer.json).") var model: String
    @Option(name: [.short, .long], help: "Output JSON Lines.") var output: String
    @Option(name: .long, parsing: .unconditional, help: "Maximum tokens per sequence (default: the model's context).") var maxLength: Int?
    @Option(name: .long, parsing: .unconditional, help: "Maximum prompt tokens (default: what the model was trained with, from its config.json; else half the length).") var maxPromptLength: Int?
    @Option(name: .long, parsing: .unconditional, help: "Sequences per forward pass.") var batchSize: Int = 8
    @Option(name: .long, parsing: .unconditional, help: "Threads.") var threads: Int?

    func validate() throws {
        try Range.check(maxLength, "max-length", Range.length)
        try Range.check(maxPromptLength, "max-prompt-length", 1...(Range.length.upperBound - 1))
        if let a = maxPromptLength, let b = maxLength, a >= b { throw ValidationError("--max-prompt-length must be below --max-length") }
        try Range.check(batchSize, "batch-size", Range.batch)
        try Range.check(threads, "threads", Range.threads)
    }

    func run() throws {
        try checkOutputs(inputs, [("-o", output)])
        let n = threads ?? ProcessInfo.processInfo.activeProcessorCount
        BLAS.setThreads(n)
        let (gpt, tokOpt) = try Checkpoint.load(model, maxBatch: batchSize, threads: n)
        guard let tok = tokOpt else { throw ValidationError("\(model) has no tokenizer.json") }
        let maxLen = min(maxLength ?? gpt.config.maxT, gpt.config.maxT)
        let maxPrompt = min(maxPromptLength ?? Checkpoint.maxPromptLength(model) ?? maxLen / 2, maxLen - 1)
        let pairs = try readPairs(inputs)
        let f = try EncodedFile(path: output, compression: OutputCompression.forPath(output), level: 3)
        var dropped = 0
        var chunk: [(Pair, Sequence2, Sequence2)] = []
        func flush() throws {
            let seqs = chunk.flatMap { [$0.1, $0.2] }
            let r = gpt.logps(seqs, batchSize: batchSize, pad: tok.eos)
            for (k, c) in chunk.enumerated() {
                var b = ByteBuffer()
                b.appendJSONValue(.object([("id", .string(c.0.id)), ("logp_chosen", .double(r[2 * k].logp)), ("logp_rejected", .double(r[2 * k + 1].logp)),
                                           ("n_chosen", .int(Int64(r[2 * k].count))), ("n_rejected", .int(Int64(r[2 * k + 1].count)))]))
                b.append(0x0A)
                try f.write(b.bytes)
            }
            chunk.removeAll()
        }
        for p in pairs {
            let pr = ChatRender.prompt(p.prompt, tok)
            guard let c = ChatRender.fit(pr, ChatRender.response(p.chosen, tok), maxLength: maxLen, maxPrompt: maxPrompt),
                  let r = ChatRender.fit(pr, ChatRender.response(p.rejected, tok), maxLength: maxLen, maxPrompt: maxPrompt) else { dropped += 1; continue }
            chunk.append((p, c, r))
            if chunk.count * 2 >= batchSize * 8 { try flush() }
        }
        if !chunk.isEmpty { try flush() }
        try f.commit()
        if dropped > 0 { FileHandle.standardError.write("prefkit logps: \(dropped) pairs had no response tokens within --max-length\n".data(using: .utf8)!) }
    }
}
