// The sizes a training command is run with: the model, its tokenizer, the sequence lengths and the
// batch. `sft` has its defaults here; `score` and `compare` take theirs from the budget presets.

public struct ModelShape: Sendable, Equatable {
    public var nLayer: Int, nHead: Int, nEmbd: Int, vocabSize: Int
    public var maxLength: Int, maxPromptLength: Int
    /// Sequences per step for SFT, pairs per step for DPO.
    public var batchSize: Int

    public init(nLayer: Int, nHead: Int, nEmbd: Int, vocabSize: Int, maxLength: Int, maxPromptLength: Int, batchSize: Int) {
        self.nLayer = nLayer; self.nHead = nHead; self.nEmbd = nEmbd; self.vocabSize = vocabSize
        self.maxLength = maxLength; self.maxPromptLength = maxPromptLength; self.batchSize = batchSize
    }

    /// `prefkit sft`'s defaults: the prompt keeps at most half of the sequence.
    public static let sft = ModelShape(nLayer: 2, nHead: 4, nEmbd: 128, vocabSize: 4096, maxLength: 256, maxPromptLength: 128, batchSize: 8)
}

extension ScoreSettings {
    /// The model sizes, lengths and pairs per DPO step of these settings.
    public var shape: ModelShape {
        get { ModelShape(nLayer: nLayer, nHead: nHead, nEmbd: nEmbd, vocabSize: vocabSize, maxLength: maxLength, maxPromptLength: maxPromptLength, batchSize: pairsPerBatch) }
        set {
            nLayer = newValue.nLayer; nHead = newValue.nHead; nEmbd = newValue.nEmbd; vocabSize = newValue.vocabSize
            maxLength = newValue.maxLength; maxPromptLength = newValue.maxPromptLength; pairsPerBatch = newValue.batchSize
        }
    }
}
