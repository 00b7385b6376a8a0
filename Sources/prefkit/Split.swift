import ArgumentParser
import Foundation
import PrefCore
import PrefCurate
import PrefFormats
import PrefIO

/// `prefkit split`: the one-process run (the default) and the phases of a sharded one.
struct Split: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split",
        abstract: SplitRun.configuration.abstract,
        discussion: SplitRun.configuration.discussion,
        subcommands: [SplitRun.self, SplitSign.self, SplitGroup.self, SplitApply.self],
        defaultSubcommand: SplitRun.self)
}

struct SplitRun: ParsableCommand, Titled {
    static let title = "split"
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Split pairs into train / test (/ valid) with no prompt on two sides.",
        discussion: """
        Pairs whose normalized prompts are equal or near duplicates (MinHash LSH, --threshold) form one group; groups \
        are shuffled with --seed and fill test, then valid, then train. With --stratify source, each corpus is split on its own.

        Past one machine, the same run in phases (docs/scale-out.md): 'split sign' per shard, 'split group' (per \
        bucket, then --merge), 'split apply' per shard; their outputs together equal this command's.
        """
    )

    @OptionGroup var io: CurateIO
    @Option(name: [.short, .long], help: "Output directory (train.jsonl, test.jsonl, valid.jsonl).") var output: String
    @OptionGroup var placement: SplitPlacement
    @OptionGroup var grouping: SplitGrouping
    @Option(name: .long, help: "Output extension: jsonl, jsonl.zst or jsonl.gz.") var ext: String = "jsonl"

    func validate() throws { try SplitPlacement.checkExt(ext) }

    func run() throws {
        let started = Date()
        var o = grouping.options()
        placement.apply(to: &o)
        let dir = output.hasSuffix("/") ? output : output + "/"
        let outs = SplitPlacement.outputs(dir, ext: ext, valid: o.valid > 0, shard: nil)
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

/// Which prompts form a group (split and its sign phase).
struct SplitGrouping: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "Jaccard threshold for near-duplicate prompts.") var threshold: Double = 0.8
    @Flag(name: .long, help: "Group exact (normalized) prompt matches only.") var exactOnly = false

    func validate() throws {
        guard threshold.isFinite && threshold > 0 && threshold <= 1 else { throw ValidationError("--threshold must be in (0, 1]") }
    }
    func options() -> SplitOptions { var o = SplitOptions(); o.threshold = threshold; o.near = !exactOnly; return o }
}

/// Where groups go (split and its group phase).
struct SplitPlacement: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "Fraction of pairs for test.") var test: Double = 0.05
    @Option(name: .long, parsing: .unconditional, help: "Fraction of pairs for valid (0: no valid split).") var valid: Double = 0
    @Option(name: .long, parsing: .unconditional, help: "Seed of the group shuffle.") var seed: UInt64 = 0
    @Option(name: .long, help: "Stratify by: source.") var stratify: String?

    func validate() throws {
        guard test.isFinite, valid.isFinite, test >= 0, valid >= 0, test + valid < 1 else { throw ValidationError("--test and --valid must be >= 0 and sum below 1") }
        if let s = stratify, s != "source" { throw ValidationError("--stratify takes: source") }
    }
    func apply(to o: inout SplitOptions) { o.test = test; o.valid = valid; o.seed = seed; o.stratifySource = stratify == "source" }

    static func checkExt(_ ext: String) throws {
        guard ["jsonl", "jsonl.zst", "jsonl.gz"].contains(ext) else { throw ValidationError("--ext takes jsonl, jsonl.zst or jsonl.gz") }
    }

    /// train / test (/ valid) in `dir`; a shard's carry its number (train-00003-of-00008.jsonl).
    static func outputs(_ dir: String, ext: String, valid: Bool, shard: ShardSpec?) -> [String] {
        (valid ? ["train", "test", "valid"] : ["train", "test"]).map { name in dir + (shard.map { $0.name(name, ext: "." + ext) } ?? name + "." + ext) }
    }
}
