// `prefkit stats`: counts, lengths, turns, scores, margins, ties, identical pairs, duplicates and
// length bias of a pair dataset, as JSON and as a self-contained HTML page with SVG histograms.
import Foundation
import PrefCore
import PrefIO

public struct StatsFeature: Sendable {
    var format: String
    var promptChars: Int32, promptWords: Int32
    var chosenChars: Int32, chosenWords: Int32
    var rejectedChars: Int32, rejectedWords: Int32
    var turns: Int32
    var scoreChosen: Double?, scoreRejected: Double?
    var identical: Bool
    var exact: Hash128
    /// Non-text content: images (parts or the column), a tools column, tool turns or tool calls.
    var images: Bool, tools: Bool, toolTurns: Bool
    /// Token lengths with a model's tokenizer (`stats --tokenizer`): nil without one; `untokenizable`
    /// when the pair could not be rendered.
    var tokens: TokenCounts? = nil
    var untokenizable = false
}

public struct DatasetStats {
    public var json: JSONValue
    public var series: [String: [Double]]
    public var pairs: Int
}

public enum Stats {
    public static func feature(_ p: Pair, tokens counter: PairTokenCounter? = nil) -> StatsFeature {
        var f = feature(p)
        if let counter {
            if let c = try? counter.count(p) { f.tokens = c } else { f.untokenizable = true }
        }
        return f
    }

    public static func feature(_ p: Pair) -> StatsFeature {
        let nc = TextNorm.normalize(TextNorm.text(p.chosen)), nr = TextNorm.normalize(TextNorm.text(p.rejected))
        let all = p.prompt + p.chosen + p.rejected
        return StatsFeature(format: Measure.sourceFormat(p),
                            promptChars: Int32(Measure.chars(p.prompt)), promptWords: Int32(Measure.words(p.prompt)),
                            chosenChars: Int32(Measure.chars(p.chosen)), chosenWords: Int32(Measure.words(p.chosen)),
                            rejectedChars: Int32(Measure.chars(p.rejected)), rejectedWords: Int32(Measure.words(p.rejected)),
                            turns: Int32(p.prompt.filter { $0.role != .system }.count),
                            scoreChosen: p.scoreChosen, scoreRejected: p.scoreRejected,
                            identical: p.chosen.map { TextNorm.collapseSpace($0.content) } == p.rejected.map { TextNorm.collapseSpace($0.content) },
                            exact: Measure.exactKey(p, prompt: TextNorm.normalize(TextNorm.text(p.prompt)), chosen: nc, rejected: nr),
                            images: p.images != nil || all.contains { $0.parts != nil },
                            tools: p.tools != nil,
                            toolTurns: all.contains { $0.role == .tool || $0.toolCalls != nil })
    }

    static func percentiles(_ v: [Double]) -> JSONValue {
        guard !v.isEmpty else { return .null }
        let s = v.sorted()
        func q(_ p: Double) -> Double { s[min(s.count - 1, Int((p * Double(s.count - 1)).rounded()))] }
        var mean = s.reduce(0, +) / Double(s.count)
        // Values near the largest double: the sum overflows where the mean does not.
        if !mean.isFinite && s.allSatisfy(\.isFinite) { mean = s.reduce(0) { $0 + $1 / Double(s.count) } }
        let rounded = abs(mean) < 1e15 ? (mean * 1000).rounded() / 1000 : mean
        return .object([("min", .double(s[0])), ("p5", .double(q(0.05))), ("p25", .double(q(0.25))), ("p50", .double(q(0.5))),
                        ("p75", .double(q(0.75))), ("p95", .double(q(0.95))), ("p99", .double(q(0.99))), ("max", .double(s.last!)),
                        ("mean", .double(rounded))])
    }

    public static func compute(_ scanned: [Scanned<StatsFeature>]) -> DatasetStats {
        let fs: [StatsFeature] = scanned.compactMap { if case .pair(let f) = $0 { return f }; return nil }
        let rejected = scanned.count - fs.count
        var perSource: [String: Int] = [:]
        for f in fs { perSource[f.format, default: 0] += 1 }
        var seen = Set<Hash128>(), dups = 0
        for f in fs { if !seen.insert(f.exact).inserted { dups += 1 } }
        let scored = fs.filter { $0.scoreChosen != nil && $0.scoreRejected != nil }
        let margins = scored.map { $0.scoreChosen! - $0.scoreRejected! }
        let ties = margins.filter { $0 == 0 }.count
        let chosenLonger = fs.filter { $0.chosenChars > $0.rejectedChars }.count
        let rejectedLonger = fs.filter { $0.chosenChars < $0.rejectedChars }.count
        let identical = fs.filter(\.identical).count
        func rate(_ a: Int, _ b: Int) -> JSONValue { b == 0 ? .null : .double((Double(a) / Double(b) * 10000).rounded() / 10000) }
        var series: [String: [Double]] = [
            "prompt_chars": fs.map { Double($0.promptChars) }, "prompt_words": fs.map { Double($0.promptWords) },
            "chosen_chars": fs.map { Double($0.chosenChars) }, "rejected_chars": fs.map { Double($0.rejectedChars) },
            "chosen_words": fs.map { Double($0.chosenWords) }, "rejected_words": fs.map { Double($0.rejectedWords) },
            "turns": fs.map { Double($0.turns) },
        ]
        series["margin"] = margins
        series["score_chosen"] = scored.map { $0.scoreChosen! }
        series["score_rejected"] = scored.map { $0.scoreRejected! }
        // Token lengths, when a tokenizer counted them.
        var tokenJSON: [(String, JSONValue)] = []
        if fs.contains(where: { $0.tokens != nil || $0.untokenizable }) {
            let tk = fs.compactMap(\.tokens)
            series["prompt_tokens"] = tk.map { Double($0.prompt) }
            series["chosen_tokens"] = tk.map { Double($0.chosen) }
            series["rejected_tokens"] = tk.map { Double($0.rejected) }
            series["sequence_tokens"] = tk.map { Double($0.sequence) }
            series["pair_tokens"] = tk.map { Double($0.prompt + $0.chosen + $0.rejected) }
            tokenJSON = ["prompt_tokens", "chosen_tokens", "rejected_tokens", "sequence_tokens", "pair_tokens"].map { ($0, percentiles(series[$0]!)) }
            tokenJSON.append(("untokenizable_pairs", .int(Int64(fs.filter(\.untokenizable).count))))
        }
        let json: JSONValue = .object([
            ("pairs", .int(Int64(fs.count))), ("rejected_records", .int(Int64(rejected))),
            ("per_source", .object(perSource.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })),
            ("prompt_chars", percentiles(series["prompt_chars"]!)), ("prompt_words", percentiles(series["prompt_words"]!)),
            ("chosen_chars", percentiles(series["chosen_chars"]!)), ("rejected_chars", percentiles(series["rejected_chars"]!)),
            ("chosen_words", percentiles(series["chosen_words"]!)), ("rejected_words", percentiles(series["rejected_words"]!)),
            ("turns", percentiles(series["turns"]!)),
            ("scored_pairs", .int(Int64(scored.count))),
            ("score_chosen", percentiles(series["score_chosen"]!)), ("score_rejected", percentiles(series["score_rejected"]!)),
            ("margin", percentiles(margins)),
            ("tie_rate", rate(ties, scored.count)), ("identical_rate", rate(identical, fs.count)),
            ("duplicate_rate", rate(dups, fs.count)),
            ("length_bias", .object([("chosen_longer", rate(chosenLonger, fs.count)), ("rejected_longer", rate(rejectedLonger, fs.count)),
                                     ("equal_length", rate(fs.count - chosenLonger - rejectedLonger, fs.count))])),
            ("non_text", .object([("with_images", .int(Int64(fs.filter(\.images).count))), ("with_tools", .int(Int64(fs.filter(\.tools).count))),
                                  ("with_tool_turns", .int(Int64(fs.filter(\.toolTurns).count)))])),
        ] + tokenJSON)
        return DatasetStats(json: json, series: series, pairs: fs.count)
    }

    // MARK: - HTML

    /// The `stats --html` page.
    public static func html(_ st: DatasetStats, title: String) -> String {
        typealias H = HTMLReport
        let j = st.json
        func rateText(_ v: JSONValue?) -> String { v?.doubleValue.map { String(format: "%.1f%%", $0 * 100) } ?? "n/a" }
        var rows = ""
        for key in ["prompt_chars", "prompt_words", "chosen_chars", "rejected_chars", "chosen_words", "rejected_words", "turns", "margin",
                    "prompt_tokens", "chosen_tokens", "rejected_tokens", "sequence_tokens", "pair_tokens"] {
            guard case .object(let o)? = j[key] else { continue }
            let d = Dictionary(uniqueKeysWithValues: o.map { ($0.0, $0.1.doubleValue ?? 0) })
            rows += "<tr><th>\(key.replacingOccurrences(of: "_", with: " "))</th>" + ["min", "p5", "p25", "p50", "p75", "p95", "p99", "max", "mean"].map { "<td>\(H.fmt(d[$0] ?? 0))</td>" }.joined() + "</tr>"
        }
        var sources = ""
        if case .object(let o)? = j["per_source"] { sources = o.map { "<tr><th>\(H.esc($0.0))</th><td>\($0.1.intValue ?? 0)</td></tr>" }.joined() }
        let lb = j["length_bias"]
        let chosenLonger = lb?["chosen_longer"]?.doubleValue ?? 0
        let biasNote = chosenLonger > 0.6 ? "Chosen replies are longer in \(rateText(lb?["chosen_longer"])) of pairs: a model can learn much of this preference from length alone."
            : chosenLonger < 0.4 ? "Chosen replies are shorter in most pairs (\(rateText(lb?["rejected_longer"])) have the longer rejected reply)."
            : "Length is balanced between chosen and rejected replies."
        let s = st.series
        let body = H.cards([
            H.card(String(st.pairs), "pairs"),
            H.card(rateText(lb?["chosen_longer"]), "chosen longer (length bias)"),
            H.card(rateText(j["duplicate_rate"]), "exact duplicates"),
            H.card(rateText(j["identical_rate"]), "identical chosen/rejected"),
            H.card(rateText(j["tie_rate"]), "ties (of \(j["scored_pairs"]?.intValue ?? 0) scored)"),
        ]) + H.section("Length bias", H.note(biasNote))
            + H.section("Distributions", "<div class=\"grid\">" + [
                H.histogram("Prompt length (characters)", [("prompt", s["prompt_chars"]!, H.blue)], log: true),
                H.histogram("Response length (characters)", [("chosen", s["chosen_chars"]!, H.blue), ("rejected", s["rejected_chars"]!, H.orange)], log: true),
                H.histogram("Prompt turns", [("turns", s["turns"]!, H.blue)], log: false),
                H.histogram("Score margin (chosen − rejected)", [("margin", s["margin"]!, H.blue)], log: false),
                H.histogram("Scores", [("chosen", s["score_chosen"]!, H.blue), ("rejected", s["score_rejected"]!, H.orange)], log: false),
            ].joined(separator: "\n") + (s["sequence_tokens"].map { seq in "\n" + [
                H.histogram("Prompt + longer reply (tokens, \(H.esc(j["tokenizer"]?.stringValue ?? "the model's tokenizer")))", [("sequence", seq, H.blue)], log: true),
                H.histogram("Replies (tokens)", [("chosen", s["chosen_tokens"]!, H.blue), ("rejected", s["rejected_tokens"]!, H.orange)], log: true),
            ].joined(separator: "\n") } ?? "") + "</div>")
            + H.section("Percentiles", "<table><tr class=\"head\"><th></th><th>min</th><th>p5</th><th>p25</th><th>p50</th><th>p75</th><th>p95</th><th>p99</th><th>max</th><th>mean</th></tr>\(rows)</table>")
            + H.section("Pairs per source", "<table>\(sources)</table>")
        return H.page(title: title, heading: title, sub: "prefkit stats", body: body)
    }
}

// MARK: - per-shard partial statistics

extension Stats {
    /// Bytes per pair in a partial file (64 before token counts were kept; such files still read).
    static let partialRecord = 80

    /// A shard's features, for `stats --merge` to compute the statistics of the whole run: the
    /// percentiles need every value, so each pair is kept (64 bytes), not a summary.
    public static func writePartial(_ scanned: [Scanned<StatsFeature>], header: [(String, JSONValue)], to path: String) throws {
        var formats: [String: UInt16] = [:], names: [String] = []
        try PhaseFileWriter.write(to: path) { w in
            try w.segment("features") { w in
                for s in scanned {
                    var r: [UInt8] = []
                    switch s {
                    case .rejected: r = [0]
                    case .pair(let f):
                        let k: UInt16
                        if let x = formats[f.format] { k = x } else { k = UInt16(truncatingIfNeeded: names.count); formats[f.format] = k; names.append(f.format) }
                        r = [1]; r.putLE(k)
                        for v in [f.promptChars, f.promptWords, f.chosenChars, f.chosenWords, f.rejectedChars, f.rejectedWords, f.turns] { r.putLE(UInt32(bitPattern: v)) }
                        r.putLE((f.scoreChosen ?? .nan).bitPattern); r.putLE((f.scoreRejected ?? .nan).bitPattern)
                        r.append((f.identical ? 1 : 0) | (f.images ? 2 : 0) | (f.tools ? 4 : 0) | (f.toolTurns ? 8 : 0) | (f.scoreChosen != nil ? 16 : 0) | (f.scoreRejected != nil ? 32 : 0))
                        r.putLE(f.exact.a); r.putLE(f.exact.b)
                        // Token counts (-1: none; -2: untokenizable).
                        let t = f.tokens.map { [$0.prompt, $0.chosen, $0.rejected] } ?? [f.untokenizable ? -2 : -1, -1, -1]
                        for v in t { r.putLE(UInt32(bitPattern: Int32(clamping: v))) }
                    }
                    r += [UInt8](repeating: 0, count: partialRecord - r.count)
                    try w.write(r)
                }
                return scanned.count
            }
            guard names.count <= Int(UInt16.max) else { throw PhaseFileError("more than 65535 corpora in one shard") }
            return .object(header + [("formats", .array(names.map { .string($0) })), ("record_bytes", .int(Int64(partialRecord)))])
        }
    }

    /// The features of every shard's partial file in `dir` (all shards of one run), CRC-checked.
    public static func readPartials(_ dir: String) throws -> (scanned: [Scanned<StatsFeature>], header: JSONValue) {
        guard let paths = try ShardSpec.finishedShards(in: dir, prefix: "stats", ext: ".bin", step: "stats") else {
            throw PhaseFileError("\(dir) holds no partial statistics (stats-0000I-of-0000N.bin): run `prefkit stats IN -o \(dir)/` per shard first")
        }
        var out: [Scanned<StatsFeature>] = []
        var header0: JSONValue = .null
        for (k, p) in paths.enumerated() {
            let f = try PhaseFileReader(path: p)
            if k == 0 { header0 = f.header } else if f.header["inputs"]?.serialized() != header0["inputs"]?.serialized() {
                throw PhaseFileError("\(p) belongs to a run over other inputs than \(paths[0])")
            }
            let formats = (f.header["formats"]?.arrayValue ?? []).compactMap(\.stringValue)
            let size = Int(f.header["record_bytes"]?.intValue ?? 64)
            guard size == 64 || size == partialRecord else { throw PhaseFileError("\(p): records of \(size) bytes (damaged, or written by another version)", damage: true) }
            let s = try f.stream("features")
            while let r = try s.next(size) {
                if r[r.startIndex] == 0 { out.append(.rejected("", "")); continue }
                let fk = Int(r.le(1, as: UInt16.self))
                guard fk < formats.count else { throw PhaseFileError("\(p): a record names an unknown corpus (damaged)", damage: true) }
                let v = (0..<7).map { Int32(bitPattern: r.le(3 + 4 * $0, as: UInt32.self)) }
                // Token counts (64-byte records have none; -1: none, -2: untokenizable).
                let t = size < 80 ? [-1, -1, -1] : (0..<3).map { Int(Int32(bitPattern: r.le(64 + 4 * $0, as: UInt32.self))) }
                let flags = r[r.startIndex + 47]
                out.append(.pair(StatsFeature(format: formats[fk], promptChars: v[0], promptWords: v[1], chosenChars: v[2], chosenWords: v[3],
                                              rejectedChars: v[4], rejectedWords: v[5], turns: v[6],
                                              scoreChosen: flags & 16 != 0 ? Double(bitPattern: r.le(31)) : nil,
                                              scoreRejected: flags & 32 != 0 ? Double(bitPattern: r.le(39)) : nil,
                                              identical: flags & 1 != 0, exact: Hash128((r.le(48), r.le(56))),
                                              images: flags & 2 != 0, tools: flags & 4 != 0, toolTurns: flags & 8 != 0,
                                              tokens: t[0] < 0 ? nil : TokenCounts(prompt: t[0], chosen: t[1], rejected: t[2]), untokenizable: t[0] == -2)))
            }
        }
        return (out, header0)
    }
}
