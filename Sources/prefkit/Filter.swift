import ArgumentParser
import Foundation
import PrefCurate
import PrefFormats
import PrefIO

struct Filter: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove bad pairs with small named filters; each removal is counted by its filter's name.",
        discussion: """
        Filters run in the order of --filters (default: every filter whose option is given, in the order \
        listed below); the first filter that removes a pair is its reason. A filter that needs scores keeps \
        pairs without scores. Filters: empty, identical, tie, min-margin, min-ratio, prompt-chars, prompt-words, \
        response-chars, response-words, max-turns, length-ratio, regex, lang, max-pairs-per-prompt. \
        A --config JSON file may list them instead: {"filters": [{"name": "min-margin", "value": 1}, ...]}.
        """
    )

    @OptionGroup var io: CurateIO
    @Option(name: [.short, .long], help: "Output file (.jsonl, .jsonl.zst, .jsonl.gz).") var output: String
    @Option(name: .long, help: "Filters to run, in order, e.g. empty,identical,tie (default: those whose options are given).") var filters: String?
    @Option(name: .long, help: "JSON file listing the filters and their parameters.") var config: String?
    @Flag(name: .long, help: "Remove pairs with a blank prompt or response.") var empty = false
    @Flag(name: .long, help: "Remove pairs whose chosen and rejected replies are equal up to white space.") var identical = false
    @Flag(name: .long, help: "Remove pairs with equal scores.") var tie = false
    @Option(name: .long, parsing: .unconditional, help: "Remove pairs whose score gap (chosen - rejected) is below this.") var minMargin: Double?
    @Option(name: .long, parsing: .unconditional, help: "Remove pairs whose score ratio (chosen / rejected, SHP style) is below this.") var minRatio: Double?
    @Option(name: .long, parsing: .unconditional, help: "Prompt length bounds in characters, MIN:MAX (either may be empty).") var promptChars: String?
    @Option(name: .long, parsing: .unconditional, help: "Prompt length bounds in words, MIN:MAX.") var promptWords: String?
    @Option(name: .long, parsing: .unconditional, help: "Bounds for each response in characters, MIN:MAX.") var responseChars: String?
    @Option(name: .long, parsing: .unconditional, help: "Bounds for each response in words, MIN:MAX.") var responseWords: String?
    @Option(name: .long, parsing: .unconditional, help: "Remove pairs whose prompt has more user/assistant turns than this.") var maxTurns: Int?
    @Option(name: .long, parsing: .unconditional, help: "Keep pairs whose chosen/rejected length ratio (characters) is within LO:HI, e.g. 0.5:2.") var lengthRatio: String?
    @Option(name: .long, help: "File of regular expressions (one per line, # comments) that remove a pair when they match.") var blockPatterns: String?
    @Option(name: .long, help: "Fields the patterns are matched against.") var blockFields: String = "prompt,chosen,rejected"
    @Option(name: .long, help: "Keep pairs whose prompt and chosen text are mainly in the script of these languages, e.g. en,de or zh.") var lang: String?
    @Option(name: .long, parsing: .unconditional, help: "Keep at most N pairs per prompt (largest margin first, ties by id).") var maxPairsPerPrompt: Int?

    static func bounds(_ s: String, _ name: String) throws -> (Int?, Int?) {
        let p = s.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard p.count == 2, p[0].isEmpty || (Int(p[0]) ?? -1) >= 0, p[1].isEmpty || (Int(p[1]) ?? -1) >= 0 else {
            throw ValidationError("--\(name) takes MIN:MAX, whole numbers >= 0 (either may be empty)")
        }
        if let lo = Int(p[0]), let hi = Int(p[1]), lo > hi { throw ValidationError("--\(name): MIN must not exceed MAX") }
        return (Int(p[0]), Int(p[1]))
    }

    func specs() throws -> [FilterSpec] {
        var available: [(String, FilterSpec)] = []
        if let c = config { return try Filter.fromConfig(c) }
        if empty { available.append(("empty", .empty)) }
        if identical { available.append(("identical", .identical)) }
        if tie { available.append(("tie", .tie)) }
        if let v = minMargin { available.append(("min-margin", .minMargin(v))) }
        if let v = minRatio { available.append(("min-ratio", .minRatio(v))) }
        if let v = promptChars { let b = try Filter.bounds(v, "prompt-chars"); available.append(("prompt-chars", .promptChars(b.0, b.1))) }
        if let v = promptWords { let b = try Filter.bounds(v, "prompt-words"); available.append(("prompt-words", .promptWords(b.0, b.1))) }
        if let v = responseChars { let b = try Filter.bounds(v, "response-chars"); available.append(("response-chars", .responseChars(b.0, b.1))) }
        if let v = responseWords { let b = try Filter.bounds(v, "response-words"); available.append(("response-words", .responseWords(b.0, b.1))) }
        if let v = maxTurns { available.append(("max-turns", .maxTurns(v))) }
        if let v = lengthRatio {
            let p = v.split(separator: ":").compactMap { Double($0) }
            guard p.count == 2, p[0].isFinite, p[1].isFinite, p[0] >= 0, p[0] <= p[1] else { throw ValidationError("--length-ratio takes LO:HI, finite numbers with 0 <= LO <= HI") }
            available.append(("length-ratio", .lengthRatio(p[0], p[1])))
        }
        if let f = blockPatterns {
            guard let text = (try? Sources.readAll(f)).map({ String(decoding: $0, as: UTF8.self) }) else {
                throw ValidationError("--block-patterns \(f): cannot read the file")
            }
            let pats = text.split(separator: "\n").map(String.init).filter { !$0.isEmpty && !$0.hasPrefix("#") }
            available.append(("regex", .regex(patterns: pats, fields: Set(blockFields.split(separator: ",").map(String.init)))))
        }
        if let l = lang { available.append(("lang", .lang(try Filter.scripts(l)))) }
        if let n = maxPairsPerPrompt { available.append(("max-pairs-per-prompt", .maxPairsPerPrompt(n))) }
        guard let order = filters else { return available.map(\.1) }
        var out: [FilterSpec] = []
        for name in order.split(separator: ",").map(String.init) {
            if let s = available.first(where: { $0.0 == name }) { out.append(s.1); continue }
            switch name {
            case "empty": out.append(.empty)
            case "identical": out.append(.identical)
            case "tie": out.append(.tie)
            default: throw ValidationError("filter '\(name)' is unknown or needs its option (e.g. --\(name) VALUE)")
            }
        }
        return out
    }

    static func scripts(_ l: String) throws -> Set<Script> {
        Set(try l.split(separator: ",").map { code in
            guard let s = Script.forLanguage(String(code)) else { throw ValidationError("--lang: no script known for '\(code)'") }
            return s
        })
    }

    /// Reads a filter config; every mistake is one sentence naming the file (and the line for JSON errors).
    static func fromConfig(_ path: String) throws -> [FilterSpec] {
        let bytes: [UInt8]
        do { bytes = try Sources.readAll(path) } catch {
            throw ValidationError("--config \(path): cannot read the file (\((error as? StreamError)?.message ?? "\(error)"))")
        }
        let v: JSONValue
        do { v = try JSONValue.parse(bytes: bytes) } catch let e as JSONError {
            let upto = bytes.prefix(min(e.offset, bytes.count))
            let line = upto.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
            let column = upto.count - (upto.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0) + 1
            throw ValidationError("--config \(path): not valid JSON at line \(line), column \(column): \(e.message)")
        }
        guard case .object = v else { throw ValidationError("--config \(path): expected a JSON object {\"filters\": [...]}") }
        guard let filters = v["filters"] else { throw ValidationError("--config \(path): expected a \"filters\" key holding a list") }
        guard let list = filters.arrayValue else { throw ValidationError("--config \(path): \"filters\" must be a list of objects, got \(filters.typeName)") }
        return try list.enumerated().map { (k, f) in
            let at = "--config \(path): filters[\(k)]"
            guard case .object = f else { throw ValidationError("\(at) must be an object such as {\"name\": \"tie\"}, got \(f.typeName)") }
            guard let nameValue = f["name"] else { throw ValidationError("\(at) has no \"name\"") }
            guard let name = nameValue.stringValue else { throw ValidationError("\(at): \"name\" must be a string, got \(nameValue.typeName)") }
            func num(_ key: String) throws -> Double {
                guard let x = f[key] else { throw ValidationError("\(at) (\(name)) needs \"\(key)\", a number") }
                guard let d = x.doubleValue, d.isFinite else { throw ValidationError("\(at) (\(name)): \"\(key)\" must be a number, got \(x.typeName)") }
                return d
            }
            func optInt(_ key: String) throws -> Int? {
                guard let x = f[key], !x.isNull else { return nil }
                guard let d = x.doubleValue, d.isFinite, d >= 0, d == d.rounded(), d < 1e15 else {
                    throw ValidationError("\(at) (\(name)): \"\(key)\" must be a whole number >= 0, got \(x.serialized())")
                }
                return Int(d)
            }
            func count(_ key: String, min low: Int) throws -> Int {
                let d = try num(key)
                guard d == d.rounded(), d >= Double(low), d < 1e15 else { throw ValidationError("\(at) (\(name)): \"\(key)\" must be a whole number >= \(low), got \(d)") }
                return Int(d)
            }
            func strings(_ key: String, default def: [String]) throws -> [String] {
                guard let x = f[key] else { return def }
                guard let a = x.arrayValue else { throw ValidationError("\(at) (\(name)): \"\(key)\" must be a list of strings, got \(x.typeName)") }
                return try a.map { e in
                    guard let s = e.stringValue else { throw ValidationError("\(at) (\(name)): \"\(key)\" must hold strings, found \(e.typeName)") }
                    return s
                }
            }
            switch name {
            case "empty": return .empty
            case "identical": return .identical
            case "tie": return .tie
            case "min-margin": return .minMargin(try num("value"))
            case "min-ratio": return .minRatio(try num("value"))
            case "prompt-chars": return .promptChars(try optInt("min"), try optInt("max"))
            case "prompt-words": return .promptWords(try optInt("min"), try optInt("max"))
            case "response-chars": return .responseChars(try optInt("min"), try optInt("max"))
            case "response-words": return .responseWords(try optInt("min"), try optInt("max"))
            case "max-turns": return .maxTurns(try count("value", min: 0))
            case "length-ratio": return .lengthRatio(try num("min"), try num("max"))
            case "lang":
                guard let l = f["languages"]?.stringValue else { throw ValidationError("\(at) (lang) needs \"languages\", a string such as \"en,de\"") }
                return .lang(try scripts(l))
            case "max-pairs-per-prompt": return .maxPairsPerPrompt(try count("value", min: 1))
            case "regex":
                return .regex(patterns: try strings("patterns", default: []), fields: Set(try strings("fields", default: ["prompt", "chosen", "rejected"])))
            default:
                throw ValidationError("\(at): unknown filter \"\(name)\" (known: empty, identical, tie, min-margin, min-ratio, prompt-chars, prompt-words, response-chars, response-words, max-turns, length-ratio, regex, lang, max-pairs-per-prompt)")
            }
        }
    }

    func validate() throws {
        try Range.finite(minMargin, "min-margin")
        try Range.atLeast(minRatio, "min-ratio", 0.0)
        try Range.atLeast(maxTurns, "max-turns", 0)
        try Range.atLeast(maxPairsPerPrompt, "max-pairs-per-prompt", 1)
    }

    func run() throws {
        let started = Date()
        let specs = try specs()
        guard !specs.isEmpty else { throw ValidationError("no filter chosen: give --filters or a filter option (see --help)") }
        let plan: FilterPlan
        do { plan = try FilterPlan(specs) } catch { throw ValidationError("\(error)") }
        let source = try io.source(outputs: [("-o", output)])
        struct F: Sendable { var reason: String?; var prompt: UInt64; var margin: Double; var id: String }
        let scanned = try source.scanPairs { p in
            F(reason: plan.reason(p), prompt: XXH64.hash(TextNorm.normalize(TextNorm.text(p.prompt))), margin: Measure.margin(p) ?? 0, id: p.id)
        }
        var survivors: [(index: Int, prompt: UInt64, margin: Double, id: String)] = []
        for (i, s) in scanned.enumerated() { if case .pair(let f) = s, f.reason == nil { survivors.append((i, f.prompt, f.margin, f.id)) } }
        let limited = plan.limitPerPrompt(survivors)
        try io.finish(command: "filter", source: source, outputs: [output], decide: { i, _ in
            switch scanned[i] {
            case .rejected(let r, let m): return .reject(reason: r, message: m)
            case .pair(let f):
                if let r = f.reason { return .remove(reason: r, extra: []) }
                if limited.contains(i) { return .remove(reason: "max-pairs-per-prompt", extra: []) }
                return .keep(output: 0)
            }
        }, started: started, rejectsDefault: defaultRejects(output), extra: [("filters", .array(plan.names.map { .string($0) }))])
    }
}
