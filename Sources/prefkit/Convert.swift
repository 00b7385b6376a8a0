import ArgumentParser
import Foundation
import PrefCore
import PrefFormats
import PrefIO

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert preference corpora into prefkit's normalized pair format (JSON Lines).",
        discussion: """
        Inputs may be files, directories (data files below them, in sorted order), glob patterns, or '-' \
        for stdin. Compression (gzip, zstd) and Parquet are detected from the bytes, not the name. JSON Lines, \
        top-level JSON arrays and Parquet (one row group at a time; a file, not stdin) are read, streaming.

        Every record read is written, removed (e.g. arena ties) or rejected (malformed input, with file, \
        line and reason in the rejects file). Exit status: 0 when nothing was rejected, 1 when records \
        were rejected (outputs written), 2 on a usage error (bad flag, missing input, an output that is an \
        input, existing shards without --overwrite), 3 on an I/O error or when --strict stopped at a reject \
        (nothing published).

        Corpora (--from). Auto-detection checks byte signatures first (XML: stackexchange), then record \
        signatures in this order:
        """ + "\n" + Corpora.all.map { "  \($0.name)\($0.autoDetected ? "" : " (never auto-detected)"): \($0.summary)" }.joined(separator: "\n")
    )

    @Argument(help: "Input files, directories, glob patterns, or '-' for stdin.")
    var inputs: [String]

    @Option(name: .long, help: "Input format (auto: detected per file).")
    var from: CorpusChoice = .auto

    @Option(name: [.short, .long], help: "Output: a .jsonl / .jsonl.zst / .jsonl.gz file, '-' for stdout, or a directory with --shard-size.")
    var output: String = "-"

    @Option(name: .long, parsing: .unconditional, help: "Write numbered shards of this many pairs into the output directory (JSON Lines: part-00000.jsonl.zst; Parquet: train-00000-of-00004.parquet).")
    var shardSize: Int?

    @Option(name: .long, help: "Output format (default: from the output name; .parquet is Parquet). With parquet, -o DIR/ writes hub-named shards.")
    var format: OutputFormat?

    @Option(name: .long, help: "Parquet page compression.")
    var parquetCodec: ParquetCodec = .zstd

    @Option(name: .long, parsing: .unconditional, help: "zstd compression level for .zst outputs and shards (1-22).")
    var zstdLevel: Int = 3

    @Option(name: .long, help: "Where rejected records go (default: beside the output, NAME.rejects.jsonl; none for stdout).")
    var rejects: String?

    @Option(name: .long, help: "Also write removed records (e.g. ties) with their reason to this file.")
    var removed: String?

    @Option(name: .long, help: "Write the machine-readable run summary to this JSON file.")
    var summaryJson: String?

    @Flag(name: .long, help: "Stop at the first rejected record (nothing is published).")
    var strict = false

    @Option(name: .long, help: "Field mapping for --from generic, e.g. prompt=question,chosen=good,rejected=bad (also system=, score_chosen=, score_rejected=, id=; or a=, b=, label= for judge labels).")
    var map: String?

    @Option(name: .long, help: "Field values that pick a reply for a mapped label=, e.g. 1:a,2:b,0:tie (default: 1/a -> a, 2/b -> b, 0/tie -> tie).")
    var labelValues: String?

    @Option(name: .long, help: "Ranked or rated replies: which pairs a record gives (default best-worst; all for oasst).")
    var pairs: PairStrategy?

    @Option(name: .long, parsing: .unconditional, help: "Ranked or rated replies: the smallest score margin of a pair (equal scores are always ties).")
    var minGap: Double = 0

    @Option(name: .long, parsing: .unconditional, help: "Seed for --pairs best-random (the draw also depends on each record's text only).")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Raw UltraFeedback: the rating that ranks completions.")
    var rating: UltraFeedbackRaw.Rating = .overall

    @Option(name: .long, help: "HelpSteer2: attribute weights of a reply's score (default helpfulness=0.3,correctness=0.74,coherence=0.46,complexity=0.47,verbosity=-0.33).")
    var attributeWeights: String?

    @Option(name: .long, help: "PKU-SafeRLHF preference to use.")
    var pkuAxis: FormatOptions.PKUAxis = .better

    @Option(name: .long, parsing: .unconditional, help: "Stack Exchange: keep at most this many pairs per question (largest score gap first).")
    var maxPairsPerQuestion: Int = 10

    @Option(name: .long, parsing: .unconditional, help: "With --pairs all (OpenAssistant's default): at most this many pairs per prompt, those with the largest score gaps (1-1000000).")
    var maxPairsPerRecord: Int = 100

    @Option(name: .long, help: "Memory budget for joins (Stack Exchange, OpenAssistant flat export), e.g. 512M or 2G; beyond it sorted runs spill to disk.")
    var memoryLimit: String = "1G"

    @Option(name: .long, help: "Directory for spilled runs (default: $TMPDIR or /tmp).")
    var tmpDir: String?

    @Option(name: .long, help: "OpenAssistant: keep only these languages, e.g. en,de (default: all).")
    var lang: String?

    @Flag(name: .long, help: "OpenAssistant: also use synthetic messages.")
    var includeSynthetic = false

    @Flag(name: .long, help: "OpenAssistant: also use messages whose review failed.")
    var includeFailedReview = false

    @Option(name: .long, parsing: .unconditional, help: "Worker threads, 1-256 (default: all cores).")
    var threads: Int?

    @Option(name: .long, parsing: .unconditional, help: "Reject records longer than this many bytes instead of buffering them (64 to 4294967296).")
    var maxRecordBytes: Int = 256 << 20

    @Flag(name: .long, help: "Replace existing part-*.jsonl.zst shards in the output directory.")
    var overwrite = false

    @Flag(name: .long, help: "fsync outputs before publishing them, so they also survive a power loss.")
    var fsync = false

    @Flag(name: [.short, .long], help: "No summary on stderr.")
    var quiet = false

    @OptionGroup var shard: ShardOptions

    func validate() throws {
        if from.corpus?.name == "generic" && map == nil { throw ValidationError("--from generic needs --map") }
        if let s = shardSize, s <= 0 { throw ValidationError("--shard-size must be positive") }
        if shardSize != nil && output == "-" { throw ValidationError("--shard-size needs an output directory (-o DIR)") }
        if format == .parquet && output == "-" { throw ValidationError("Parquet cannot go to stdout (its footer is written last): give -o FILE.parquet or -o DIR/") }
        if format == .jsonl && output.hasSuffix(".parquet") { throw ValidationError("-o \(output) names a Parquet file but --format is jsonl") }
        try Range.check(zstdLevel, "zstd-level", Range.zstdLevel)
        try Range.check(threads, "threads", Range.threads)
        try Range.check(maxRecordBytes, "max-record-bytes", 64...(1 << 32))
        guard Convert.parseBytes(memoryLimit) != nil else { throw ValidationError("--memory-limit takes a size such as 512M or 2G") }
        try Range.check(maxPairsPerQuestion, "max-pairs-per-question", 1...1_000_000)
        try Range.check(maxPairsPerRecord, "max-pairs-per-record", 1...1_000_000)
        guard minGap.isFinite, minGap >= 0 else { throw ValidationError("--min-gap must be a number >= 0") }
        if labelValues != nil && !(map ?? "").contains("label=") { throw ValidationError("--label-values goes with --map ...,label=FIELD") }
        do {
            if let l = labelValues { _ = try GenericAdapter.parseLabelValues(l) }
            if let w = attributeWeights { _ = try HelpSteer.parseWeights(w) }
            if let m = map { _ = try FormatOptions.parseMap(m) }
        } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let started = Date()
        var expanded: [InputFile]
        let spec = try shard.resolve()
        var output = self.output
        var runID: String? = nil
        // A shard's side files get its number, so the shards of a run never write the same file.
        let rejects = spec.flatMap { s in self.rejects.map(s.perShard) } ?? self.rejects
        let removed = spec.flatMap { s in self.removed.map(s.perShard) } ?? self.removed
        let summaryJson = spec.flatMap { s in self.summaryJson.map(s.perShard) } ?? self.summaryJson
        do {
            expanded = try InputExpander.expand(inputs)
            if let spec {
                // One shard of the run: its files, and its own output in the output directory.
                guard shardSize == nil else { throw ValidationError("--shard-size does not go with a sharded run: each shard writes one file") }
                let all = expanded
                expanded = try spec.assign(expanded)
                output = parquet ? try ShardOptions.outputPath(output, spec, prefix: "train", ext: ".parquet")
                                 : try ShardOptions.outputPath(output, spec, prefix: "part", ext: ".jsonl.zst")
                runID = try ShardOptions.begin(spec, command: "convert", inputs: all, output: output, quiet: quiet)
            }
            var outs: [(flag: String, path: String?)] = [("--rejects", rejects), ("--removed", removed), ("--summary-json", summaryJson)]
            if spec != nil || !sharded { outs.append(("-o", output)) }
            try InputRegistry.checkOutputs(outs)
        } catch let e as ValidationError { throw e } catch let e as ExitCode { throw e } catch { throw ValidationError("\(error)") }
        var config = ConvertConfig(inputs: expanded)
        config.corpus = from.corpus
        config.strict = strict
        config.maxRecordBytes = maxRecordBytes
        if let t = threads { config.threads = max(1, t) }
        config.options.pkuAxis = pkuAxis
        config.options.stackexchange.maxPairsPerQuestion = maxPairsPerQuestion
        config.options.stackexchange.memoryLimit = Convert.parseBytes(memoryLimit)!
        config.options.stackexchange.tempDir = tmpDir
        config.options.oasst.memoryLimit = Convert.parseBytes(memoryLimit)!
        config.options.oasst.tempDir = tmpDir
        config.options.oasst.includeSynthetic = includeSynthetic
        config.options.oasst.includeFailedReview = includeFailedReview
        if let l = lang { config.options.oasst.languages = Set(l.split(separator: ",").map { String($0) }) }
        config.options.pairing.strategy = pairs
        config.options.pairing.minGap = minGap
        config.options.pairing.seed = seed
        config.options.pairing.maxPairs = maxPairsPerRecord
        config.options.ultrafeedbackRating = rating
        // Checked in validate().
        if let m = map { config.options.fieldMap = try FormatOptions.parseMap(m) }
        if let l = labelValues { config.options.labelValues = try GenericAdapter.parseLabelValues(l) }
        if let w = attributeWeights { config.options.attributeWeights = try HelpSteer.parseWeights(w) }
        AtomicFile.syncOnCommit = fsync
        DecodeBudget.memoryLimit = Convert.parseBytes(memoryLimit)!
        DecodeBudget.recordBytes = maxRecordBytes
        let (outcome, summary) = try ConvertRun(config: config, output: output, shardSize: sharded && spec == nil ? (shardSize ?? Int.max) : nil, zstdLevel: zstdLevel,
                                                parquet: parquet ? parquetCodec : nil,
                                                rejectsPath: rejects, removedPath: removed, overwrite: overwrite, quiet: quiet)
            .execute(summaryPath: summaryJson) { outcome in
                var s = RunSummary(command: "convert", converter: outcome.converter, outputs: outcome.outputs,
                                   rejectsPath: outcome.rejectsPath, seconds: Date().timeIntervalSince(started))
                if let abort = outcome.strictAbort { s.markStrictStop(abort.entry, uncounted: abort.uncounted) }
                return s
            }
        // A --strict stop publishes no pairs; its summary still says where it stopped.
        if outcome.strictAbort != nil, let p = summaryJson { try summary.json().write(to: p) }
        if outcome.strictAbort == nil { try ShardOptions.finish(spec, run: runID, outputs: outcome.outputs.map { Optional($0) } + [outcome.rejectsPath, removed, summaryJson], output: output) }
        if !quiet { summary.printScreen() }
        if !quiet, let forced = config.corpus {
            // Every record of a file rejected under a named format: say what auto-detection sees.
            // Streams were read once and are gone; a file is sniffed within the run's own record limit.
            for (k, r) in outcome.converter.inputs.enumerated() where r.tally.read > 0 && r.tally.written == 0 && r.tally.rejectedTotal == r.tally.read {
                guard !config.inputs[k].isStream,
                      let seen = Converter.detectFormat(r.path, maxRecordBytes: config.maxRecordBytes), seen != forced.name else { continue }
                FileHandle.standardError.write("prefkit convert: hint: every record of \(r.path) was rejected as --from \(forced.name); --from auto detects it as \(seen): try --from \(seen)\n".data(using: .utf8)!)
            }
        }
        if let abort = outcome.strictAbort {
            FileHandle.standardError.write("prefkit: --strict: stopped at \(abort); nothing was published\n".data(using: .utf8)!)
            throw ExitCode(3)
        }
        if outcome.converter.total.rejectedTotal > 0 { throw ExitCode(1) }
    }
}

/// `--format`: JSON Lines or Parquet.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case jsonl, parquet }

extension Convert {
    var parquet: Bool { format == .parquet || (format == nil && output.hasSuffix(".parquet")) }
    /// Shards: --shard-size, or Parquet into a directory (`-o DIR/` or an existing directory).
    var sharded: Bool {
        if shardSize != nil { return true }
        guard parquet else { return false }
        var isDir: ObjCBool = false
        return output.hasSuffix("/") || (FileManager.default.fileExists(atPath: output, isDirectory: &isDir) && isDir.boolValue)
    }

    /// "1G", "512M", "64K" or plain bytes.
    static func parseBytes(_ s: String) -> Int? {
        let t = s.uppercased()
        let mult: Int
        var digits = Substring(t)
        switch t.last {
        case "K": mult = 1 << 10; digits = digits.dropLast()
        case "M": mult = 1 << 20; digits = digits.dropLast()
        case "G": mult = 1 << 30; digits = digits.dropLast()
        default: mult = 1
        }
        guard let v = Int(digits), v > 0 else { return nil }
        let (bytes, overflow) = v.multipliedReportingOverflow(by: mult)
        return overflow ? nil : bytes
    }
}
