// `prefkit score`: how learnable and consistent a dataset's preferences are, measured by a quick
// DPO run: held-out split (leak-free by prompt), tokenizer and SFT reference, DPO with cached
// reference log-probs, eval rewards/accuracies with a Wilson interval, and baselines.
import Foundation
import PrefCurate
import PrefFormats
import PrefIO

public struct ScoreSettings: Sendable {
    public enum Budget: String, Sendable, CaseIterable { case quick, standard, thorough }
    public var evalFraction = 0.1
    public var minEval = 200
    /// Below this many eval (or training) pairs, score.json and the screen carry a small-sample warning.
    public static let smallSample = 100
    public var nLayer = 2, nHead = 4, nEmbd = 128, vocabSize = 2048
    public var maxLength = 192, maxPromptLength = 128
    public var sftSteps = 150, sftBatch = 8, sftLR = 1e-3
    /// When set, the SFT budget in passes over the training pairs (overrides sftSteps).
    public var sftEpochs: Double? = nil
    public var dpoSteps = 150, pairsPerBatch = 4, dpoLR = 1e-4
    public var evalEvery = 25, patience = 4
    public var betas: [Double] = [0.1]
    public var loss: DPOLossType = .sigmoid
    public var labelSmoothing = 0.0
    public var seed: UInt64 = 0
    public var threads = 2
    public init() {}

    public static func preset(_ b: Budget) -> ScoreSettings {
        var s = ScoreSettings()
        switch b {
        case .quick: break
        case .standard:
            s.vocabSize = 4096; s.maxLength = 256; s.maxPromptLength = 160
            s.sftSteps = 400; s.dpoSteps = 400; s.evalEvery = 50
        case .thorough:
            s.nLayer = 4; s.nEmbd = 192; s.nHead = 6; s.vocabSize = 4096; s.maxLength = 256; s.maxPromptLength = 160
            s.sftSteps = 1200; s.dpoSteps = 1200; s.evalEvery = 100; s.patience = 5
        }
        return s
    }
}

public struct BetaResult {
    public var beta: Double
    public var result: DPOResult
    public var ci: (low: Double, high: Double)
}

public struct ScoreReport {
    public var json: JSONValue
    public var sweep: [BetaResult]
    public var baselines: [(String, Double)]
    public var settings: ScoreSettings
    public var nEval: Int
    public var verdict: String
}

public enum Scorer {
    public typealias Log = (String) -> Void

    /// Held-out split by prompt groups (same or near-duplicate prompts stay on one side).
    public static func split(_ pairs: [Pair], fraction: Double, minEval: Int, seed: UInt64) -> (train: [Pair], eval: [Pair]) {
        var o = SplitOptions()
        o.test = min(0.5, max(fraction, Double(minEval) / Double(max(1, pairs.count))))
        o.seed = seed
        let h = MinHasher(numPerm: o.numPerm, seed: 1)
        let scanned: [Scanned<SplitFeature>] = pairs.map { .pair(Splitter.feature($0, o, h)) }
        let (d, _) = Splitter.assign(scanned, o, threads: 2)
        var tr: [Pair] = [], ev: [Pair] = []
        for (i, p) in pairs.enumerated() {
            if case .keep(let k) = d[i], k == 1 { ev.append(p) } else { tr.append(p) }
        }
        return (tr, ev)
    }

    static func tokenizeAll(_ pairs: [Pair], _ tok: BPETokenizer, _ s: ScoreSettings) -> ([TokenizedPair], [String: Int], [Pair]) {
        var out: [TokenizedPair] = [], kept: [Pair] = []
        var dropped: [String: Int] = [:]
        for p in pairs {
            switch ChatRender.tokenize(p, tok, maxLength: s.maxLength, maxPrompt: s.maxPromptLength) {
            case .success(let t): out.append(t); kept.append(p)
            case .failure(let e): dropped[e.reason.rawValue, default: 0] += 1
            }
        }
        return (out, dropped, kept)
    }

    public static func run(train trainPairs: [Pair], eval evalPairsIn: [Pair]?, settings s: ScoreSettings, refModel: String?,
                           outDir: String, log: Log? = nil) throws -> ScoreReport {
        let t0 = Date()
        BLAS.setThreads(s.threads)
        var trainSet = trainPairs, evalSet: [Pair]
        if let e = evalPairsIn { evalSet = e } else { (trainSet, evalSet) = split(trainPairs, fraction: s.evalFraction, minEval: s.minEval, seed: s.seed) }
        guard !trainSet.isEmpty, !evalSet.isEmpty else { throw TrainError("need training and evaluation pairs (got \(trainSet.count) and \(evalSet.count))") }
        log?("split: \(trainSet.count) train / \(evalSet.count) eval pairs")

        // Tokenizer and reference.
        var timings: [(String, Double)] = []
        var tok: BPETokenizer
        let reference: GPT<Float>
        let maxBatch = max(s.sftBatch, 2 * s.pairsPerBatch)
        var sftTokensPerS = 0.0
        if let dir = refModel {
            let (m, t) = try Checkpoint.load(dir, maxBatch: maxBatch, threads: s.threads)
            guard let t else { throw TrainError("\(dir) has no tokenizer.json") }
            reference = m; tok = t
        } else {
            var texts: [String] = []
            for p in trainSet { texts += (p.prompt + p.chosen + p.rejected).map(\.text) }
            tok = BPETokenizer.train(texts: texts, vocabSize: s.vocabSize)
            timings.append(("tokenizer_s", Date().timeIntervalSince(t0)))
            let cfg = GPTConfig(vocabSize: tok.vocabSize, maxT: s.maxLength, nLayer: s.nLayer, nHead: s.nHead, nEmbd: s.nEmbd)
            reference = GPT<Float>(config: cfg, maxBatch: maxBatch, threads: s.threads)
            reference.initialize(seed: s.seed)
        }
        let (trainTok, trainDropped, _) = tokenizeAll(trainSet, tok, s)
        let (evalTok, evalDropped, evalKept) = tokenizeAll(evalSet, tok, s)
        guard !trainTok.isEmpty, !evalTok.isEmpty else { throw TrainError("no pairs left after tokenization and truncation") }
        if refModel == nil {
            let t1 = Date()
            var ss = SFTSettings()
            ss.steps = s.sftEpochs.map { max(1, Int(($0 * Double(trainTok.count) / Double(s.sftBatch)).rounded(.up))) } ?? s.sftSteps
            ss.batchSize = s.sftBatch; ss.seed = s.seed
            ss.optimizer.lr = s.sftLR; ss.optimizer.warmupSteps = max(1, s.sftSteps / 10)
            var tokens = 0
            SFT.train(reference, trainTok.map(\.chosen), ss, pad: tok.eos) { e in
                tokens += e.tokens
                if e.step % 25 == 0 || e.step == ss.steps { log?(String(format: "sft %d/%d  loss %.3f", e.step, ss.steps, e.loss)) }
            }
            let dt = Date().timeIntervalSince(t1)
            timings.append(("sft_s", dt))
            sftTokensPerS = Double(tokens) / dt
        }
        try Checkpoint.save(reference, tokenizer: tok, to: outDir + "/reference")

        // Reference log-probs, once.
        let t2 = Date()
        let rt = DPOTrainer.logps(reference, trainTok, batchPairs: s.pairsPerBatch, pad: tok.eos)
        let re = DPOTrainer.logps(reference, evalTok, batchPairs: s.pairsPerBatch, pad: tok.eos)
        timings.append(("reference_logps_s", Date().timeIntervalSince(t2)))

        // Baselines on the eval split.
        let n = evalTok.count
        let lengthCorrect = evalKept.enumerated().filter { _, p in Measure.chars(p.chosen) > Measure.chars(p.rejected) }.count
        let refSum = (0..<n).filter { re.c[$0] > re.r[$0] }.count
        let refAvg = (0..<n).filter { re.c[$0] / Double(max(1, re.nc[$0])) > re.r[$0] / Double(max(1, re.nr[$0])) }.count
        let baselines: [(String, Double)] = [("length", Double(lengthCorrect) / Double(n)), ("reference", Double(refSum) / Double(n)),
                                             ("reference_avg", Double(refAvg) / Double(n))]

        // DPO for each beta, from the same reference.
        var sweep: [BetaResult] = []
        var dpoTime = 0.0
        for beta in s.betas {
            let policy = GPT<Float>(config: reference.config, maxBatch: maxBatch, threads: s.threads)
            policy.params.p.update(from: reference.params.p, count: reference.params.count)
            var ds = DPOTrainSettings()
            ds.steps = s.dpoSteps; ds.pairsPerBatch = s.pairsPerBatch; ds.evalEvery = s.evalEvery; ds.patience = s.patience; ds.seed = s.seed
            ds.dpo.beta = beta; ds.dpo.loss = s.loss; ds.dpo.labelSmoothing = s.labelSmoothing
            ds.optimizer.lr = s.dpoLR; ds.optimizer.warmupSteps = max(1, s.dpoSteps / 10); ds.optimizer.weightDecay = 0
            let t3 = Date()
            let r = DPOTrainer.train(policy: policy, train: trainTok, trainRef: (rt.c, rt.r), eval: evalTok, evalRef: (re.c, re.r), settings: ds, pad: tok.eos) { step, tr, ev in
                if let ev { log?(String(format: "dpo beta %.3g step %d  eval acc %.3f  margin %.3f  loss %.4f", beta, step, ev.accuracy, ev.margins, tr?.loss ?? ev.loss)) }
            }
            dpoTime += Date().timeIntervalSince(t3)
            sweep.append(BetaResult(beta: beta, result: r, ci: Wilson.interval(r.best.correct, r.best.n)))
            let dir = s.betas.count == 1 ? outDir + "/policy" : outDir + "/policy-beta-\(beta)"
            try Checkpoint.save(policy, tokenizer: tok, to: dir)
        }
        timings.append(("dpo_s", dpoTime))
        timings.append(("total_s", Date().timeIntervalSince(t0)))
        let main = sweep.max { a, b in a.result.best.accuracy < b.result.best.accuracy || (a.result.best.accuracy == b.result.best.accuracy && a.beta > b.beta) }!
        let bestBaseline = baselines.map(\.1).max()!
        let verdict: String
        if main.ci.low > bestBaseline {
            verdict = String(format: "DPO learned this data's preferences beyond length and likelihood: eval accuracy %.3f (95%% CI %.3f–%.3f) is above the best baseline (%.3f) by more than its confidence interval.", main.result.best.accuracy, main.ci.low, main.ci.high, bestBaseline)
        } else if main.result.best.accuracy > 0.5 && main.ci.low > 0.5 {
            verdict = String(format: "DPO finds a real preference signal (eval accuracy %.3f, 95%% CI %.3f–%.3f, above chance), but the run could not tell it apart from the length or likelihood baselines (best %.3f).", main.result.best.accuracy, main.ci.low, main.ci.high, bestBaseline)
        } else {
            verdict = String(format: "The run could not tell this data's preferences apart from chance, length or likelihood: eval accuracy %.3f (95%% CI %.3f–%.3f), best baseline %.3f.", main.result.best.accuracy, main.ci.low, main.ci.high, bestBaseline)
        }

        // A handful of pairs gives an interval too wide to say anything: say so, next to the number.
        var warnings: [String] = []
        if n < ScoreSettings.smallSample {
            warnings.append("only \(n) eval pairs: the 95% interval spans \(String(format: "%.2f", main.ci.high - main.ci.low)); at least \(ScoreSettings.smallSample) are needed for a score that can tell datasets apart")
        }
        if trainTok.count < ScoreSettings.smallSample {
            warnings.append("only \(trainTok.count) training pairs: DPO has too little data for the score to describe the dataset")
        }

        func curveJSON(_ r: DPOResult) -> JSONValue {
            .array(r.curve.map { pt in .object([("step", .int(Int64(pt.step)))] + pt.values.map { ($0.0, .double($0.1)) }) })
        }
        let config: JSONValue = .object([
            ("n_layer", .int(Int64(s.nLayer))), ("n_head", .int(Int64(s.nHead))), ("n_embd", .int(Int64(s.nEmbd))),
            ("vocab_size", .int(Int64(tok.vocabSize))), ("max_length", .int(Int64(s.maxLength))), ("max_prompt_length", .int(Int64(s.maxPromptLength))),
            ("sft_steps", .int(Int64(refModel == nil ? (s.sftEpochs.map { max(1, Int(($0 * Double(trainTok.count) / Double(s.sftBatch)).rounded(.up))) } ?? s.sftSteps) : 0))), ("sft_batch_size", .int(Int64(s.sftBatch))), ("sft_lr", .double(s.sftLR)),
            ("dpo_steps", .int(Int64(s.dpoSteps))), ("batch_size", .int(Int64(s.pairsPerBatch))), ("lr", .double(s.dpoLR)),
            ("betas", .array(s.betas.map { .double($0) })), ("loss", .string(s.loss.rawValue)), ("label_smoothing", .double(s.labelSmoothing)),
            ("eval_every", .int(Int64(s.evalEvery))), ("patience", .int(Int64(s.patience))), ("threads", .int(Int64(s.threads))),
            ("reference", .string(refModel ?? "sft")),
        ])
        let json: JSONValue = .object([
            ("score", .double(main.result.best.accuracy)), ("ci95", .array([.double(main.ci.low), .double(main.ci.high)])),
            ("n_eval", .int(Int64(n))), ("beta", .double(main.beta)), ("best_step", .int(Int64(main.result.bestStep))),
            ("eval_ties", .double(main.result.best.ties)), ("eval_margin", .double(main.result.best.margins)),
            ("eval_rewards_chosen", .double(main.result.best.rewardsChosen)), ("eval_rewards_rejected", .double(main.result.best.rewardsRejected)),
            ("baselines", .object(baselines.map { ($0.0, .double($0.1)) })),
            ("verdict", .string(verdict)),
            ("warnings", .array(warnings.map { .string($0) })),
            ("pairs", .object([("train", .int(Int64(trainTok.count))), ("eval", .int(Int64(n)))])),
            ("dropped", .object([("train", .object(trainDropped.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })),
                                 ("eval", .object(evalDropped.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) }))])),
            ("sweep", .array(sweep.map { b in .object([("beta", .double(b.beta)), ("score", .double(b.result.best.accuracy)),
                                                       ("ci95", .array([.double(b.ci.low), .double(b.ci.high)])), ("best_step", .int(Int64(b.result.bestStep))),
                                                       ("steps_run", .int(Int64(b.result.steps))), ("stopped_early", .bool(b.result.stoppedEarly)),
                                                       ("eval_margin", .double(b.result.best.margins))]) })),
            ("curves", curveJSON(main.result)),
            ("config", config), ("seed", .int(Int64(s.seed))), ("version", .string("prefkit 0.1.0")),
            ("timings", .object(timings.map { ($0.0, .double(($0.1 * 100).rounded() / 100)) })),
            ("throughput", .object([("sft_tokens_per_s", .double(sftTokensPerS.rounded())), ("dpo_pairs_per_s", .double((main.result.pairsPerSecond * 10).rounded() / 10))])),
        ])
        let report = ScoreReport(json: json, sweep: sweep, baselines: baselines, settings: s, nEval: n, verdict: verdict)
        try json.write(to: outDir + "/score.json")
        let html = ScoreHTML.page(report, rewards: main.result.bestRewards)
        try EncodedFile.writeWhole(Array(html.utf8), to: outDir + "/report.html")
        return report
    }
}
