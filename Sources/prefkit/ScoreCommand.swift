import ArgumentParser
import Foundation
import PrefFormats
import PrefIO
import PrefTrain

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score a preference dataset by the held-out reward accuracy of a quick DPO run.",
        discussion: """
        Splits off an eval set (or takes --eval), trains a BPE tokenizer and an SFT reference on prompt + chosen \
        (or loads --ref-model), runs DPO from it, evaluates every --eval-every steps with TRL's metric names and stops \
        early on eval rewards/accuracies. Writes RUNDIR/score.json, RUNDIR/report.html, RUNDIR/reference/ and \
        RUNDIR/policy/ (Hugging Face GPT-2 layout). With --model and --ref-model it only evaluates existing checkpoints.
        """
    )

    @Argument(help: "Normalized pair files.") var inputs: [String]
    @Option(name: [.short, .long], help: "Run directory.") var output: String
    @Option(name: .long, help: "A trusted evaluation set (otherwise --eval-fraction is held out, leak-free by prompt).") var eval: [String] = []
    @Option(name: .long, parsing: .unconditional, help: "Fraction held out for evaluation (at least 200 pairs where possible).") var evalFraction: Double = 0.1
    @Option(name: .long, help: "Preset: quick, standard or thorough (sizes and steps; explicit flags win).") var budget: String = "quick"
    @Option(name: .long, help: "DPO beta, or a comma-separated sweep such as 0.05,0.1,0.3.") var beta: String = "0.1"
    @Option(name: .long, help: "sigmoid, ipo, hinge or robust.") var loss: String = "sigmoid"
    @Option(name: .long, parsing: .unconditional, help: "Label smoothing (sigmoid, robust).") var labelSmoothing: Double = 0
    @Option(name: .long, help: "Load this reference model instead of training one.") var refModel: String?
    @Option(name: .long, help: "Evaluate this policy against --ref-model only (no training).") var model: String?
    @Option(name: .long, help: "Evaluation only, without a reference: avg or sum log-probs.") var refFree: String?
    @Option(name: .long, parsing: .unconditional) var nLayer: Int?
    @Option(name: .long, parsing: .unconditional) var nHead: Int?
    @Option(name: .long, parsing: .unconditional) var nEmbd: Int?
    @Option(name: .long, parsing: .unconditional) var vocabSize: Int?
    @Option(name: .long, parsing: .unconditional) var maxLength: Int?
    @Option(name: .long, parsing: .unconditional) var maxPromptLength: Int?
    @Option(name: .long, parsing: .unconditional, help: "Pairs per DPO step.") var batchSize: Int?
    @Option(name: .long, parsing: .unconditional) var sftSteps: Int?
    @Option(name: .long, parsing: .unconditional, help: "SFT budget in passes over the training pairs (instead of --sft-steps).") var sftEpochs: Double?
    @Option(name: .long, parsing: .unconditional) var dpoSteps: Int?
    @Option(name: .long, parsing: .unconditional, help: "DPO peak learning rate.") var lr: Double?
    @Option(name: .long, parsing: .unconditional, help: "SFT peak learning rate.") var sftLr: Double?
    @Option(name: .long, parsing: .unconditional) var evalEvery: Int?
    @Option(name: .long, parsing: .unconditional, help: "Stop after this many evaluations without a better eval accuracy (0: never).") var patience: Int?
    @Option(name: .long, parsing: .unconditional) var seed: UInt64 = 0
    @Option(name: .long, parsing: .unconditional) var threads: Int?
    @Flag(name: [.short, .long], help: "No progress output.") var quiet = false

    func validate() throws {
        guard ScoreSettings.Budget(rawValue: budget) != nil else { throw ValidationError("--budget must be quick, standard or thorough") }
        guard DPOLossType(rawValue: loss) != nil else { throw ValidationError("--loss must be sigmoid, ipo, hinge or robust") }
        try Range.check(evalFraction, "eval-fraction", 0.01...0.9)
        try Range.check(labelSmoothing, "label-smoothing", 0.0...0.49)
        try Range.check(nLayer, "n-layer", Range.layers)
        try Range.check(nHead, "n-head", Range.heads)
        try Range.check(nEmbd, "n-embd", Range.width)
        try Range.check(vocabSize, "vocab-size", Range.vocab)
        try Range.check(maxLength, "max-length", Range.length)
        try Range.check(maxPromptLength, "max-prompt-length", 1...(Range.length.upperBound - 1))
        try Range.check(batchSize, "batch-size", Range.batch)
        try Range.check(sftSteps, "sft-steps", 0...Range.steps.upperBound)
        try Range.check(sftEpochs, "sft-epochs", 0.001...1000)
        try Range.check(dpoSteps, "dpo-steps", Range.steps)
        try Range.check(lr, "lr", Range.learningRate)
        try Range.check(sftLr, "sft-lr", Range.learningRate)
        try Range.check(evalEvery, "eval-every", Range.steps)
        try Range.check(patience, "patience", 0...100_000)
        try Range.check(threads, "threads", Range.threads)
        if let rf = refFree, rf != "avg" && rf != "sum" { throw ValidationError("--ref-free takes avg or sum") }
        for b in beta.split(separator: ",", omittingEmptySubsequences: false) {
            guard let d = Double(b), d.isFinite, d > 0, d <= 100 else { throw ValidationError("--beta takes numbers in (0, 100], comma-separated (got '\(b)')") }
        }
    }

    func settings() throws -> ScoreSettings {
        guard let b = ScoreSettings.Budget(rawValue: budget) else { throw ValidationError("--budget must be quick, standard or thorough") }
        var s = ScoreSettings.preset(b)
        if let v = nLayer { s.nLayer = v }
        if let v = nHead { s.nHead = v }
        if let v = nEmbd { s.nEmbd = v }
        if let v = vocabSize { s.vocabSize = v }
        if let v = maxLength { s.maxLength = v }
        if let v = maxPromptLength { s.maxPromptLength = v }
        if let v = batchSize { s.pairsPerBatch = v }
        if let v = sftSteps { s.sftSteps = v }
        if let v = sftEpochs { guard v > 0 else { throw ValidationError("--sft-epochs must be positive") }; s.sftEpochs = v }
        if let v = dpoSteps { s.dpoSteps = v }
        if let v = lr { s.dpoLR = v }
        if let v = sftLr { s.sftLR = v }
        if let v = evalEvery { s.evalEvery = max(1, v) }
        if let v = patience { s.patience = v }
        s.seed = seed
        s.threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        s.evalFraction = evalFraction
        s.labelSmoothing = labelSmoothing
        guard let l = DPOLossType(rawValue: loss) else { throw ValidationError("--loss must be sigmoid, ipo, hinge or robust") }
        s.loss = l
        s.betas = try beta.split(separator: ",").map { guard let d = Double($0), d > 0 else { throw ValidationError("--beta takes positive numbers") }; return d }
        guard s.nEmbd % s.nHead == 0 else { throw ValidationError("--n-embd must be a multiple of --n-head") }
        guard s.maxPromptLength < s.maxLength else { throw ValidationError("--max-prompt-length must be below --max-length") }
        return s
    }

    func run() throws {
        let s = try settings()
        try checkOutputs(inputs + eval, ["score.json", "report.html"].map { ("-o", output + "/" + $0) })
        // A run directory made here is removed again if the run fails: no empty or half-written run is left.
        var isDir: ObjCBool = false
        let created = !FileManager.default.fileExists(atPath: output, isDirectory: &isDir)
        if !created && !isDir.boolValue { throw ValidationError("-o \(output) exists and is not a directory") }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        do {
            try score(s)
        } catch {
            if created { try? FileManager.default.removeItem(atPath: output) }
            throw error
        }
    }

    func score(_ s: ScoreSettings) throws {
        let tty = isatty(2) != 0
        let log: Scorer.Log? = quiet ? nil : { line in
            if tty { FileHandle.standardError.write("\r\u{1B}[K\(line)".data(using: .utf8)!) }
        }
        let pairs = try readPairs(inputs)
        if let m = model { try evaluateOnly(pairs, policy: m, s); return }
        let evalPairs = eval.isEmpty ? nil : try readPairs(eval)
        let report = try Scorer.run(train: pairs, eval: evalPairs, settings: s, refModel: refModel, outDir: output, log: log)
        if tty && !quiet { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!) }
        let j = report.json
        let ci = j["ci95"]?.arrayValue?.compactMap(\.doubleValue) ?? []
        var lines = [String(format: "score %.3f (95%% CI %.3f–%.3f, n = %d)  baselines: %@", j["score"]?.doubleValue ?? 0, ci.first ?? 0, ci.last ?? 0, report.nEval,
                            report.baselines.map { String(format: "%@ %.3f", $0.0, $0.1) }.joined(separator: ", "))]
        if report.sweep.count > 1 {
            lines.append("beta sweep:")
            for b in report.sweep { lines.append(String(format: "  beta %-6g  eval accuracy %.3f  (95%% CI %.3f–%.3f)  best step %d", b.beta, b.result.best.accuracy, b.ci.low, b.ci.high, b.result.bestStep)) }
        }
        lines.append(report.verdict)
        for w in j["warnings"]?.arrayValue ?? [] { lines.append("warning: " + (w.stringValue ?? "")) }
        lines.append("written: \(output)/score.json, \(output)/report.html, \(output)/reference/, \(output)/policy\(report.sweep.count > 1 ? "-beta-*" : "")/")
        print(lines.joined(separator: "\n"))
    }

    /// Implicit-reward accuracy of an existing policy (as RewardBench scores DPO models).
    func evaluateOnly(_ pairs: [Pair], policy: String, _ s: ScoreSettings) throws {
        BLAS.setThreads(s.threads)
        let (pm, ptok) = try Checkpoint.load(policy, maxBatch: 2 * s.pairsPerBatch, threads: s.threads)
        guard let tok = ptok else { throw ValidationError("\(policy) has no tokenizer.json") }
        var ref: GPT<Float>?
        if let r = refModel { ref = try Checkpoint.load(r, maxBatch: 2 * s.pairsPerBatch, threads: s.threads).0 }
        guard ref != nil || refFree != nil else { throw ValidationError("evaluation needs --ref-model or --ref-free avg|sum") }
        if let rf = refFree, rf != "avg" && rf != "sum" { throw ValidationError("--ref-free takes avg or sum") }
        var tp: [TokenizedPair] = []
        var dropped = 0
        let maxLen = min(s.maxLength, pm.config.maxT)
        for p in pairs {
            if case .success(let t) = ChatRender.tokenize(p, tok, maxLength: maxLen, maxPrompt: min(s.maxPromptLength, maxLen - 1)) { tp.append(t) } else { dropped += 1 }
        }
        let pl = DPOTrainer.logps(pm, tp, batchPairs: s.pairsPerBatch, pad: tok.eos)
        let rl = ref.map { DPOTrainer.logps($0, tp, batchPairs: s.pairsPerBatch, pad: tok.eos) }
        var correct = 0
        for i in 0..<tp.count {
            let c: Double, r: Double
            if let rl {
                c = pl.c[i] - rl.c[i]; r = pl.r[i] - rl.r[i]
            } else if refFree == "avg" {
                c = pl.c[i] / Double(max(1, pl.nc[i])); r = pl.r[i] / Double(max(1, pl.nr[i]))
            } else {
                c = pl.c[i]; r = pl.r[i]
            }
            if c > r { correct += 1 }
        }
        let ci = Wilson.interval(correct, tp.count)
        let acc = Double(correct) / Double(max(1, tp.count))
        let json: JSONValue = .object([("mode", .string(refModel != nil ? "implicit_reward" : "ref_free_\(refFree!)")), ("score", .double(acc)),
                                       ("ci95", .array([.double(ci.low), .double(ci.high)])), ("n_eval", .int(Int64(tp.count))),
                                       ("dropped", .int(Int64(dropped))), ("model", .string(policy)), ("ref_model", refModel.map { .string($0) } ?? .null)])
        try json.write(to: output + "/score.json")
        print(String(format: "accuracy %.3f (95%% CI %.3f–%.3f, n = %d)", acc, ci.low, ci.high, tp.count))
    }
}
