import Foundation
import PrefCore
import PrefIO

/// `RUN/index.html`: the run at a glance, linking every stage's reports (statistics, score),
/// summaries and the manifest.
enum IndexPage {
    static func write(_ m: JSONValue, run: String) throws {
        try EncodedFile.writeWhole(Array(html(m).utf8), to: run + "/index.html")
    }

    static func html(_ m: JSONValue) -> String {
        let esc = HTMLReport.esc
        let stages = m["stages"]?.arrayValue ?? []
        // Links go to files of the run only: a relative path without a scheme (a hand-edited
        // manifest's "javascript:" or "https:" address is shown as text, never as a link).
        func link(_ path: String, _ text: String) -> String {
            guard IndexPage.isRunPath(path) else { return esc(text) }
            return "<a href=\"\(esc(path))\">\(esc(text))</a>"
        }
        var cards: [String] = []
        let reports = stages.flatMap { s in (s["reports"]?.arrayValue ?? []).map { ($0["title"]?.stringValue ?? "", $0["path"]?.stringValue ?? "") } }
        for (title, path) in reports { cards.append("<div class=\"card\"><b>\(link(path, title))</b><span>report</span></div>") }
        if let last = stages.last(where: { $0["records"]?["pairs"]?.intValue != nil }), let w = last["records"]?["pairs"]?.intValue {
            cards.append(HTMLReport.card(String(w), "pairs in the final data"))
        }
        if let score = stages.first(where: { $0["stage"]?.stringValue == "score" }), let acc = score["records"]?["score"]?.doubleValue {
            cards.append(HTMLReport.card(String(format: "%.3f", acc), "score (held-out reward accuracy)"))
            if let g = score["records"]?["gain"]?.doubleValue { cards.append(HTMLReport.card(String(format: "%+.3f", g), "gain over the best label-free baseline")) }
        }
        var rows = "<table><tr><th>#</th><th>stage</th><th>status</th><th>read</th><th>written</th><th>removed</th><th>rejected</th><th>pairs</th><th>seconds</th><th>files</th></tr>"
        for s in stages {
            let r = s["records"]
            func n(_ k: String) -> String { r?[k]?.intValue.map(String.init) ?? "" }
            let dir = s["directory"]?.stringValue ?? ""
            var files = (s["reports"]?.arrayValue ?? []).compactMap { v in v["path"]?.stringValue.map { link($0, v["title"]?.stringValue ?? $0) } }
            if case .object(let sums)? = s["summaries"] { files += sums.map { link(dir + "/" + $0.0, $0.0) } }
            let status = (s["status"]?.stringValue ?? "") + ((s["kept_from_earlier_run"] == .bool(true)) ? " (kept)" : "")
            rows += "<tr><td>\(s["index"]?.intValue ?? 0)</td><td>\(esc(s["stage"]?.stringValue ?? ""))</td><td>\(esc(status))</td>"
            rows += "<td>\(n("read"))</td><td>\(n("written"))</td><td>\(n("removed"))</td><td>\(n("rejected"))</td><td>\(n("pairs"))</td>"
            rows += "<td>\(s["seconds"]?.doubleValue.map { String(format: "%.1f", $0) } ?? "")</td><td>\(files.joined(separator: " · "))</td></tr>"
        }
        for p in m["pending"]?.arrayValue ?? [] { rows += "<tr><td></td><td>\(esc(p.stringValue ?? ""))</td><td>pending</td><td colspan=7></td></tr>" }
        rows += "</table>"
        var inputs = "<table><tr><th>input</th><th>bytes</th><th>SHA-256</th></tr>"
        for i in m["inputs"]?.arrayValue ?? [] {
            inputs += "<tr><td>\(esc(i["path"]?.stringValue ?? ""))</td><td>\(i["bytes"]?.intValue ?? 0)</td><td><code>\(esc(String((i["sha256"]?.stringValue ?? "").prefix(16))))…</code></td></tr>"
        }
        inputs += "</table>"
        let body = HTMLReport.cards(cards) + HTMLReport.section("Stages", rows)
            + HTMLReport.section("Inputs", inputs)
            + "<p class=\"note\">Everything about this run (config, inputs, commands, exit statuses, outputs with SHA-256) is in \(link("manifest.json", "manifest.json")).</p>"
        return HTMLReport.page(title: "prefkit run", heading: "prefkit pipeline run",
                               sub: "\(m["config_file"]?.stringValue ?? "") · prefkit \(m["version"]?.stringValue ?? "") · \(m["status"]?.stringValue ?? "") · \(m["updated"]?.stringValue ?? "")",
                               body: body)
    }


    /// A path inside the run directory: relative, no scheme, no "..".
    static func isRunPath(_ p: String) -> Bool {
        guard !p.isEmpty, !p.hasPrefix("/"), !p.contains(":"), !p.contains("\\") else { return false }
        return !p.split(separator: "/", omittingEmptySubsequences: false).contains("..")
    }
}
