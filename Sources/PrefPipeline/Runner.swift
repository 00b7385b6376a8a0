import Foundation
import PrefCore
import PrefIO
#if canImport(Glibc)
import Glibc
#endif

/// A stage that did not finish: which step, its exit status, and where its output went.
public struct StageFailure: Error, CustomStringConvertible {
    public var stage: String
    public var step: String
    public var status: Int32
    public var log: String?
    public var description: String {
        let what = status == 2 ? "refused its options (exit 2)" : status < 0 ? "could not start" : "failed (exit \(status))"
        return "stage \(stage): '\(step)' \(what)" + (log.map { "; its output is in \($0)" } ?? "")
    }
}

/// Runs a pipeline config: each stage as prefkit processes, in one run directory with a
/// manifest; stages that finished before with the same inputs and config are kept.
public final class PipelineRunner {
    public let config: PipelineConfig
    public let plans: [StagePlan]
    /// The prefkit binary the stages run (normally this process's own).
    public let executable: String
    public var quiet = false
    /// Run every stage again, even those that are done.
    public var force = false
    public let version: String
    /// The pipeline's own lines (stage starts, skips, the end).
    public var say: (String) -> Void = { FileHandle.standardError.write(($0 + "\n").data(using: .utf8)!) }

    public init(config: PipelineConfig, executable: String, version: String) {
        self.config = config
        self.plans = Planner.plan(config)
        self.executable = executable
        self.version = version
    }

    var manifestPath: String { config.run + "/manifest.json" }

    /// Runs (or resumes) the pipeline; returns the manifest written.
    @discardableResult
    public func run() throws -> JSONValue {
        let started = Date()
        try FileManager.default.createDirectory(atPath: config.run, withIntermediateDirectories: true)
        // One pipeline at a time in a run directory: a second one would delete the first one's stages.
        do { try DirectoryLock.acquire(config.run, exclusive: true) } catch { throw ConfigError(config.path, 0, "\(error)") }
        try refuseDataInStageDirectories()
        let previous = (try? JSONValue.parse(bytes: Array(Data(contentsOf: URL(fileURLWithPath: manifestPath)))))
        let inputs = try hashInputs()
        let configHash = try SHA256.file(config.path).sha256
        var fingerprint = SHA256.hex(Array(JSONValue.array(inputs).serialized().utf8))
        var stages: [JSONValue] = []
        var rerun = force
        if force { say("prefkit pipeline: --force: every stage runs again") }
        var manifest: JSONValue { Manifest.make(config: config, configHash: configHash, version: version, inputs: inputs, stages: stages,
                                                started: started, plans: plans) }
        // Compared by path and content hash (not by the manifest's spelling of them).
        if let old = previous?["inputs"], !force, case let changed = Manifest.changedInputs(old, inputs), !changed.isEmpty {
            say("prefkit pipeline: the inputs changed since the last run (\(changed)): every stage runs again")
            rerun = true
        }
        for p in plans {
            let tag = "[\(p.index + 1)/\(plans.count)] \(p.name)"
            let files = try optionFiles(p)
            fingerprint = try stageFingerprint(p, previous: fingerprint, files: files)
            let old = previous?["stages"]?.arrayValue?.first(where: { $0["index"]?.intValue == Int64(p.index + 1) })
            if !rerun, let old {
                if let why = Manifest.staleness(old, fingerprint: fingerprint, plan: p, files: files, run: config.run) ?? missingData(of: p) {
                    let after = plans.count - p.index - 1
                    say("prefkit pipeline: \(tag): \(why); " + (after == 0 ? "it runs again" : "it and the \(after) stage\(after == 1 ? "" : "s") after it run again"))
                    rerun = true
                } else {
                    say("prefkit pipeline: \(tag): done in an earlier run with the same inputs and config; kept")
                    stages.append(Manifest.kept(old))
                    continue
                }
            } else if !rerun, previous != nil {
                say("prefkit pipeline: \(tag): no finished run of it in this run directory")
                rerun = true
            }
            // A stage runs from an empty directory: nothing of an earlier run of it is mixed in. Only
            // a directory this pipeline made (it holds the stage marker) is ever removed.
            try PipelineRunner.resetStageDirectory(p.directory)
            say("prefkit pipeline: \(tag) -> \(Manifest.relative(p.directory, config.run))")
            let t0 = Date()
            var steps: [JSONValue] = []
            var status = "done"
            var failure: StageFailure?
            for step in p.steps {
                let s0 = Date()
                let (code, log) = runStep(step, p)
                steps.append(.object([("command", .string(Manifest.commandLine(step, executable: "prefkit", run: config.run))),
                                      ("tasks", step.tasks.map { .int(Int64($0)) } ?? .null), ("exit", .int(Int64(code))),
                                      ("seconds", .double(Manifest.round(Date().timeIntervalSince(s0))))]))
                if code != 0 && code != 1 {
                    status = "failed"
                    failure = StageFailure(stage: p.name, step: step.label, status: code, log: log)
                    break
                }
            }
            stages.append(try Manifest.stage(p, fingerprint: fingerprint, optionFiles: files, status: status, steps: steps, seconds: Date().timeIntervalSince(t0), run: config.run))
            try Manifest.write(manifest, to: manifestPath)
            try IndexPage.write(manifest, run: config.run)
            if let failure { throw failure }
        }
        let final = manifest
        try Manifest.write(final, to: manifestPath)
        try IndexPage.write(final, run: config.run)
        return final
    }

    /// The data a later stage reads from this stage's directory must be there for the stage to be
    /// kept, whatever the manifest lists.
    func missingData(of p: StagePlan) -> String? {
        for q in plans where q.index > p.index {
            for r in q.reads where r.hasPrefix(p.directory + "/") && !FileManager.default.fileExists(atPath: r) {
                return "its output \(Manifest.relative(r, config.run)), which stage \(q.name) reads, is missing"
            }
        }
        return nil
    }

    /// The marker a pipeline leaves in each stage directory it creates: only such a directory is
    /// ever emptied by a later run.
    public static let stageMarker = ".prefkit-stage"

    static func resetStageDirectory(_ dir: String) throws {
        var st = stat()
        if lstat(dir, &st) == 0 {
            let isDir = (st.st_mode & S_IFMT) == S_IFDIR, isLink = (st.st_mode & S_IFMT) == S_IFLNK
            var marker = stat()
            let ours = isDir && lstat(dir + "/" + stageMarker, &marker) == 0
            let empty = isDir && InputExpander.names(in: dir).isEmpty
            guard ours || empty || isLink else {
                throw OutputError("\(dir) exists and was not made by prefkit pipeline; refusing to empty it (move it away or choose another run directory)", usage: true)
            }
            // A link is removed, not followed: the directory it points to stays as it is.
            if isLink { unlink(dir) } else { try FileManager.default.removeItem(atPath: dir) }
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: dir + "/" + stageMarker, contents: Data("made by prefkit pipeline; this directory is emptied when its stage runs again\n".utf8)) else {
            throw OutputError("cannot write \(dir)/\(stageMarker)")
        }
    }

    /// An input or a file a stage's options name that lies inside a stage directory would be
    /// deleted when that stage runs: refused before anything runs.
    func refuseDataInStageDirectories() throws {
        func real(_ p: String) -> String {
            if let r = realpath(p, nil) { defer { free(r) }; return String(cString: r) }
            return p
        }
        let runReal = real(config.run)
        let stageDirs = plans.map { runReal + "/" + Manifest.relative($0.directory, config.run) }
        let named = config.resolvedInputs.filter { $0 != "-" } + plans.flatMap(optionPaths)
        for n in named where FileManager.default.fileExists(atPath: n) {
            let r = real(n)
            if let d = stageDirs.first(where: { r == $0 || r.hasPrefix($0 + "/") }) {
                throw ConfigError(config.path, 0, "\(n) lies inside the stage directory \(d), which is emptied when that stage runs",
                                  hint: "move the file out of the run directory's stage folders")
            }
        }
    }

    /// Every input file (directories and globs expanded) with its size and SHA-256.
    func hashInputs() throws -> [JSONValue] {
        if config.resolvedInputs.contains("-") { throw ConfigError(config.path, 0, "a pipeline cannot read stdin ('-'): give files") }
        let files: [InputFile]
        do { files = try InputExpander.expand(config.resolvedInputs) } catch {
            throw ConfigError(config.path, 0, "\(error)", hint: "paths in 'inputs' are relative to the config file's directory (\(config.directory))")
        }
        return try files.map { f in
            let (sha, bytes) = try SHA256.file(f.path)
            return .object([("path", .string(f.path)), ("bytes", .int(bytes)), ("sha256", .string(sha))])
        }
    }

    /// What decides a stage's outputs: the previous stage's fingerprint (the inputs, for the
    /// first), the tool version, the stage's config, and the files its options name.
    func stageFingerprint(_ p: StagePlan, previous: String, files: [JSONValue]) throws -> String {
        let j = JSONValue.object([("previous", .string(previous)), ("version", .string(version)), ("stage", p.config.identity),
                                  ("threads", config.threads.map { .int(Int64($0)) } ?? .null), ("files", .array(files))])
        return SHA256.hex(Array(j.serialized().utf8))
    }

    /// The files (or the files in directories) a stage's options name, with their SHA-256.
    func optionFiles(_ p: StagePlan) throws -> [JSONValue] {
        var files: [JSONValue] = []
        for path in optionPaths(p) {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { continue }
            let members = isDir.boolValue ? Manifest.files(under: path) : [path]
            for m in members { files.append(.object([("path", .string(m)), ("sha256", .string(try SHA256.file(m).sha256))])) }
        }
        return files
    }

    /// Every value of a stage's options as a path relative to the config's directory (the ones that
    /// name files are those that exist).
    func optionPaths(_ p: StagePlan) -> [String] {
        p.config.options.flatMap { _, v -> [String] in
            switch v { case .value(let s): return [s]; case .list(let l): return l; case .flag: return [] }
        }.map { Paths.absolute($0, relativeTo: config.directory) }
    }

    /// Runs one step (all its tasks); returns the worst exit status and the log file, if any.
    func runStep(_ step: Step, _ p: StagePlan) -> (Int32, String?) {
        let logDir = p.directory + "/logs"
        let slug = step.label.replacingOccurrences(of: " --", with: "-").replacingOccurrences(of: " ", with: "-")
        if p.config.launcher == .slurm {
            try? FileManager.default.createDirectory(atPath: logDir, withIntermediateDirectories: true)
            return (Slurm.run(step, executable: executable, directory: config.directory, logs: logDir, name: "prefkit-\(slug)",
                              sbatch: p.config.sbatch, quiet: quiet), logDir)
        }
        let n = step.tasks ?? 0
        let taskArgs: [[String]] = n == 0 ? [step.arguments] : (0..<n).map { step.arguments + ["--shard-index", String($0), "--shard-count", String(n)] }
        let parallel = max(1, min(p.config.parallel ?? ProcessInfo.processInfo.activeProcessorCount, max(1, taskArgs.count)))
        // Quiet: every task's output goes to a log file; otherwise tasks print as they would alone.
        var logs: [String?] = Array(repeating: nil, count: taskArgs.count)
        if quiet {
            try? FileManager.default.createDirectory(atPath: logDir, withIntermediateDirectories: true)
            logs = taskArgs.indices.map { logDir + "/\(slug)" + (n == 0 ? "" : String(format: "-%05d", $0)) + ".log" }
        }
        let worst = WorstStatus()
        let slots = DispatchSemaphore(value: parallel)
        let group = DispatchGroup()
        for (i, args) in taskArgs.enumerated() {
            slots.wait()
            group.enter()
            let proc = Process()
            proc.executableURL = URL(fileURLWithPath: executable)
            proc.arguments = args
            proc.currentDirectoryURL = URL(fileURLWithPath: config.directory)
            if let log = logs[i] {
                FileManager.default.createFile(atPath: log, contents: nil)
                let h = FileHandle(forWritingAtPath: log)
                proc.standardOutput = h; proc.standardError = h
            }
            proc.terminationHandler = { pr in
                TempFiles.unregisterChild(pr.processIdentifier)
                let code = pr.terminationReason == .uncaughtSignal ? 128 + pr.terminationStatus : pr.terminationStatus
                worst.add(code)
                slots.signal(); group.leave()
            }
            do {
                try proc.run()
                // A signal to the pipeline stops this stage first (TempFiles' handler).
                TempFiles.registerChild(proc.processIdentifier)
            } catch {
                worst.add(-1)
                slots.signal(); group.leave()
            }
        }
        group.wait()
        return (worst.value, quiet ? logDir : nil)
    }
}

/// Launcher slurm: each step is one `sbatch --wait` job (an array job when sharded); the shard of
/// a task comes from SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT.
enum Slurm {
    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    static func run(_ step: Step, executable: String, directory: String, logs: String, name: String, sbatch: String?, quiet: Bool) -> Int32 {
        // Exit 1 means records were rejected (they are in the rejects file), not that the task failed.
        let command = "cd \(quote(directory)) && \(quote(executable)) " + step.arguments.map(quote).joined(separator: " ") + "; rc=$?; [ $rc = 0 ] || [ $rc = 1 ]"
        var args = ["--wait", "--parsable", "--job-name=\(name)", "-o", logs + "/\(name)" + (step.tasks == nil ? ".log" : "-%a.log")]
        if let n = step.tasks { args.append("--array=0-\(n - 1)") }
        args += (sbatch ?? "").split(separator: " ").map(String.init)
        args += ["--wrap", command]
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        proc.arguments = ["sbatch"] + args
        if quiet { proc.standardOutput = FileHandle.nullDevice }
        do { try proc.run() } catch { return -1 }
        TempFiles.registerChild(proc.processIdentifier)
        proc.waitUntilExit()
        TempFiles.unregisterChild(proc.processIdentifier)
        return proc.terminationStatus == 0 ? 0 : 3
    }
}

/// The worst exit status of a step's tasks (any failure over rejected records over success).
final class WorstStatus: @unchecked Sendable {
    private let lock = NSLock()
    private var status: Int32 = 0
    func add(_ code: Int32) { lock.lock(); status = Manifest.worse(status, code); lock.unlock() }
    var value: Int32 { lock.lock(); defer { lock.unlock() }; return status }
}
