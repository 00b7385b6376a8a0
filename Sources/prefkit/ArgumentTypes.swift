// The library enums a flag takes: the values appear in --help, and a bad value fails in parsing
// (exit 2, with the list of values).
import ArgumentParser
import PrefCore
import PrefCurate
import PrefFormats
import PrefIO
import PrefTrain

extension ScoreSettings.Budget: ExpressibleByArgument {}
extension ScoreSettings.ReferenceOn: ExpressibleByArgument {}
extension ScoreSettings.Metric: ExpressibleByArgument {}
extension DPOLossType: ExpressibleByArgument {}
extension CompareSettings.Statistic: ExpressibleByArgument {}

/// `--from`: `auto` or a corpus of the registry (`Corpora.all`), whose names help lists.
struct CorpusChoice: ExpressibleByArgument, Sendable {
    /// nil: auto-detect per input.
    let corpus: Corpus?
    init?(argument: String) {
        if argument == "auto" { corpus = nil; return }
        guard let c = Corpora.named(argument) else { return nil }
        corpus = c
    }
    static let auto = CorpusChoice(argument: "auto")!
    static var allValueStrings: [String] { Corpora.fromValues }
    var defaultValueDescription: String { corpus?.name ?? "auto" }
}
extension FormatOptions.PKUAxis: ExpressibleByArgument {}
extension PairStrategy: ExpressibleByArgument {}
extension UltraFeedbackRaw.Rating: ExpressibleByArgument {}
extension DedupOptions.Keep: ExpressibleByArgument {}
extension DedupOptions.By: ExpressibleByArgument {}
extension AdamWSettings.Schedule: ExpressibleByArgument {}
extension CheckpointEval.RefFree: ExpressibleByArgument {}
extension ParquetCodec: ExpressibleByArgument {}
extension ExportTarget: ExpressibleByArgument {}
extension UnpairRule: ExpressibleByArgument {}
