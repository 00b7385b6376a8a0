import ArgumentParser
import Foundation
import PrefCore
import PrefCurate
import PrefFormats
import PrefIO

struct Decontaminate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove pairs that share a word n-gram with any prompt or response of evaluation sets.",
        discussion: "Text is normalized (NFC, lower case, punctuation dropped) before taking n-word windows; texts shorter than n words have none. Removed records name the eval set, the field and the n-gram."
    )

    @OptionGroup var io: CurateIO
    @Option(name: [.short, .long], help: "Output file.") var output: String
    @Option(name: .long, parsing: .upToNextOption, help: "Evaluation sets: normalized pair files, or any JSON Lines (every string value is used).") var against: [String]
    @Option(name: .long, parsing: .unconditional, help: "n-gram size in words, 1-64.") var ngram: Int = 13

    func validate() throws {
        guard !against.isEmpty else { throw ValidationError("--against needs at least one evaluation file") }
        try Range.check(ngram, "ngram", 1...64)
    }

    func run() throws {
        let started = Date()
        let index = EvalIndex(n: ngram)
        let evalSets: [InputFile]
        do { evalSets = try InputExpander.expand(against) } catch { throw ValidationError("\(error)") }
        let source = try io.source(outputs: [("-o", output)])
        for e in evalSets { try index.add(path: e.path, name: e.display) }
        let scanned = try source.scanPairs { index.feature($0) }
        let (decisions, matched) = index.decide(scanned)
        try io.finish(command: "decontaminate", source: source, outputs: [output], decide: { i, _ in decisions[i] }, started: started,
                      rejectsDefault: defaultRejects(output),
                      extra: [("eval_ngrams", .int(Int64(index.count))),
                              ("matched_by_eval_set", .object(matched.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) }))])
    }
}
