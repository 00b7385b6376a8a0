// HTML (Stack Exchange post bodies) to plain Markdown-style text: paragraphs separated by blank
// lines, <pre> blocks as fenced code, inline <code> in backticks, links as their text, list items
// as "- " / "1. ", block quotes as "> ", headings as "#", entities decoded, no tags left.
import PrefCore
import PrefIO

public enum HTMLText {
    public static func markdown(_ html: [UInt8]) -> [UInt8] {
        var w = MarkdownWriter()
        var i = 0
        let n = html.count
        var textStart = 0
        func flushText(_ end: Int) {
            if end > textStart { w.text(decodeEntities(html, textStart, end)) }
        }
        while i < n {
            guard html[i] == UInt8(ascii: "<") else { i += 1; continue }
            // A tag, a comment, or a literal '<'.
            if i + 3 < n && html[i + 1] == UInt8(ascii: "!") && html[i + 2] == UInt8(ascii: "-") && html[i + 3] == UInt8(ascii: "-") {
                flushText(i)
                var j = i + 4
                while j + 2 < n && !(html[j] == UInt8(ascii: "-") && html[j + 1] == UInt8(ascii: "-") && html[j + 2] == UInt8(ascii: ">")) { j += 1 }
                i = min(n, j + 3); textStart = i
                continue
            }
            let closing = i + 1 < n && html[i + 1] == UInt8(ascii: "/")
            let nameStart = i + (closing ? 2 : 1)
            guard nameStart < n, isAlpha(html[nameStart]) else { i += 1; continue }   // literal '<'
            var j = nameStart
            while j < n && (isAlpha(html[j]) || (html[j] >= 0x30 && html[j] <= 0x39)) { j += 1 }
            // A tag name ends at white space, '/' or '>'; anything else means a literal '<'.
            if j < n && !(html[j] == 0x20 || html[j] == 0x0A || html[j] == 0x09 || html[j] == 0x0D || html[j] == UInt8(ascii: "/") || html[j] == UInt8(ascii: ">")) {
                i += 1; continue
            }
            let name = String(decoding: html[nameStart..<j], as: UTF8.self).lowercased()
            // Find the end of the tag, skipping quoted attribute values.
            var k = j
            var quote: UInt8 = 0
            while k < n {
                let c = html[k]
                if quote != 0 { if c == quote { quote = 0 } }
                else if c == 0x22 || c == 0x27 { quote = c }
                else if c == UInt8(ascii: ">") { break }
                k += 1
            }
            flushText(i)
            let attrs = Array(html[j..<min(k, n)])
            if closing { w.close(name) } else { w.open(name, attrs: attrs) }
            i = min(n, k + 1)
            textStart = i
        }
        flushText(n)
        return w.finish()
    }

    @inline(__always) static func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") }

    static let named: [String: UInt32] = [
        "amp": 0x26, "lt": 0x3C, "gt": 0x3E, "quot": 0x22, "apos": 0x27, "nbsp": 0x20, "hellip": 0x2026,
        "mdash": 0x2014, "ndash": 0x2013, "rsquo": 0x2019, "lsquo": 0x2018, "ldquo": 0x201C, "rdquo": 0x201D,
        "copy": 0xA9, "reg": 0xAE, "trade": 0x2122, "euro": 0x20AC, "times": 0xD7, "deg": 0xB0, "middot": 0xB7,
        "laquo": 0xAB, "raquo": 0xBB, "bull": 0x2022, "pound": 0xA3, "yen": 0xA5, "cent": 0xA2, "sect": 0xA7,
        "para": 0xB6, "plusmn": 0xB1, "frac12": 0xBD, "frac14": 0xBC, "frac34": 0xBE, "divide": 0xF7, "rarr": 0x2192,
        "larr": 0x2190, "uarr": 0x2191, "darr": 0x2193, "eacute": 0xE9, "egrave": 0xE8, "agrave": 0xE0, "aacute": 0xE1,
        "uuml": 0xFC, "ouml": 0xF6, "auml": 0xE4, "szlig": 0xDF, "ccedil": 0xE7, "ntilde": 0xF1, "zwj": 0x200D, "zwnj": 0x200C,
    ]

    /// Decodes character references in html[a..<b]; unknown ones stay as written.
    public static func decodeEntities(_ h: [UInt8], _ a: Int, _ b: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(b - a)
        var i = a
        while i < b {
            let c = h[i]
            guard c == UInt8(ascii: "&") else { out.append(c); i += 1; continue }
            var j = i + 1
            while j < b && j - i <= 10 && h[j] != UInt8(ascii: ";") && h[j] != UInt8(ascii: "&") && h[j] != 0x20 { j += 1 }
            if j < b && h[j] == UInt8(ascii: ";") && j > i + 1 {
                let body = String(decoding: h[(i + 1)..<j], as: UTF8.self)
                var cp: UInt32?
                if body.hasPrefix("#x") || body.hasPrefix("#X") { cp = UInt32(body.dropFirst(2), radix: 16) }
                else if body.hasPrefix("#") { cp = UInt32(body.dropFirst(1)) }
                else { cp = named[body] }
                if var v = cp {
                    if v == 0 || v > 0x10FFFF || (v >= 0xD800 && v < 0xE000) { v = 0xFFFD }
                    if v == 0xA0 { v = 0x20 }
                    JSONStrings.appendUTF8(&out, v)
                    i = j + 1
                    continue
                }
            }
            out.append(c); i += 1
        }
        return out
    }
}


/// Accumulates Markdown output. Line and paragraph breaks are requested, and written only when
/// the next content arrives (with the block-quote prefix of that moment), so nested blocks never
/// produce doubled or dangling separators.
struct MarkdownWriter {
    var out: [UInt8] = []
    var pre = 0
    var pendingSpace = false
    var atLineStart = true
    var breakLevel = 0           // 0: none, 1: new line, 2: blank line
    var quoteDepth = 0
    var lists: [(ordered: Bool, counter: Int)] = []
    /// Block quotes and lists nested deeper than this are written at this depth: the prefix of
    /// every line stays bounded, so the Markdown grows linearly with the HTML, whatever its nesting.
    static let maxRenderedDepth = 32
    var quotePrefix: Int { min(quoteDepth, MarkdownWriter.maxRenderedDepth) }
    var codeStart: [Int] = []

    mutating func newline() { breakLevel = max(breakLevel, 1); pendingSpace = false }
    mutating func blankLine() { breakLevel = 2; pendingSpace = false }

    /// Writes pending breaks and the line prefix before content.
    mutating func materialize() {
        if breakLevel > 0 && !out.isEmpty {
            while let l = out.last, l == 0x20 { out.removeLast() }
            if out.last != 0x0A { out.append(0x0A) }
            if breakLevel == 2 {
                for _ in 0..<quotePrefix { out.append(UInt8(ascii: ">")) }
                out.append(0x0A)
            }
            atLineStart = true
        }
        breakLevel = 0
        if atLineStart {
            for _ in 0..<quotePrefix { out += [UInt8(ascii: ">"), 0x20] }
            atLineStart = false
            pendingSpace = false
        }
    }

    mutating func text(_ t: [UInt8]) {
        if pre > 0 {
            for c in t {
                if c == 0x0D { continue }
                if c == 0x0A {
                    if breakLevel > 0 || atLineStart { materialize() }
                    out.append(0x0A); atLineStart = true; continue
                }
                materialize()
                out.append(c)
            }
            return
        }
        for c in t {
            if c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D {
                if !atLineStart && breakLevel == 0 { pendingSpace = true }
                continue
            }
            materialize()
            if pendingSpace { out.append(0x20); pendingSpace = false }
            out.append(c)
        }
    }

    mutating func literal(_ s: String) {
        materialize()
        if pendingSpace { out.append(0x20); pendingSpace = false }
        out += Array(s.utf8)
    }

    mutating func open(_ name: String, attrs: [UInt8]) {
        switch name {
        case "p", "div", "table", "dl":
            blankLine()
        case "br":
            if pre > 0 { materialize(); out.append(0x0A); atLineStart = true } else { newline() }
        case "hr":
            blankLine(); literal("---"); blankLine()
        case "h1", "h2", "h3", "h4", "h5", "h6":
            blankLine(); literal(String(repeating: "#", count: Int(String(name.dropFirst()))!) + " ")
        case "pre":
            blankLine(); literal("```"); newline(); pre += 1
        case "code":
            if pre == 0 { materialize(); if pendingSpace { out.append(0x20); pendingSpace = false }; codeStart.append(out.count) }
        case "blockquote":
            blankLine(); quoteDepth += 1
        case "ul", "ol":
            if lists.isEmpty { blankLine() } else { newline() }
            lists.append((name == "ol", 0))
        case "li":
            newline()
            materialize()
            out += Array(String(repeating: "  ", count: min(max(0, lists.count - 1), MarkdownWriter.maxRenderedDepth)).utf8)
            if var top = lists.last {
                top.counter += 1
                lists[lists.count - 1] = top
                out += Array((top.ordered ? "\(top.counter). " : "- ").utf8)
            } else {
                out += Array("- ".utf8)
            }
        case "tr":
            newline()
        case "td", "th":
            if !atLineStart && breakLevel == 0 { literal(" | ") }
        case "strong", "b":
            literal("**")
        case "em", "i":
            literal("*")
        default:
            break   // a, img, span, sup, sub, kbd, del, ...: the text is kept, the markup dropped
        }
    }

    mutating func close(_ name: String) {
        switch name {
        case "p", "div", "table", "dl", "h1", "h2", "h3", "h4", "h5", "h6":
            blankLine()
        case "pre":
            if pre > 0 {
                pre -= 1
                if out.last == 0x0A { atLineStart = true; breakLevel = 0 } else { newline() }
                literal("```")
                blankLine()
            }
        case "code":
            if pre == 0, let s = codeStart.popLast(), s <= out.count {
                let content = Array(out[s...])
                let fence = content.contains(UInt8(ascii: "`")) ? "``" : "`"
                let pad = content.first == UInt8(ascii: "`") || content.last == UInt8(ascii: "`") ? " " : ""
                out.removeSubrange(s...)
                out += Array((fence + pad).utf8) + content + Array((pad + fence).utf8)
            }
        case "blockquote":
            if quoteDepth > 0 { quoteDepth -= 1 }
            blankLine()
        case "ul", "ol":
            if !lists.isEmpty { lists.removeLast() }
            if lists.isEmpty { blankLine() } else { newline() }
        case "strong", "b":
            literal("**")
        case "em", "i":
            literal("*")
        default:
            break
        }
    }

    mutating func finish() -> [UInt8] {
        // Trim, drop trailing spaces on lines, and squeeze runs of blank lines outside code.
        var lines = out.split(separator: 0x0A, omittingEmptySubsequences: false).map { line -> ArraySlice<UInt8> in
            var l = line
            while let x = l.last, x == 0x20 || x == 0x09 { l.removeLast() }
            return l
        }
        while let f = lines.first, f.isEmpty { lines.removeFirst() }
        while let l = lines.last, l.isEmpty || l.allSatisfy({ $0 == UInt8(ascii: ">") }) { lines.removeLast() }
        var res: [UInt8] = []
        var blank = 0
        var inFence = false
        for l in lines {
            if l.starts(with: Array("```".utf8)) { inFence.toggle() }
            if l.isEmpty && !inFence { blank += 1; if blank > 1 { continue } } else { blank = 0 }
            if !res.isEmpty { res.append(0x0A) }
            res += l
        }
        return res
    }
}
