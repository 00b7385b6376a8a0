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
}

public struct DatasetStats {
    public var json: JSONValue
    public var series: [String: [Double]]
    public var pairs: Int
}

public enum Stats {
    public static func feature(_ p: Pair) -> StatsFeature {
        let nc = TextNorm.normalize(TextNorm.text(p.chosen)), nr = TextNorm.normalize(TextNorm.text(p.rejected))
        return StatsFeature(format: Measure.sourceFormat(p),
                            promptChars: Int32(Measure.chars(p.prompt)), promptWords: Int32(Measure.words(p.prompt)),
                            chosenChars: Int32(Measure.chars(p.chosen)), chosenWords: Int32(Measure.words(p.chosen)),
                            rejectedChars: Int32(Measure.chars(p.rejected)), rejectedWords: Int32(Measure.words(p.rejected)),
                            turns: Int32(p.prompt.filter { $0.role != .system }.count),
                            scoreChosen: p.scoreChosen, scoreRejected: p.scoreRejected,
                            identical: p.chosen.map { TextNorm.collapseSpace($0.content) } == p.rejected.map { TextNorm.collapseSpace($0.content) },
                            exact: Hash128(Measure.hash128([TextNorm.normalize(TextNorm.text(p.prompt)), nc, nr])))
    }

    static func percentiles(_ v: [Double]) -> JSONValue {
        guard !v.isEmpty else { return .null }
        let s = v.sorted()
        func q(_ p: Double) -> Double { s[min(s.count - 1, Int((p * Double(s.count - 1)).rounded()))] }
        let mean = s.reduce(0, +) / Double(s.count)
        return .object([("min", .double(s[0])), ("p5", .double(q(0.05))), ("p25", .double(q(0.25))), ("p50", .double(q(0.5))),
                        ("p75", .double(q(0.75))), ("p95", .double(q(0.95))), ("p99", .double(q(0.99))), ("max", .double(s.last!)),
                        ("mean", .double((mean * 1000).rounded() / 1000))])
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
        ])
        return DatasetStats(json: json, series: series, pairs: fs.count)
    }

    // MARK: - HTML

    public static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    public static func fmt(_ d: Double) -> String {
        if d == d.rounded() && abs(d) < 1e9 { return String(Int(d)) }
        return String(format: "%.3g", d)
    }

    /// An SVG histogram of one or two series (overlaid), log-spaced bins for long-tailed lengths.
    public static func histogram(_ title: String, _ series: [(String, [Double], String)], log: Bool) -> String {
        let all = series.flatMap(\.1)
        guard let lo0 = all.min(), let hi0 = all.max() else { return "<figure><figcaption>\(esc(title))</figcaption><p class=\"empty\">no values</p></figure>" }
        let bins = 30
        let lo = log ? Foundation.log10(max(lo0, 0) + 1) : lo0
        let hi = log ? Foundation.log10(max(hi0, 0) + 1) : hi0
        let width = max(hi - lo, 1e-9)
        func bin(_ v: Double) -> Int {
            let x = log ? Foundation.log10(max(v, 0) + 1) : v
            return min(bins - 1, max(0, Int((x - lo) / width * Double(bins))))
        }
        var counts = series.map { _ in [Int](repeating: 0, count: bins) }
        for (k, s) in series.enumerated() { for v in s.1 { counts[k][bin(v)] += 1 } }
        let maxC = max(1, counts.flatMap { $0 }.max()!)
        let W = 420.0, H = 160.0, padL = 40.0, padB = 22.0
        let bw = (W - padL) / Double(bins)
        var svg = "<svg viewBox=\"0 0 \(Int(W)) \(Int(H + padB))\" role=\"img\" aria-label=\"\(esc(title))\">"
        svg += "<line x1=\"\(padL)\" y1=\"\(H)\" x2=\"\(W)\" y2=\"\(H)\" class=\"axis\"/>"
        for (k, s) in series.enumerated() {
            for b in 0..<bins where counts[k][b] > 0 {
                let h = Double(counts[k][b]) / Double(maxC) * (H - 10)
                let x = padL + Double(b) * bw + (series.count > 1 ? Double(k) * bw / 2 : 0)
                let w = series.count > 1 ? bw / 2 - 0.5 : bw - 1
                svg += "<rect x=\"\(String(format: "%.1f", x))\" y=\"\(String(format: "%.1f", H - h))\" width=\"\(String(format: "%.1f", w))\" height=\"\(String(format: "%.1f", h))\" fill=\"\(s.2)\"><title>\(counts[k][b])</title></rect>"
            }
        }
        let loLabel = fmt(lo0), hiLabel = fmt(hi0)
        svg += "<text x=\"\(padL)\" y=\"\(H + 16)\" class=\"tick\">\(loLabel)</text><text x=\"\(W)\" y=\"\(H + 16)\" class=\"tick\" text-anchor=\"end\">\(hiLabel)\(log ? " (log scale)" : "")</text>"
        svg += "<text x=\"\(padL - 4)\" y=\"14\" class=\"tick\" text-anchor=\"end\">\(maxC)</text></svg>"
        let legend = series.count > 1 ? "<div class=\"legend\">" + series.map { "<span><i style=\"background:\($0.2)\"></i>\(esc($0.0))</span>" }.joined() + "</div>" : ""
        return "<figure><figcaption>\(esc(title))</figcaption>\(svg)\(legend)</figure>"
    }

    /// The style sheet of prefkit's HTML reports.
    public static let css = """
        body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2433;background:#f6f7fb}
        main{max-width:1100px;margin:0 auto;padding:28px 24px 60px}
        h1{font-size:24px;margin:0 0 4px} .sub{color:#5b6478;margin:0 0 24px}
        .cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:12px;margin-bottom:24px}
        .card{background:#fff;border-radius:10px;padding:14px 16px;box-shadow:0 1px 3px rgba(20,30,60,.08)}
        .card b{display:block;font-size:22px} .card span{color:#5b6478;font-size:13px}
        section{background:#fff;border-radius:10px;padding:16px 20px;margin-bottom:20px;box-shadow:0 1px 3px rgba(20,30,60,.08)}
        h2{font-size:17px;margin:0 0 12px} table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
        th,td{padding:5px 8px;border-bottom:1px solid #eceef4;text-align:right} th{text-align:left;font-weight:600;color:#39415a}
        .grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:16px}
        figure{margin:0} figcaption{font-weight:600;margin-bottom:6px;color:#39415a} svg{width:100%;height:auto}
        .axis{stroke:#9aa3b8} .tick{font-size:11px;fill:#5b6478} .legend span{margin-right:14px;font-size:13px;color:#39415a}
        .legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px} .note{color:#39415a}
        .empty{color:#8a92a6} tr.head th{text-align:right;color:#5b6478;font-weight:500}
        """

    public static func html(_ st: DatasetStats, title: String) -> String {
        let j = st.json
        func rateText(_ v: JSONValue?) -> String { v?.doubleValue.map { String(format: "%.1f%%", $0 * 100) } ?? "n/a" }
        var rows = ""
        for key in ["prompt_chars", "prompt_words", "chosen_chars", "rejected_chars", "chosen_words", "rejected_words", "turns", "margin"] {
            guard case .object(let o)? = j[key] else { continue }
            let d = Dictionary(uniqueKeysWithValues: o.map { ($0.0, $0.1.doubleValue ?? 0) })
            rows += "<tr><th>\(key.replacingOccurrences(of: "_", with: " "))</th>" + ["min", "p5", "p25", "p50", "p75", "p95", "p99", "max", "mean"].map { "<td>\(fmt(d[$0] ?? 0))</td>" }.joined() + "</tr>"
        }
        var sources = ""
        if case .object(let o)? = j["per_source"] { sources = o.map { "<tr><th>\(esc($0.0))</th><td>\($0.1.intValue ?? 0)</td></tr>" }.joined() }
        let lb = j["length_bias"]
        let chosenLonger = lb?["chosen_longer"]?.doubleValue ?? 0
        let biasNote = chosenLonger > 0.6 ? "Chosen replies are longer in \(rateText(lb?["chosen_longer"])) of pairs: a model can learn much of this preference from length alone."
            : chosenLonger < 0.4 ? "Chosen replies are shorter in most pairs (\(rateText(lb?["rejected_longer"])) have the longer rejected reply)."
            : "Length is balanced between chosen and rejected replies."
        let s = st.series
        let blue = "#3b6fd4", orange = "#e0793a"
        return """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(esc(title))</title>
        <style>\(css)</style></head><body><main>
        <h1>\(esc(title))</h1><p class="sub">prefkit stats</p>
        <div class="cards">
        <div class="card"><b>\(st.pairs)</b><span>pairs</span></div>
        <div class="card"><b>\(rateText(lb?["chosen_longer"]))</b><span>chosen longer (length bias)</span></div>
        <div class="card"><b>\(rateText(j["duplicate_rate"]))</b><span>exact duplicates</span></div>
        <div class="card"><b>\(rateText(j["identical_rate"]))</b><span>identical chosen/rejected</span></div>
        <div class="card"><b>\(rateText(j["tie_rate"]))</b><span>ties (of \(j["scored_pairs"]?.intValue ?? 0) scored)</span></div>
        </div>
        <section><h2>Length bias</h2><p class="note">\(esc(biasNote))</p></section>
        <section><h2>Distributions</h2><div class="grid">
        \(histogram("Prompt length (characters)", [("prompt", s["prompt_chars"]!, blue)], log: true))
        \(histogram("Response length (characters)", [("chosen", s["chosen_chars"]!, blue), ("rejected", s["rejected_chars"]!, orange)], log: true))
        \(histogram("Prompt turns", [("turns", s["turns"]!, blue)], log: false))
        \(histogram("Score margin (chosen − rejected)", [("margin", s["margin"]!, blue)], log: false))
        \(histogram("Scores", [("chosen", s["score_chosen"]!, blue), ("rejected", s["score_rejected"]!, orange)], log: false))
        </div></section>
        <section><h2>Percentiles</h2><table><tr class="head"><th></th><th>min</th><th>p5</th><th>p25</th><th>p50</th><th>p75</th><th>p95</th><th>p99</th><th>max</th><th>mean</th></tr>\(rows)</table></section>
        <section><h2>Pairs per source</h2><table>\(sources)</table></section>
        </main></body></html>
        """
    }
}
