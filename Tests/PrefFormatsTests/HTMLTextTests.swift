import Foundation
import XCTest
import PrefCore
@testable import PrefFormats

final class HTMLTextTests: XCTestCase {
    func md(_ html: String) -> String { String(decoding: HTMLText.markdown(Array(html.utf8)), as: UTF8.self) }

    func testParagraphsCodeListsLinksAndEntities() {
        XCTAssertEqual(md("<p>First   line\nsame paragraph.</p>\n\n<p>Second &amp; last.</p>"), "First line same paragraph.\n\nSecond & last.")
        XCTAssertEqual(md("<p>Use <code>a &lt; b</code> here.</p>"), "Use `a < b` here.")
        XCTAssertEqual(md("<pre><code>if x &lt; 1:\n    print(&quot;hi&quot;)\n</code></pre>"), "```\nif x < 1:\n    print(\"hi\")\n```")
        XCTAssertEqual(md("<ul>\n<li>one</li>\n<li>two <a href=\"http://x\">link</a></li>\n</ul>"), "- one\n- two link")
        XCTAssertEqual(md("<ol><li>a</li><li>b</li></ol>"), "1. a\n2. b")
        XCTAssertEqual(md("<blockquote><p>quoted</p></blockquote><p>after</p>"), "> quoted\n\nafter")
        XCTAssertEqual(md("<h2>Title</h2><p>x<br>y</p><hr><p><strong>bold</strong> <em>it</em></p>"), "## Title\n\nx\ny\n\n---\n\n**bold** *it*")
        XCTAssertEqual(md("<p>caf&#233; &#x263A; &nbsp;&hellip; &unknown; a<b</p><p>1 < 2</p>"), "café ☺ … &unknown; a<b\n\n1 < 2")
        XCTAssertEqual(md("<p>use <code>a`b</code></p>"), "use ``a`b``")
        XCTAssertEqual(md("<!-- comment --><p>x</p><img src=\"a.png\" alt=\"pic\">"), "x")
    }

    func testRandomTagSoupNeverCrashesAndLeavesNoMarkup() {
        var rng = SeededGenerator(seed: 9)
        let pieces = ["<p>", "</p>", "<pre>", "</pre>", "<code>", "</code>", "<ul>", "</ul>", "<ol>", "</ol>", "<li>", "</li>",
                      "<blockquote>", "</blockquote>", "<br>", "<br/>", "<hr>", "<a href=\"x>y\">", "</a>", "<h3>", "</h3>",
                      "text", " ", "\n", "&amp;", "&lt;", "&#x41;", "&bogus", "<", ">", "<!-- c -->", "<!--", "`", "é", "<div class='q'>", "</div>"]
        for _ in 0..<2000 {
            let html = (0..<Int.random(in: 0...30, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
            let out = md(html)
            XCTAssertNotNil(String(validating: Array(out.utf8), as: UTF8.self))
            for tag in ["<p>", "</p>", "<pre>", "<code>", "<li>", "<ul>", "<br>", "<blockquote>", "<div", "<a href"] {
                XCTAssertFalse(out.contains(tag), "\(tag) left in \(out.debugDescription) from \(html.debugDescription)")
            }
        }
    }
}
