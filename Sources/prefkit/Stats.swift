import ArgumentParser
import Foundation
import PrefCore
import PrefCurate
import PrefFormats
import PrefIO

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Describe a pair dataset: counts, lengths, turns, scores, margins, ties, duplicates and length bias."
    )

    @Argument(help: "Normalized pair files, directories, globs, or '-'.") var inputs: [String]
    @Option(name: .long, help: "Write the statistics as JSON.") var json: String?
    @Option(name: .long, help: "Write a self-contained HTML report with SVG histograms.") var html: String?
    @Option(name: .long, parsing: .unconditional, help: "Worker threads, 1-256 (default: all cores).") var threads: Int?

    func validate() throws { try Range.check(threads, "threads", Range.threads) }

    func run() throws {
        let expanded: [InputFile]
        do {
            expanded = try InputExpander.expand(inputs)
            try InputRegistry.checkOutputs([("--json", json), ("--html", html)])
        } catch { throw ValidationError("\(error)") }
        let source = try PairSource(expanded,
                                    threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let scanned = try source.scanPairs { Stats.feature($0) }
        let st = Stats.compute(scanned)
        if let p = json { try st.json.write(to: p) }
        if let p = html {
            try EncodedFile.writeWhole(Array(Stats.html(st, title: "Preference data: " + expanded.map(\.display).joined(separator: ", ")).utf8), to: p)
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
        s += "length bias: chosen longer in \(pct(j["length_bias"]?["chosen_longer"])), rejected longer in \(pct(j["length_bias"]?["rejected_longer"]))"
        return s
    }
}
