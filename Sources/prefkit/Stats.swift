import ArgumentParser
import Foundation
import PrefCore
import PrefCurate
import PrefFormats
import PrefIO
import PrefTrain

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Describe a pair dataset: counts, lengths, turns, scores, margins, ties, duplicates and length bias.",
        discussion: """
        Sharded (--shard-index/--shard-count or an array job, with -o DIR/), each shard writes its pairs' features to \
        DIR/stats-0000I-of-0000N.bin; then 'prefkit stats --merge DIR --json ... --html ...' gives the statistics of \
        the whole run, the same as one process over all the inputs.
        """
    )

    @Argument(help: "Normalized pair files, directories, globs, or '-'.") var inputs: [String] = []
    @Option(name: .long, help: "Write the statistics as JSON.") var json: String?
    @Option(name: .long, help: "Write a self-contained HTML report with SVG histograms.") var html: String?
    @Option(name: [.short, .long], help: "Directory for this shard's partial statistics (stats-0000I-of-0000N.bin), for --merge.") var output: String?
    @Option(name: .long, help: "Merge the partial statistics of every shard in this directory.") var merge: String?
    @OptionGroup var shard: ShardOptions
    @Option(name: .long, parsing: .unconditional, help: "Worker threads, 1-256 (default: all cores).") var threads: Int?
    @Option(name: .long, help: "Add token lengths (prompt, replies, prompt + longer reply, whole pair) counted with this model's tokenizer and chat template, as TRL renders pairs: a GGUF file, a Hugging Face directory or a tokenizer.json.") var tokenizer: String?

    func validate() throws {
        try Range.check(threads, "threads", Range.threads)
        if merge != nil {
            guard inputs.isEmpty, output == nil, tokenizer == nil else { throw ValidationError("--merge reads the partial statistics in its directory: give no inputs, no -o and no --tokenizer") }
            if try shard.resolve() != nil, shard.shardIndex != nil { throw ValidationError("--merge joins every shard: run it once, without --shard-index") }
        } else {
            guard !inputs.isEmpty else { throw ValidationError("give the pair files to describe (or --merge DIR)") }
            if try shard.resolve() != nil, output == nil { throw ValidationError("a stats shard writes its partial statistics into a directory: give -o DIR/") }
        }
    }

    func run() throws {
        if let dir = merge {
            let (scanned, header) = try Stats.readPartials(dir)
            return try report(Stats.compute(scanned), title: header["title"]?.stringValue ?? "", tokenizer: header["tokenizer"]?.stringValue)
        }
        // The tokenizer is loaded before any output exists (one that cannot be read publishes nothing).
        let counter: ModelText?
        do { counter = try tokenizer.map { try ModelText.load($0) } } catch { throw ValidationError("--tokenizer \(tokenizer ?? ""): \(error)") }
        let expanded: [InputFile]
        do {
            expanded = try InputExpander.expand(inputs)
            try InputRegistry.checkOutputs([("--json", json), ("--html", html)])
        } catch { throw ValidationError("\(error)") }
        let threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        if let output {
            // One shard's partial statistics (shard 0 of 1 when not sharded).
            let spec = try shard.resolve() ?? ShardSpec(index: 0, count: 1)
            let out = try ShardOptions.outputPath(PhaseRun.dir(output), spec, prefix: "stats", ext: ".bin")
            let run = try ShardOptions.begin(spec, command: "stats", inputs: expanded, output: out, quiet: false)
            let mine: [InputFile]
            do { mine = try spec.assign(expanded) } catch { throw ValidationError("\(error)") }
            let scanned = try PairSource(mine, threads: threads).scanPairs { Stats.feature($0, tokens: counter) }
            try Stats.writePartial(scanned, header: [("inputs", PhaseRun.inputsJSON(expanded)), ("title", .string(StatsCommand.title(expanded)))]
                                   + (tokenizer.map { [("tokenizer", .string($0))] } ?? []), to: out)
            try ShardOptions.finish(spec, run: run, outputs: [out], output: out)
            PhaseRun.say(false, "prefkit stats: shard \(spec.index) of \(spec.count): \(scanned.count) records -> \(out)")
            return
        }
        let source = try PairSource(expanded, threads: threads)
        let scanned = try source.scanPairs { Stats.feature($0, tokens: counter) }
        try report(Stats.compute(scanned), title: StatsCommand.title(expanded), tokenizer: tokenizer)
    }

    static func title(_ inputs: [InputFile]) -> String { inputs.map(\.display).joined(separator: ", ") }

    func report(_ st: DatasetStats, title: String, tokenizer: String?) throws {
        var st = st
        if let t = tokenizer, case .object(var o) = st.json { o.append(("tokenizer", .string(t))); st.json = .object(o) }
        if let p = json { try st.json.write(to: p) }
        if let p = html {
            try EncodedFile.writeWhole(Array(Stats.html(st, title: "Preference data: " + title).utf8), to: p)
        }
        print(StatsCommand.screen(st.json))
        // Rejected records are described in the statistics; the exit status says they exist (1), as in every command.
        if (st.json["rejected_records"]?.intValue ?? 0) > 0 { throw ExitCode(1) }
    }

    static func screen(_ j: JSONValue) -> String {
        func pct(_ v: JSONValue?) -> String { v?.doubleValue.map { String(format: "%.1f%%", $0 * 100) } ?? "n/a" }
        func p50(_ k: String) -> String {
            guard let o = j[k] else { return "n/a" }
            return "p50 \(o["p50"]?.doubleValue.map { String(Int($0)) } ?? "-"), p95 \(o["p95"]?.doubleValue.map { String(Int($0)) } ?? "-")"
        }
        var s = "pairs: \(j["pairs"]?.intValue ?? 0)  (rejected records: \(j["rejected_records"]?.intValue ?? 0))\n"
        if case .object(let o)? = j["per_source"] { s += "per source: " + o.map { "\($0.0) \($0.1.intValue ?? 0)" }.joined(separator: ", ") + "\n" }
        s += "prompt chars: \(p50("prompt_chars")); chosen chars: \(p50("chosen_chars")); rejected chars: \(p50("rejected_chars")); turns: \(p50("turns"))\n"
        s += "scored pairs: \(j["scored_pairs"]?.intValue ?? 0); tie rate \(pct(j["tie_rate"])); identical \(pct(j["identical_rate"])); exact duplicates \(pct(j["duplicate_rate"]))\n"
        if j["sequence_tokens"] != nil {
            s += "tokens: prompt \(p50("prompt_tokens")); prompt + longer reply \(p50("sequence_tokens")); untokenizable pairs \(j["untokenizable_pairs"]?.intValue ?? 0)\n"
        }
        s += "length bias: chosen longer in \(pct(j["length_bias"]?["chosen_longer"])), rejected longer in \(pct(j["length_bias"]?["rejected_longer"]))"
        return s
    }
}
