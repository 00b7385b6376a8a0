import ArgumentParser
import Foundation

/// Documented ranges of numeric options (docs/cli.md lists them). Each command's `validate()` checks
/// its options here, so a bad value stops the run before anything is read, with the range in the message.
enum Range {
    static let threads: ClosedRange<Int> = 1...256
    static let zstdLevel: ClosedRange<Int> = 1...22
    static let layers: ClosedRange<Int> = 1...64
    static let heads: ClosedRange<Int> = 1...64
    static let width: ClosedRange<Int> = 8...4096
    static let vocab: ClosedRange<Int> = 262...65536
    static let length: ClosedRange<Int> = 8...8192
    static let batch: ClosedRange<Int> = 1...4096
    static let steps: ClosedRange<Int> = 1...10_000_000
    static let learningRate: ClosedRange<Double> = 1e-9...1

    static func check<T: Comparable>(_ value: T?, _ flag: String, _ range: ClosedRange<T>) throws {
        guard let v = value else { return }
        if let d = v as? Double, !d.isFinite { throw ValidationError("--\(flag) must be a finite number in \(range.lowerBound)...\(range.upperBound)") }
        guard range.contains(v) else { throw ValidationError("--\(flag) must be in \(range.lowerBound)...\(range.upperBound) (got \(v))") }
    }

    /// An open-ended bound: value >= low.
    static func atLeast<T: Comparable>(_ value: T?, _ flag: String, _ low: T) throws {
        guard let v = value else { return }
        if let d = v as? Double, !d.isFinite { throw ValidationError("--\(flag) must be a finite number of at least \(low)") }
        guard v >= low else { throw ValidationError("--\(flag) must be at least \(low) (got \(v))") }
    }

    /// The model and batch options `sft`, `logps`, `score` and `compare` share.
    static func checkModel(nLayer: Int?, nHead: Int?, nEmbd: Int?, vocabSize: Int?, maxLength: Int?, maxPromptLength: Int?, batchSize: Int?, threads: Int?) throws {
        try check(nLayer, "n-layer", layers)
        try check(nHead, "n-head", heads)
        try check(nEmbd, "n-embd", width)
        try check(vocabSize, "vocab-size", vocab)
        try check(maxLength, "max-length", length)
        try check(maxPromptLength, "max-prompt-length", 1...(length.upperBound - 1))
        try check(batchSize, "batch-size", batch)
        try check(threads, "threads", Range.threads)
    }

    static func finite(_ value: Double?, _ flag: String) throws {
        if let v = value, !v.isFinite { throw ValidationError("--\(flag) must be a finite number") }
    }
}
