import Foundation
import PrefIO
import Yams

/// A mistake in a pipeline config, with the line it is on (1-based; 0 when not known).
public struct ConfigError: Error, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var hint: String?
    public init(_ file: String, _ line: Int, _ message: String, hint: String? = nil) {
        self.file = file; self.line = line; self.message = message; self.hint = hint
    }
    public var description: String { (line > 0 ? "\(file):\(line): " : "\(file): ") + message }
}

/// The stages a pipeline can run, in their usual order.
public enum StageKind: String, CaseIterable, Sendable {
    case convert, filter, dedup, decontaminate, split, stats, score, export

    /// Stages whose output is the next stage's input (the others only read it).
    var transformsData: Bool { [.convert, .filter, .dedup, .decontaminate, .split].contains(self) }
}

/// A stage option as written: a flag (true: given, false: left out), one value, or a list (the
/// flag repeated).
public enum OptionValue: Equatable, Sendable {
    case flag(Bool)
    case value(String)
    case list([String])

    var json: JSONValue {
        switch self {
        case .flag(let b): return .bool(b)
        case .value(let s): return .string(s)
        case .list(let l): return .array(l.map { .string($0) })
        }
    }

    /// The command-line arguments of option `name`.
    func arguments(_ name: String) -> [String] {
        switch self {
        case .flag(let b): return b ? ["--" + name] : []
        case .value(let s): return ["--" + name, s]
        case .list(let l): return l.flatMap { ["--" + name, $0] }
        }
    }
}

/// How the tasks of a sharded stage are started.
public enum Launcher: String, Sendable { case local, slurm }

public struct StageConfig: Sendable {
    public var kind: StageKind
    /// The command's options (flag name without dashes -> value), in the order written.
    public var options: [(String, OptionValue)]
    /// Shards of the stage's data (nil: one process). Dedup, split and stats run in phases.
    public var shards: Int?
    /// Tasks of a sharded step run at once on this machine (launcher local).
    public var parallel: Int?
    public var launcher: Launcher = .local
    /// Extra `sbatch` options for launcher slurm, e.g. "--cpus-per-task=2 --mem=4G".
    public var sbatch: String?
    public var line: Int

    public func option(_ name: String) -> OptionValue? { options.last(where: { $0.0 == name })?.1 }

    /// What decides the stage's outputs (not how they are scheduled): part of its fingerprint.
    var identity: JSONValue {
        .object([("stage", .string(kind.rawValue)), ("options", .object(options.map { ($0.0, $0.1.json) })),
                 ("shards", shards.map { .int(Int64($0)) } ?? .null)])
    }
}

/// A parsed `pipeline.yaml`.
public struct PipelineConfig: Sendable {
    /// The config file (absolute) and its directory, which relative paths in it are relative to.
    public var path: String
    public var directory: String
    /// The run directory (absolute).
    public var run: String
    /// The raw inputs, as written and absolute.
    public var inputs: [String]
    public var resolvedInputs: [String]
    public var threads: Int?
    public var stages: [StageConfig]
    /// `--set` overrides applied to the file's stages.
    public var overrides: [String] = []
    /// The config as JSON, for the manifest: the file's keys with the stages as run.
    public var json: JSONValue {
        var o: [(String, JSONValue)] = [("run", .string(run)), ("inputs", .array(inputs.map { .string($0) }))]
        if let t = threads { o.append(("threads", .int(Int64(t)))) }
        o.append(("stages", .array(stages.map(\.identity))))
        if !overrides.isEmpty { o.append(("overrides", .array(overrides.map { .string($0) }))) }
        return .object(o)
    }

    /// `STAGE.OPTION=VALUE` (true / false: a flag): sets the option of every stage of that kind.
    public mutating func apply(override text: String) throws {
        let kv = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let path = kv[0].split(separator: ".", maxSplits: 1).map(String.init)
        guard kv.count == 2, path.count == 2, let kind = StageKind(rawValue: path[0]), !path[1].isEmpty else {
            throw ConfigError(path.first ?? text, 0, "--set \(text): write STAGE.OPTION=VALUE, e.g. score.budget=quick",
                              hint: "stages: \(StageKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let name = path[1]
        if let why = PipelineConfig.managed[name] { throw ConfigError("--set", 0, "--set \(text): '\(name)' cannot be set: \(why)") }
        guard stages.contains(where: { $0.kind == kind }) else { throw ConfigError("--set", 0, "--set \(text): the config has no \(kind.rawValue) stage") }
        let value: OptionValue = kv[1] == "true" ? .flag(true) : kv[1] == "false" ? .flag(false) : .value(kv[1])
        for i in stages.indices where stages[i].kind == kind {
            // In place when the file sets it (the order of options is kept), else added last.
            if let j = stages[i].options.firstIndex(where: { $0.0 == name }) {
                stages[i].options[j].1 = value
                stages[i].options.removeAll { $0.0 == name && $0.1 != value }
            } else {
                stages[i].options.append((name, value))
            }
        }
        overrides.append(text)
    }

    /// Keys a stage may not set: the pipeline names every stage's inputs and outputs.
    static let managed: [String: String] = [
        "output": "every stage writes into the run directory", "o": "every stage writes into the run directory",
        "summary-json": "the pipeline writes each stage's summary", "removed": "the pipeline writes removed records beside each output",
        "rejects": "the pipeline writes rejected records beside each output", "json": "the pipeline writes stats.json",
        "html": "the pipeline writes the HTML reports", "merge": "sharded stages are merged by the pipeline",
        "shard-index": "use the stage key 'shards'", "shard-count": "use the stage key 'shards'",
        "shard-size": "the pipeline names each stage's output", "clusters": "the pipeline passes the cluster directory",
        "groups": "the pipeline passes the group directory", "ext": "the pipeline writes .jsonl.zst", "inputs": "each stage reads the previous stage's output",
        "quiet": "use 'prefkit pipeline --quiet'", "q": "use 'prefkit pipeline --quiet'", "output-format": "the pipeline writes JSON Lines between stages",
        "help": "a stage runs, it does not print its help (see 'prefkit STAGE --help')", "h": "a stage runs, it does not print its help (see 'prefkit STAGE --help')",
        "version": "see 'prefkit --version'", "generate-completion-script": "see 'prefkit --generate-completion-script'",
        "experimental-dump-help": "see 'prefkit STAGE --help'",
    ]
    static let stageKeys: Set<String> = ["shards", "parallel", "launcher", "sbatch"]
    static let topKeys = ["run", "inputs", "threads", "stages"]

    /// Reads and checks a config file. `runOverride` replaces its `run` directory.
    public static func load(_ path: String, runOverride: String? = nil) throws -> PipelineConfig {
        let absolute = Paths.absolute(path)
        let text: String
        do { text = try String(contentsOfFile: absolute, encoding: .utf8) } catch {
            throw ConfigError(path, 0, "cannot read the config: \(FileManager.default.fileExists(atPath: absolute) ? "not UTF-8 text or not readable" : "no such file")",
                              hint: "'prefkit pipeline --init \(path)' writes a commented example")
        }
        return try parse(text, path: absolute, display: path, runOverride: runOverride)
    }

    /// Aliases as mapping keys make the YAML library compare whole expanded nodes (exponential in
    /// the nesting of anchors): refused, with the number of aliases and the size of a config
    /// bounded, before the text is parsed. Quoted text and comments are not looked at.
    static func refuseCostlyYAML(_ text: String, display: String) throws {
        guard text.utf8.count <= 1 << 20 else { throw ConfigError(display, 0, "the config is larger than 1 MB; a pipeline config is a page of YAML") }
        let b = Array(text.utf8)
        var i = 0, line = 1, aliases = 0
        var quote: UInt8 = 0
        while i < b.count {
            let c = b[i]
            if c == 0x0A { line += 1 }
            if quote != 0 {
                if c == quote { quote = 0 } else if c == 0x5C && quote == 0x22 { i += 1 }
                i += 1; continue
            }
            switch c {
            case 0x22, 0x27: quote = c
            case 0x23 where i == 0 || b[i - 1] == 0x20 || b[i - 1] == 0x09 || b[i - 1] == 0x0A:
                while i < b.count && b[i] != 0x0A { i += 1 }
                continue
            case 0x2A where i == 0 || [0x20, 0x09, 0x0A, 0x5B, 0x7B, 0x2C, 0x3F, 0x3A, 0x2D].contains(b[i - 1]):
                aliases += 1
                var j = i + 1
                while j < b.count && ![0x20, 0x09, 0x0A, 0x0D, 0x2C, 0x5B, 0x5D, 0x7B, 0x7D].contains(b[j]) { j += 1 }
                let name = String(decoding: b[(i + 1)..<j], as: UTF8.self)
                var k = j
                while k < b.count && (b[k] == 0x20 || b[k] == 0x09) { k += 1 }
                var p = i - 1
                while p >= 0 && (b[p] == 0x20 || b[p] == 0x09) { p -= 1 }
                let explicitKey = p >= 0 && b[p] == 0x3F
                if explicitKey || name.hasSuffix(":") || (k < b.count && b[k] == 0x3A && (k + 1 == b.count || [0x20, 0x09, 0x0A, 0x0D].contains(b[k + 1]))) {
                    throw ConfigError(display, line, "the alias *\(name.hasSuffix(":") ? String(name.dropLast()) : name) is used as a mapping key; aliases may only stand for values")
                }
                if aliases > 256 { throw ConfigError(display, line, "more than 256 aliases; a pipeline config needs few") }
                i = j; continue
            default: break
            }
            i += 1
        }
    }

    public static func parse(_ text: String, path: String, display: String, runOverride: String? = nil) throws -> PipelineConfig {
        let root: Node
        try refuseCostlyYAML(text, display: display)
        do {
            guard let n = try Yams.compose(yaml: text) else { throw ConfigError(display, 0, "the config is empty", hint: "'prefkit pipeline --init' writes an example") }
            root = n
        } catch let e as ConfigError { throw e } catch {
            throw ConfigError(display, 0, "not valid YAML: \(String(describing: error).split(separator: "\n").joined(separator: " "))")
        }
        func line(_ n: Node) -> Int { n.mark.map { $0.line } ?? 0 }
        func fail(_ n: Node, _ m: String, hint: String? = nil) -> ConfigError { ConfigError(display, line(n), m, hint: hint) }
        guard case .mapping(let top) = root else { throw fail(root, "the config must be a mapping with keys \(topKeys.joined(separator: ", "))") }
        let directory = (path as NSString).deletingLastPathComponent
        var run: String?, inputs: [String] = [], threads: Int?, stages: [StageConfig] = []
        var sawStages = false
        for (k, v) in top {
            guard let key = k.string else { throw fail(k, "keys must be strings") }
            switch key {
            case "run":
                guard let s = v.scalarString, !s.isEmpty else { throw fail(v, "'run' is the run directory: a path") }
                run = s
            case "inputs":
                inputs = try stringList(v, "inputs", fail)
            case "threads":
                guard let t = v.int, (1...256).contains(t) else { throw fail(v, "'threads' must be a whole number from 1 to 256") }
                threads = t
            case "stages":
                sawStages = true
                guard case .sequence(let seq) = v, !seq.isEmpty else {
                    throw fail(v, "'stages' is a list of stages, e.g. '- convert: {}'", hint: "stages: \(StageKind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                for s in seq { stages.append(try stage(s, fail)) }
            default:
                throw fail(k, "unknown key '\(key)'", hint: "the top-level keys are \(topKeys.joined(separator: ", "))")
            }
        }
        guard sawStages else { throw fail(root, "no 'stages' list", hint: "'prefkit pipeline --init' writes an example") }
        let runDir = runOverride.map { Paths.absolute($0) } ?? run.map { Paths.absolute($0, relativeTo: directory) }
        guard let runDir else { throw fail(root, "no 'run' directory", hint: "add 'run: runs/NAME' or give -o DIR") }
        try checkOrder(stages, display, hasInputs: !inputs.isEmpty, root: line(root))
        return PipelineConfig(path: path, directory: directory, run: runDir, inputs: inputs,
                              resolvedInputs: inputs.map { $0 == "-" ? $0 : Paths.absolute($0, relativeTo: directory) },
                              threads: threads, stages: stages)
    }

    static func stringList(_ v: Node, _ name: String, _ fail: (Node, String, String?) -> ConfigError) throws -> [String] {
        if let s = v.scalarString { return [s] }
        guard case .sequence(let seq) = v else { throw fail(v, "'\(name)' is a path or a list of paths", nil) }
        return try seq.map { n in
            guard let s = n.scalarString else { throw fail(n, "'\(name)' entries are paths", nil) }
            return s
        }
    }

    static func stage(_ n: Node, _ fail: (Node, String, String?) -> ConfigError) throws -> StageConfig {
        let kinds = StageKind.allCases.map(\.rawValue).joined(separator: ", ")
        // "- stats" or "- filter: {empty: true}"
        var nameNode = n, body: Node? = nil
        if case .mapping(let m) = n {
            guard m.count == 1, let (k, v) = m.first else { throw fail(n, "a stage is one name with its options, e.g. '- dedup: {keep: longest}'", nil) }
            nameNode = k; body = v
        }
        guard let name = nameNode.scalarString else { throw fail(n, "a stage is one name with its options, e.g. '- dedup: {keep: longest}'", nil) }
        guard let kind = StageKind(rawValue: name) else { throw fail(nameNode, "unknown stage '\(name)'", "stages: \(kinds)") }
        var st = StageConfig(kind: kind, options: [], line: nameNode.mark?.line ?? 0)
        guard let body, !(body.null != nil) else { return st }
        guard case .mapping(let opts) = body else { throw fail(body, "the options of '\(name)' are a mapping, e.g. '\(name): {threads: 2}'", nil) }
        for (k, v) in opts {
            guard let key = k.string else { throw fail(k, "option names are strings", nil) }
            if let why = managed[key] { throw fail(k, "stage '\(name)' cannot set '\(key)': \(why)", nil) }
            switch key {
            case "shards":
                guard let s = v.int, (1...4096).contains(s) else { throw fail(v, "'shards' must be a whole number from 1 to 4096", nil) }
                guard [.convert, .filter, .dedup, .decontaminate, .split, .stats].contains(kind) else {
                    throw fail(k, "stage '\(name)' does not run sharded", "shards apply to convert, filter, dedup, decontaminate, split and stats")
                }
                st.shards = s
            case "parallel":
                guard let s = v.int, (1...256).contains(s) else { throw fail(v, "'parallel' must be a whole number from 1 to 256", nil) }
                st.parallel = s
            case "launcher":
                guard let s = v.string, let l = Launcher(rawValue: s) else { throw fail(v, "'launcher' is local or slurm", nil) }
                st.launcher = l
            case "sbatch":
                guard let s = v.scalarString else { throw fail(v, "'sbatch' is a string of sbatch options", nil) }
                st.sbatch = s
            default:
                guard key.first?.isLetter == true, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
                    throw fail(k, "'\(key)' is not an option name (write it as on the command line, without dashes: min-margin)", nil)
                }
                if case .sequence(let seq) = v {
                    st.options.append((key, .list(try seq.map { x in
                        guard let s = x.scalarString else { throw fail(x, "the values of '\(key)' are plain values", nil) }
                        return s
                    })))
                } else if case .scalar = v {
                    if let b = v.bool, v.tag.description.hasSuffix("bool") || ["true", "false"].contains(v.string ?? "") { st.options.append((key, .flag(b))) }
                    else if let s = v.string { st.options.append((key, .value(s))) }
                } else { throw fail(v, "the value of '\(key)' is a value or a list", nil) }
            }
        }
        if st.launcher == .slurm, st.shards == nil { throw fail(n, "launcher slurm runs a stage's shards as an array job: give 'shards'", nil) }
        return st
    }

    /// convert comes first; nothing changes the data after split.
    static func checkOrder(_ stages: [StageConfig], _ file: String, hasInputs: Bool, root: Int) throws {
        guard hasInputs else { throw ConfigError(file, root, "no 'inputs'", hint: "list the raw corpora (for convert) or normalized pair files under 'inputs:'") }
        var split: StageConfig?
        for (i, s) in stages.enumerated() {
            if s.kind == .convert, i > 0 { throw ConfigError(file, s.line, "convert must be the first stage (it turns the raw inputs into pairs)") }
            if let sp = split, s.kind.transformsData {
                throw ConfigError(file, s.line, "stage '\(s.kind.rawValue)' comes after split (line \(sp.line)): after split only stats, score and export run",
                                  hint: "move '\(s.kind.rawValue)' before split")
            }
            if s.kind == .split { split = s }
        }
    }
}

extension Node {
    /// A scalar's text (numbers and booleans as written); nil for mappings and lists.
    var scalarString: String? { if case .scalar(let s) = self { return s.string } else { return nil } }
}

enum Paths {
    static func absolute(_ p: String, relativeTo base: String = FileManager.default.currentDirectoryPath) -> String {
        let joined = p.hasPrefix("/") ? p : (base as NSString).appendingPathComponent(p)
        return (joined as NSString).standardizingPath
    }
}
