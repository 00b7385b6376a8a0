// Chat templates: the subset of Jinja that Hugging Face chat templates use, rendered as
// `transformers`' apply_chat_template does (jinja2 with trim_blocks and lstrip_blocks): text,
// {{ expressions }}, {% for / if / elif / else / set %}, {# comments #}, whitespace control,
// loop variables, namespace(), string methods and the common filters. A template outside the
// subset is refused with the construct named, never rendered approximately.
import Foundation
import PrefIO

public struct TemplateError: Error, CustomStringConvertible {
    public var description: String
    init(_ m: String) { description = "chat template: " + m }
}

/// A value inside a template.
public indirect enum TValue: Equatable {
    case undefined, none, bool(Bool), int(Int), double(Double), string(String), list([TValue]), dict([(String, TValue)])
    case namespace(NamespaceBox)

    public static func == (a: TValue, b: TValue) -> Bool {
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.double(x), .double(y)): return x == y
        case let (.int(x), .double(y)), let (.double(y), .int(x)): return Double(x) == y
        case let (.string(x), .string(y)): return x == y
        case let (.list(x), .list(y)): return x == y
        case let (.dict(x), .dict(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.namespace(x), .namespace(y)): return x === y
        default: return false
        }
    }

    var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .list(let l): return !l.isEmpty
        case .dict(let d): return !d.isEmpty
        case .namespace: return true
        }
    }

    /// As `{{ }}` prints it (Python's str()).
    var text: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return d == d.rounded() && abs(d) < 1e16 ? String(format: "%.1f", d) : String(d)
        case .string(let s): return s
        case .list(let l): return "[" + l.map(\.repr).joined(separator: ", ") + "]"
        case .dict(let d): return "{" + d.map { "'\($0.0)': \($0.1.repr)" }.joined(separator: ", ") + "}"
        case .namespace: return "<Namespace>"
        }
    }
    var repr: String { if case .string(let s) = self { return "'" + s + "'" }; return text }

    /// JSON, as the `tojson` filter writes it (Python's json.dumps with its default separators).
    var json: String {
        switch self {
        case .undefined, .none: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int, .double: return text
        case .string(let s): return JSONValue.string(s).serialized()
        case .list(let l): return "[" + l.map(\.json).joined(separator: ", ") + "]"
        case .dict(let d): return "{" + d.map { JSONValue.string($0.0).serialized() + ": " + $0.1.json }.joined(separator: ", ") + "}"
        case .namespace: return "{}"
        }
    }
}

public final class NamespaceBox {
    var fields: [String: TValue] = [:]
    init(_ f: [String: TValue]) { fields = f }
}

public struct ChatTemplate {
    indirect enum Expr {
        case literal(TValue), name(String), attr(Expr, String), index(Expr, Expr), slice(Expr, Expr?, Expr?)
        case call(Expr, [Expr], [(String, Expr)]), filter(Expr, String, [Expr]), test(Expr, String, Bool)
        case unary(String, Expr), binary(String, Expr, Expr), ternary(Expr, Expr, Expr), list([Expr]), dict([(Expr, Expr)])
    }
    indirect enum Node {
        case text(String), output(Expr), forLoop([String], Expr, [Node], [Node]), ifChain([(Expr, [Node])], [Node])
        case set([String], Expr), setAttr(String, String, Expr)
    }

    let nodes: [Node]
    public let source: String

    public init(_ source: String) throws {
        self.source = source
        var p = Parser(tokens: try Lexer.tokens(source))
        nodes = try p.block(until: [])
    }

    /// Renders `messages` (role, content) with the template's variables.
    public func render(messages: [[(String, TValue)]], addGenerationPrompt: Bool, extra: [String: TValue] = [:]) throws -> String {
        var env = Env()
        env.scopes = [["messages": .list(messages.map { .dict($0) }), "add_generation_prompt": .bool(addGenerationPrompt)].merging(extra) { $1 }]
        var out = ""
        try env.run(nodes, into: &out)
        return out
    }

    // MARK: Lexing: text and tags, with jinja2's trim_blocks and lstrip_blocks

    enum Tok: Equatable {
        case text(String), exprOpen, exprClose, stmtOpen, stmtClose
        case name(String), string(String), int(Int), double(Double), op(String)
    }

    enum Lexer {
        static func tokens(_ src: String) throws -> [Tok] {
            let s = Array(src.unicodeScalars)
            var out: [Tok] = []
            var i = 0
            var text = ""
            /// Where the pending text began in the source (to know whether it starts a line).
            var textStart = 0
            func flushText() { if !text.isEmpty { out.append(.text(text)) }; text = "" }
            while i < s.count {
                if s[i] == "{" && i + 1 < s.count && (s[i + 1] == "{" || s[i + 1] == "%" || s[i + 1] == "#") {
                    let kind = s[i + 1]
                    let minus = i + 2 < s.count && s[i + 2] == "-"
                    let plus = i + 2 < s.count && s[i + 2] == "+"
                    if minus {
                        while let l = text.unicodeScalars.last, l.properties.isWhitespace { text.unicodeScalars.removeLast() }
                    } else if kind != "{" && !plus {
                        // lstrip_blocks: spaces and tabs between the start of a line and a block tag go.
                        var u = Array(text.unicodeScalars)
                        var j = u.count
                        while j > 0 && (u[j - 1] == " " || u[j - 1] == "\t") { j -= 1 }
                        if j > 0 ? u[j - 1] == "\n" : (textStart == 0 || s[textStart - 1] == "\n") {
                            u.removeSubrange(j...)
                            text = String(String.UnicodeScalarView(u))
                        }
                    }
                    flushText()
                    if kind == "#" {
                        guard let end = find(s, from: i + 2, "#}") else { throw TemplateError("a comment is not closed") }
                        i = end + 2
                        if end > i - 2 && s[end - 1] == "-" { while i < s.count && s[i].properties.isWhitespace { i += 1 } }
                        else if i < s.count && s[i] == "\n" { i += 1 }
                        textStart = i
                        continue
                    }
                    out.append(kind == "{" ? .exprOpen : .stmtOpen)
                    i += (minus || plus) ? 3 : 2
                    let close: [Unicode.Scalar] = kind == "{" ? ["}", "}"] : ["%", "}"]
                    var endMinus = false
                    while true {
                        while i < s.count && s[i].properties.isWhitespace { i += 1 }
                        guard i < s.count else { throw TemplateError("a tag is not closed") }
                        if s[i] == "-" && i + 2 < s.count && s[i + 1] == close[0] && s[i + 2] == close[1] { endMinus = true; i += 3; break }
                        if s[i] == close[0] && i + 1 < s.count && s[i + 1] == close[1] { i += 2; break }
                        out.append(try lexOne(s, &i))
                    }
                    out.append(kind == "{" ? .exprClose : .stmtClose)
                    if endMinus { while i < s.count && s[i].properties.isWhitespace { i += 1 } }
                    else if kind == "%" && i < s.count && s[i] == "\n" { i += 1 }        // trim_blocks
                    textStart = i
                    continue
                }
                text.unicodeScalars.append(s[i])
                i += 1
            }
            flushText()
            return out
        }

        static func find(_ s: [Unicode.Scalar], from: Int, _ pat: String) -> Int? {
            let p = Array(pat.unicodeScalars)
            var i = from
            while i + p.count <= s.count { if Array(s[i..<(i + p.count)]) == p { return i }; i += 1 }
            return nil
        }

        static func lexOne(_ s: [Unicode.Scalar], _ i: inout Int) throws -> Tok {
            let c = s[i]
            if c == "'" || c == "\"" {
                var out = ""
                i += 1
                while i < s.count && s[i] != c {
                    if s[i] == "\\" && i + 1 < s.count {
                        i += 1
                        switch s[i] {
                        case "n": out += "\n"
                        case "t": out += "\t"
                        case "r": out += "\r"
                        case "\\": out += "\\"
                        case "'": out += "'"
                        case "\"": out += "\""
                        default: out += "\\"; out.unicodeScalars.append(s[i])
                        }
                    } else { out.unicodeScalars.append(s[i]) }
                    i += 1
                }
                guard i < s.count else { throw TemplateError("a string is not closed") }
                i += 1
                return .string(out)
            }
            if c.properties.numericType != nil && c.isASCII {
                var j = i
                while j < s.count && (s[j].isASCII && (s[j].properties.numericType != nil || s[j] == ".")) { j += 1 }
                let t = String(String.UnicodeScalarView(s[i..<j]))
                i = j
                if let v = Int(t) { return .int(v) }
                if let v = Double(t) { return .double(v) }
                throw TemplateError("bad number \(t)")
            }
            if c == "_" || c.properties.isAlphabetic {
                var j = i
                while j < s.count && (s[j] == "_" || s[j].properties.isAlphabetic || (s[j].isASCII && s[j].properties.numericType != nil)) { j += 1 }
                defer { i = j }
                return .name(String(String.UnicodeScalarView(s[i..<j])))
            }
            for op in ["==", "!=", "<=", ">=", "//", "**"] where i + 1 < s.count && String(String.UnicodeScalarView(s[i...(i + 1)])) == op {
                i += 2
                return .op(op)
            }
            if "+-*/%~<>()[]{}.,:|=".unicodeScalars.contains(c) { i += 1; return .op(String(c)) }
            throw TemplateError("unexpected character '\(c)'")
        }
    }

    // MARK: Parsing

    struct Parser {
        let tokens: [Tok]
        var pos = 0

        var peek: Tok? { pos < tokens.count ? tokens[pos] : nil }
        mutating func next() -> Tok? { defer { pos += 1 }; return peek }
        mutating func expect(_ t: Tok) throws { guard next() == t else { throw TemplateError("expected \(t) near token \(pos)") } }
        func isName(_ n: String) -> Bool { peek == .name(n) }
        mutating func name() throws -> String { guard case .name(let n)? = next() else { throw TemplateError("expected a name near token \(pos)") }; return n }

        /// Statements up to one of `until` (a statement keyword, not consumed).
        mutating func block(until: Set<String>) throws -> [Node] {
            var nodes: [Node] = []
            while let t = peek {
                switch t {
                case .text(let s): pos += 1; nodes.append(.text(s))
                case .exprOpen:
                    pos += 1
                    let e = try expr()
                    try expect(.exprClose)
                    nodes.append(.output(e))
                case .stmtOpen:
                    guard pos + 1 < tokens.count, case .name(let kw) = tokens[pos + 1] else { throw TemplateError("empty statement") }
                    if until.contains(kw) { return nodes }
                    pos += 2
                    nodes.append(try statement(kw))
                default: throw TemplateError("unexpected token near \(pos)")
                }
            }
            if !until.isEmpty { throw TemplateError("missing {% \(until.sorted().joined(separator: " / ")) %}") }
            return nodes
        }

        mutating func endTag(_ kw: String) throws { try expect(.stmtOpen); guard try name() == kw else { throw TemplateError("expected \(kw)") }; try expect(.stmtClose) }

        mutating func statement(_ kw: String) throws -> Node {
            switch kw {
            case "for":
                var vars = [try name()]
                while peek == .op(",") { pos += 1; vars.append(try name()) }
                guard try name() == "in" else { throw TemplateError("expected 'in' in a for loop") }
                let seq = try expr(noTernary: true)
                if isName("if") { throw TemplateError("'for ... if' filters are not supported") }
                if isName("recursive") { throw TemplateError("recursive loops are not supported") }
                try expect(.stmtClose)
                let body = try block(until: ["endfor", "else"])
                var otherwise: [Node] = []
                try expect(.stmtOpen)
                if try name() == "else" {
                    try expect(.stmtClose)
                    otherwise = try block(until: ["endfor"])
                    try endTag("endfor")
                } else { try expect(.stmtClose) }
                return .forLoop(vars, seq, body, otherwise)
            case "if":
                var branches: [(Expr, [Node])] = []
                var cond = try expr()
                try expect(.stmtClose)
                var otherwise: [Node] = []
                while true {
                    let body = try block(until: ["elif", "else", "endif"])
                    branches.append((cond, body))
                    try expect(.stmtOpen)
                    let k = try name()
                    if k == "elif" { cond = try expr(); try expect(.stmtClose); continue }
                    try expect(.stmtClose)
                    if k == "else" { otherwise = try block(until: ["endif"]); try endTag("endif") }
                    break
                }
                return .ifChain(branches, otherwise)
            case "set":
                let first = try name()
                if peek == .op(".") {
                    pos += 1
                    let attr = try name()
                    try expect(.op("="))
                    let e = try expr()
                    try expect(.stmtClose)
                    return .setAttr(first, attr, e)
                }
                var names = [first]
                while peek == .op(",") { pos += 1; names.append(try name()) }
                guard peek == .op("=") else { throw TemplateError("block 'set' is not supported") }
                pos += 1
                let e = try expr()
                try expect(.stmtClose)
                return .set(names, e)
            default:
                throw TemplateError("the statement '\(kw)' is not supported (supported: for, if, set)")
            }
        }

        // Expressions, lowest precedence first.
        mutating func expr(noTernary: Bool = false) throws -> Expr {
            let e = try orExpr()
            if !noTernary && isName("if") {
                pos += 1
                let c = try orExpr()
                var otherwise: Expr = .literal(.undefined)
                if isName("else") { pos += 1; otherwise = try expr() }
                return .ternary(c, e, otherwise)
            }
            return e
        }
        mutating func orExpr() throws -> Expr {
            var e = try andExpr()
            while isName("or") { pos += 1; e = .binary("or", e, try andExpr()) }
            return e
        }
        mutating func andExpr() throws -> Expr {
            var e = try notExpr()
            while isName("and") { pos += 1; e = .binary("and", e, try notExpr()) }
            return e
        }
        mutating func notExpr() throws -> Expr {
            if isName("not") { pos += 1; return .unary("not", try notExpr()) }
            return try compare()
        }
        mutating func compare() throws -> Expr {
            var e = try concat()
            while true {
                if case .op(let o)? = peek, ["==", "!=", "<", ">", "<=", ">="].contains(o) { pos += 1; e = .binary(o, e, try concat()); continue }
                if isName("in") { pos += 1; e = .binary("in", e, try concat()); continue }
                if isName("not"), pos + 1 < tokens.count, tokens[pos + 1] == .name("in") { pos += 2; e = .unary("not", .binary("in", e, try concat())); continue }
                if isName("is") {
                    pos += 1
                    var negate = false
                    if isName("not") { pos += 1; negate = true }
                    let t = try name()
                    e = .test(e, t, negate)
                    continue
                }
                return e
            }
        }
        mutating func concat() throws -> Expr {
            var e = try additive()
            while peek == .op("~") { pos += 1; e = .binary("~", e, try additive()) }
            return e
        }
        mutating func additive() throws -> Expr {
            var e = try term()
            while case .op(let o)? = peek, o == "+" || o == "-" { pos += 1; e = .binary(o, e, try term()) }
            return e
        }
        mutating func term() throws -> Expr {
            var e = try unaryMinus()
            while case .op(let o)? = peek, ["*", "/", "%", "//"].contains(o) { pos += 1; e = .binary(o, e, try unaryMinus()) }
            return e
        }
        mutating func unaryMinus() throws -> Expr {
            if peek == .op("-") { pos += 1; return .unary("-", try unaryMinus()) }
            return try postfix()
        }
        mutating func postfix() throws -> Expr {
            var e = try primary()
            while true {
                if peek == .op(".") { pos += 1; e = .attr(e, try name()); continue }
                if peek == .op("[") {
                    pos += 1
                    var a: Expr? = nil, b: Expr? = nil
                    if peek != .op(":") { a = try expr() }
                    if peek == .op(":") {
                        pos += 1
                        if peek != .op("]") { b = try expr() }
                        try expect(.op("]"))
                        e = .slice(e, a, b)
                    } else {
                        try expect(.op("]"))
                        e = .index(e, a!)
                    }
                    continue
                }
                if peek == .op("(") {
                    pos += 1
                    var args: [Expr] = [], kw: [(String, Expr)] = []
                    while peek != .op(")") {
                        if case .name(let n)? = peek, pos + 1 < tokens.count, tokens[pos + 1] == .op("=") { pos += 2; kw.append((n, try expr())) } else { args.append(try expr()) }
                        if peek == .op(",") { pos += 1 }
                    }
                    pos += 1
                    e = .call(e, args, kw)
                    continue
                }
                if peek == .op("|") {
                    pos += 1
                    let f = try name()
                    var args: [Expr] = []
                    if peek == .op("(") {
                        pos += 1
                        while peek != .op(")") { args.append(try expr()); if peek == .op(",") { pos += 1 } }
                        pos += 1
                    }
                    e = .filter(e, f, args)
                    continue
                }
                return e
            }
        }
        mutating func primary() throws -> Expr {
            switch next() {
            case .string(let s)?:
                var str = s
                while case .string(let more)? = peek { pos += 1; str += more }       // adjacent literals join
                return .literal(.string(str))
            case .int(let i)?: return .literal(.int(i))
            case .double(let d)?: return .literal(.double(d))
            case .name(let n)?:
                switch n {
                case "true", "True": return .literal(.bool(true))
                case "false", "False": return .literal(.bool(false))
                case "none", "None": return .literal(.none)
                default: return .name(n)
                }
            case .op("(")?:
                let e = try expr()
                try expect(.op(")"))
                return e
            case .op("[")?:
                var items: [Expr] = []
                while peek != .op("]") { items.append(try expr()); if peek == .op(",") { pos += 1 } }
                pos += 1
                return .list(items)
            case .op("{")?:
                var items: [(Expr, Expr)] = []
                while peek != .op("}") {
                    let k = try expr()
                    try expect(.op(":"))
                    items.append((k, try expr()))
                    if peek == .op(",") { pos += 1 }
                }
                pos += 1
                return .dict(items)
            default: throw TemplateError("unexpected token near \(pos)")
            }
        }
    }

    // MARK: Evaluation

    struct Env {
        var scopes: [[String: TValue]] = []
        var steps = 0

        func lookup(_ n: String) -> TValue {
            for s in scopes.reversed() { if let v = s[n] { return v } }
            return .undefined
        }

        mutating func run(_ nodes: [Node], into out: inout String) throws {
            for n in nodes {
                steps += 1
                guard steps < 10_000_000 else { throw TemplateError("the template runs too long") }
                switch n {
                case .text(let s): out += s
                case .output(let e): out += try eval(e).text
                case .set(let names, let e):
                    let v = try eval(e)
                    if names.count == 1 { scopes[scopes.count - 1][names[0]] = v } else {
                        guard case .list(let items) = v, items.count == names.count else { throw TemplateError("cannot unpack into \(names.count) names") }
                        for (k, x) in zip(names, items) { scopes[scopes.count - 1][k] = x }
                    }
                case .setAttr(let n, let a, let e):
                    guard case .namespace(let box) = lookup(n) else { throw TemplateError("'\(n)' is not a namespace") }
                    box.fields[a] = try eval(e)
                case .ifChain(let branches, let otherwise):
                    var done = false
                    for (c, body) in branches where try eval(c).truthy { try run(body, into: &out); done = true; break }
                    if !done { try run(otherwise, into: &out) }
                case .forLoop(let vars, let seqE, let body, let otherwise):
                    let items: [TValue]
                    switch try eval(seqE) {
                    case .list(let l): items = l
                    case .dict(let d): items = d.map { .string($0.0) }
                    case .string(let s): items = s.map { .string(String($0)) }
                    case .undefined, .none: items = []
                    default: throw TemplateError("cannot loop over a value that is not a list")
                    }
                    if items.isEmpty { try run(otherwise, into: &out); continue }
                    for (k, item) in items.enumerated() {
                        var scope: [String: TValue] = ["loop": .dict([("index0", .int(k)), ("index", .int(k + 1)), ("first", .bool(k == 0)),
                                                                       ("last", .bool(k == items.count - 1)), ("length", .int(items.count)),
                                                                       ("revindex", .int(items.count - k)), ("revindex0", .int(items.count - k - 1)),
                                                                       ("previtem", k > 0 ? items[k - 1] : .undefined),
                                                                       ("nextitem", k + 1 < items.count ? items[k + 1] : .undefined)])]
                        if vars.count == 1 { scope[vars[0]] = item } else {
                            guard case .list(let parts) = item, parts.count == vars.count else { throw TemplateError("cannot unpack a loop item") }
                            for (n, v) in zip(vars, parts) { scope[n] = v }
                        }
                        scopes.append(scope)
                        try run(body, into: &out)
                        // `set` inside a loop does not leak out of it (jinja2 scoping).
                        scopes.removeLast()
                    }
                }
            }
        }

        func eval(_ e: Expr) throws -> TValue {
            switch e {
            case .literal(let v): return v
            case .name(let n): return lookup(n)
            case .list(let l): return .list(try l.map { try eval($0) })
            case .dict(let d):
                return .dict(try d.map { k, v in
                    guard case .string(let key) = try eval(k) else { throw TemplateError("dictionary keys must be strings") }
                    return (key, try eval(v))
                })
            case .attr(let o, let a):
                let v = try eval(o)
                switch v {
                case .dict(let d): return d.first { $0.0 == a }?.1 ?? .undefined
                case .namespace(let b): return b.fields[a] ?? .undefined
                default: return .undefined
                }
            case .index(let o, let i):
                let v = try eval(o), k = try eval(i)
                switch (v, k) {
                case (.dict(let d), .string(let s)): return d.first { $0.0 == s }?.1 ?? .undefined
                case (.list(let l), .int(let n)): let j = n < 0 ? l.count + n : n; return l.indices.contains(j) ? l[j] : .undefined
                case (.string(let s), .int(let n)): let c = Array(s); let j = n < 0 ? c.count + n : n; return c.indices.contains(j) ? .string(String(c[j])) : .undefined
                default: return .undefined
                }
            case .slice(let o, let a, let b):
                let v = try eval(o)
                func bounds(_ n: Int) throws -> Range<Int> {
                    func norm(_ x: TValue?, _ d: Int) -> Int { guard case .int(let i)? = x else { return d }; return max(0, min(n, i < 0 ? n + i : i)) }
                    let lo = norm(try a.map { try eval($0) }, 0), hi = norm(try b.map { try eval($0) }, n)
                    return lo..<max(lo, hi)
                }
                switch v {
                case .list(let l): return .list(Array(l[try bounds(l.count)]))
                case .string(let s): let c = Array(s); return .string(String(c[try bounds(c.count)]))
                default: return .undefined
                }
            case .ternary(let c, let a, let b): return try eval(c).truthy ? try eval(a) : try eval(b)
            case .unary(let o, let x):
                let v = try eval(x)
                if o == "not" { return .bool(!v.truthy) }
                switch v { case .int(let i): return .int(-i); case .double(let d): return .double(-d); default: throw TemplateError("cannot negate \(v.repr)") }
            case .binary(let o, let a, let b):
                if o == "and" { let x = try eval(a); return x.truthy ? try eval(b) : x }
                if o == "or" { let x = try eval(a); return x.truthy ? x : try eval(b) }
                return try Env.binary(o, try eval(a), try eval(b))
            case .test(let x, let t, let negate):
                let v = try eval(x)
                let r: Bool
                switch t {
                case "defined": if case .undefined = v { r = false } else { r = true }
                case "undefined": if case .undefined = v { r = true } else { r = false }
                case "none": r = v == .none
                case "string": if case .string = v { r = true } else { r = false }
                case "mapping": if case .dict = v { r = true } else { r = false }
                case "iterable", "sequence": switch v { case .list, .string, .dict: r = true; default: r = false }
                case "number": switch v { case .int, .double: r = true; default: r = false }
                case "boolean": if case .bool = v { r = true } else { r = false }
                case "true": r = v == .bool(true)
                case "false": r = v == .bool(false)
                default: throw TemplateError("the test '\(t)' is not supported")
                }
                return .bool(negate ? !r : r)
            case .filter(let x, let f, let args):
                let v = try eval(x)
                let a = try args.map { try eval($0) }
                switch f {
                case "trim": return .string(v.text.trimmingCharacters(in: .whitespacesAndNewlines))
                case "length", "count":
                    switch v { case .list(let l): return .int(l.count); case .string(let s): return .int(s.count); case .dict(let d): return .int(d.count); default: return .int(0) }
                case "tojson": return .string(v.json)
                case "string": return .string(v.text)
                case "lower": return .string(v.text.lowercased())
                case "upper": return .string(v.text.uppercased())
                case "capitalize": let s = v.text.lowercased(); return .string(s.prefix(1).uppercased() + s.dropFirst())
                case "first": if case .list(let l) = v { return l.first ?? .undefined }; return .undefined
                case "last": if case .list(let l) = v { return l.last ?? .undefined }; return .undefined
                case "default", "d": if case .undefined = v { return a.first ?? .string("") }; return v
                case "join":
                    guard case .list(let l) = v else { return v }
                    return .string(l.map(\.text).joined(separator: a.first?.text ?? ""))
                case "int": if case .string(let s) = v { return .int(Int(s) ?? 0) }; if case .double(let d) = v { return .int(Int(d)) }; return v
                default: throw TemplateError("the filter '\(f)' is not supported")
                }
            case .call(let fn, let args, let kw):
                let a = try args.map { try eval($0) }
                if case .attr(let obj, let method) = fn { return try Env.method(try eval(obj), method, a) }
                guard case .name(let n) = fn else { throw TemplateError("only named functions can be called") }
                switch n {
                case "raise_exception": throw TemplateError("the template raised: \(a.first?.text ?? "")")
                case "namespace": return .namespace(NamespaceBox(Dictionary(try kw.map { ($0.0, try eval($0.1)) }, uniquingKeysWith: { $1 })))
                case "range":
                    let ints = a.compactMap { if case .int(let i) = $0 { return i }; return nil }
                    let (lo, hi) = ints.count == 1 ? (0, ints[0]) : (ints.first ?? 0, ints.dropFirst().first ?? 0)
                    guard hi - lo <= 1_000_000 else { throw TemplateError("range too large") }
                    return .list(lo < hi ? (lo..<hi).map { .int($0) } : [])
                default: throw TemplateError("the function '\(n)' is not supported")
                }
            }
        }

        static func method(_ v: TValue, _ m: String, _ a: [TValue]) throws -> TValue {
            switch (v, m) {
            case (.string(let s), "strip"): return .string(a.isEmpty ? s.trimmingCharacters(in: .whitespacesAndNewlines) : s.trimmingCharacters(in: CharacterSet(charactersIn: a[0].text)))
            case (.string(let s), "lstrip"): return .string(String(s.drop(while: { $0.isWhitespace })))
            case (.string(let s), "rstrip"): return .string(String(s.reversed().drop(while: { $0.isWhitespace }).reversed()))
            case (.string(let s), "startswith"): return .bool(s.hasPrefix(a.first?.text ?? ""))
            case (.string(let s), "endswith"): return .bool(s.hasSuffix(a.first?.text ?? ""))
            case (.string(let s), "lower"): return .string(s.lowercased())
            case (.string(let s), "upper"): return .string(s.uppercased())
            case (.string(let s), "split"):
                if let sep = a.first?.text { return .list(s.components(separatedBy: sep).map { .string($0) }) }
                return .list(s.split(whereSeparator: { $0.isWhitespace }).map { .string(String($0)) })
            case (.string(let s), "replace"): return .string(s.replacingOccurrences(of: a.first?.text ?? "", with: a.dropFirst().first?.text ?? ""))
            case (.dict(let d), "items"): return .list(d.map { .list([.string($0.0), $0.1]) })
            case (.dict(let d), "keys"): return .list(d.map { .string($0.0) })
            case (.dict(let d), "values"): return .list(d.map { $0.1 })
            case (.dict(let d), "get"):
                guard case .string(let k)? = a.first else { return .none }
                return d.first { $0.0 == k }?.1 ?? (a.dropFirst().first ?? .none)
            default: throw TemplateError("the method '\(m)' is not supported on this value")
            }
        }

        static func binary(_ o: String, _ a: TValue, _ b: TValue) throws -> TValue {
            switch o {
            case "==": return .bool(a == b)
            case "!=": return .bool(a != b)
            case "~": return .string(a.text + b.text)
            case "in":
                switch b {
                case .string(let s): return .bool(s.contains(a.text))
                case .list(let l): return .bool(l.contains(a))
                case .dict(let d): return .bool(d.contains { .string($0.0) == a })
                default: return .bool(false)
                }
            default: break
            }
            switch (a, b) {
            case let (.string(x), .string(y)):
                switch o {
                case "+": return .string(x + y)
                case "<": return .bool(x < y); case ">": return .bool(x > y); case "<=": return .bool(x <= y); case ">=": return .bool(x >= y)
                default: break
                }
            case let (.list(x), .list(y)) where o == "+": return .list(x + y)
            case let (.int(x), .int(y)):
                switch o {
                case "+": return .int(x &+ y); case "-": return .int(x &- y); case "*": return .int(x &* y)
                case "//": guard y != 0 else { throw TemplateError("division by zero") }; return .int(Int((Double(x) / Double(y)).rounded(.down)))
                case "%": guard y != 0 else { throw TemplateError("division by zero") }; return .int(((x % y) + y) % y)
                case "/": guard y != 0 else { throw TemplateError("division by zero") }; return .double(Double(x) / Double(y))
                case "<": return .bool(x < y); case ">": return .bool(x > y); case "<=": return .bool(x <= y); case ">=": return .bool(x >= y)
                default: break
                }
            default:
                if let x = num(a), let y = num(b) {
                    switch o {
                    case "+": return .double(x + y); case "-": return .double(x - y); case "*": return .double(x * y); case "/": return .double(x / y)
                    case "<": return .bool(x < y); case ">": return .bool(x > y); case "<=": return .bool(x <= y); case ">=": return .bool(x >= y)
                    default: break
                    }
                }
            }
            throw TemplateError("cannot apply '\(o)' to \(a.repr) and \(b.repr)")
        }

        static func num(_ v: TValue) -> Double? {
            switch v { case .int(let i): return Double(i); case .double(let d): return d; default: return nil }
        }
    }
}
