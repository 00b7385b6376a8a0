#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
// A byte-level JSON scanner producing a flat tape of nodes over the caller's buffer.
// Strings and numbers are not decoded while scanning: a node keeps the byte range,
// and values are decoded on demand, so unused fields cost only the scan.

public enum JKind: UInt8, Sendable {
    case object, array, string, number, bool, null
}

public struct JNode {
    public var kind: JKind
    /// For strings: the content contains a backslash escape. For bools: the value.
    public var flag: Bool
    /// Strings: content range without quotes. Numbers: the literal. Containers: from bracket to bracket.
    public var start: UInt32
    public var end: UInt32
    /// Index of the node after this node's subtree (its next sibling, if any).
    public var next: UInt32
    /// Containers: number of elements (objects: number of key/value pairs).
    public var count: UInt32
}

public struct JSONError: Error, CustomStringConvertible, Sendable {
    public var offset: Int
    public var message: String
    public var description: String { "\(message) at byte \(offset)" }
}

/// Reusable scanner; `parse` clears the previous tape but keeps its capacity.
public struct JSONScanner {
    public private(set) var nodes: [JNode] = []
    public var maxDepth = 512
    public init() { nodes.reserveCapacity(256) }

    public mutating func parse(_ buf: UnsafeRawBufferPointer) throws -> JSONDoc {
        nodes.removeAll(keepingCapacity: true)
        guard let base = buf.baseAddress?.assumingMemoryBound(to: UInt8.self), buf.count > 0 else {
            throw JSONError(offset: 0, message: "empty input")
        }
        let n = buf.count
        var i = skipWS(base, 0, n)
        guard i < n else { throw JSONError(offset: i, message: "empty input") }
        i = try value(base, i, n, depth: 0)
        i = skipWS(base, i, n)
        if i != n { throw JSONError(offset: i, message: "unexpected data after the JSON value") }
        return JSONDoc(base: base, count: n, nodes: nodes)
    }

    @inline(__always) func skipWS(_ p: UnsafePointer<UInt8>, _ i0: Int, _ n: Int) -> Int {
        var i = i0
        while i < n {
            let c = p[i]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { break }
        }
        return i
    }

    mutating func value(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int, depth: Int) throws -> Int {
        switch p[i] {
        case UInt8(ascii: "\""): return try string(p, i, n)
        case UInt8(ascii: "{"): return try object(p, i, n, depth: depth)
        case UInt8(ascii: "["): return try array(p, i, n, depth: depth)
        case UInt8(ascii: "t"): return try literal(p, i, n, "true", .bool, true)
        case UInt8(ascii: "f"): return try literal(p, i, n, "false", .bool, false)
        case UInt8(ascii: "n"): return try literal(p, i, n, "null", .null, false)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number(p, i, n)
        default: throw JSONError(offset: i, message: "unexpected character '\(printable(p[i]))'")
        }
    }

    func printable(_ c: UInt8) -> String {
        (c >= 0x20 && c < 0x7F) ? String(UnicodeScalar(c)) : String(format0x: c)
    }

    mutating func literal(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int, _ word: StaticString, _ kind: JKind, _ flag: Bool) throws -> Int {
        let len = word.utf8CodeUnitCount
        guard i + len <= n, memcmpEq(p + i, word.utf8Start, len) else {
            throw JSONError(offset: i, message: "invalid literal")
        }
        nodes.append(JNode(kind: kind, flag: flag, start: UInt32(i), end: UInt32(i + len), next: UInt32(nodes.count + 1), count: 0))
        return i + len
    }

    mutating func number(_ p: UnsafePointer<UInt8>, _ start: Int, _ n: Int) throws -> Int {
        var i = start
        if p[i] == UInt8(ascii: "-") { i += 1 }
        guard i < n else { throw JSONError(offset: i, message: "truncated number") }
        if p[i] == UInt8(ascii: "0") {
            i += 1
        } else if p[i] >= UInt8(ascii: "1") && p[i] <= UInt8(ascii: "9") {
            while i < n && p[i] >= 0x30 && p[i] <= 0x39 { i += 1 }
        } else {
            throw JSONError(offset: i, message: "invalid number")
        }
        if i < n && p[i] == UInt8(ascii: ".") {
            i += 1
            let d = i
            while i < n && p[i] >= 0x30 && p[i] <= 0x39 { i += 1 }
            if i == d { throw JSONError(offset: i, message: "invalid number: no digits after '.'") }
        }
        if i < n && (p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E")) {
            i += 1
            if i < n && (p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-")) { i += 1 }
            let d = i
            while i < n && p[i] >= 0x30 && p[i] <= 0x39 { i += 1 }
            if i == d { throw JSONError(offset: i, message: "invalid number: no exponent digits") }
        }
        nodes.append(JNode(kind: .number, flag: false, start: UInt32(start), end: UInt32(i), next: UInt32(nodes.count + 1), count: 0))
        return i
    }

    /// Scans a string starting at the opening quote; returns the index after the closing quote.
    mutating func string(_ p: UnsafePointer<UInt8>, _ q: Int, _ n: Int) throws -> Int {
        let start = q + 1
        var i = start
        var escaped = false
        while true {
            // Eight bytes at a time: stop at a quote, a backslash or a control byte.
            while i + 8 <= n {
                let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                let quote = w ^ 0x2222_2222_2222_2222
                let bslash = w ^ 0x5C5C_5C5C_5C5C_5C5C
                let hasQuote = (quote &- 0x0101_0101_0101_0101) & ~quote
                let hasBslash = (bslash &- 0x0101_0101_0101_0101) & ~bslash
                let hasCtrl = (w &- 0x2020_2020_2020_2020) & ~w
                if (hasQuote | hasBslash | hasCtrl) & 0x8080_8080_8080_8080 != 0 { break }
                i += 8
            }
            guard i < n else { throw JSONError(offset: q, message: "unterminated string") }
            let c = p[i]
            if c == UInt8(ascii: "\"") {
                break
            } else if c == UInt8(ascii: "\\") {
                escaped = true
                guard i + 1 < n else { throw JSONError(offset: i, message: "unterminated string") }
                let e = p[i + 1]
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                     UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 2
                case UInt8(ascii: "u"):
                    guard i + 6 <= n, isHex(p[i + 2]), isHex(p[i + 3]), isHex(p[i + 4]), isHex(p[i + 5]) else {
                        throw JSONError(offset: i, message: "invalid \\u escape")
                    }
                    i += 6
                default:
                    throw JSONError(offset: i, message: "invalid escape '\\\(printable(e))'")
                }
            } else if c < 0x20 {
                throw JSONError(offset: i, message: "unescaped control character in string")
            } else {
                i += 1
            }
        }
        nodes.append(JNode(kind: .string, flag: escaped, start: UInt32(start), end: UInt32(i), next: UInt32(nodes.count + 1), count: 0))
        return i + 1
    }

    mutating func object(_ p: UnsafePointer<UInt8>, _ open: Int, _ n: Int, depth: Int) throws -> Int {
        guard depth < maxDepth else { throw JSONError(offset: open, message: "nesting deeper than \(maxDepth)") }
        let me = nodes.count
        nodes.append(JNode(kind: .object, flag: false, start: UInt32(open), end: 0, next: 0, count: 0))
        var i = skipWS(p, open + 1, n)
        var count: UInt32 = 0
        guard i < n else { throw JSONError(offset: open, message: "unterminated object") }
        if p[i] != UInt8(ascii: "}") {
            while true {
                guard i < n, p[i] == UInt8(ascii: "\"") else { throw JSONError(offset: i, message: "expected a string key") }
                i = try string(p, i, n)
                i = skipWS(p, i, n)
                guard i < n, p[i] == UInt8(ascii: ":") else { throw JSONError(offset: i, message: "expected ':'") }
                i = skipWS(p, i + 1, n)
                guard i < n else { throw JSONError(offset: i, message: "unterminated object") }
                i = try value(p, i, n, depth: depth + 1)
                count += 1
                i = skipWS(p, i, n)
                guard i < n else { throw JSONError(offset: open, message: "unterminated object") }
                if p[i] == UInt8(ascii: ",") { i = skipWS(p, i + 1, n); continue }
                if p[i] == UInt8(ascii: "}") { break }
                throw JSONError(offset: i, message: "expected ',' or '}'")
            }
        }
        nodes[me].end = UInt32(i + 1)
        nodes[me].next = UInt32(nodes.count)
        nodes[me].count = count
        return i + 1
    }

    mutating func array(_ p: UnsafePointer<UInt8>, _ open: Int, _ n: Int, depth: Int) throws -> Int {
        guard depth < maxDepth else { throw JSONError(offset: open, message: "nesting deeper than \(maxDepth)") }
        let me = nodes.count
        nodes.append(JNode(kind: .array, flag: false, start: UInt32(open), end: 0, next: 0, count: 0))
        var i = skipWS(p, open + 1, n)
        var count: UInt32 = 0
        guard i < n else { throw JSONError(offset: open, message: "unterminated array") }
        if p[i] != UInt8(ascii: "]") {
            while true {
                guard i < n else { throw JSONError(offset: open, message: "unterminated array") }
                i = try value(p, i, n, depth: depth + 1)
                count += 1
                i = skipWS(p, i, n)
                guard i < n else { throw JSONError(offset: open, message: "unterminated array") }
                if p[i] == UInt8(ascii: ",") { i = skipWS(p, i + 1, n); continue }
                if p[i] == UInt8(ascii: "]") { break }
                throw JSONError(offset: i, message: "expected ',' or ']'")
            }
        }
        nodes[me].end = UInt32(i + 1)
        nodes[me].next = UInt32(nodes.count)
        nodes[me].count = count
        return i + 1
    }
}

@inline(__always) func isHex(_ c: UInt8) -> Bool {
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
}
@inline(__always) func hexVal(_ c: UInt8) -> UInt32 {
    if c <= 0x39 { return UInt32(c - 0x30) }
    if c <= 0x46 { return UInt32(c - 0x41 + 10) }
    return UInt32(c - 0x61 + 10)
}
@inline(__always) func memcmpEq(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i < n { if a[i] != b[i] { return false }; i += 1 }
    return true
}

extension String {
    init(format0x c: UInt8) {
        let d = Array("0123456789abcdef".utf8)
        self = "0x" + String(decoding: [d[Int(c >> 4)], d[Int(c & 15)]], as: UTF8.self)
    }
}

/// A parsed document: the tape plus the buffer it points into (valid only while that buffer lives).
public struct JSONDoc {
    public let base: UnsafePointer<UInt8>
    public let count: Int
    public let nodes: [JNode]

    public var root: JRef { JRef(doc: self, index: 0) }
}

public struct JRef {
    public let doc: JSONDoc
    public let index: Int

    @inline(__always) public var node: JNode { doc.nodes[index] }
    public var kind: JKind { node.kind }
    public var isNull: Bool { node.kind == .null }

    /// Byte offset of this value in the record.
    public var offset: Int { Int(node.start) }

    /// Looks up a key in an object; nil when not an object or absent. With duplicate keys the last
    /// one wins, as in Python's `json` (what most producers of these files were read with).
    public subscript(key: StaticString) -> JRef? {
        guard node.kind == .object else { return nil }
        let kp = key.utf8Start, kl = key.utf8CodeUnitCount
        var i = index + 1
        let end = Int(node.next)
        var found: JRef? = nil
        while i < end {
            let k = doc.nodes[i]
            let v = i + 1
            if !k.flag, Int(k.end - k.start) == kl, memcmpEq(doc.base + Int(k.start), kp, kl) {
                found = JRef(doc: doc, index: v)
            } else if k.flag, decodeString(k) == Array(UnsafeBufferPointer(start: kp, count: kl)) {
                found = JRef(doc: doc, index: v)
            }
            i = Int(doc.nodes[v].next)
        }
        return found
    }

    /// Looks up a key given at run time (the last of duplicate keys wins).
    public func member(_ key: String) -> JRef? {
        guard node.kind == .object else { return nil }
        let kb = Array(key.utf8)
        var found: JRef? = nil
        var i = index + 1
        let end = Int(node.next)
        while i < end {
            let k = doc.nodes[i]
            let v = i + 1
            let match: Bool
            if k.flag { match = decodeString(k) == kb } else {
                match = Int(k.end - k.start) == kb.count && kb.withUnsafeBufferPointer { memcmpEq(doc.base + Int(k.start), $0.baseAddress!, kb.count) }
            }
            if match { found = JRef(doc: doc, index: v) }
            i = Int(doc.nodes[v].next)
        }
        return found
    }

    /// Follows a dotted path such as `input.messages` (array elements by number: `turns.0`).
    public func path(_ path: [String]) -> JRef? {
        var cur: JRef? = self
        for comp in path {
            guard let c = cur else { return nil }
            if c.kind == .array, let idx = Int(comp) { cur = c.element(idx) } else { cur = c.member(comp) }
        }
        return cur
    }

    /// Key/value pairs of an object, in document order.
    public var members: [(key: String, value: JRef)] {
        guard node.kind == .object else { return [] }
        var out: [(String, JRef)] = []
        var i = index + 1
        let end = Int(node.next)
        while i < end {
            let k = doc.nodes[i]
            out.append((String(decoding: decodeString(k), as: UTF8.self), JRef(doc: doc, index: i + 1)))
            i = Int(doc.nodes[i + 1].next)
        }
        return out
    }

    public var elements: [JRef] {
        guard node.kind == .array else { return [] }
        var out: [JRef] = []
        out.reserveCapacity(Int(node.count))
        var i = index + 1
        let end = Int(node.next)
        while i < end { out.append(JRef(doc: doc, index: i)); i = Int(doc.nodes[i].next) }
        return out
    }

    public func element(_ k: Int) -> JRef? {
        guard node.kind == .array, k >= 0, k < Int(node.count) else { return nil }
        var i = index + 1
        for _ in 0..<k { i = Int(doc.nodes[i].next) }
        return JRef(doc: doc, index: i)
    }

    public var count: Int { Int(node.count) }

    /// The decoded bytes of a string value (nil if not a string).
    public var bytes: [UInt8]? {
        guard node.kind == .string else { return nil }
        return decodeString(node)
    }

    public var string: String? {
        guard let b = bytes else { return nil }
        return String(decoding: b, as: UTF8.self)
    }

    /// The raw text of the value (numbers: the literal).
    public var rawText: String {
        String(decoding: UnsafeBufferPointer(start: doc.base + Int(node.start), count: Int(node.end - node.start)), as: UTF8.self)
    }

    public var double: Double? {
        switch node.kind {
        case .number: return Double(rawText)
        default: return nil
        }
    }

    /// An integer value: a JSON number with no fraction (1, 1.0) or a bool (true = 1).
    public var int: Int? {
        switch node.kind {
        case .number:
            if let i = Int(rawText) { return i }
            if let d = Double(rawText), d.rounded() == d, abs(d) < 9.0e15 { return Int(d) }
            return nil
        case .bool: return node.flag ? 1 : 0
        default: return nil
        }
    }

    public var bool: Bool? { node.kind == .bool ? node.flag : nil }

    func decodeString(_ k: JNode) -> [UInt8] {
        let p = doc.base + Int(k.start)
        let n = Int(k.end - k.start)
        if !k.flag { return Array(UnsafeBufferPointer(start: p, count: n)) }
        return JSONStrings.unescape(p, n)
    }
}

public enum JSONStrings {
    /// Decodes JSON escapes. Lone surrogates become U+FFFD.
    public static func unescape(_ p: UnsafePointer<UInt8>, _ n: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(n)
        var i = 0
        while i < n {
            // Copy the plain run up to the next backslash in one go.
            guard let bs = memchr(p + i, 0x5C, n - i) else {
                out.append(contentsOf: UnsafeBufferPointer(start: p + i, count: n - i))
                break
            }
            let j = UnsafeRawPointer(bs).assumingMemoryBound(to: UInt8.self) - p
            if j > i { out.append(contentsOf: UnsafeBufferPointer(start: p + i, count: j - i)) }
            i = j
            let e = p[i + 1]
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A); i += 2
            case UInt8(ascii: "t"): out.append(0x09); i += 2
            case UInt8(ascii: "r"): out.append(0x0D); i += 2
            case UInt8(ascii: "b"): out.append(0x08); i += 2
            case UInt8(ascii: "f"): out.append(0x0C); i += 2
            case UInt8(ascii: "u"):
                var cp = hexVal(p[i + 2]) << 12 | hexVal(p[i + 3]) << 8 | hexVal(p[i + 4]) << 4 | hexVal(p[i + 5])
                i += 6
                if cp >= 0xD800 && cp < 0xDC00 {
                    if i + 6 <= n, p[i] == UInt8(ascii: "\\"), p[i + 1] == UInt8(ascii: "u") {
                        let lo = hexVal(p[i + 2]) << 12 | hexVal(p[i + 3]) << 8 | hexVal(p[i + 4]) << 4 | hexVal(p[i + 5])
                        if lo >= 0xDC00 && lo < 0xE000 {
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                            i += 6
                        } else { cp = 0xFFFD }
                    } else { cp = 0xFFFD }
                } else if cp >= 0xDC00 && cp < 0xE000 {
                    cp = 0xFFFD
                }
                appendUTF8(&out, cp)
            default: out.append(e); i += 2   // \" \\ \/
            }
        }
        return out
    }

    @inline(__always) public static func appendUTF8(_ out: inout [UInt8], _ cp: UInt32) {
        if cp < 0x80 { out.append(UInt8(cp)) }
        else if cp < 0x800 { out.append(UInt8(0xC0 | (cp >> 6))); out.append(UInt8(0x80 | (cp & 0x3F))) }
        else if cp < 0x10000 {
            out.append(UInt8(0xE0 | (cp >> 12))); out.append(UInt8(0x80 | ((cp >> 6) & 0x3F))); out.append(UInt8(0x80 | (cp & 0x3F)))
        } else {
            out.append(UInt8(0xF0 | (cp >> 18))); out.append(UInt8(0x80 | ((cp >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((cp >> 6) & 0x3F))); out.append(UInt8(0x80 | (cp & 0x3F)))
        }
    }
}
