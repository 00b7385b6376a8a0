import ArgumentParser
import Foundation
import PrefCore
import PrefCurate
import PrefFormats
import PrefIO
import PrefTrain

/// Model and tokenization options shared by the training commands.
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
    @Option(name: .long, parsing: .unconditional, help: "Optimizer steps, 1-10000000.") var steps: Int = 200
    @Option(name: .long, parsing: .unconditional, help: "Peak learning rate.") var lr: Double = 1e-3
    @Option(name: .long, parsing: .unconditional, help: "Warmup steps.") var warmup: Int = 20
    @Option(name: .long, parsing: .unconditional, help: "AdamW weight decay (matrices only), 0-1.") var weightDecay: Double = 0.1
    @Option(name: .long, parsing: .unconditional, help: "Micro-batches accumulated per optimizer step, 1-4096.") var gradAccum: Int = 1
    @Option(name: .long, help: "Learning-rate schedule after warmup.") var schedule: AdamWSettings.Schedule = .cosine
    @Flag(name: [.short, .long], help: "No progress on stderr.") var quiet = false

    func validate() throws {
        try Range.check(steps, "steps", Range.steps)
        try Range.check(lr, "lr", Range.learningRate)
        try Range.check(warmup, "warmup", 0...Range.steps.upperBound)
        try Range.check(weightDecay, "weight-decay", 0.0...1.0)
        try Range.check(gradAccum, "grad-accum", 1...4096)
        _ = try model.shape(over: .sft)
    }

    func run() throws {
        // Every file the model directory gets, before anything is read or trained.
        try checkOutputs(inputs, ["model.safetensors", "tokenizer.json", "config.json", "tokenizer_config.json", "special_tokens_map.json", "sft_summary.json"].map { ("-o", output + "/" + $0) })
        let shape = try model.shape(over: .sft)
        var s = SFTSettings()
        s.steps = steps; s.seed = model.seed; s.gradAccum = gradAccum
        s.optimizer.lr = lr; s.optimizer.warmupSteps = warmup; s.optimizer.weightDecay = weightDecay; s.optimizer.schedule = schedule
        let pairs = try readPairs(inputs)
        let t0 = Date()
        var tokens = 0
        let summary: JSONValue
        do {
            summary = try SFT.trainReference(pairs, shape: shape, s, threads: model.threadCount, to: output) { e in
                tokens += e.tokens
                if !quiet && (e.step % 10 == 0 || e.step == steps) {
                    FileHandle.standardError.write(String(format: "sft step %d/%d  loss %.4f  lr %.2e  %.0f tokens/s\n", e.step, steps, e.loss, e.lr,
                                                          Double(tokens) / Date().timeIntervalSince(t0)).data(using: .utf8)!)
                }
            }
        } catch let e as TrainError { throw ValidationError(e.message) }
        if !quiet { FileHandle.standardError.write("prefkit sft: \(summary.serialized())\n".data(using: .utf8)!) }
    }
}

struct LogpsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logps",
        abstract: "Write each pair's summed response log-probabilities and token counts (EOS included) under a model."
    )

    @Argument(help: "Normalized pair files.") var inputs: [String]
    @Option(name: .long, help: "A model: a GGUF file (Llama architecture: SmolLM2, TinyLlama, Llama 3 ...) or a Hugging Face directory (Llama, Mistral, Qwen2, GPT-NeoX; safetensors), with its tokenizer and chat template; or a prefkit checkpoint directory (GPT-2 layout with tokenizer.json).") var model: String
    @Option(name: [.short, .long], help: "Output JSON Lines.") var output: String
    @Option(name: .long, parsing: .unconditional, help: "Maximum tokens per sequence (default: the model's context).") var maxLength: Int?
    @Option(name: .long, parsing: .unconditional, help: "Maximum prompt tokens (default: what the model was trained with, from its config.json; else half the length).") var maxPromptLength: Int?
    @Option(name: .long, parsing: .unconditional, help: "Sequences per forward pass.") var batchSize: Int = 8
    @Option(name: .long, parsing: .unconditional, help: "Threads.") var threads: Int?
    @Option(name: .long, help: "Memory the model may take, e.g. 2G (default: the machine's available memory); a model that needs more is refused before loading.") var memoryLimit: String?

    func validate() throws {
        if let m = memoryLimit, Convert.parseBytes(m) == nil { throw ValidationError("--memory-limit takes a size such as 512M or 2G") }
        try Range.check(maxLength, "max-length", Range.length)
        try Range.check(maxPromptLength, "max-prompt-length", 1...(Range.length.upperBound - 1))
        if let a = maxPromptLength, let b = maxLength, a >= b { throw ValidationError("--max-prompt-length must be below --max-length") }
        try Range.check(batchSize, "batch-size", Range.batch)
        try Range.check(threads, "threads", Range.threads)
    }

    func run() throws {
        try checkOutputs(inputs, [("-o", output)])
        let pairs = try readPairs(inputs)
        let threads = self.threads ?? ProcessInfo.processInfo.activeProcessorCount
        if let m = memoryLimit { ModelBudget.limit = Convert.parseBytes(m) }
        // A pretrained model is loaded before the output exists (a model that cannot be read publishes nothing).
        let pretrained: PretrainedModel?
        do { pretrained = PretrainedModel.isPretrained(model) ? try PretrainedModel(path: model) : nil } catch { throw ValidationError("\(error)") }
        let f = try EncodedFile(path: output, compression: OutputCompression.forPath(output), level: 3)
        let dropped: Int
        do {
            if let pm = pretrained {
                let maxLen = min(maxLength ?? 1024, pm.model.config.context)
                dropped = try pm.writeLogps(pairs, maxLength: maxLen, maxPromptLength: maxPromptLength ?? maxLen / 2, threads: threads, to: f)
            } else {
                dropped = try CheckpointEval.writeLogps(pairs, model: model, maxLength: maxLength, maxPromptLength: maxPromptLength, batchSize: batchSize,
                                                        threads: threads, to: f)
            }
        } catch { f.abort(); throw error }
        try f.commit()
        if dropped > 0 { FileHandle.standardError.write("prefkit logps: \(dropped) pairs had no response tokens within --max-length\n".data(using: .utf8)!) }
    }
}
