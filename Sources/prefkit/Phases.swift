// The phased forms of dedup and split (docs/scale-out.md): `sign` per input shard, `cluster` /
// `group` per bucket shard then `--merge`, `apply` per input shard. Each phase checks that what it
// reads comes from one run over the same inputs, and every intermediate by its CRC-32.
import ArgumentParser
import Foundation
import PrefCore
import PrefCurate
import PrefIO

/// What every sign step takes: the pair inputs, the directory of sign files, the shard.
struct SignIO: ParsableArguments {
    @Argument(help: "Normalized pair files, directories or globs (the same, in the same order, for every phase).") var inputs: [String]
    @Option(name: [.short, .long], help: "Directory of the sign files (sign-0000I-of-0000N.bin).") var output: String
    @Option(name: .long, parsing: .unconditional, help: "Buckets the keys are spread over (the later phase's unit of work), 1-4096.") var buckets: Int = 64
    @OptionGroup var shard: ShardOptions
    @Option(name: .long, parsing: .unconditional, help: "Worker threads, 1-256 (default: all cores).") var threads: Int?
    @Flag(name: [.short, .long], help: "No summary on stderr.") var quiet = false

    func validate() throws {
        try Range.check(buckets, "buckets", 1...4096)
        try Range.check(threads, "threads", Range.threads)
        if inputs.contains("-") { throw ValidationError("phased runs read their inputs more than once: give files, not '-'") }
    }
}

/// What every cluster / group step takes: the sign files, the output directory, the shard (buckets k mod N) or --merge.
struct GroupIO: ParsableArguments {
    @Argument(help: "Directory of the sign files.") var sigdir: String
    @Option(name: [.short, .long], help: "Output directory (edge files of the shards; the merged result).") var output: String
    @OptionGroup var shard: ShardOptions
    @Flag(name: .long, help: "Join the edge files every shard of this step left in the output directory, and finish.") var merge = false
    @Option(name: .long, parsing: .unconditional, help: "Worker threads, 1-256 (default: all cores).") var threads: Int?
    @Flag(name: [.short, .long], help: "No summary on stderr.") var quiet = false

    func validate() throws { try Range.check(threads, "threads", Range.threads) }

    /// The sign files and the grouping of every bucket, or nil when this process was one bucket shard (its edges written).
    func grouping(_ purpose: PhaseParams.Purpose, command: String, dropConflicts: Bool) throws -> (SignSet, BucketResult)? {
        let set: SignSet
        do { set = try SignSet(dir: sigdir, purpose: purpose) } catch let e as PhaseFileError where !e.isDamage { throw ValidationError(e.description) }
        guard let r = try PhaseRun.grouping(set, dir: output, merge: merge, shard: shard, command: command, dropConflicts: dropConflicts,
                                            threads: threads, quiet: quiet) else { return nil }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        return (set, r)
    }
}

enum PhaseRun {
    /// The run's inputs in order, each with its size and modification time: later phases must see the same.
    static func inputsJSON(_ files: [InputFile]) -> JSONValue {
        .array(files.map { f in
            var st = stat()
            let ok = stat(f.path, &st) == 0
            return .array([.string(f.path), .int(ok ? Int64(st.st_size) : -1), .int(ok ? Int64(st.st_mtim.tv_sec) : -1)])
        })
    }

    static func expand(_ args: [String]) throws -> [InputFile] {
        do { return try InputExpander.expand(args) } catch { throw ValidationError("\(error)") }
    }

    static func dir(_ d: String) -> String { d.hasSuffix("/") ? d : d + "/" }

    static func say(_ quiet: Bool, _ s: String) { if !quiet { FileHandle.standardError.write((s + "\n").data(using: .utf8)!) } }

    /// One sign shard: every pair of this shard's inputs as a row and bucket entries.
    static func sign(_ io: SignIO, command: String, params: PhaseParams, signer: @escaping @Sendable (Pair, UInt64) -> SignRecord) throws {
        let started = Date()
        let spec = try io.shard.resolve() ?? ShardSpec(index: 0, count: 1)
        let out = try ShardOptions.outputPath(dir(io.output), spec, prefix: "sign", ext: ".bin")
        let expanded = try expand(io.inputs)
        let run = try ShardOptions.begin(spec, command: command, inputs: expanded, output: out, quiet: io.quiet)
        let mine: [InputFile]
        do { mine = try spec.assign(expanded) } catch { throw ValidationError("\(error)") }
        let rank = Dictionary(expanded.enumerated().map { ($1.path, $0) }, uniquingKeysWith: { a, _ in a })
        let ranks = mine.map { rank[$0.path]! }
        let source = try PairSource(mine, threads: io.threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let scanned = try source.scanAt { item, info -> SignRecord? in
            guard case .pair(let p) = item else { return nil }
            return signer(p, Phased.position(input: ranks[info.input], line: info.line))
        }
        let records = scanned.compactMap { $0 }
        try Phased.writeSign(records, params: params, header: [("inputs", inputsJSON(expanded)), ("shard_index", .int(Int64(spec.index))),
                                                               ("shard_count", .int(Int64(spec.count))), ("records", .int(Int64(scanned.count))),
                                                               ("rejected", .int(Int64(scanned.count - records.count)))], to: out)
        try ShardOptions.finish(spec, run: run, outputs: [out], output: out)
        say(io.quiet, String(format: "prefkit %@: shard %d of %d: %d records, %d pairs signed, %d malformed (left to apply) -> %@ (%.1f s)",
                             command, spec.index, spec.count, scanned.count, records.count, scanned.count - records.count, out, Date().timeIntervalSince(started)))
    }

    /// The buckets of one cluster shard (k mod N), in parallel, results in bucket order.
    static func buckets(_ set: SignSet, _ spec: ShardSpec, dropConflicts: Bool, threads: Int) throws -> BucketResult {
        try set.cluster(buckets: Array(stride(from: spec.index, to: set.params.buckets, by: spec.count)), dropConflicts: dropConflicts, threads: threads)
    }

    /// What identifies a sign run to the later phases.
    static func signIdentity(_ set: SignSet) -> JSONValue {
        .object([("inputs", set.inputs), ("params", set.params.json), ("rows", .array(set.counts.map { .int(Int64($0)) }))])
    }

    /// The grouping of a run: computed here over every bucket, or (`merge`) read from the edge
    /// files the cluster shards left in `dir`.
    static func grouping(_ set: SignSet, dir: String, merge: Bool, shard: ShardOptions, command: String, dropConflicts: Bool,
                         threads: Int?, quiet: Bool) throws -> BucketResult? {
        let threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        let spec = try shard.resolve()
        if let spec {
            if merge { throw ValidationError("--merge joins the work of every \(command) shard: run it once, without a shard") }
            let out = try ShardOptions.outputPath(PhaseRun.dir(dir), spec, prefix: "edges", ext: ".bin")
            let signFiles = set.readers.map { InputFile(path: $0.path, display: $0.path) }
            let run = try ShardOptions.begin(spec, command: command, inputs: signFiles, output: out, quiet: quiet)
            let started = Date()
            let r = try buckets(set, spec, dropConflicts: dropConflicts, threads: threads)
            try EdgeFile.write(r, header: [("sign", signIdentity(set)), ("drop_conflicts", .int(dropConflicts ? 1 : 0))], to: out)
            try ShardOptions.finish(spec, run: run, outputs: [out], output: out)
            say(quiet, String(format: "prefkit %@: shard %d of %d: %d buckets, %d conflicts, %d edges (%d near, of %d candidates) -> %@ (%.1f s)",
                              command, spec.index, spec.count, (set.params.buckets - spec.index + spec.count - 1) / spec.count, r.conflicts.count,
                              r.edges.count, r.nearEdges, r.candidatePairs, out, Date().timeIntervalSince(started)))
            return nil
        }
        if !merge { return try buckets(set, ShardSpec(index: 0, count: 1), dropConflicts: dropConflicts, threads: threads) }
        guard let paths = try ShardSpec.finishedShards(in: dir, prefix: "edges", ext: ".bin", step: command) else {
            throw ValidationError("\(dir) holds no edge files: run `prefkit \(command)` with --shard-index/--shard-count (or in an array job) first")
        }
        var all = BucketResult()
        let identity = signIdentity(set).serialized()
        for p in paths {
            let h = try EdgeFile.read(p, into: &all)
            guard h["sign"]?.serialized() == identity else { throw PhaseFileError("\(p) was made from other sign files: run the \(command) shards again") }
            guard h["drop_conflicts"]?.intValue == (dropConflicts ? 1 : 0) else {
                throw ValidationError("\(p) was made \(dropConflicts ? "with" : "without") --keep-conflicts: give the merge the same")
            }
        }
        return all
    }

    /// The header of a phase's final file, checked against the inputs an apply step was given.
    static func checkInputs(_ header: JSONValue, _ expanded: [InputFile], file: String) throws {
        guard header["inputs"]?.serialized() == inputsJSON(expanded).serialized() else {
            throw ValidationError("\(file) was made from other inputs (or they changed since): give apply the inputs of the sign step, in the same order")
        }
    }

    /// An apply step's source, the place of each of its records in the run, and its rejections.
    static func applySource(_ io: CurateIO, output: String, spec: ShardSpec?, command: String, header: JSONValue, file: String)
        throws -> (source: PairSource, run: String?, ranks: Set<Int>, scan: () throws -> [(pos: UInt64, rejected: (String, String)?)]) {
        let expanded = try expand(io.inputs)
        try checkInputs(header, expanded, file: file)
        let (source, run) = try io.shardSource(outputs: [("-o", output)], shard: spec, command: command)
        let rank = Dictionary(expanded.enumerated().map { ($1.path, $0) }, uniquingKeysWith: { a, _ in a })
        let ranks = source.inputs.map { rank[$0.path]! }
        return (source, run, Set(ranks), {
            try source.scanAt { item, info in
                let pos = Phased.position(input: ranks[info.input], line: info.line)
                if case .rejected(let r, let m) = item { return (pos, (r, m)) }
                return (pos, nil)
            }
        })
    }
}

struct DedupSign: ParsableCommand, Titled {
    static let title = "dedup sign"
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Phase 1 of a sharded dedup: each shard's keys, MinHash signatures and bucket entries, into SIGDIR.",
        discussion: "Give every shard the same inputs and options. Then 'prefkit dedup cluster SIGDIR -o CLUSTERDIR'.")
    @OptionGroup var io: SignIO
    @OptionGroup var match: DedupMatch

    func run() throws {
        let o = match.options()
        let params = PhaseParams.dedup(o, buckets: io.buckets)
        try PhaseRun.sign(io, command: "dedup sign", params: params, signer: Phased.signer(params, dedup: o, split: nil))
    }
}

struct DedupCluster: ParsableCommand, Titled {
    static let title = "dedup cluster"
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Phase 2 of a sharded dedup: conflicts, exact and near-duplicate clusters, survivors, into CLUSTERDIR.",
        discussion: """
        Unsharded, it does all of it. Sharded (--shard-index/--shard-count or an array job), each shard takes buckets \
        k mod N and leaves edges-0000I-of-0000N.bin; then one 'prefkit dedup cluster SIGDIR -o CLUSTERDIR --merge' \
        joins them and chooses the survivors. Then 'prefkit dedup apply'.
        """)
    @OptionGroup var io: GroupIO
    @OptionGroup var policy: DedupPolicy
    @Option(name: .long, help: "Write each cluster (kept id, members, similarities) to this JSON Lines file.") var clusters: String?

    func run() throws {
        let started = Date()
        guard let (set, r) = try io.grouping(.dedup, command: "dedup cluster", dropConflicts: !policy.keepConflicts) else { return }
        var comps = try Components(set, r)
        let fin = try Dedup.finalize(set, &comps, keep: policy.keep, sourcePriority: policy.priority, clusters: clusters != nil)
        let cf = try clusters.map { try DedupRun.clustersFile($0, level: 3, fin.clusters) }
        do { try cf?.finish() } catch { cf?.abort(); throw error }
        let out = PhaseRun.dir(io.output) + "decisions.bin"
        try Dedup.writeDecisions(fin.decisions, header: [("inputs", set.inputs), ("params", set.params.json), ("keep", .string(policy.keep.rawValue)),
                                                          ("pairs", .int(Int64(set.total))), ("clusters", .int(Int64(fin.count))),
                                                          ("conflicts", .int(Int64(fin.conflicts))), ("removed", .int(Int64(fin.decisions.count)))], to: out)
        try cf?.commit()
        PhaseRun.say(io.quiet, String(format: "prefkit dedup cluster: %d pairs, %d clusters, %d conflicts, %d to remove (%d near edges of %d candidates) -> %@ (%.1f s)",
                                   set.total, fin.count, fin.conflicts, fin.decisions.count, r.nearEdges, r.candidatePairs, out, Date().timeIntervalSince(started)))
    }
}

struct DedupApply: ParsableCommand, Titled {
    static let title = "dedup apply"
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Phase 3 of a sharded dedup: write each shard's pairs that survive, as the one-process dedup would.",
        discussion: "Give the inputs of the sign step. Sharded, each shard writes OUTDIR/part-0000I-of-0000N.jsonl.zst; the shards together equal 'prefkit dedup IN -o OUT'.")
    @OptionGroup var io: CurateIO
    @Option(name: .long, help: "The cluster step's output directory (decisions.bin).") var clusters: String
    @Option(name: [.short, .long], help: "Output file, or directory (DIR/) when sharded.") var output: String
    @OptionGroup var shard: ShardOptions

    func run() throws {
        let started = Date()
        let spec = try shard.resolve()
        let output = try spec.map { try ShardOptions.outputPath(self.output, $0, prefix: "part", ext: ".jsonl.zst") } ?? self.output
        let file = PhaseRun.dir(clusters) + "decisions.bin"
        let header: JSONValue
        do { header = try PhaseFileReader(path: file).header } catch let e as PhaseFileError where !e.isDamage { throw ValidationError(e.description) }
        let a = try PhaseRun.applySource(io, output: output, spec: spec, command: "dedup apply", header: header, file: file)
        let (_, decisions) = try Dedup.readDecisions(file, inputs: a.ranks)
        let byPrompt = header["params"]?["by"]?.stringValue == "prompt"
        let scanned = try a.scan()
        try io.finish(command: "dedup", source: a.source, outputs: [output], decide: { i, _ in
            if let r = scanned[i].rejected { return .reject(reason: r.0, message: r.1) }
            return Dedup.decision(decisions[scanned[i].pos], byPrompt: byPrompt)
        }, started: started, rejectsDefault: defaultRejects(output), shard: spec, runID: a.run)
    }
}

struct SplitSign: ParsableCommand, Titled {
    static let title = "split sign"
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Phase 1 of a sharded split: each shard's prompt keys and MinHash signatures, into SIGDIR.",
        discussion: "Give every shard the same inputs and options. Then 'prefkit split group SIGDIR -o GROUPDIR'.")
    @OptionGroup var io: SignIO
    @OptionGroup var grouping: SplitGrouping

    func run() throws {
        let o = grouping.options()
        let params = PhaseParams.split(o, buckets: io.buckets)
        try PhaseRun.sign(io, command: "split sign", params: params, signer: Phased.signer(params, dedup: nil, split: o))
    }
}

struct SplitGroup: ParsableCommand, Titled {
    static let title = "split group"
    static let configuration = CommandConfiguration(
        commandName: "group",
        abstract: "Phase 2 of a sharded split: prompt groups over every shard, and each group's side, into GROUPDIR.",
        discussion: """
        Unsharded, it does all of it. Sharded, each shard takes buckets k mod N and leaves edges-0000I-of-0000N.bin; \
        then one 'prefkit split group SIGDIR -o GROUPDIR --merge' joins them and places the groups. Then 'prefkit split apply'.
        """)
    @OptionGroup var io: GroupIO
    @OptionGroup var placement: SplitPlacement

    func run() throws {
        let started = Date()
        guard let (set, r) = try io.grouping(.split, command: "split group", dropConflicts: false) else { return }
        var comps = try Components(set, r)
        var o = SplitOptions()
        placement.apply(to: &o)
        let (placed, groups) = try Splitter.finalize(set, &comps, o)
        let out = PhaseRun.dir(io.output) + "placement.bin"
        try Splitter.writePlacement(placed, header: [("inputs", set.inputs), ("params", set.params.json), ("valid", .int(o.valid > 0 ? 1 : 0)),
                                                      ("pairs", .int(Int64(set.total))), ("groups", .int(Int64(groups)))], to: out)
        let counts = (0...2).map { k in placed.reduce(0) { $0 + ($1.output == UInt8(k) ? 1 : 0) } }
        PhaseRun.say(io.quiet, String(format: "prefkit split group: %d pairs in %d prompt groups: train %d, test %d, valid %d -> %@ (%.1f s)",
                                   set.total, groups, counts[0], counts[1], counts[2], out, Date().timeIntervalSince(started)))
    }
}

struct SplitApply: ParsableCommand, Titled {
    static let title = "split apply"
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Phase 3 of a sharded split: write each shard's pairs to train / test (/ valid) as the one-process split would.",
        discussion: "Give the inputs of the sign step. Sharded, each shard writes OUTDIR/train-0000I-of-0000N.EXT (and test, valid); the shards together equal 'prefkit split IN -o OUTDIR'.")
    @OptionGroup var io: CurateIO
    @Option(name: .long, help: "The group step's output directory (placement.bin).") var groups: String
    @Option(name: [.short, .long], help: "Output directory.") var output: String
    @Option(name: .long, help: "Output extension: jsonl, jsonl.zst or jsonl.gz.") var ext: String = "jsonl"
    @OptionGroup var shard: ShardOptions

    func validate() throws { try SplitPlacement.checkExt(ext) }

    func run() throws {
        let started = Date()
        let spec = try shard.resolve()
        let file = PhaseRun.dir(groups) + "placement.bin"
        let header: JSONValue
        do { header = try PhaseFileReader(path: file).header } catch let e as PhaseFileError where !e.isDamage { throw ValidationError(e.description) }
        let dir = PhaseRun.dir(output)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let outs = SplitPlacement.outputs(dir, ext: ext, valid: header["valid"]?.intValue == 1, shard: spec)
        let a = try PhaseRun.applySource(io, output: outs[0], spec: spec, command: "split apply", header: header, file: file)
        let (_, placed) = try Splitter.readPlacement(file, inputs: a.ranks)
        let scanned = try a.scan()
        if let lost = scanned.first(where: { $0.rejected == nil && placed[$0.pos] == nil }) {
            throw PhaseFileError("\(file) places no record at line \(lost.pos & 0xFF_FFFF_FFFF) of input \(lost.pos >> 40 + 1): it was made from other inputs; run split sign and group again")
        }
        try io.finish(command: "split", source: a.source, outputs: outs, decide: { i, _ in
            if let r = scanned[i].rejected { return .reject(reason: r.0, message: r.1) }
            return .keep(output: Int(placed[scanned[i].pos] ?? 0))
        }, started: started, rejectsDefault: dir + (spec.map { $0.perShard("rejects.jsonl") } ?? "rejects.jsonl"), shard: spec, runID: a.run)
    }
}
