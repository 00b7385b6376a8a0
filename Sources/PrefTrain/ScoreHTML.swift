// report.html for `prefkit score`: one self-contained page with SVG charts.
import Foundation
import PrefCore
import PrefIO

enum ScoreHTML {
    typealias H = HTMLReport

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
        let colors = ["length": H.orange, "reference": H.green, "reference_avg": H.purple]
        let hl = r.baselines.map { (baselineNames[$0.0] ?? $0.0, $0.1, colors[$0.0] ?? H.grey) }
        let ci = j["ci95"]?.arrayValue?.compactMap(\.doubleValue) ?? [0, 0]
        var params = ""
        if case .object(let o)? = j["config"] { params = o.map { "<tr><th>\(H.esc($0.0))</th><td>\(H.esc($0.1.serialized()))</td></tr>" }.joined() }
        var sweepRows = ""
        if r.sweep.count > 1 {
            sweepRows = "<section><h2>Beta sweep</h2><table><tr class=\"head\"><th>beta</th><th>eval accuracy</th><th>95% CI</th><th>best step</th><th>margin</th></tr>"
                + r.sweep.map { String(format: "<tr><th>%g</th><td>%.3f</td><td>%.3f–%.3f</td><td>%d</td><td>%.3f</td></tr>", $0.beta, $0.result.best.accuracy, $0.ci.low, $0.ci.high, $0.result.bestStep, $0.result.best.margins) }.joined()
                + "</table></section>"
        }
        let dropped = j["dropped"]?.serialized() ?? "{}"
        let body = H.cards([
            H.card(String(format: "%.3f", j["score"]?.doubleValue ?? 0), "eval rewards/accuracies (β = \(H.fmt(main.beta)))"),
            H.card(String(format: "%.3f–%.3f", ci.first ?? 0, ci.last ?? 0), "95% Wilson interval, n = \(r.nEval)"),
        ] + r.baselines.map { H.card(String(format: "%.3f", $0.1), baselineNames[$0.0] ?? $0.0) })
            + H.section("Verdict", H.note(r.verdict))
            + H.section("Training", "<div class=\"grid\">" + [
                H.lineChart("Eval reward accuracy with its 95% interval, and the baselines", [("eval accuracy", series("eval/rewards/accuracies"), H.blue)], band: band, hlines: hl, yRange: (0, 1)),
                H.lineChart("Loss", [("train", series("train/loss"), H.orange), ("eval", series("eval/loss"), H.blue)]),
                H.lineChart("Reward margin (chosen − rejected)", [("train", series("train/rewards/margins"), H.orange), ("eval", series("eval/rewards/margins"), H.blue)]),
                H.histogram("Eval rewards at the best step", [("chosen", rewards.chosen, H.blue), ("rejected", rewards.rejected, H.orange)], log: false),
            ].joined(separator: "\n") + "</div>")
            + sweepRows
            + H.section("Settings", "<table>\(params)<tr><th>seed</th><td>\(j["seed"]?.intValue ?? 0)</td></tr><tr><th>pairs</th><td>\(H.esc(j["pairs"]?.serialized() ?? ""))</td></tr><tr><th>dropped (not rendered or truncated)</th><td>\(H.esc(dropped))</td></tr><tr><th>timings</th><td>\(H.esc(j["timings"]?.serialized() ?? ""))</td></tr><tr><th>throughput</th><td>\(H.esc(j["throughput"]?.serialized() ?? ""))</td></tr></table>")
            + H.section("How to read this", H.note("The score is the fraction of held-out pairs where the DPO policy's implicit reward ranks the chosen reply above the rejected one. 0.5 is chance. It is only meaningful next to the baselines: if a model can already pick the chosen reply by its length, or by the reference model's likelihood, a score at that level says nothing about the preferences themselves. The interval reflects the size of the eval split only; different seeds and budgets move the score too."))
        return H.page(title: "prefkit score", heading: "Preference data score", sub: "prefkit score: a quick DPO run, evaluated on held-out pairs", body: body)
    }
}

extension ScoreHTML {
    /// report.html for `prefkit compare`: ranking, scores with spread, pairwise tests.
    static func comparePage(_ r: CompareReport) -> String {
        let rows = r.datasets.enumerated().map { k, d in
            String(format: "<tr><th>%d. %@</th><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.4f</td><td>%.4f</td><td>%d</td></tr>",
                   k + 1, H.esc(d.name), d.meanScore, PairedStats.sd(d.scores), PairedStats.mean(d.gains), PairedStats.mean(d.margin), PairedStats.mean(d.loss), d.trainPairs)
        }.joined()
        let cmp = r.comparisons.map { c in
            String(format: "<tr><th>%@ vs %@</th><td>%.4f (%.4f–%.4f), p %.3g</td><td>%.4f (%.4f–%.4f), p %.3g</td><td>%.4f (%.4f–%.4f), p %.3g</td><td>%@</td></tr>",
                   H.esc(c.a), H.esc(c.b), c.margin.mean, c.margin.ci.low, c.margin.ci.high, c.margin.p,
                   c.accuracy.mean, c.accuracy.ci.low, c.accuracy.ci.high, c.accuracy.p, c.loss.mean, c.loss.ci.low, c.loss.ci.high, c.loss.p, H.esc(c.verdict))
        }.joined()
        let base = r.baselines.map { String(format: "%@ %.3f", $0.0, $0.1) }.joined(separator: ", ")
        let body = H.section("Ranking", "<table><tr class=\"head\"><th>dataset</th><th>score</th><th>sd over seeds</th><th>gain over best baseline</th><th>eval margin</th><th>eval loss</th><th>training pairs</th></tr>\(rows)</table>"
                             + H.note("Label-free baselines on the eval set: \(base)."))
            + H.section("Pairwise differences (paired over eval pairs)", "<table><tr class=\"head\"><th>pair</th><th>margin</th><th>accuracy</th><th>loss (lower is better)</th><th>verdict</th></tr>\(cmp)</table>"
                        + H.note("Each difference is A − B (for loss, B − A) with a 95% bootstrap interval over eval pairs and a two-sided sign-flip p-value; a verdict says one dataset is better only where the chosen statistic's difference is significant."))
        return H.page(title: "prefkit compare", heading: "Preference data comparison",
                      sub: "prefkit compare: every dataset trained under the same conditions, evaluated on the same \(r.nEval) pairs", body: body)
    }
}
