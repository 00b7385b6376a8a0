import Foundation
@testable import PrefIO

/// A deterministic Posts.xml with questions, answers arriving later (interleaved), orphan answers,
/// other post types, HTML bodies with code, lists and entities (the test-size sibling of bench/gen_posts.py).
enum SyntheticPosts {
    static func write(path: String, questions: Int, seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let words = ["coffee", "grind", "water", "espresso", "bean", "roast", "temperature", "pressure", "brew", "filter", "milk", "taste", "acid", "&", "<tag>", "é", "naïve"]
        func sentence(_ n: Int) -> String { (0..<n).map { _ in words.randomElement(using: &rng)! }.joined(separator: " ") }
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: "\n", with: "&#xA;")
        }
        func htmlText(_ s: String) -> String { s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;") }
        func body() -> String {
            var h = "<p>\(htmlText(sentence(Int.random(in: 5...30, using: &rng))))</p>\n"
            if Bool.random(using: &rng) { h += "<pre><code>let x = 1 &lt; 2\nprint(x)\n</code></pre>\n" }
            if Int.random(in: 0..<4, using: &rng) == 0 { h += "<ul>\n<li>\(htmlText(sentence(4)))</li>\n<li>use <code>grind()</code></li>\n</ul>\n" }
            return h
        }
        var out = "\u{FEFF}<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<posts>\n"
        var id = 1
        var pending: [(Int, String)] = []   // answers to emit later
        for _ in 0..<questions {
            let q = id; id += 1
            let nAnswers = Int.random(in: 0...5, using: &rng)
            let accepted = nAnswers > 0 && Bool.random(using: &rng) ? q + 1 + Int.random(in: 0..<nAnswers, using: &rng) : 0
            out += "  <row Id=\"\(q)\" PostTypeId=\"1\"" + (accepted > 0 ? " AcceptedAnswerId=\"\(accepted)\"" : "")
                + " Score=\"\(Int.random(in: -2...50, using: &rng))\" Body=\"\(esc(body()))\" Title=\"\(esc(sentence(6)))\" Tags=\"\(esc("<coffee><brew>"))\" />\n"
            for k in 0..<nAnswers {
                let a = q + 1 + k
                pending.append((a, "  <row Id=\"\(a)\" PostTypeId=\"2\" ParentId=\"\(q)\" Score=\"\(Int.random(in: -3...40, using: &rng))\" Body=\"\(esc(body()))\" />\n"))
            }
            id += nAnswers
            // Answers arrive a while after their question.
            while pending.count > 12 { out += pending.removeFirst().1 }
            if Int.random(in: 0..<10, using: &rng) == 0 {
                out += "  <row Id=\"\(id)\" PostTypeId=\"5\" Body=\"\(esc("<p>tag wiki</p>"))\" />\n"; id += 1
            }
            if Int.random(in: 0..<25, using: &rng) == 0 {
                out += "  <row Id=\"\(id)\" PostTypeId=\"2\" ParentId=\"999999999\" Score=\"1\" Body=\"\(esc("<p>orphan</p>"))\" />\n"; id += 1
            }
        }
        for (_, row) in pending { out += row }
        out += "</posts>\n"
        try out.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
