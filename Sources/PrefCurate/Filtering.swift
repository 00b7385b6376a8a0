// `prefkit filter`: small named filters, each deciding keep or remove for one pair, applied in the
// order given; the first filter that removes a pair is its reason. A grouped filter
// (`max-pairs-per-prompt`) looks at all pairs of a prompt, so it runs after the others, over the
// survivors.
//
// Every filter is one `FilterDef` in `Filters.table`: its name (the removal reason and the name in
// a config file), its flag, its help, its parameter, and what it keeps. `prefkit filter` declares
// one flag per entry (a test checks they agree); everything else (parsing a flag value or a config
// entry, checking ranges, the pass itself) is here.
import Foundation
import PrefCore
import PrefIO

/// A mistake in a filter's flag or config entry: one sentence, shown as a usage error.
public struct FilterError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

/// What a filter takes, on the command line and in a config file.
public enum FilterParameter: Sendable {
    /// A flag (`--tie`); config: `{"name": "tie"}`.
    case none
    /// A number (`--min-margin 1`), finite, at least `min` when given; config: `"value"`.
    case number(min: Double?)
    /// A whole number of at least `min`; config: `"value"`.
    case count(min: Int)
    /// `MIN:MAX` whole numbers >= 0, either may be empty; config: `"min"`, `"max"`.
    case bounds
    /// `LO:HI` finite numbers with 0 <= LO <= HI; config: `"min"`, `"max"`.
    case ratio
    /// Language codes, `en,de`; config: `"languages"`.
    case languages
    /// A file of regular expressions (one per line, `#` comments) and the fields they are matched
    /// against (`--block-fields`); config: `"patterns"` (list), `"fields"` (list).
    case patterns
    /// A token limit (`--max-tokens N`, with `--max-prompt-tokens M` and the model's
    /// `--tokenizer PATH`); config: `"value"`, `"prompt"`, `"tokenizer"`.
    case tokens
}

/// A parsed parameter.
public enum FilterArgument: Sendable {
    case none
    case number(Double)
    case count(Int)
    case bounds(Int?, Int?)
    case ratio(Double, Double)
    case languages(Set<Script>)
    case patterns([String], fields: Set<String>)
    case tokens(max: Int, maxPrompt: Int?, tokenizer: String)
}

/// What building a filter may need from outside PrefCurate: a model's tokenizer, by path.
public struct FilterContext: Sendable {
    public var tokenizer: @Sendable (String) throws -> PairTokenCounter
    public init(tokenizer: @escaping @Sendable (String) throws -> PairTokenCounter) { self.tokenizer = tokenizer }
    public static let none = FilterContext { path in throw FilterError("--tokenizer \(path): no tokenizer can be loaded here") }
}

/// What a filter does with pairs.
public enum FilterStage: Sendable {
    /// Keep or remove each pair on its own.
    case pair(@Sendable (Pair) -> Bool)
    /// Keep (nil) or remove each pair with a reason of the filter's own (a filter that can also
    /// fail to decide, such as a pattern that runs out of time).
    case pairReason(@Sendable (Pair) -> String?)
    /// Among the pairs left with the same normalized prompt, keep the `n` with the largest margin
    /// (no score counts as 0), ties broken by id.
    case perPrompt(Int)
}

public struct FilterDef: Sendable {
    /// The removal reason, the name in `--filters` and in a config file.
    public let name: String
    /// The command-line flag, without `--`.
    public let flag: String
    public let help: String
    public let parameter: FilterParameter
    let build: @Sendable (FilterArgument, FilterContext) throws -> FilterStage

    init(name: String, flag: String, help: String, parameter: FilterParameter, build: @escaping @Sendable (FilterArgument, FilterContext) throws -> FilterStage) {
        self.name = name; self.flag = flag; self.help = help; self.parameter = parameter; self.build = build
    }

    init(name: String, flag: String, help: String, parameter: FilterParameter, build: @escaping @Sendable (FilterArgument) throws -> FilterStage) {
        self.init(name: name, flag: flag, help: help, parameter: parameter) { a, _ in try build(a) }
    }
}

/// A filter with its argument: one step of a run.
public struct FilterChoice: Sendable {
    public let def: FilterDef
    public let argument: FilterArgument
    public init(_ def: FilterDef, _ argument: FilterArgument) { self.def = def; self.argument = argument }
}

public enum Filters {
    /// Every filter, in the order `prefkit filter` runs the ones whose flags are given.
    public static let table: [FilterDef] = [
        FilterDef(name: "empty", flag: "empty", help: "Remove pairs with a blank prompt or response.", parameter: .none) { _ in
            .pair { p in !blank(p.prompt) && !blank(p.chosen) && !blank(p.rejected) }
        },
        FilterDef(name: "identical", flag: "identical", help: "Remove pairs whose chosen and rejected replies are equal up to white space.", parameter: .none) { _ in
            .pair { p in p.chosen.map { TextNorm.collapseSpace($0.content) } != p.rejected.map { TextNorm.collapseSpace($0.content) } }
        },
        FilterDef(name: "tie", flag: "tie", help: "Remove pairs with equal scores.", parameter: .none) { _ in
            .pair { p in Measure.margin(p).map { $0 != 0 } ?? true }
        },
        FilterDef(name: "min-margin", flag: "min-margin", help: "Remove pairs whose score gap (chosen - rejected) is below this.", parameter: .number(min: nil)) { a in
            guard case .number(let t) = a else { throw FilterError("min-margin takes a number") }
            return .pair { p in Measure.margin(p).map { $0 >= t } ?? true }
        },
        FilterDef(name: "min-ratio", flag: "min-ratio", help: "Remove pairs whose score ratio (chosen / rejected, SHP style) is below this.", parameter: .number(min: 0)) { a in
            guard case .number(let r) = a else { throw FilterError("min-ratio takes a number") }
            return .pair { p in
                guard let c = p.scoreChosen, let j = p.scoreRejected else { return true }
                if j <= 0 { return c > j }
                return c / j >= r
            }
        },
        FilterDef(name: "prompt-chars", flag: "prompt-chars", help: "Prompt length bounds in characters, MIN:MAX (either may be empty).", parameter: .bounds) { a in
            guard case .bounds(let lo, let hi) = a else { throw FilterError("prompt-chars takes bounds") }
            return .pair { p in within(Measure.chars(p.prompt), lo, hi) }
        },
        FilterDef(name: "prompt-words", flag: "prompt-words", help: "Prompt length bounds in words, MIN:MAX.", parameter: .bounds) { a in
            guard case .bounds(let lo, let hi) = a else { throw FilterError("prompt-words takes bounds") }
            return .pair { p in within(Measure.words(p.prompt), lo, hi) }
        },
        FilterDef(name: "response-chars", flag: "response-chars", help: "Bounds for each response in characters, MIN:MAX.", parameter: .bounds) { a in
            guard case .bounds(let lo, let hi) = a else { throw FilterError("response-chars takes bounds") }
            return .pair { p in within(Measure.chars(p.chosen), lo, hi) && within(Measure.chars(p.rejected), lo, hi) }
        },
        FilterDef(name: "response-words", flag: "response-words", help: "Bounds for each response in words, MIN:MAX.", parameter: .bounds) { a in
            guard case .bounds(let lo, let hi) = a else { throw FilterError("response-words takes bounds") }
            return .pair { p in within(Measure.words(p.chosen), lo, hi) && within(Measure.words(p.rejected), lo, hi) }
        },
        FilterDef(name: "max-turns", flag: "max-turns", help: "Remove pairs whose prompt has more user/assistant turns than this.", parameter: .count(min: 0)) { a in
            guard case .count(let n) = a else { throw FilterError("max-turns takes a count") }
            return .pair { p in p.prompt.filter { $0.role != .system }.count <= n }
        },
        FilterDef(name: "length-ratio", flag: "length-ratio", help: "Keep pairs whose chosen/rejected length ratio (characters) is within LO:HI, e.g. 0.5:2.", parameter: .ratio) { a in
            guard case .ratio(let lo, let hi) = a else { throw FilterError("length-ratio takes LO:HI") }
            return .pair { p in
                let c = Double(Measure.chars(p.chosen)), r = Double(Measure.chars(p.rejected))
                if r == 0 { return c == 0 }
                let x = c / r
                return x >= lo && x <= hi
            }
        },
        FilterDef(name: "regex", flag: "block-patterns", help: "File of regular expressions (one per line, # comments) that remove a pair when they match.", parameter: .patterns) { a in
            guard case .patterns(let patterns, let fields) = a else { throw FilterError("regex takes patterns") }
            let res = try patterns.map { pat -> NSRegularExpression in
                do { return try NSRegularExpression(pattern: pat, options: []) } catch { throw FilterError("invalid regular expression '\(pat)'") }
            }
            // A pattern may backtrack for ever on some text ("(x+x+)+y"): each search has a time
            // limit, and a pair whose search runs out of it is removed as `regex_timeout`.
            let limit = Filters.regexSecondsPerText
            return .pairReason { p in
                var texts: [String] = []
                if fields.contains("prompt") { texts += p.prompt.map(\.text) }
                if fields.contains("chosen") { texts += p.chosen.map(\.text) }
                if fields.contains("rejected") { texts += p.rejected.map(\.text) }
                for t in texts {
                    let r = NSRange(t.startIndex..., in: t)
                    for re in res {
                        let start = DispatchTime.now().uptimeNanoseconds
                        var matched = false, timedOut = false
                        re.enumerateMatches(in: t, options: [.reportProgress], range: r) { m, _, stop in
                            if m != nil { matched = true; stop.pointee = true }
                            else if Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 > limit { timedOut = true; stop.pointee = true }
                        }
                        if matched { return "regex" }
                        if timedOut { return "regex_timeout" }
                    }
                }
                return nil
            }
        },
        FilterDef(name: "lang", flag: "lang", help: "Keep pairs whose prompt and chosen text are mainly in the script of these languages, e.g. en,de or zh.", parameter: .languages) { a in
            guard case .languages(let scripts) = a else { throw FilterError("lang takes languages") }
            return .pair { p in
                guard let d = Script.dominant(TextNorm.text(p.prompt) + [0x0A] + TextNorm.text(p.chosen)) else { return false }
                return scripts.contains(d)
            }
        },
        FilterDef(name: "max-tokens", flag: "max-tokens",
                  help: "Remove pairs whose rendered prompt plus either reply is over N tokens of the model given by --tokenizer (its chat template and tokenizer, as TRL renders pairs); with --max-prompt-tokens M, also those whose prompt is over M.",
                  parameter: .tokens) { a, context in
            guard case .tokens(let n, let m, let path) = a else { throw FilterError("max-tokens takes a count") }
            let counter: PairTokenCounter
            do { counter = try context.tokenizer(path) } catch let e as FilterError { throw e } catch { throw FilterError("--tokenizer \(path): \(error)") }
            return .pairReason { p in
                // A pair the template cannot render is removed as such, not counted as too long.
                guard let c = try? counter.count(p) else { return "untokenizable" }
                if let m, c.prompt > m { return "max-prompt-tokens" }
                return c.sequence > n ? "max-tokens" : nil
            }
        },
        FilterDef(name: "max-pairs-per-prompt", flag: "max-pairs-per-prompt", help: "Keep at most N pairs per prompt (largest margin first, ties by id).", parameter: .count(min: 1)) { a in
            guard case .count(let n) = a else { throw FilterError("max-pairs-per-prompt takes a count") }
            return .perPrompt(n)
        },
    ]

    public static func named(_ name: String) -> FilterDef? { table.first { $0.name == name } }

    /// How long one pattern may search one text before the pair is removed as `regex_timeout`.
    public static let regexSecondsPerText = 1.0
    public static var names: [String] { table.map(\.name) }

    static func blank(_ ms: [Message]) -> Bool { ms.allSatisfy { TextNorm.collapseSpace($0.content).isEmpty } }
    static func within(_ v: Int, _ lo: Int?, _ hi: Int?) -> Bool { (lo.map { v >= $0 } ?? true) && (hi.map { v <= $0 } ?? true) }

    static func scripts(_ l: String, _ at: String) throws -> Set<Script> {
        Set(try l.split(separator: ",").map { code in
            guard let s = Script.forLanguage(String(code)) else { throw FilterError("\(at): no script known for '\(code)'") }
            return s
        })
    }

    // MARK: Command line

    /// The filters of a command line. `given` holds each filter flag that was given (by flag name,
    /// "" for a plain flag) and `--block-fields`; `order` is `--filters`. Without an order, every
    /// given filter runs, in table order; with one, the named filters run in that order (a filter
    /// with a parameter needs its flag).
    public static func fromFlags(_ given: [String: String], order: String?) throws -> [FilterChoice] {
        var available: [(String, FilterChoice)] = []
        for def in table {
            guard let raw = given[def.flag] else { continue }
            available.append((def.name, FilterChoice(def, try parse(def, flagValue: raw, given: given))))
        }
        guard let order else { return available.map(\.1) }
        return try order.split(separator: ",").map(String.init).map { name in
            if let c = available.first(where: { $0.0 == name }) { return c.1 }
            if let def = named(name), case .none = def.parameter { return FilterChoice(def, .none) }
            throw FilterError("filter '\(name)' is unknown or needs its option (e.g. --\(named(name)?.flag ?? name) VALUE)")
        }
    }

    static func parse(_ def: FilterDef, flagValue v: String, given: [String: String]) throws -> FilterArgument {
        let at = "--\(def.flag)"
        switch def.parameter {
        case .none: return .none
        case .number(let min):
            guard let d = Double(v), d.isFinite else { throw FilterError("\(at) must be a finite number") }
            if let m = min, d < m { throw FilterError("\(at) must be at least \(m) (got \(d))") }
            return .number(d)
        case .count(let min):
            guard let n = Int(v) else { throw FilterError("\(at) takes a whole number, got '\(v)'") }
            guard n >= min else { throw FilterError("\(at) must be at least \(min) (got \(n))") }
            return .count(n)
        case .bounds:
            let p = v.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard p.count == 2, p[0].isEmpty || (Int(p[0]) ?? -1) >= 0, p[1].isEmpty || (Int(p[1]) ?? -1) >= 0 else {
                throw FilterError("\(at) takes MIN:MAX, whole numbers >= 0 (either may be empty)")
            }
            if let lo = Int(p[0]), let hi = Int(p[1]), lo > hi { throw FilterError("\(at): MIN must not exceed MAX") }
            return .bounds(Int(p[0]), Int(p[1]))
        case .ratio:
            let p = v.split(separator: ":").compactMap { Double($0) }
            guard p.count == 2, p[0].isFinite, p[1].isFinite, p[0] >= 0, p[0] <= p[1] else { throw FilterError("\(at) takes LO:HI, finite numbers with 0 <= LO <= HI") }
            return .ratio(p[0], p[1])
        case .languages:
            return .languages(try scripts(v, at))
        case .patterns:
            guard let text = (try? Sources.readAll(v)).map({ String(decoding: $0, as: UTF8.self) }) else {
                throw FilterError("\(at) \(v): cannot read the file")
            }
            let pats = text.split(separator: "\n").map(String.init).filter { !$0.isEmpty && !$0.hasPrefix("#") }
            let fields = (given["block-fields"] ?? "prompt,chosen,rejected").split(separator: ",").map(String.init)
            return .patterns(pats, fields: Set(fields))
        case .tokens:
            guard let n = Int(v), n >= 1 else { throw FilterError("\(at) takes a whole number of tokens >= 1, got '\(v)'") }
            var m: Int? = nil
            if let raw = given["max-prompt-tokens"] {
                guard let x = Int(raw), x >= 1, x < n else { throw FilterError("--max-prompt-tokens takes a whole number from 1 to below --max-tokens, got '\(raw)'") }
                m = x
            }
            guard let t = given["tokenizer"], !t.isEmpty else { throw FilterError("\(at) counts tokens with a model's tokenizer: give --tokenizer PATH (a GGUF file, a Hugging Face directory or a tokenizer.json)") }
            return .tokens(max: n, maxPrompt: m, tokenizer: t)
        }
    }

    // MARK: Config file

    /// Reads a filter config, `{"filters": [{"name": ..., parameters}, ...]}`; every mistake is one
    /// sentence naming the file (and the line and column for JSON errors).
    public static func fromConfig(_ path: String) throws -> [FilterChoice] {
        let bytes: [UInt8]
        do { bytes = try Sources.readAll(path) } catch {
            throw FilterError("--config \(path): cannot read the file (\((error as? StreamError)?.message ?? "\(error)"))")
        }
        let v: JSONValue
        do { v = try JSONValue.parse(bytes: bytes) } catch let e as JSONError {
            let upto = bytes.prefix(min(e.offset, bytes.count))
            let line = upto.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
            let column = upto.count - (upto.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0) + 1
            throw FilterError("--config \(path): not valid JSON at line \(line), column \(column): \(e.message)")
        }
        guard case .object = v else { throw FilterError("--config \(path): expected a JSON object {\"filters\": [...]}") }
        guard let filters = v["filters"] else { throw FilterError("--config \(path): expected a \"filters\" key holding a list") }
        guard let list = filters.arrayValue else { throw FilterError("--config \(path): \"filters\" must be a list of objects, got \(filters.typeName)") }
        return try list.enumerated().map { (k, f) in
            let at = "--config \(path): filters[\(k)]"
            guard case .object = f else { throw FilterError("\(at) must be an object such as {\"name\": \"tie\"}, got \(f.typeName)") }
            guard let nameValue = f["name"] else { throw FilterError("\(at) has no \"name\"") }
            guard let name = nameValue.stringValue else { throw FilterError("\(at): \"name\" must be a string, got \(nameValue.typeName)") }
            guard let def = named(name) else {
                throw FilterError("\(at): unknown filter \"\(name)\" (known: \(names.joined(separator: ", ")))")
            }
            return FilterChoice(def, try parse(def, config: f, at: "\(at) (\(name))"))
        }
    }

    static func parse(_ def: FilterDef, config f: JSONValue, at: String) throws -> FilterArgument {
        func num(_ key: String) throws -> Double {
            guard let x = f[key] else { throw FilterError("\(at) needs \"\(key)\", a number") }
            guard let d = x.doubleValue, d.isFinite else { throw FilterError("\(at): \"\(key)\" must be a number, got \(x.typeName)") }
            return d
        }
        func optInt(_ key: String) throws -> Int? {
            guard let x = f[key], !x.isNull else { return nil }
            guard let d = x.doubleValue, d.isFinite, d >= 0, d == d.rounded(), d < 1e15 else {
                throw FilterError("\(at): \"\(key)\" must be a whole number >= 0, got \(x.serialized())")
            }
            return Int(d)
        }
        func strings(_ key: String, default def: [String]) throws -> [String] {
            guard let x = f[key] else { return def }
            guard let a = x.arrayValue else { throw FilterError("\(at): \"\(key)\" must be a list of strings, got \(x.typeName)") }
            return try a.map { e in
                guard let s = e.stringValue else { throw FilterError("\(at): \"\(key)\" must hold strings, found \(e.typeName)") }
                return s
            }
        }
        switch def.parameter {
        case .none: return .none
        case .number(let min):
            let d = try num("value")
            if let m = min, d < m { throw FilterError("\(at): \"value\" must be at least \(m), got \(d)") }
            return .number(d)
        case .count(let low):
            let d = try num("value")
            guard d == d.rounded(), d >= Double(low), d < 1e15 else { throw FilterError("\(at): \"value\" must be a whole number >= \(low), got \(d)") }
            return .count(Int(d))
        case .bounds:
            let lo = try optInt("min"), hi = try optInt("max")
            if let lo, let hi, lo > hi { throw FilterError("\(at): \"min\" must not exceed \"max\"") }
            return .bounds(lo, hi)
        case .ratio:
            let lo = try num("min"), hi = try num("max")
            guard lo >= 0, lo <= hi else { throw FilterError("\(at): needs 0 <= \"min\" <= \"max\"") }
            return .ratio(lo, hi)
        case .languages:
            guard let l = f["languages"]?.stringValue else { throw FilterError("\(at) needs \"languages\", a string such as \"en,de\"") }
            return .languages(try scripts(l, at))
        case .patterns:
            return .patterns(try strings("patterns", default: []), fields: Set(try strings("fields", default: ["prompt", "chosen", "rejected"])))
        case .tokens:
            let d = try num("value")
            guard d == d.rounded(), d >= 1, d < 1e9 else { throw FilterError("\(at): \"value\" must be a whole number of tokens >= 1, got \(d)") }
            let m = try optInt("prompt")
            if let m, m < 1 || Double(m) >= d { throw FilterError("\(at): \"prompt\" must be from 1 to below \"value\"") }
            guard let t = f["tokenizer"]?.stringValue, !t.isEmpty else { throw FilterError("\(at) needs \"tokenizer\", the path of the model's tokenizer") }
            return .tokens(max: Int(d), maxPrompt: m, tokenizer: t)
        }
    }
}

/// The filters of one run, built: the per-pair filters in order, and the grouped one.
public struct FilterPlan: Sendable {
    let filters: [(name: String, check: @Sendable (Pair) -> String?)]
    let maxPerPrompt: Int?
    public let names: [String]

    public init(_ choices: [FilterChoice], context: FilterContext = .none) throws {
        var fs: [(String, @Sendable (Pair) -> String?)] = []
        var maxPer: Int?
        for c in choices {
            let name = c.def.name
            switch try c.def.build(c.argument, context) {
            case .pair(let keep): fs.append((name, { keep($0) ? nil : name }))
            case .pairReason(let check): fs.append((name, check))
            case .perPrompt(let n): maxPer = n
            }
        }
        filters = fs
        maxPerPrompt = maxPer
        names = choices.map(\.def.name)
    }

    /// The name of the first filter that removes `p`, or nil to keep it.
    public func reason(_ p: Pair) -> String? {
        for f in filters { if let r = f.check(p) { return r } }
        return nil
    }

    /// Group stage: among kept pairs with the same normalized prompt, keep the `maxPerPrompt` with
    /// the largest margin (no score counts as 0), ties broken by id.
    func limitPerPrompt(_ items: [(index: Int, prompt: UInt64, margin: Double, id: String)]) -> Set<Int> {
        guard let n = maxPerPrompt else { return [] }
        var groups: [UInt64: [(Int, Double, String)]] = [:]
        for it in items { groups[it.prompt, default: []].append((it.index, it.margin, it.id)) }
        var removed = Set<Int>()
        for (_, g) in groups where g.count > n {
            let sorted = g.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : ($0.2 != $1.2 ? $0.2 < $1.2 : $0.0 < $1.0) }
            for x in sorted[n...] { removed.insert(x.0) }
        }
        return removed
    }
}

/// The filter pass (`prefkit filter`), as `Dedup.run` is dedup's: pass 1 computes each pair's
/// reason and group key in parallel, the grouped filter runs over the survivors, and `decision`
/// sends each record where pass 2 writes it.
public enum Filtering {
    public struct Pass: Sendable {
        struct Feature: Sendable { var reason: String?; var prompt: UInt64; var margin: Double; var id: String }
        let scanned: [Scanned<Feature>]
        let limited: Set<Int>

        public func decision(_ i: Int) -> Decision {
            switch scanned[i] {
            case .rejected(let r, let m): return .reject(reason: r, message: m)
            case .pair(let f):
                if let r = f.reason { return .remove(reason: r, extra: []) }
                if limited.contains(i) { return .remove(reason: "max-pairs-per-prompt", extra: []) }
                return .keep(output: 0)
            }
        }
    }

    public static func run(_ source: PairSource, _ plan: FilterPlan) throws -> Pass {
        let scanned = try source.scanPairs { p in
            Pass.Feature(reason: plan.reason(p), prompt: XXH64.hash(TextNorm.normalize(TextNorm.text(p.prompt))), margin: Measure.margin(p) ?? 0, id: p.id)
        }
        var survivors: [(index: Int, prompt: UInt64, margin: Double, id: String)] = []
        for (i, s) in scanned.enumerated() { if case .pair(let f) = s, f.reason == nil { survivors.append((i, f.prompt, f.margin, f.id)) } }
        return Pass(scanned: scanned, limited: plan.limitPerPrompt(survivors))
    }
}
