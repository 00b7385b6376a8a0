// The pieces of prefkit's self-contained HTML reports (`stats --html`, `score`, `compare`): one
// style sheet, the page shell, cards, and two SVG charts (histogram, line chart). No scripts, no
// external files: a report opens anywhere.
import Foundation

public enum HTMLReport {
    public static let blue = "#3b6fd4", orange = "#e0793a", green = "#2f9e62", grey = "#8a92a6", purple = "#8a5cd1"

    public static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// A number for a label: integers as such, others with 3 significant digits.
    public static func fmt(_ d: Double) -> String {
        if d == d.rounded() && abs(d) < 1e9 { return String(Int(d)) }
        return String(format: "%.3g", d)
    }

    /// A whole page: `body` is the HTML after the heading (cards, sections).
    public static func page(title: String, heading: String, sub: String, body: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(esc(title))</title><style>\(css)</style></head><body><main>
        <h1>\(esc(heading))</h1><p class="sub">\(esc(sub))</p>
        \(body)
        </main></body></html>
        """
    }

    /// A headline number with its label (both already formatted; the label is escaped).
    public static func card(_ value: String, _ label: String) -> String {
        "<div class=\"card\"><b>\(esc(value))</b><span>\(esc(label))</span></div>"
    }

    public static func cards(_ items: [String]) -> String { "<div class=\"cards\">" + items.joined() + "</div>" }

    /// A titled section around HTML.
    public static func section(_ title: String, _ html: String) -> String { "<section><h2>\(esc(title))</h2>\(html)</section>" }

    /// A paragraph of explanatory text (escaped).
    public static func note(_ text: String) -> String { "<p class=\"note\">\(esc(text))</p>" }

    static func figure(_ title: String, _ svg: String, legend: [(String, String)]) -> String {
        let l = legend.isEmpty ? "" : "<div class=\"legend\">" + legend.map { "<span><i style=\"background:\($0.1)\"></i>\(esc($0.0))</span>" }.joined() + "</div>"
        return "<figure><figcaption>\(esc(title))</figcaption>\(svg)\(l)</figure>"
    }

    static func emptyFigure(_ title: String) -> String { "<figure><figcaption>\(esc(title))</figcaption><p class=\"empty\">no values</p></figure>" }

    /// An SVG histogram of one or more series (name, values, colour) side by side in 30 bins;
    /// `log` spaces the bins as log10(1 + x), for long-tailed lengths.
    public static func histogram(_ title: String, _ series: [(String, [Double], String)], log: Bool) -> String {
        let all = series.flatMap(\.1).filter(\.isFinite)
        guard let lo0 = all.min(), let hi0 = all.max() else { return emptyFigure(title) }
        let bins = 30
        func t(_ v: Double) -> Double { log ? Foundation.log10(max(v, 0) + 1) : v }
        // Halves keep the span finite for any finite values (1.7e308 - -1.7e308 would overflow).
        let lo = t(lo0), halfWidth = max(t(hi0) / 2 - lo / 2, 1e-300)
        func bin(_ v: Double) -> Int {
            let x = (t(v) / 2 - lo / 2) / halfWidth * Double(bins)
            return x.isFinite ? min(bins - 1, max(0, Int(x))) : 0
        }
        var counts = series.map { _ in [Int](repeating: 0, count: bins) }
        for (k, s) in series.enumerated() { for v in s.1 where v.isFinite { counts[k][bin(v)] += 1 } }
        let maxC = max(1, counts.flatMap { $0 }.max() ?? 1)
        let W = 420.0, H = 160.0, padL = 40.0, padB = 22.0
        let bw = (W - padL) / Double(bins), k0 = Double(series.count)
        var svg = "<svg viewBox=\"0 0 \(Int(W)) \(Int(H + padB))\" role=\"img\" aria-label=\"\(esc(title))\">"
        svg += "<line x1=\"\(padL)\" y1=\"\(H)\" x2=\"\(W)\" y2=\"\(H)\" class=\"axis\"/>"
        for (k, s) in series.enumerated() {
            for b in 0..<bins where counts[k][b] > 0 {
                let h = Double(counts[k][b]) / Double(maxC) * (H - 10)
                let x = padL + Double(b) * bw + Double(k) * bw / k0
                let w = series.count > 1 ? bw / k0 - 0.5 : bw - 1
                svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\"><title>%d</title></rect>", x, H - h, w, h, s.2, counts[k][b])
            }
        }
        svg += "<text x=\"\(padL)\" y=\"\(H + 16)\" class=\"tick\">\(fmt(lo0))</text><text x=\"\(W)\" y=\"\(H + 16)\" class=\"tick\" text-anchor=\"end\">\(fmt(hi0))\(log ? " (log scale)" : "")</text>"
        svg += "<text x=\"\(padL - 4)\" y=\"14\" class=\"tick\" text-anchor=\"end\">\(maxC)</text></svg>"
        return figure(title, svg, legend: series.count > 1 ? series.map { ($0.0, $0.2) } : [])
    }

    /// An SVG line chart: series of (x, y) with a colour, an optional shaded band (x, low, high)
    /// and dashed horizontal reference lines; `xLabel` names the x axis at its right end.
    public static func lineChart(_ title: String, _ series: [(String, [(Double, Double)], String)], band: [(Double, Double, Double)] = [],
                                 hlines: [(String, Double, String)] = [], yRange: (Double, Double)? = nil, xLabel: String = "step") -> String {
        let xs = (series.flatMap { $0.1.map(\.0) } + band.map(\.0)).filter(\.isFinite)
        let ys = (series.flatMap { $0.1.map(\.1) } + band.flatMap { [$0.1, $0.2] } + hlines.map(\.1)).filter(\.isFinite)
        guard let x0 = xs.min(), let x1 = xs.max(), let ylo = ys.min(), let yhi = ys.max() else { return emptyFigure(title) }
        var (y0, y1) = yRange ?? (ylo, yhi)
        if y1 - y0 < 1e-9 { y0 -= 0.5; y1 += 0.5 }
        let pad = (y1 - y0) * 0.05
        y0 -= pad; y1 += pad
        let W = 420.0, H = 170.0, L = 44.0, B = 22.0
        func px(_ x: Double) -> Double { L + (x - x0) / max(x1 - x0, 1e-9) * (W - L - 6) }
        func py(_ y: Double) -> Double { 6 + (1 - (y - y0) / (y1 - y0)) * (H - 6) }
        var svg = "<svg viewBox=\"0 0 \(Int(W)) \(Int(H + B))\" role=\"img\" aria-label=\"\(esc(title))\">"
        svg += "<line x1=\"\(L)\" y1=\"\(H)\" x2=\"\(W)\" y2=\"\(H)\" class=\"axis\"/><line x1=\"\(L)\" y1=\"6\" x2=\"\(L)\" y2=\"\(H)\" class=\"axis\"/>"
        if !band.isEmpty {
            let upper = band.map { String(format: "%.1f,%.1f", px($0.0), py($0.2)) }
            let lower = band.reversed().map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }
            svg += "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(series.first?.2 ?? blue)\" fill-opacity=\"0.15\"/>"
        }
        for (name, y, color) in hlines where y.isFinite {
            svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%@\" stroke-dasharray=\"5 4\" stroke-width=\"1.5\"><title>%@ %.3f</title></line>", L, py(y), W, py(y), color, esc(name), y)
        }
        for (_, pts, color) in series where !pts.isEmpty {
            let d = pts.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
            svg += "<polyline points=\"\(d)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>"
            for p in pts { svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\" fill=\"%@\"><title>%@ %@: %.4f</title></circle>", px(p.0), py(p.1), color, esc(xLabel), fmt(p.0), p.1) }
        }
        svg += "<text x=\"\(L)\" y=\"\(H + 16)\" class=\"tick\">\(fmt(x0))</text><text x=\"\(W)\" y=\"\(H + 16)\" class=\"tick\" text-anchor=\"end\">\(esc(xLabel)) \(fmt(x1))</text>"
        svg += String(format: "<text x=\"%.0f\" y=\"14\" class=\"tick\" text-anchor=\"end\">%.3g</text><text x=\"%.0f\" y=\"%.0f\" class=\"tick\" text-anchor=\"end\">%.3g</text></svg>", L - 4, y1 - pad, L - 4, H, y0 + pad)
        return figure(title, svg, legend: series.map { ($0.0, $0.2) } + hlines.map { ($0.0, $0.2) })
    }

    /// The style sheet of every report.
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
}
