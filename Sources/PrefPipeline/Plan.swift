import Foundation

/// One prefkit invocation of a stage: run once, or as `tasks` shards (`--shard-index i
/// --shard-count tasks` appended, or SLURM_ARRAY_TASK_ID under launcher slurm).
public struct Step: Sendable {
    public var label: String
    public var arguments: [String]
    public var tasks: Int?
}

/// What a stage reads and writes, and the prefkit invocations that do it.
public struct StagePlan: Sendable {
    public var index: Int
    public var config: StageConfig
    public var name: String { config.kind.rawValue }
    /// The stage's directory under the run directory: "03-dedup".
    public var directory: String
    public var steps: [Step]
    /// Summary JSON files the steps write (per shard when sharded: the pattern's shards).
    public var summaries: [String]
    /// HTML reports the stage writes: (title, path).
    public var reports: [(String, String)]
    /// The data this stage reads.
    public var reads: [String]
}

/// The data between stages: every pair, and the train / test sides once split.
struct Flow {
    var data: [String]
    var train: [String]? = nil
    var test: [String]? = nil
}

enum Planner {
    /// Options each phase of a sharded dedup or split takes (the rest go to every phase that
    /// reads pairs). A test parses each phase with them.
    static let dedupSign: Set<String> = ["ngram", "num-perm", "threshold", "bands", "rows", "response-perm", "exact-only", "by", "seed", "buckets"]
    static let dedupCluster: Set<String> = ["keep", "source-priority", "keep-conflicts"]
    static let splitSign: Set<String> = ["threshold", "exact-only", "buckets"]
    static let splitGroup: Set<String> = ["test", "valid", "seed", "stratify"]

    static func plan(_ c: PipelineConfig) -> [StagePlan] {
        var flow = Flow(data: c.resolvedInputs)
        var plans: [StagePlan] = []
        for (i, s) in c.stages.enumerated() {
            let dir = c.run + "/" + String(format: "%02d-", i + 1) + s.kind.rawValue
            var p = StagePlan(index: i, config: s, directory: dir, steps: [], summaries: [], reports: [], reads: flow.data)
            let threads = threadArgs(s, c)
            func opts(_ only: Set<String>? = nil, except: Set<String> = []) -> [String] {
                s.options.filter { only?.contains($0.0) ?? !except.contains($0.0) }.flatMap { $0.1.arguments($0.0) }
            }
            let sharded = s.shards != nil
            // Stages that keep some pairs: one output (or a directory of parts), removed and rejected records, a summary.
            func curate(_ command: [String], extra: [String]) -> [String] {
                let out = sharded ? dir + "/parts/" : dir + "/pairs.jsonl.zst"
                p.summaries = [dir + "/summary.json"]
                p.steps.append(Step(label: command.joined(separator: " "), arguments: command + flow.data + ["-o", out, "--rejects", dir + "/rejects.jsonl",
                                    "--summary-json", dir + "/summary.json"] + extra + threads, tasks: s.shards))
                return [sharded ? dir + "/parts" : out]
            }
            switch s.kind {
            case .convert:
                flow = Flow(data: curate(["convert"], extra: ["--removed", dir + "/removed.jsonl.zst"] + opts()))
            case .filter, .decontaminate:
                flow = Flow(data: curate([s.kind.rawValue], extra: ["--removed", dir + "/removed.jsonl.zst"] + opts()))
            case .dedup:
                if let n = s.shards {
                    let apply = opts(except: dedupSign.union(dedupCluster))
                    p.steps = [
                        Step(label: "dedup sign", arguments: ["dedup", "sign"] + flow.data + ["-o", dir + "/sign"] + opts(dedupSign) + threads, tasks: n),
                        Step(label: "dedup cluster", arguments: ["dedup", "cluster", dir + "/sign", "-o", dir + "/cluster"] + opts(dedupCluster) + threads, tasks: n),
                        Step(label: "dedup cluster --merge", arguments: ["dedup", "cluster", dir + "/sign", "-o", dir + "/cluster", "--merge",
                                                                         "--clusters", dir + "/clusters.jsonl"] + opts(dedupCluster) + threads),
                        Step(label: "dedup apply", arguments: ["dedup", "apply"] + flow.data + ["--clusters", dir + "/cluster", "-o", dir + "/parts/",
                             "--removed", dir + "/removed.jsonl.zst", "--rejects", dir + "/rejects.jsonl", "--summary-json", dir + "/summary.json"] + apply + threads, tasks: n),
                    ]
                    p.summaries = [dir + "/summary.json"]
                    flow = Flow(data: [dir + "/parts"])
                } else {
                    flow = Flow(data: curate(["dedup"], extra: ["--removed", dir + "/removed.jsonl.zst", "--clusters", dir + "/clusters.jsonl"] + opts()))
                }
            case .split:
                let valid: Bool = {
                    if case .value(let v)? = s.option("valid"), let d = Double(v) { return d > 0 }
                    return false
                }()
                let sides = ["train", "test"] + (valid ? ["valid"] : [])
                if let n = s.shards {
                    let apply = opts(except: splitSign.union(splitGroup))
                    p.steps = [
                        Step(label: "split sign", arguments: ["split", "sign"] + flow.data + ["-o", dir + "/sign"] + opts(splitSign) + threads, tasks: n),
                        Step(label: "split group", arguments: ["split", "group", dir + "/sign", "-o", dir + "/group"] + opts(splitGroup) + threads, tasks: n),
                        Step(label: "split group --merge", arguments: ["split", "group", dir + "/sign", "-o", dir + "/group", "--merge"] + opts(splitGroup) + threads),
                        Step(label: "split apply", arguments: ["split", "apply"] + flow.data + ["--groups", dir + "/group", "-o", dir + "/data/", "--ext", "jsonl.zst",
                             "--rejects", dir + "/rejects.jsonl", "--summary-json", dir + "/summary.json"] + apply + threads, tasks: n),
                    ]
                    p.summaries = [dir + "/summary.json"]
                    let files = { (side: String) in (0..<n).map { dir + "/data/" + String(format: "%@-%05d-of-%05d.jsonl.zst", side, $0, n) } }
                    flow = Flow(data: sides.flatMap(files), train: files("train"), test: files("test"))
                } else {
                    p.steps = [Step(label: "split", arguments: ["split"] + flow.data + ["-o", dir + "/data/", "--ext", "jsonl.zst", "--rejects", dir + "/rejects.jsonl",
                                                                "--summary-json", dir + "/summary.json"] + opts() + threads)]
                    p.summaries = [dir + "/summary.json"]
                    flow = Flow(data: sides.map { dir + "/data/\($0).jsonl.zst" }, train: [dir + "/data/train.jsonl.zst"], test: [dir + "/data/test.jsonl.zst"])
                }
            case .stats:
                let report = ["--json", dir + "/stats.json", "--html", dir + "/stats.html"]
                if let n = s.shards {
                    p.steps = [Step(label: "stats", arguments: ["stats"] + flow.data + ["-o", dir + "/parts/"] + opts() + threads, tasks: n),
                               Step(label: "stats --merge", arguments: ["stats", "--merge", dir + "/parts"] + report)]
                } else {
                    p.steps = [Step(label: "stats", arguments: ["stats"] + flow.data + report + opts() + threads)]
                }
                p.summaries = [dir + "/stats.json"]
                p.reports = [("Statistics", dir + "/stats.html")]
            case .score:
                let train = flow.train ?? flow.data
                p.reads = train
                let eval = s.option("eval") == nil ? (flow.test ?? []).flatMap { ["--eval", $0] } : []
                p.steps = [Step(label: "score", arguments: ["score"] + train + ["-o", dir] + eval + opts() + threads)]
                p.summaries = [dir + "/score.json"]
                p.reports = [("Score", dir + "/report.html")]
            case .export:
                let ext = "jsonl"
                let sides: [(String, [String])] = flow.train.map { [("train", $0), ("test", flow.test ?? [])] } ?? [("data", flow.data)]
                for (side, files) in sides where !files.isEmpty {
                    p.steps.append(Step(label: "export \(side)", arguments: ["export"] + files + ["-o", dir + "/\(side).\(ext)", "--rejects", dir + "/\(side).rejects.jsonl",
                                                                               "--summary-json", dir + "/\(side).summary.json"] + opts()))
                    p.summaries.append(dir + "/\(side).summary.json")
                }
            }
            plans.append(p)
        }
        return plans
    }

    /// `--threads` for each process: the stage's own, the config's, or the cores shared by the
    /// tasks that run at once.
    static func threadArgs(_ s: StageConfig, _ c: PipelineConfig) -> [String] {
        if s.option("threads") != nil { return [] }
        if let t = c.threads { return ["--threads", String(t)] }
        if s.shards != nil, s.launcher == .local {
            let cores = ProcessInfo.processInfo.activeProcessorCount
            return ["--threads", String(max(1, cores / max(1, s.parallel ?? cores)))]
        }
        return []
    }
}
