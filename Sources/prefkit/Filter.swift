import ArgumentParser
import Foundation
import PrefCore
import PrefCurate
import PrefFormats
import PrefIO
import PrefTrain

struct Filter: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove bad pairs with small named filters; each removal is counted by its filter's name.",
        discussion: """
        Filters run in the order of --filters (default: every filter whose option is given, in the order \
        listed below); the first filter that removes a pair is its reason. A filter that needs scores keeps \
        pairs without scores. \
        A --config JSON file may list them instead: {"filters": [{"name": "min-margin", "value": 1}, ...]}. \
        Filters: 
        """ + Filters.names.joined(separator: ", ") + "."
    )

    @OptionGroup var io: CurateIO
    @OptionGroup var shard: ShardOptions
    @Option(name: [.short, .long], help: "Output file (.jsonl, .jsonl.zst, .jsonl.gz).") var output: String
    @Option(name: .long, help: "Filters to run, in order, e.g. empty,identical,tie (default: those whose options are given).") var filters: String?
    @Option(name: .long, help: "JSON file listing the filters and their parameters.") var config: String?
    @Option(name: .long, parsing: .unconditionalSingleValue, help: "A filter by its name, with its parameter if it takes one: NAME or NAME=VALUE (repeatable; every filter of the table, e.g. min-margin=1).") var filter: [String] = []
    // One flag per entry of the filter table (PrefCurate's `Filters.table`, which also gives the
    // help); the values are parsed and checked there. A test checks that the two agree.
    @Flag(name: .long, help: help("empty")) var empty = false
    @Flag(name: .long, help: help("identical")) var identical = false
    @Flag(name: .long, help: help("tie")) var tie = false
    @Option(name: .long, parsing: .unconditional, help: help("min-margin")) var minMargin: String?
    @Option(name: .long, parsing: .unconditional, help: help("min-ratio")) var minRatio: String?
    @Option(name: .long, parsing: .unconditional, help: help("prompt-chars")) var promptChars: String?
    @Option(name: .long, parsing: .unconditional, help: help("prompt-words")) var promptWords: String?
    @Option(name: .long, parsing: .unconditional, help: help("response-chars")) var responseChars: String?
    @Option(name: .long, parsing: .unconditional, help: help("response-words")) var responseWords: String?
    @Option(name: .long, parsing: .unconditional, help: help("max-turns")) var maxTurns: String?
    @Option(name: .long, parsing: .unconditional, help: help("length-ratio")) var lengthRatio: String?
    @Option(name: .long, help: help("regex")) var blockPatterns: String?
    @Option(name: .long, help: "Fields the patterns are matched against.") var blockFields: String?
    @Option(name: .long, help: help("lang")) var lang: String?
    @Option(name: .long, parsing: .unconditional, help: help("max-tokens")) var maxTokens: String?
    @Option(name: .long, parsing: .unconditional, help: "With --max-tokens: also remove pairs whose rendered prompt is over this many tokens.") var maxPromptTokens: String?
    @Option(name: .long, help: "The model whose tokenizer and chat template count tokens: a GGUF file, a Hugging Face directory or a tokenizer.json (the same paths as --model).") var tokenizer: String?
    @Option(name: .long, parsing: .unconditional, help: help("max-pairs-per-prompt")) var maxPairsPerPrompt: String?

    static func help(_ name: String) -> ArgumentHelp { ArgumentHelp(Filters.named(name)!.help) }

    /// The filter flags given, by flag name ("" for a plain flag).
    var given: [String: String] {
        let all: [(String, String?)] = [
            ("empty", empty ? "" : nil), ("identical", identical ? "" : nil), ("tie", tie ? "" : nil),
            ("min-margin", minMargin), ("min-ratio", minRatio), ("prompt-chars", promptChars), ("prompt-words", promptWords),
            ("response-chars", responseChars), ("response-words", responseWords), ("max-turns", maxTurns), ("length-ratio", lengthRatio),
            ("block-patterns", blockPatterns), ("block-fields", blockFields), ("lang", lang), ("max-tokens", maxTokens),
            ("max-prompt-tokens", maxPromptTokens), ("tokenizer", tokenizer), ("max-pairs-per-prompt", maxPairsPerPrompt),
        ]
        return Dictionary(uniqueKeysWithValues: all.compactMap { k, v in v.map { (k, $0) } })
    }

    /// The given flags plus the `--filter NAME[=VALUE]` entries, keyed by each filter's flag.
    func givenWithNamed() throws -> [String: String] {
        var g = given
        for entry in filter {
            let kv = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard let def = Filters.named(kv[0]) else {
                throw ValidationError("--filter \(entry): unknown filter '\(kv[0])' (known: \(Filters.names.joined(separator: ", ")))")
            }
            if case .none = def.parameter, kv.count == 2 { throw ValidationError("--filter \(entry): \(def.name) takes no value") }
            if kv.count < 2, !isNone(def.parameter) { throw ValidationError("--filter \(entry): \(def.name) needs a value, NAME=VALUE") }
            g[def.flag] = kv.count == 2 ? kv[1] : ""
        }
        return g
    }

    func isNone(_ p: FilterParameter) -> Bool { if case .none = p { return true } else { return false } }

    func choices() throws -> [FilterChoice] {
        do {
            if let c = config { return try Filters.fromConfig(c) }
            return try Filters.fromFlags(try givenWithNamed(), order: filters)
        } catch let e as FilterError { throw ValidationError(e.description) }
    }

    func validate() throws {
        if config == nil, try choices().isEmpty { throw ValidationError("no filter chosen: give --filters or a filter option (see --help)") }
    }

    func run() throws {
        let started = Date()
        let choices = try choices()
        guard !choices.isEmpty else { throw ValidationError("--config \(config ?? ""): no filter listed") }
        let plan: FilterPlan
        do { plan = try FilterPlan(choices, context: FilterContext { try ModelText.load($0) }) } catch { throw ValidationError("\(error)") }
        let spec = try shard.resolve()
        var output = self.output
        if let spec {
            // The per-prompt cap needs every pair of a prompt together: it cannot run per shard.
            guard !plan.names.contains("max-pairs-per-prompt") else {
                throw ValidationError("max-pairs-per-prompt needs every pair of a prompt in one run: run it unsharded, after the sharded filters")
            }
            output = try ShardOptions.outputPath(output, spec, prefix: "part", ext: ".jsonl.zst")
        }
        let (source, runID) = try io.shardSource(outputs: [("-o", output)], shard: spec, command: "filter")
        let pass = try Filtering.run(source, plan)
        try io.finish(command: "filter", source: source, outputs: [output], decide: { i, _ in pass.decision(i) },
                      started: started, rejectsDefault: defaultRejects(output), extra: [("filters", .array(plan.names.map { .string($0) }))], shard: spec, runID: runID)
    }
}
