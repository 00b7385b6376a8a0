import ArgumentParser
import Foundation
import PrefCore
import PrefCurate
import PrefFormats
import PrefIO

struct Split: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Split pairs into train / test (/ valid) with no prompt on two sides.",
        discussion: "Pairs whose normalized prompts are equal or near duplicates (MinHash LSH, --threshold) form one group; groups are shuffled with --seed and fill test, then valid, then train. With --stratify source, each corpus is split on its own."
    )

    @OptionGroup var io: CurateIO
    @Option(name: [.short, .long], help: "Output directory (train.jsonl, test.jsonl, valid.jsonl).") var output: String
    @Option(name: .long, parsing: .unconditional, help: "Fraction of pairs for test.") var test: Double = 0.05
    @Option(name: .long, parsing: .unconditional, help: "Fraction of pairs for valid (0: no valid split).") var valid: Double = 0
    @Option(name: .long, parsing: .unconditional, help: "Seed of the group shuffle.") var seed: UInt64 = 0
    @Option(name: .long, help: "Stratify by: source.") var stratify: String?
    @Option(name: .long, parsing: .unconditional, help: "Jaccard threshold for near-duplicate prompts.") var threshold: Double = 0.8
    @Flag(name: .long, help: "Group exact (normalized) prompt matches only.") var exactOnly = false
    @Option(name: .long, help: "Output extension: jsonl, jsonl.zst or jsonl.gz.") var ext: String = "jsonl"

    func validate() throws {
        guard test.isFinite, valid.isFinite, test >= 0, valid >= 0, test + valid < 1 else { throw ValidationError("--test and --valid must be >= 0 and sum below 1") }
        if let s = stratify, s != "source" { throw ValidationError("--stratify takes: source") }
        guard threshold.isFinite && threshold > 0 && threshold <= 1 else { throw ValidationError("--threshold must be in (0, 1]") }
        guard ["jsonl", "jsonl.zst", "jsonl.gz"].contains(ext) else { throw ValidationError("--ext takes jsonl, jsonl.zst or jsonl.gz") }
    }

    func run() throws {
        let started = Date()
        var o = SplitOptions()
        o.test = test; o.valid = valid; o.seed = seed; o.stratifySource = stratify == "source"; o.threshold = threshold; o.near = !exactOnly
        let dir = output.hasSuffix("/") ? output : output + "/"
        var outs = [dir + "train." + ext, dir + "test." + ext]
        if valid > 0 { outs.append(dir + "valid." + ext) }
        let source = try io.source(outputs: outs.map { ("-o", $0) } + [("-o", dir + "rejects.jsonl")])
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let h = MinHasher(numPerm: o.numPerm, seed: 1)
        let opts = o
        let scanned = try source.scanPairs { Splitter.feature($0, opts, h) }
        let (decisions, groups) = Splitter.assign(scanned, o, threads: source.threads)
        try io.finish(command: "split", source: source, outputs: outs, decide: { i, _ in decisions[i] }, started: started,
                      rejectsDefault: dir + "rejects.jsonl", extra: [("prompt_groups", .int(Int64(groups)))])
    }
}
