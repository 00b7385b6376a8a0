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
    @Option(name: .long, help: "Remove pairs whose score gap (chosen - rejected) is below this.") var minMargin: Double?
    @Option(name: .long, help: "Remove pairs whose score ratio (chosen / rejected, SHP style) is below this.") var minRatio: Double?
    @Option(name: .long, help: "Prompt length bounds in characters, MIN:MAX (either may be empty).") var promptChars: String?
    @Option(name: .long, help: "Prompt length bounds in words, MIN:MAX.") var promptWords: String?
    @Option(name: .long, help: "Bounds for each response in characters, MIN:MAX.") var responseChars: String?
    @Option(name: .long, help: "Bounds for each response in words, MIN:MAX.") var responseWords: String?
    @Option(name: .long, help: "Remove pairs whose prompt has more user/assistant turns than this.") var maxTurns: Int?
    @Option(name: .long, help: "Keep pairs whose chosen/rejected length ratio (characters) is within LO:HI, e.g. 0.5:2.") var lengthRatio: String?
    @Option(name: .long, help: "File of regular expressions (one per line, # comments) that remove a pair when they match.") var blockPatterns: String?
    @Option(name: .long, help: "Fields the patterns are matched against.") var blockFields: String = "prompt,chosen,rejected"
    @Option(name: .long, help: "Keep pairs whose prompt and chosen text are mainly in the script of these languages, e.g. en,de or zh.") var lang: String?
    @Option(name: .long, help: "Keep at most N pairs per prompt (largest margin first, ties by id).") var maxPairsPerPrompt: Int?

    static func bounds(_ s: String, _ name: String) throws -> (Int?, Int?) {
        let p = s.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard p.count == 2, p[0].isEmpty || Int(p[0]) != nil, p[1].isEmpty || Int(p[1]) != nil else { throw ValidationError("--\(name) takes MIN:MAX") }
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
            guard p.count == 2, p[0] <= p[1] else { throw ValidationError("--length-ratio takes LO:HI") }
            available.append(("length-ratio", .lengthRatio(p[0], p[1])))
        }
        if let f = blockPatterns {
            let text = try String(contentsOfFile: f, encoding: .utf8)
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

    static func fromConfig(_ path: String) throws -> [FilterSpec] {
        let v = try JSONValue.parse(String(contentsOfFile: path, encoding: .utf8))
        guard let list = v["filters"]?.arrayValue else { throw ValidationError("\(path): expected {\"filters\": [...]}") }
        return try list.map { f in
            guard let name = f["name"]?.stringValue else { throw ValidationError("\(path): a filter without \"name\"") }
            func num(_ k: String) throws -> Double {
                guard let d = f[k]?.doubleValue else { throw ValidationError("\(path): filter \(name) needs \"\(k)\"") }
                return d
            }
            func opt(_ k: String) -> Int? { f[k]?.doubleValue.map { Int($0) } }
            switch name {
            case "empty": return .empty
            case "identical": return .identical
            case "tie": return .tie
            case "min-margin": return .minMargin(try num("value"))
            case "min-ratio": return .minRatio(try num("value"))
            case "prompt-chars": return .promptChars(opt("min"), opt("max"))
            case "prompt-words": return .promptWords(opt("min"), opt("max"))
            case "response-chars": return .responseChars(opt("min"), opt("max"))
            case "response-words": return .responseWords(opt("min"), opt("max"))
            case "max-turns": return .maxTurns(Int(try num("value")))
            case "length-ratio": return .lengthRatio(try num("min"), try num("max"))
            case "lang": return .lang(try scripts(f["languages"]?.stringValue ?? ""))
            case "max-pairs-per-prompt": return .maxPairsPerPrompt(Int(try num("value")))
            case "regex":
                let pats = (f["patterns"]?.arrayValue ?? []).compactMap(\.stringValue)
                let fields = Set((f["fields"]?.arrayValue ?? [.string("prompt"), .string("chosen"), .string("rejected")]).compactMap(\.stringValue))
                return .regex(patterns: pats, fields: fields)
            default: throw ValidationError("\(path): unknown filter \(name)")
            }
        }
    }

    func run() throws {
        let started = Date()
        let specs = try specs()
        guard !specs.isEmpty else { throw ValidationError("no filter chosen: give --filters or a filter option (see --help)") }
        let plan: FilterPlan
        do { plan = try FilterPlan(specs) } catch { throw ValidationError("\(error)") }
        let source = try io.source()
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
