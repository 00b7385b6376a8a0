import ArgumentParser
import Foundation
import PrefCore
import PrefFormats
import PrefIO
import PrefTrain


/// Options `score` and `compare` share: the budget, the model, the reference, DPO and the metric.
struct ScoreOptions: ParsableArguments {
    @Option(name: .long, help: "A trusted evaluation set (otherwise --eval-fraction is held out, leak-free by prompt).") var eval: [String] = []
    @Option(name: .long, parsing: .unconditional, help: "Fraction held out for evaluation, 0.01-0.9 (at least 200 pairs where possible).") var evalFraction: Double = 0.1
    @Option(name: .long, help: "Preset of sizes and steps; explicit flags win.") var budget: ScoreSettings.Budget = .quick
    @Option(name: .long, help: "DPO beta, or (score only) a comma-separated sweep such as 0.05,0.1,0.3.") var beta: String = "0.1"
    @Option(name: .long, help: "DPO loss.") var loss: DPOLossType = .sigmoid
    @Option(name: .long, parsing: .unconditional, help: "Label smoothing (sigmoid, robust), 0-0.49.") var labelSmoothing: Double = 0
    @Option(name: .long, help: "What the SFT reference learns: both replies (label-free) or the chosen reply only (it then sees the labels).") var referenceOn: ScoreSettings.ReferenceOn = .both
    @Option(name: .long, help: "The implicit reward the score ranks by: per-token (length-normalized), sum, or length-controlled (per-token after removing the length trend of all eval replies' rewards).") var metric: ScoreSettings.Metric = .sum
    @Option(name: .long, help: "Load this reference model instead of training one.") var refModel: String?
    @OptionGroup var model: ModelOptions
    @Option(name: .long, parsing: .unconditional, help: "Reference SFT steps, 0-10000000.") var sftSteps: Int?
    @Option(name: .long, parsing: .unconditional, help: "Reference SFT budget in passes over its sequences (instead of --sft-steps).") var sftEpochs: Double?
    @Option(name: .long, parsing: .unconditional, help: "DPO steps (default: --dpo-epochs passes over the training pairs).") var dpoSteps: Int?
    @Option(name: .long, parsing: .unconditional, help: "DPO passes over the training pairs, 0.01-100 (default 1 for quick).") var dpoEpochs: Double?
    @Option(name: .long, parsing: .unconditional, help: "Training pairs used per dataset (a seeded sample when there are more).") var maxTrainPairs: Int?
    @Option(name: .long, parsing: .unconditional, help: "DPO peak learning rate.") var lr: Double?
    @Option(name: .long, parsing: .unconditional, help: "Reference SFT peak learning rate.") var sftLr: Double?
    @Option(name: .long, parsing: .unconditional, help: "Evaluations during DPO; the kept checkpoint has the lowest eval loss.") var evaluations: Int?
    @Option(name: .long, parsing: .unconditional, help: "Evaluate every this many DPO steps (instead of --evaluations).") var evalEvery: Int?
    @Option(name: .long, parsing: .unconditional, help: "Stop after this many evaluations without a lower eval loss (0: never).") var patience: Int?
    @Option(name: .long, parsing: .unconditional, help: "Run this many seeds (seed, seed+1, ...) and report the mean and spread, 1-100.") var seeds: Int = 1

    func validate() throws {
        try Range.check(evalFraction, "eval-fraction", 0.01...0.9)
        try Range.check(labelSmoothing, "label-smoothing", 0.0...0.49)
        try Range.check(sftSteps, "sft-steps", 0...Range.steps.upperBound)
        try Range.check(sftEpochs, "sft-epochs", 0.001...1000)
        try Range.check(dpoSteps, "dpo-steps", Range.steps)
        try Range.check(dpoEpochs, "dpo-epochs", 0.01...100)
        try Range.check(maxTrainPairs, "max-train-pairs", 10...10_000_000)
        try Range.check(lr, "lr", Range.learningRate)
        try Range.check(sftLr, "sft-lr", Range.learningRate)
        try Range.check(evaluations, "evaluations", 1...1000)
        try Range.check(evalEvery, "eval-every", Range.steps)
        try Range.check(patience, "patience", 0...100_000)
        try Range.check(seeds, "seeds", 1...100)
        for b in beta.split(separator: ",", omittingEmptySubsequences: false) {
            guard let d = Double(b), d.isFinite, d > 0, d <= 100 else { throw ValidationError("--beta takes numbers in (0, 100], comma-separated (got '\(b)')") }
        }
        // The sizes against the budget's defaults (the budget is known here, so this is a usage error).
        _ = try settings()
    }

    func settings() throws -> ScoreSettings {
        var s = ScoreSettings.preset(budget)
        s.shape = try model.shape(over: s.shape)
        if let v = sftSteps { s.sftSteps = v }
        if let v = sftEpochs { s.sftEpochs = v }
        if let v = dpoSteps { s.dpoSteps = v }
        if let v = dpoEpochs { s.dpoEpochs = v }
        if let v = maxTrainPairs { s.maxTrainPairs = v }
        if let v = lr { s.dpoLR = v }
        if let v = sftLr { s.sftLR = v }
        if let v = evaluations { s.evaluations = v }
        if let v = evalEvery { s.evalEvery = v }
        if let v = patience { s.patience = v }
        s.seed = model.seed
        s.threads = model.threadCount
        s.evalFraction = evalFraction
        s.labelSmoothing = labelSmoothing
        s.loss = loss
        s.referenceOn = referenceOn
        s.metric = metric
        s.betas = beta.split(separator: ",").compactMap { Double($0) }
        return s
    }

    var seedList: [UInt64] { (0..<UInt64(seeds)).map { model.seed &+ $0 } }

    /// Pairs to keep from a dataset: the training sample, plus the share held out for evaluation.
    func sampleCap(_ s: ScoreSettings, evalGiven: Bool) -> Int {
        if evalGiven { return s.maxTrainPairs + s.maxTrainPairs / 10 }
        let f = min(0.5, s.evalFraction)
        return s.maxTrainPairs + max(s.minEval, Int((Double(s.maxTrainPairs) * f / (1 - f)).rounded(.up))) + s.maxTrainPairs / 10
    }

    /// Creates the run directory; if it was created here, it is removed again when `body` fails.
    func inRunDirectory(_ output: String, _ body: () throws -> Void) throws {
        var isDir: ObjCBool = false
        let created = !FileManager.default.fileExists(atPath: output, isDirectory: &isDir)
        if !created && !isDir.boolValue { throw ValidationError("-o \(output) exists and is not a directory") }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        do { try body() } catch {
            if created { try? FileManager.default.removeItem(atPath: output) }
            throw error
        }
    }

    /// Training progress through PrefCore.Progress (a line redrawn in place on a terminal, a plain
    /// line every PREFKIT_PROGRESS_SECONDS otherwise); nil with --quiet.
    func logger(quiet: Bool) -> Scorer.Log? {
        if quiet || Progress.shared.mode == .off { return nil }
        return { line in Progress.shared.note(line) }
    }
}

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score a preference dataset by the held-out reward accuracy of a quick DPO run.",
        discussion: """
        Holds out an eval set (or takes --eval), trains a BPE tokenizer and a reference model on the texts without \
        their labels (prompt + both replies), runs DPO from it on a sample of the training pairs, and reports the \
        eval reward accuracy, its gain over the best label-free baseline (length, reference likelihood) with a \
        paired interval, the eval loss and margin with bootstrap intervals. Writes RUNDIR/score.json, \
        RUNDIR/report.html, RUNDIR/reference/ and RUNDIR/policy/ (Hugging Face GPT-2 layout). With --model and \
        --ref-model it only evaluates existing checkpoints. To compare datasets, use `prefkit compare`.
        """
    )

    @Argument(help: "Normalized pair files, directories or globs (together one dataset).") var inputs: [String]
    @Option(name: [.short, .long], help: "Run directory.") var output: String
    @OptionGroup var options: ScoreOptions
    @Option(name: .long, help: "A pretrained model (a GGUF file or a Hugging Face directory: Llama, Mistral, Qwen2, GPT-NeoX) to score the data with (--method); or a prefkit policy checkpoint to evaluate against --ref-model only (no training).") var model: String?
    @Option(name: .long, help: "With a pretrained --model: probe (a Bradley–Terry model on the model's pooled reply representations, cross-fitted).") var method: ScoreMethod = .probe
    @Option(name: .long, parsing: .unconditional, help: "Probe: cross-fitting folds, 2-20.") var folds: Int = 5
    @Option(name: .long, help: "With a policy --model: judge pairs without a reference, by the policy's average (per-token) or summed log-probs.") var refFree: CheckpointEval.RefFree?
    @Flag(name: [.short, .long], help: "No progress output.") var quiet = false

    enum ScoreMethod: String, ExpressibleByArgument, CaseIterable { case probe, dpo }

    var pretrained: Bool { model.map(PretrainedModel.isPretrained) ?? false }

    func validate() throws {
        try Range.check(folds, "folds", 2...20)
        if pretrained {
            if method == .dpo { throw ValidationError("--method dpo on a pretrained model is not implemented yet: use --method probe") }
            if refFree != nil || options.refModel != nil { throw ValidationError("a pretrained --model is scored with --method; --ref-model and --ref-free are for prefkit policy checkpoints") }
            if options.seeds > 1 { throw ValidationError("--seeds with a pretrained --model is not implemented yet (the probe is cross-fitted; run --seed values one by one)") }
            return
        }
        if model != nil && options.refModel == nil && refFree == nil { throw ValidationError("--model needs --ref-model or --ref-free avg|sum") }
        if refFree != nil && model == nil { throw ValidationError("--ref-free evaluates a --model") }
    }

    func run() throws {
        let s = try options.settings()
        try checkOutputs(inputs + options.eval, ["score.json", "report.html", "suspects.jsonl"].map { ("-o", output + "/" + $0) })
        try options.inRunDirectory(output) { try score(s) }
    }

    func score(_ s: ScoreSettings) throws {
        let log = options.logger(quiet: quiet)
        if let m = model, pretrained { try probe(m, s, log: log); return }
        if let m = model { try evaluateOnly(try readPairs(inputs), policy: m, s); return }
        let evalPairs = options.eval.isEmpty ? nil : try readPairs(options.eval)
        // Only what the budget uses is kept: a sample of the training pairs plus room for the eval hold-out.
        let (pairs, read, _) = try readPairsSampled(inputs, cap: options.sampleCap(s, evalGiven: evalPairs != nil), seed: s.seed)
        var reports: [ScoreReport] = []
        for seed in options.seedList {
            var ss = s
            ss.seed = seed
            let dir = options.seeds == 1 ? output : output + "/seed-\(seed)"
            if options.seeds > 1 { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            reports.append(try Scorer.run(train: pairs, eval: evalPairs, settings: ss, refModel: options.refModel, outDir: dir, log: log, pairsRead: read))
        }
        Progress.shared.end()
        let report = reports[0]
        var j = report.json
        if reports.count > 1 {
            // The mean and spread over seeds; each seed's full run is in seed-N/.
            let scores = reports.map { $0.json["score"]?.doubleValue ?? 0 }, gains = reports.map { $0.json["gain"]?.doubleValue ?? 0 }
            let agg: JSONValue = .object([("seeds", .array(options.seedList.map { .int(Int64($0)) })),
                                          ("score_mean", .double(PairedStats.mean(scores))), ("score_sd", .double(PairedStats.sd(scores))),
                                          ("scores", .array(scores.map { .double($0) })),
                                          ("gain_mean", .double(PairedStats.mean(gains))), ("gain_sd", .double(PairedStats.sd(gains))),
                                          ("runs", .array(options.seedList.map { .string("seed-\($0)/score.json") }))])
            if case .object(var o) = j { o.insert(("seeds", agg), at: 0); j = .object(o) }
            try j.write(to: output + "/score.json")
        }
        let ci = j["ci95"]?.arrayValue?.compactMap(\.doubleValue) ?? []
        let gci = j["gain_ci95"]?.arrayValue?.compactMap(\.doubleValue) ?? []
        var lines = [String(format: "score %.3f (95%% CI %.3f–%.3f, n = %d, %@ reward)  gain over %@ %+.3f (paired 95%% CI %+.3f to %+.3f)",
                            j["score"]?.doubleValue ?? 0, ci.first ?? 0, ci.last ?? 0, report.nEval, j["metric"]?.stringValue ?? "",
                            j["best_baseline"]?.stringValue ?? "", j["gain"]?.doubleValue ?? 0, gci.first ?? 0, gci.last ?? 0)]
        lines.append("baselines: " + report.baselines.map { String(format: "%@ %.3f", $0.0, $0.1) }.joined(separator: ", "))
        if let agg = j["seeds"] {
            lines.append(String(format: "over %d seeds: score %.3f ± %.3f, gain %+.3f ± %.3f", options.seeds, agg["score_mean"]?.doubleValue ?? 0, agg["score_sd"]?.doubleValue ?? 0,
                                agg["gain_mean"]?.doubleValue ?? 0, agg["gain_sd"]?.doubleValue ?? 0))
        }
        if report.sweep.count > 1 {
            lines.append("beta sweep:")
            for b in report.sweep { lines.append(String(format: "  beta %-6g  eval accuracy %.3f  (95%% CI %.3f–%.3f)  kept step %d", b.beta, b.score, b.ci.low, b.ci.high, b.result.bestStep)) }
        }
        lines.append(report.verdict)
        for w in j["warnings"]?.arrayValue ?? [] { lines.append("warning: " + (w.stringValue ?? "")) }
        lines.append("written: \(output)/score.json, \(output)/report.html, \(output)/reference/, \(output)/policy\(report.sweep.count > 1 ? "-beta-*" : "")/")
        print(lines.joined(separator: "\n"))
    }

    /// `--method probe` on a pretrained model.
    func probe(_ path: String, _ s: ScoreSettings, log: Scorer.Log?) throws {
        let pm: PretrainedModel
        do { pm = try PretrainedModel(path: path) } catch { throw ValidationError("\(error)") }
        var ps = ProbeSettings()
        ps.folds = folds
        ps.seed = s.seed
        ps.threads = s.threads
        ps.evalFraction = s.evalFraction
        if let v = options.maxTrainPairs { ps.maxTrainPairs = v }
        if let v = options.model.maxLength { ps.maxLength = v; ps.maxPromptLength = options.model.maxPromptLength ?? v / 2 }
        if let v = options.model.maxPromptLength { ps.maxPromptLength = v }
        let evalPairs = options.eval.isEmpty ? nil : try readPairs(options.eval)
        var cap = ScoreSettings.preset(.quick)
        cap.maxTrainPairs = ps.maxTrainPairs
        cap.evalFraction = ps.evalFraction
        let (pairs, read, _) = try readPairsSampled(inputs, cap: options.sampleCap(cap, evalGiven: evalPairs != nil), seed: s.seed)
        let j = try Probe.run(model: pm, train: pairs, eval: evalPairs, settings: ps, outDir: output, log: log, pairsRead: read)
        Progress.shared.end()
        func f(_ k: String) -> Double { j[k]?.doubleValue ?? .nan }
        func ci(_ k: String) -> String { let c = j[k]?.arrayValue?.compactMap(\.doubleValue) ?? []; return c.count == 2 ? String(format: "%.3f to %.3f", c[0], c[1]) : "n/a" }
        var lines = [String(format: "probe: %.3f bits per pair beyond the label-free baselines (95%% CI %@); accuracy %.3f (%@), length-balanced %.3f (%@), n = %d",
                            f("bits_beyond_baseline"), ci("bits_beyond_baseline_ci95"), f("accuracy"), ci("accuracy_ci95"), f("balanced_accuracy"),
                            ci("balanced_accuracy_ci95"), Int(j["n_eval"]?.intValue ?? 0))]
        if case .object(let b)? = j["baselines"] { lines.append("baselines: " + b.map { String(format: "%@ %.3f", $0.0, $0.1.doubleValue ?? 0) }.joined(separator: ", ")) }
        lines.append(String(format: "out-of-fold disagreement with the labels %.3f (%@); noise rate %@", f("disagreement"), ci("disagreement_ci95"),
                            j["noise_rate"]?.doubleValue.map { String(format: "%.3f (%@)", $0, ci("noise_rate_ci95")) } ?? "n/a: " + (j["noise_rate_note"]?.stringValue ?? "")))
        lines.append(j["verdict"]?.stringValue ?? "")
        lines.append("written: \(output)/score.json, \(output)/suspects.jsonl (\(j["suspects"]?["count"]?.intValue ?? 0) pairs)")
        print(lines.joined(separator: "\n"))
    }

    /// Implicit-reward accuracy of an existing policy (as RewardBench scores DPO models).
    func evaluateOnly(_ pairs: [Pair], policy: String, _ s: ScoreSettings) throws {
        let r = try CheckpointEval.accuracy(pairs, policy: policy, reference: options.refModel, refFree: refFree, maxLength: s.maxLength,
                                            maxPromptLength: options.model.maxPromptLength, fallbackPromptLength: s.maxPromptLength,
                                            batchPairs: s.pairsPerBatch, threads: s.threads)
        try r.json.write(to: output + "/score.json")
        print(String(format: "accuracy %.3f (95%% CI %.3f–%.3f, n = %d)", r.accuracy, r.ci.low, r.ci.high, r.n))
    }
}

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Rank preference datasets by training each under identical conditions and testing every difference.",
        discussion: """
        Each argument is one dataset (a file, a directory of shards or a glob). One eval set (--eval, or held out \
        from the union of the datasets' prompts, leak-free and the same for all), one tokenizer and one label-free \
        reference, one seed schedule; then a DPO run per dataset (per seed with --seeds). Writes RUNDIR/compare.json \
        and RUNDIR/report.html: the ranking, each dataset's score with its spread over seeds, and each pairwise \
        difference with a paired 95% interval and p-value. A verdict says "A is better than B" only where the \
        --by statistic's difference is significant at --alpha.
        """
    )

    @Argument(help: "Two or more datasets: normalized pair files, directories or globs.") var inputs: [String]
    @Option(name: [.short, .long], help: "Run directory.") var output: String
    @OptionGroup var options: ScoreOptions
    @Option(name: .long, help: "The paired statistic a verdict rests on: margin (per-pair implicit reward margin), accuracy or loss.") var by: CompareSettings.Statistic = .margin
    @Option(name: .long, parsing: .unconditional, help: "Significance level of a verdict, 0.0001-0.5.") var alpha: Double = 0.05
    @Option(name: .long, help: "Names of the datasets in the report, comma-separated (default: file names).") var names: String?
    @Flag(name: [.short, .long], help: "No progress output.") var quiet = false

    func validate() throws {
        guard inputs.count >= 2 else { throw ValidationError("compare needs at least two datasets") }
        try Range.check(alpha, "alpha", 0.0001...0.5)
        if let n = names, n.split(separator: ",").count != inputs.count { throw ValidationError("--names needs one name per dataset (\(inputs.count))") }
        if options.beta.contains(",") { throw ValidationError("compare takes one --beta") }
    }

    func run() throws {
        let s = try options.settings()
        try checkOutputs(inputs + options.eval, ["compare.json", "report.html"].map { ("-o", output + "/" + $0) })
        try options.inRunDirectory(output) {
            let log = options.logger(quiet: quiet)
            let labels = names?.split(separator: ",").map(String.init) ?? inputs.map { InputExpander.basename($0) }
            let evalPairs = options.eval.isEmpty ? nil : try readPairs(options.eval)
            let cap = options.sampleCap(s, evalGiven: evalPairs != nil)
            let datasets = try zip(labels, inputs).map { (name: $0.0, pairs: try readPairsSampled([$0.1], cap: cap, seed: s.seed).pairs) }
            var cs = CompareSettings()
            cs.statistic = by; cs.alpha = alpha
            let r = try Scorer.compare(datasets: datasets, eval: evalPairs, settings: s, seeds: options.seedList, compare: cs,
                                       refModel: options.refModel, outDir: output, log: log)
            Progress.shared.end()
            var lines = ["ranking (\(s.metric.rawValue) reward accuracy on \(r.nEval) eval pairs, \(options.seeds) seed\(options.seeds == 1 ? "" : "s")):"]
            for (k, d) in r.datasets.enumerated() {
                lines.append(String(format: "  %d. %@  score %.3f ± %.3f  eval margin %.4f  eval loss %.4f", k + 1, d.name, d.meanScore, PairedStats.sd(d.scores), PairedStats.mean(d.margin), PairedStats.mean(d.loss)))
            }
            lines.append("baselines: " + r.baselines.map { String(format: "%@ %.3f", $0.0, $0.1) }.joined(separator: ", "))
            for c in r.comparisons { lines.append(c.verdict) }
            lines.append("written: \(output)/compare.json, \(output)/report.html")
            print(lines.joined(separator: "\n"))
        }
    }
}
