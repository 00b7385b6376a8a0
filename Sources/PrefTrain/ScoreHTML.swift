// report.html for `prefkit score`: one self-contained page with SVG charts.
import Foundation
import PrefCurate
import PrefIO

enum ScoreHTML {
    static let blue = "#3b6fd4", orange = "#e0793a", green = "#2f9e62", grey = "#8a92a6", purple = "#8a5cd1"

    /// Line chart: series of (x, y), an optional band (x, low, high) and horizontal reference lines.
    static func lines(_ title: String, _ series: [(String, [(Double, Double)], String)], band: [(Double, Double, Double)] = [],
                      hlines: [(String, Double, String)] = [], yRange: (Double, Double)? = nil) -> String {
        let xs = series.flatMap { $0.1.map(\.0) } + band.map(\.0)
        var ys = series.flatMap { $0.1.map(\.1) } + band.flatMap { [$0.1, $0.2] } + hlines.map(\.1)
        guard let x0 = xs.min(), let x1 = xs.max(), !ys.isEmpty else { return "<figure><figcaption>\(Stats.esc(title))</figcaption><p class=\"empty\">no values</p></figure>" }
        ys = ys.filter { $0.isFinite }
        var (y0, y1) = yRange ?? (ys.min()!, ys.max()!)
        if y1 - y0 < 1e-9 { y0 -= 0.5; y1 += 0.5 }
        let pad = (y1 - y0) * 0.05
        y0 -= pad; y1 += pad
        let W = 420.0, H = 170.0, L = 44.0, B = 22.0
        func px(_ x: Double) -> Double { L + (x - x0) / max(x1 - x0, 1e-9) * (W - L - 6) }
        func py(_ y: Double) -> Double { 6 + (1 - (y - y0) / (y1 - y0)) * (H - 6) }
        var svg = "<svg viewBox=\"0 0 \(Int(W)) \(Int(H + B))\" role=\"img\" aria-label=\"\(Stats.esc(title))\">"
        svg += "<line x1=\"\(L)\" y1=\"\(H)\" x2=\"\(W)\" y2=\"\(H)\" class=\"axis\"/><line x1=\"\(L)\" y1=\"6\" x2=\"\(L)\" y2=\"\(H)\" class=\"axis\"/>"
        if !band.isEmpty {
            let upper = band.map { String(format: "%.1f,%.1f", px($0.0), py($0.2)) }
            let lower = band.reversed().map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }
            svg += "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(blue)\" fill-opacity=\"0.15\"/>"
        }
        for (name, y, color) in hlines {
            svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%@\" stroke-dasharray=\"5 4\" stroke-width=\"1.5\"><title>%@ %.3f</title></line>", L, py(y), W, py(y), color, Stats.esc(name), y)
        }
        for (_, pts, color) in series where !pts.isEmpty {
            let d = pts.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
            svg += "<polyline points=\"\(d)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>"
            for p in pts { svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\" fill=\"%@\"><title>step %d: %.4f</title></circle>", px(p.0), py(p.1), color, Int(p.0), p.1) }
        }
        svg += "<text x=\"\(L)\" y=\"\(H + 16)\" class=\"tick\">\(Stats.fmt(x0))</text><text x=\"\(W)\" y=\"\(H + 16)\" class=\"tick\" text-anchor=\"end\">step \(Stats.fmt(x1))</text>"
        svg += String(format: "<text x=\"%.0f\" y=\"14\" class=\"tick\" text-anchor=\"end\">%.3g</text><text x=\"%.0f\" y=\"%.0f\" class=\"tick\" text-anchor=\"end\">%.3g</text></svg>", L - 4, y1 - pad, L - 4, H, y0 + pad)
        let legend = "<div class=\"legend\">" + (series.map { ($0.0, $0.2) } + hlines.map { ($0.0, $0.2) }).map { "<span><i style=\"background:\($0.1)\"></i>\(Stats.esc($0.0))</span>" }.joined() + "</div>"
        return "<figure><figcaption>\(Stats.esc(title))</figcaption>\(svg)\(legend)</figure>"
    }

    static func page(_ r: ScoreReport, rewards: (chosen: [Double], rejected: [Double])) -> String {
        let j = r.json
        let main = r.sweep[r.mainIndex]
        func series(_ key: String) -> [(Double, Double)] {
            main.result.curve.compactMap { pt in pt.values.first { $0.0 == key }.map { (Double(pt.step), $0.1) } }
        }
        let band: [(Double, Double, Double)] = main.result.curve.compactMap { pt in
            guard let a = pt.values.first(where: { $0.0 == "eval/rewards/accuracies" })?.1 else { return nil }
            let ci = Wilson.interval(Int((a * Double(r.nEval)).rounded()), r.nEval)
            return (Double(pt.step), ci.low, ci.high)
        }
        let baselineNames = ["length": "length baseline", "reference": "reference log-prob baseline", "reference_avg": "reference avg log-prob"]
        let colors = ["length": orange, "reference": green, "reference_avg": purple]
        let hl = r.baselines.map { (baselineNames[$0.0] ?? $0.0, $0.1, colors[$0.0] ?? grey) }
        let ci = j["ci95"]?.arrayValue?.compactMap(\.doubleValue) ?? [0, 0]
        var params = ""
        if case .object(let o)? = j["config"] { params = o.map { "<tr><th>\(Stats.esc($0.0))</th><td>\(Stats.esc($0.1.serialized()))</td></tr>" }.joined() }
        var sweepRows = ""
        if r.sweep.count > 1 {
            sweepRows = "<section><h2>Beta sweep</h2><table><tr class=\"head\"><th>beta</th><th>eval accuracy</th><th>95% CI</th><th>best step</th><th>margin</th></tr>"
                + r.sweep.map { String(format: "<tr><th>%g</th><td>%.3f</td><td>%.3f–%.3f</td><td>%d</td><td>%.3f</td></tr>", $0.beta, $0.result.best.accuracy, $0.ci.low, $0.ci.high, $0.result.bestStep, $0.result.best.margins) }.joined()
                + "</table></section>"
        }
        let dropped = j["dropped"]?.serialized() ?? "{}"
        return """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>prefkit score</title><style>\(Stats.css)</style></head><body><main>
        <h1>Preference data score</h1><p class="sub">prefkit score: a quick DPO run, evaluated on held-out pairs</p>
        <div class="cards">
        <div class="card"><b>\(String(format: "%.3f", j["score"]?.doubleValue ?? 0))</b><span>eval rewards/accuracies (β = \(Stats.fmt(main.beta)))</span></div>
        <div class="card"><b>\(String(format: "%.3f–%.3f", ci.first ?? 0, ci.last ?? 0))</b><span>95% Wilson interval, n = \(r.nEval)</span></div>
        \(r.baselines.map { "<div class=\"card\"><b>\(String(format: "%.3f", $0.1))</b><span>\(Stats.esc(baselineNames[$0.0] ?? $0.0))</span></div>" }.joined())
        </div>
        <section><h2>Verdict</h2><p class="note">\(Stats.esc(r.verdict))</p></section>
        <section><h2>Training</h2><div class="grid">
        \(lines("Eval reward accuracy with its 95% interval, and the baselines", [("eval accuracy", series("eval/rewards/accuracies"), blue)], band: band, hlines: hl, yRange: (0, 1)))
        \(lines("Loss", [("train", series("train/loss"), orange), ("eval", series("eval/loss"), blue)]))
        \(lines("Reward margin (chosen − rejected)", [("train", series("train/rewards/margins"), orange), ("eval", series("eval/rewards/margins"), blue)]))
        \(Stats.histogram("Eval rewards at the best step", [("chosen", rewards.chosen, blue), ("rejected", rewards.rejected, orange)], log: false))
        </div></section>
        \(sweepRows)
        <section><h2>Settings</h2><table>\(params)<tr><th>seed</th><td>\(j["seed"]?.intValue ?? 0)</td></tr><tr><th>pairs</th><td>\(Stats.esc(j["pairs"]?.serialized() ?? ""))</td></tr><tr><th>dropped by truncation</th><td>\(Stats.esc(dropped))</td></tr><tr><th>timings</th><td>\(Stats.esc(j["timings"]?.serialized() ?? ""))</td></tr><tr><th>throughput</th><td>\(Stats.esc(j["throughput"]?.serialized() ?? ""))</td></tr></table></section>
        <section><h2>How to read this</h2><p class="note">The score is the fraction of held-out pairs where the DPO policy's implicit reward ranks the chosen reply above the rejected one. 0.5 is chance. It is only meaningful next to the baselines: if a model can already pick the chosen reply by its length, or by the reference model's likelihood, a score at that level says nothing about the preferences themselves. The interval reflects the size of the eval split only; different seeds and budgets move the score too.</p></section>
        </main></body></html>
        """
    }
}

extension ScoreHTML {
    /// report.html for `prefkit compare`: ranking, scores with spread, pairwise tests.
    static func comparePage(_ r: CompareReport) -> String {
        let rows = r.datasets.enumerated().map { k, d in
            String(format: "<tr><th>%d. %@</th><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.4f</td><td>%.4f</td><td>%d</td></tr>",
                   k + 1, Stats.esc(d.name), d.meanScore, PairedStats.sd(d.scores), PairedStats.mean(d.gains), PairedStats.mean(d.margin), PairedStats.mean(d.loss), d.trainPairs)
        }.joined()
        let cmp = r.comparisons.map { c in
            String(format: "<tr><th>%@ vs %@</th><td>%.4f (%.4f–%.4f), p %.3g</td><td>%.4f (%.4f–%.4f), p %.3g</td><td>%.4f (%.4f–%.4f), p %.3g</td><td>%@</td></tr>",
                   Stats.esc(c.a), Stats.esc(c.b), c.margin.mean, c.margin.ci.low, c.margin.ci.high, c.margin.p,
                   c.accuracy.mean, c.accuracy.ci.low, c.accuracy.ci.high, c.accuracy.p, c.loss.mean, c.loss.ci.low, c.loss.ci.high, c.loss.p, Stats.esc(c.verdict))
        }.joined()
        let base = r.baselines.map { String(format: "%@ %.3f", Stats.esc($0.0), $0.1) }.joined(separator: ", ")
        return """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>prefkit compare</title><style>\(Stats.css)</style></head><body><main>
        <h1>Preference data comparison</h1><p class="sub">prefkit compare: every dataset trained under the same conditions, evaluated on the same \(r.nEval) pairs</p>
        <section><h2>Ranking</h2><table><tr class="head"><th>dataset</th><th>score</th><th>sd over seeds</th><th>gain over best baseline</th><th>eval margin</th><th>eval loss</th><th>training pairs</th></tr>\(rows)</table>
        <p class="note">Label-free baselines on the eval set: \(base).</p></section>
        <section><h2>Pairwise differences (paired over eval pairs)</h2><table><tr class="head"><th>pair</th><th>margin</th><th>accuracy</th><th>loss (lower is better)</th><th>verdict</th></tr>\(cmp)</table>
        <p class="note">Each difference is A − B (for loss, B − A) with a 95% bootstrap interval over eval pairs and a two-sided sign-flip p-value; a verdict says one dataset is better only where the chosen statistic's difference is significant.</p></section>
        </main></body></html>
        """
    }
}
