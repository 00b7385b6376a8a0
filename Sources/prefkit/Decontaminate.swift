import ArgumentParser
import Foundation
import PrefCore
import PrefCurate
import PrefFormats
import PrefIO

struct Decontaminate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove pairs that share a word n-gram with any prompt or response of evaluation sets.",
        discussion: "Text is normalized (NFC, lower case, punctuation dropped) before taking n-word windows. Eval texts shorter than n words have no window: they are matched on their whole normalized text, against each field of a pair and each of its messages. Removed records name the eval set, the field and the n-gram (or the whole text)."
    )

    @OptionGroup var io: CurateIO
    @OptionGroup var shard: ShardOptions
    @Option(name: [.short, .long], help: "Output file.") var output: String
    @Option(name: .long, parsing: .upToNextOption, help: "Evaluation sets: normalized pair files, or any JSON Lines (every string value is used).") var against: [String]
    @Option(name: .long, parsing: .unconditional, help: "n-gram size in words, 1-64.") var ngram: Int = 13
    @Option(name: .long, parsing: .unconditional, help: "Eval texts shorter than --ngram words are matched whole if they have at least this many words, 1-64.") var minWholeWords: Int = 3

    func validate() throws {
        guard !against.isEmpty else { throw ValidationError("--against needs at least one evaluation file") }
        try Range.check(ngram, "ngram", 1...64)
        try Range.check(minWholeWords, "min-whole-words", 1...64)
    }

    func run() throws {
        let started = Date()
        let index = EvalIndex(n: ngram, minWholeWords: minWholeWords)
        let evalSets: [InputFile]
        do { evalSets = try InputExpander.expand(against) } catch { throw ValidationError("\(error)") }
        let spec = try shard.resolve()
        let output = try spec.map { try ShardOptions.outputPath(self.output, $0, prefix: "part", ext: ".jsonl.zst") } ?? self.output
        let (source, runID) = try io.shardSource(outputs: [("-o", output)], shard: spec, command: "decontaminate")
        for e in evalSets { try index.add(path: e.path, name: e.display) }
        let scanned = try source.scanPairs { index.feature($0) }
        let (decisions, matched) = index.decide(scanned)
        try io.finish(command: "decontaminate", source: source, outputs: [output], decide: { i, _ in decisions[i] }, started: started,
                      rejectsDefault: defaultRejects(output),
                      extra: [("eval_ngrams", .int(Int64(index.count))), ("eval_short_texts", .int(Int64(index.wholeCount))),
                              ("matched_by_eval_set", .object(matched.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) }))], shard: spec, runID: runID)
    }
}
