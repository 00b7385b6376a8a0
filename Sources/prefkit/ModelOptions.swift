import ArgumentParser
import Foundation
import PrefTrain

/// The model and run shape `sft`, `score` and `compare` share. An unset size takes the command's
/// default: `sft`'s (`ModelShape.sft`), or for `score` and `compare` the `--budget` preset's.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "Transformer layers, 1-64 (default: sft 2; score: the budget's).") var nLayer: Int?
    @Option(name: .long, parsing: .unconditional, help: "Attention heads, 1-64 (default: sft 4; score: the budget's).") var nHead: Int?
    @Option(name: .long, parsing: .unconditional, help: "Embedding width, 8-4096, a multiple of --n-head (default: sft 128; score: the budget's).") var nEmbd: Int?
    @Option(name: .long, parsing: .unconditional, help: "Tokenizer vocabulary including 5 special tokens, 262-65536 (default: sft 4096; score: the budget's).") var vocabSize: Int?
    @Option(name: .long, parsing: .unconditional, help: "Tokens per sequence, prompt + response, 8-8192 (default: sft 256; score: the budget's).") var maxLength: Int?
    @Option(name: .long, parsing: .unconditional, help: "Prompt tokens kept (its end), below --max-length (default: the default's share of --max-length: half for sft, the budget's for score).") var maxPromptLength: Int?
    @Option(name: .long, parsing: .unconditional, help: "Sequences per step (sft) or pairs per DPO step (score), 1-4096 (default: sft 8; score: the budget's).") var batchSize: Int?
    @Option(name: .long, parsing: .unconditional, help: "Seed of initialization, sampling and data order (score: the first of --seeds).") var seed: UInt64 = 0
    @Option(name: .long, parsing: .unconditional, help: "Threads, 1-256 (default: all cores); results are reproducible for a given count.") var threads: Int?

    var threadCount: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }

    func validate() throws {
        try Range.checkModel(nLayer: nLayer, nHead: nHead, nEmbd: nEmbd, vocabSize: vocabSize, maxLength: maxLength,
                             maxPromptLength: maxPromptLength, batchSize: batchSize, threads: threads)
    }

    /// The shape with these options applied over `defaults`. A --max-length without
    /// --max-prompt-length keeps the defaults' prompt share, so the two never contradict each other.
    func shape(over defaults: ModelShape) throws -> ModelShape {
        var s = defaults
        if let v = nLayer { s.nLayer = v }
        if let v = nHead { s.nHead = v }
        if let v = nEmbd { s.nEmbd = v }
        if let v = vocabSize { s.vocabSize = v }
        if let v = maxLength {
            s.maxPromptLength = max(1, v * defaults.maxPromptLength / defaults.maxLength)
            s.maxLength = v
        }
        if let v = maxPromptLength { s.maxPromptLength = v }
        if let v = batchSize { s.batchSize = v }
        guard s.nEmbd % s.nHead == 0 else { throw ValidationError("--n-embd (\(s.nEmbd)) must be a multiple of --n-head (\(s.nHead))") }
        guard s.maxPromptLength < s.maxLength else { throw ValidationError("--max-prompt-length (\(s.maxPromptLength)) must be below --max-length (\(s.maxLength))") }
        return s
    }
}
