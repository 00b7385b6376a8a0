import ArgumentParser
import Foundation
import PrefIO
import PrefPipeline

struct PipelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Run convert → filter → dedup → decontaminate → split → stats → score → export from one YAML config.",
        discussion: """
        Each stage runs as a prefkit command with the options the config gives it, reading the previous stage's \
        output, in RUN/NN-STAGE/. RUN/manifest.json records the inputs (size, SHA-256), every stage's commands, exit \
        statuses, timing, record counts, summaries and outputs (SHA-256), the tool version and the config; \
        RUN/index.html links the statistics and score reports. Run again, it keeps every stage that finished with the \
        same inputs and options and says why it reruns the others. Rejected records are counted, not fatal: the \
        pipeline exits 0 when every stage finished, 2 for a config mistake, 3 when a stage failed. \
        'prefkit pipeline --init' writes a commented example (docs/pipeline.md).
        """
    )

    @Argument(help: "The pipeline config (YAML); with --init, where to write the example (default pipeline.yaml).") var config: String?
    @Flag(name: .customLong("init"), help: "Write a commented example config and stop.") var initConfig = false
    @Option(name: [.customShort("o"), .customLong("run")], help: "Run directory (instead of the config's 'run').") var runDirectory: String?
    @Option(name: .customLong("set"), help: "Override a stage option: STAGE.OPTION=VALUE, e.g. score.budget=standard (repeatable).") var overrides: [String] = []
    @Flag(name: .long, help: "Run every stage again, even those finished with the same inputs and options.") var force = false
    @Flag(name: .long, help: "Print every stage's commands and stop.") var dryRun = false
    @Flag(name: [.short, .long], help: "Nothing on the terminal but errors; each stage's output goes to RUN/NN-STAGE/logs/.") var quiet = false

    func validate() throws {
        if !initConfig, config == nil { throw ValidationError("give the pipeline config (YAML), or --init to write an example") }
    }

    func run() throws {
        if initConfig {
            let path = config ?? "pipeline.yaml"
            guard !FileManager.default.fileExists(atPath: path) else {
                throw ValidationError("\(path) exists: --init does not overwrite a config (give another name)")
            }
            try EncodedFile.writeWhole(Array(PipelineConfig.example.utf8), to: path)
            print("wrote \(path): set its inputs, then run 'prefkit pipeline \(path)'")
            return
        }
        // The pipeline shards its stages itself (--shard-index): a scheduler's array environment
        // around it must not turn each stage into a shard of its own (stages inherit this environment).
        for k in ProcessInfo.processInfo.environment.keys where k.hasPrefix("SLURM_ARRAY_") || k == "JOB_COMPLETION_INDEX" { unsetenv(k) }
        var cfg = try PipelineConfig.load(config!, runOverride: runDirectory)
        for o in overrides { try cfg.apply(override: o) }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let runner = PipelineRunner(config: cfg, executable: exe, version: PrefkitVersion.string)
        runner.quiet = quiet
        runner.force = force
        if quiet { runner.say = { _ in } }
        try PipelineCommand.check(runner)
        if dryRun {
            for p in runner.plans {
                print("# \(p.index + 1) \(p.name) -> \(p.directory)")
                for s in p.steps { print("prefkit " + s.arguments.joined(separator: " ") + (s.tasks.map { "  # \($0) tasks: --shard-index I --shard-count \($0)" } ?? "")) }
            }
            return
        }
        let started = Date()
        let manifest = try runner.run()
        guard !quiet else { return }
        var lines = [String(format: "prefkit pipeline: done in %.1f s; manifest %@/manifest.json", Date().timeIntervalSince(started), cfg.run)]
        lines.append("reports:")
        lines.append("  \(cfg.run)/index.html")
        for s in manifest["stages"]?.arrayValue ?? [] {
            for r in s["reports"]?.arrayValue ?? [] { lines.append("  \(cfg.run)/\(r["path"]?.stringValue ?? "")") }
        }
        FileHandle.standardError.write((lines.joined(separator: "\n") + "\n").data(using: .utf8)!)
    }

    /// Every step's command line parses as the prefkit command it names, before anything runs: a
    /// misspelt option or a bad value is a config error on its stage's line. Parsed from the
    /// config's directory, where the stages run.
    static func check(_ runner: PipelineRunner) throws {
        let fm = FileManager.default
        let here = fm.currentDirectoryPath
        fm.changeCurrentDirectoryPath(runner.config.directory)
        defer { fm.changeCurrentDirectoryPath(here) }
        for p in runner.plans {
            for s in p.steps {
                let args = s.arguments + (s.tasks.map { ["--shard-index", "0", "--shard-count", String($0)] } ?? [])
                let hint = "the options of a stage are those of 'prefkit \(s.arguments.prefix(while: { !$0.hasPrefix("/") && !$0.hasPrefix("-") }).joined(separator: " ")) --help', without the dashes"
                do { _ = try Prefkit.parseAsRoot(args) } catch {
                    let d = Diagnosis(error, command: "prefkit " + p.name, parseCode: Prefkit.exitCode(for: error))
                    throw ConfigError((runner.config.path as NSString).lastPathComponent, p.config.line, "stage '\(p.name)': \(d.message)", hint: hint)
                }
                // A value given to a flag (`empty: 1`) would become one more input: an option that
                // parses without its value is a flag, and takes `true` only.
                for (key, value) in p.config.options {
                    guard case .value(let v) = value else { continue }
                    guard let k = args.indices.first(where: { args[$0] == "--" + key && $0 + 1 < args.count && args[$0 + 1] == v }) else { continue }
                    var bare = args
                    bare.remove(at: k + 1)
                    if (try? Prefkit.parseAsRoot(bare)) != nil {
                        throw ConfigError((runner.config.path as NSString).lastPathComponent, p.config.line,
                                          "stage '\(p.name)': '\(key)' is a flag: write '\(key): true' (it takes no value, got '\(v)')", hint: hint)
                    }
                }
            }
        }
    }
}
