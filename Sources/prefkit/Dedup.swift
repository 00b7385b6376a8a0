import ArgumentParser
import Foundation
import PrefCore
import PrefCurate
import PrefFormats
import PrefIO

/// `prefkit dedup`: the one-process run (`dedup IN -o OUT`, the default) and the phases of a sharded one.
struct DedupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dedup",
        abstract: DedupRun.configuration.abstract,
        discussion: DedupRun.configuration.discussion,
        subcommands: [DedupRun.self, DedupSign.self, DedupCluster.self, DedupApply.self],
        defaultSubcommand: DedupRun.self)
}

struct DedupRun: ParsableCommand, Titled {
    static let title = "dedup"
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Remove exact and near-duplicate pairs, and pairs with conflicting labels.",
        discussion: """
        Exact: same normalized prompt, chosen and rejected (NFC, lower case, punctuation dropped, white space \
        collapsed). Near: prompts whose MinHash (word n-grams) estimates Jaccard >= --threshold, found by LSH and \
        verified, AND responses that match the same way (a smaller MinHash over both responses): pairs sharing a \
        prompt with different responses are not duplicates. Same prompt and responses with opposite labels is a \
        conflict: both are removed unless --keep-conflicts.

        --by prompt clusters pairs whose prompts are exact or near duplicates whatever their replies (one pair \
        per prompt cluster survives; reasons exact_duplicate_prompt / near_duplicate_prompt; no conflict check), \
        for mixtures that draw on one prompt pool.

        Past one machine, the same run in phases (docs/scale-out.md): 'dedup sign' per shard, 'dedup cluster' \
        (per bucket, then --merge), 'dedup apply' per shard; their outputs together equal this command's.
        """,
    )

    @OptionGroup var io: CurateIO
    @Option(name: [.short, .long], help: "Output file.") var output: String
    @OptionGroup var match: DedupMatch
    @OptionGroup var policy: DedupPolicy
    @Option(name: .long, help: "Write each cluster (kept id, members, similarities) to this JSON Lines file.") var clusters: String?

    func run() throws {
        let started = Date()
        var o = match.options()
        policy.apply(to: &o)
        let source = try io.source(outputs: [("-o", output), ("--clusters", clusters)])
        let scanned = try Dedup.scan(source, o)
        phase("pass 1 (parse, normalize, MinHash)", started)
        let t1 = Date()
        let result = Dedup.run(scanned, o, threads: source.threads)
        phase("exact, LSH, union-find", t1)
        // Cluster ids are known once pass 2 has read the records, so the clusters file is written
        // after it; it is published with the other outputs, before the summary.
        try io.finish(command: "dedup", source: source, outputs: [output], decide: { result.decision($0, raw: $1) }, started: started,
                      rejectsDefault: defaultRejects(output),
                      extra: [("clusters", .int(Int64(result.clusters.count))), ("conflicts", .int(Int64(result.conflicts))),
                              ("lsh", .object([("bands", .int(Int64(result.bands))), ("rows", .int(Int64(result.rows))),
                                               ("candidate_pairs", .int(Int64(result.candidatePairs)))]))],
                      more: { try writeClusters(result).map { [$0] } ?? [] })
    }

    /// The clusters file, written but not yet published (ids are known once pass 2 has read the records).
    func writeClusters(_ result: DedupResult) throws -> EncodedFile? {
        guard let path = clusters else { return nil }
        return try DedupRun.clustersFile(path, level: io.zstdLevel, result.clusters.map { c in
            PhasedCluster(kept: result.id(c.kept), members: c.members.map { (result.id($0.index), $0.exact, $0.promptSim, $0.responseSim) })
        })
    }

    /// One JSON line per cluster: the kept id, and each member's id, whether it is an exact copy, and its similarities to the kept pair.
    static func clustersFile(_ path: String, level: Int, _ clusters: [PhasedCluster]) throws -> EncodedFile {
        let f = try EncodedFile(path: path, compression: OutputCompression.forPath(path), level: level)
        for c in clusters {
            var b = ByteBuffer()
            b.appendJSONValue(.object([
                ("kept", .string(c.kept)),
                ("members", .array(c.members.map { m in
                    .object([("id", .string(m.id)), ("exact", .bool(m.exact)),
                             ("prompt_similarity", .double(m.promptSim)), ("response_similarity", .double(m.responseSim))])
                })),
            ]))
            b.append(0x0A)
            try f.write(b.bytes)
        }
        return f
    }
}

/// What makes two pairs duplicates (dedup and its sign phase).
struct DedupMatch: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "Word n-gram size for MinHash, 1-64.") var ngram: Int = 5
    @Option(name: .long, parsing: .unconditional, help: "MinHash permutations for prompts, 16-4096 (fewer make the similarity estimate too coarse to mean anything).") var numPerm: Int = 128
    @Option(name: .long, parsing: .unconditional, help: "Jaccard threshold for near duplicates, in (0, 1].") var threshold: Double = 0.8
    @Option(name: .long, parsing: .unconditional, help: "LSH bands (with --rows; default: chosen for the threshold as datasketch does).") var bands: Int?
    @Option(name: .long, parsing: .unconditional, help: "LSH rows per band.") var rows: Int?
    @Option(name: .long, parsing: .unconditional, help: "MinHash permutations for the response check, 16-4096.") var responsePerm: Int = 32
    @Flag(name: .long, help: "Exact duplicates and conflicts only.") var exactOnly = false
    @Option(name: .long, help: "What must match: the whole pair (preference-aware) or the prompt alone.") var by: DedupOptions.By = .pair
    @Option(name: .long, parsing: .unconditional, help: "Seed of the MinHash permutations.") var seed: UInt64 = 1

    func validate() throws {
        try Range.check(ngram, "ngram", 1...64)
        try Range.check(numPerm, "num-perm", 16...4096)
        try Range.check(responsePerm, "response-perm", 16...4096)
        try Range.check(bands, "bands", 1...4096)
        try Range.check(rows, "rows", 1...4096)
        guard (bands == nil) == (rows == nil) else { throw ValidationError("--bands and --rows go together") }
        if let b = bands, let r = rows, b * r > numPerm { throw ValidationError("--bands x --rows must not exceed --num-perm") }
        guard threshold.isFinite && threshold > 0 && threshold <= 1 else { throw ValidationError("--threshold must be in (0, 1]") }
    }

    func options() -> DedupOptions {
        var o = DedupOptions()
        o.ngram = ngram; o.numPerm = numPerm; o.threshold = threshold; o.bands = bands; o.rows = rows
        o.responsePerm = responsePerm; o.near = !exactOnly; o.by = by; o.seed = seed
        return o
    }
}

/// Which member of a cluster survives, and what happens to conflicts (dedup and its cluster phase).
struct DedupPolicy: ParsableArguments {
    @Option(name: .long, help: "Which member of a cluster survives (ties by id).") var keep: DedupOptions.Keep = .first
    @Option(name: .long, help: "Corpus order for --keep source-priority, e.g. hh,shp,ultrafeedback.") var sourcePriority: String?
    @Flag(name: .long, help: "Keep pairs with conflicting labels instead of removing both sides.") var keepConflicts = false

    var priority: [String] { sourcePriority?.split(separator: ",").map(String.init) ?? [] }

    func apply(to o: inout DedupOptions) {
        o.keep = keep; o.dropConflicts = !keepConflicts; o.sourcePriority = priority
    }
}
