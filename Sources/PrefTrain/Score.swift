// `prefkit score` and `prefkit compare`: how learnable and consistent a dataset's preferences are,
// measured by a quick DPO run and evaluated on held-out pairs.
//
// The conditions are fixed before any dataset is trained, so that datasets can be compared: one
// eval set (given, or held out from the union of the inputs' prompts, leak-free), one tokenizer and
// one reference model trained on the texts without their labels (prompt + both replies), one seed
// schedule. Each dataset then gets a DPO run from that reference. The baselines (length, and the
// reference's own likelihood) are label-free, so they are the same for any datasets with the same
// texts, and a score is read as its gain over the best of them, with a paired interval.
import Foundation
import PrefCurate
import PrefCore
import PrefIO

public struct ScoreSettings: Sendable {
    public enum Budget: String, Sendable, CaseIterable { case quick, standard, thorough }
    /// What the reference model is fine-tuned on: both replies (label-free, the default) or the
    /// chosen reply only (the DPO paper's "preferred-FT"; the reference then sees the labels).
    public enum ReferenceOn: String, Sendable, CaseIterable { case both, chosen }
    /// The implicit reward the score ranks pairs by: per-token (length-normalized), summed, or
    /// length-controlled (per-token, after removing the part of every reply's reward that its
    /// length predicts; see `EvalPairs.lengthControlled`).
    public enum Metric: String, Sendable, CaseIterable { case perToken = "per-token", sum, lengthControlled = "length-controlled" }
    public var evalFraction = 0.1
    public var minEval = 200
    /// Below this many eval (or training) pairs, score.json and the screen carry a small-sample warning.
    public static let smallSample = 100
    public var nLayer = 2, nHead = 4, nEmbd = 128, vocabSize = 2048
    public var maxLength = 192, maxPromptLength = 128
    public var sftSteps = 150, sftBatch = 8, sftLR = 1e-3
    /// When set, the SFT budget in passes over the reference's training sequences (overrides sftSteps).
    public var sftEpochs: Double? = nil
    /// DPO steps; nil: `dpoEpochs` passes over the training pairs.
    public var dpoSteps: Int? = nil
    public var dpoEpochs = 1.0
    public var pairsPerBatch = 4, dpoLR = 1e-4
    /// Evaluations during a DPO run (the kept checkpoint has the lowest eval loss); evalEvery overrides.
    public var evaluations = 4
    public var evalEvery: Int? = nil
    public var patience = 0
    public var betas: [Double] = [0.1]
    public var loss: DPOLossType = .sigmoid
    public var labelSmoothing = 0.0
    public var referenceOn: ReferenceOn = .both
    /// Summed by default: the validity benchmark (docs/scoring.md) found it follows the labels on
    /// both HH sets, where the per-token accuracy misses helpful-base.
    public var metric: Metric = .sum
    /// Training pairs used per dataset (a seeded uniform sample when there are more): the budget
    /// buys this much signal whatever the dataset size.
    public var maxTrainPairs = 2000
    /// Text used to train the tokenizer (a prefix of the shuffled training texts).
    public var tokenizerBytes = 4 << 20
    public var bootstrapReps = 2000
    public var seed: UInt64 = 0
    public var threads = 2
    public init() {}

    public static func preset(_ b: Budget) -> ScoreSettings {
        var s = ScoreSettings()
        switch b {
        case .quick: break
        case .standard:
            s.vocabSize = 4096; s.maxLength = 256; s.maxPromptLength = 160
            s.sftSteps = 400; s.dpoEpochs = 2; s.maxTrainPairs = 5000; s.evaluations = 6
        case .thorough:
            s.nLayer = 4; s.nEmbd = 192; s.nHead = 6; s.vocabSize = 4096; s.maxLength = 256; s.maxPromptLength = 160
            s.sftSteps = 1200; s.dpoEpochs = 3; s.maxTrainPairs = 20000; s.evaluations = 8
        }
        return s
    }

    func dpoStepCount(_ trainPairs: Int) -> Int {
        dpoSteps ?? max(1, Int((dpoEpochs * Double(trainPairs) / Double(pairsPerBatch)).rounded(.up)))
    }
}

/// Per eval pair, at the kept checkpoint of one DPO run.
public struct EvalPairs: Sendable {
    /// beta * ((pi_c - ref_c) - (pi_r - ref_r)): the summed implicit reward margin.
    public var sumMargin: [Double]
    /// (pi_c - ref_c) / n_c - (pi_r - ref_r) / n_r: the per-token implicit reward margin.
    public var tokenMargin: [Double]
    /// The pair's DPO loss at the run's beta (sigmoid loss).
    public var loss: [Double]
    /// pi_c / n_c - pi_r / n_r: the policy's own per-token likelihood preference (the reference's
    /// preference plus what DPO moved). With labels that carry no information DPO moves nothing
    /// systematic, and this stays at the reference's own preference.
    public var policyTokenMargin: [Double]
    /// Length-controlled per-token margin. DPO shifts every reply's summed implicit reward by an
    /// amount that depends on its length (it lowers most log-probabilities as it trains), whatever
    /// the labels: the summed margin then favours one length, and the per-token margin the other.
    /// Fitting reward = a + b * length over all eval replies (chosen and rejected alike, so the fit
    /// is label-free) and comparing the per-token residuals removes that drift, and with it what
    /// length alone would predict.
    public var lengthControlled: [Double]

    public func margins(_ m: ScoreSettings.Metric) -> [Double] {
        switch m {
        case .sum: return sumMargin
        case .perToken: return tokenMargin
        case .lengthControlled: return lengthControlled
        }
    }
    /// 1 when the chosen reply gets the higher reward, 0 when the rejected does, 0.5 for a tie (a
    /// model that learned nothing scores 0.5, not 0).
    public func correct(_ m: ScoreSettings.Metric) -> [Double] { margins(m).map { $0 > 0 ? 1 : ($0 < 0 ? 0 : 0.5) } }
    public func accuracy(_ m: ScoreSettings.Metric) -> Double { PairedStats.mean(correct(m)) }
    public var policyCorrect: [Double] { policyTokenMargin.map { $0 > 0 ? 1 : ($0 < 0 ? 0 : 0.5) } }
}

/// One dataset at one beta (and one seed).
public struct ScoreRun {
    public var dataset: String
    public var beta: Double
    public var seed: UInt64
    public var result: DPOResult
    public var eval: EvalPairs
    public var trainPairs: Int
    public var trainDropped: [String: Int]
}

/// What every dataset shares: eval set, tokenizer, reference, baselines.
public struct ScoreConditions {
    public var tok: BPETokenizer
    public var reference: GPT<Float>
    public var evalTok: [TokenizedPair]
    public var evalKept: [Pair]
    public var evalDropped: [String: Int]
    public var refEval: (c: [Double], r: [Double], nc: [Int], nr: [Int])
    /// Label-free baselines: name and per-eval-pair correctness (1 when the rule picks chosen).
    public var baselines: [(String, [Double])]
    public var timings: [(String, Double)]
    public var sftTokensPerS: Double
    public var referenceSequences: Int

    public var n: Int { evalTok.count }
    /// Per eval pair, whether the reference alone prefers the chosen reply per token: what
    /// `label_gain` measures the policy against.
    public var referencePreference: [Double] { baselines.first { $0.0 == "reference_avg" }!.1 }
    public func baselineAccuracy(_ name: String) -> Double? { baselines.first { $0.0 == name }.map { PairedStats.mean($0.1) } }
    /// The best label-free baseline by accuracy (ties: the first listed).
    public var bestBaseline: (String, [Double]) {
        baselines.max { PairedStats.mean($0.1) < PairedStats.mean($1.1) }!
    }
}

public struct ScoreReport {
    public var json: JSONValue
    public var sweep: [BetaResult]
    public var baselines: [(String, Double)]
    public var settings: ScoreSettings
    public var nEval: Int
    public var verdict: String
    /// The run the report describes (score.json and report.html carry the same one).
    public var mainIndex: Int
}

public struct BetaResult {
    public var beta: Double
    public var result: DPOResult
    public var ci: (low: Double, high: Double)
    public var score: Double
}

public enum Scorer {
    public typealias Log = (String) -> Void

    /// Held-out split by prompt groups (same or near-duplicate prompts stay on one side).
    public static func split(_ pairs: [Pair], fraction: Double, minEval: Int, seed: UInt64) -> (train: [Pair], eval: [Pair]) {
        let (tr, ev) = splitIndices(pairs, fraction: fraction, minEval: minEval, seed: seed)
        return (tr.map { pairs[$0] }, ev.map { pairs[$0] })
    }

    static func splitIndices(_ pairs: [Pair], fraction: Double, minEval: Int, seed: UInt64) -> (train: [Int], eval: [Int]) {
        var o = SplitOptions()
        o.test = min(0.5, max(fraction, Double(minEval) / Double(max(1, pairs.count))))
        o.seed = seed
        let h = MinHasher(numPerm: o.numPerm, seed: 1)
        let scanned: [Scanned<SplitFeature>] = pairs.map { .pair(Splitter.feature($0, o, h)) }
        let (d, _) = Splitter.assign(scanned, o, threads: 2)
        var tr: [Int] = [], ev: [Int] = []
        for i in pairs.indices {
            if case .keep(let k) = d[i], k == 1 { ev.append(i) } else { tr.append(i) }
        }
        return (tr, ev)
    }

    /// A seeded uniform sample of at most `k` items, in their original order.
    public static func sample<T>(_ items: [T], _ k: Int, seed: UInt64) -> [T] {
        guard items.count > k else { return items }
        var rng = SplitMix64(state: seed &+ 0x5A3B1E)
        var idx = Array(items.indices)
        for i in 0..<k { idx.swapAt(i, i + Int(rng.next() % UInt64(idx.count - i))) }
        return idx.prefix(k).sorted().map { items[$0] }
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

    /// A pair's two replies in a fixed order that does not depend on the label.
    static func labelBlind(_ p: Pair) -> ([Message], [Message]) {
        let a = XXH64.hash(TextNorm.text(p.chosen)), b = XXH64.hash(TextNorm.text(p.rejected))
        return a <= b ? (p.chosen, p.rejected) : (p.rejected, p.chosen)
    }

    /// Unordered (prompt, replies) key: label variants of one pair share it.
    static func textKey(_ p: Pair) -> UInt64 {
        let a: UInt64 = XXH64.hash(TextNorm.text(p.chosen)), b: UInt64 = XXH64.hash(TextNorm.text(p.rejected))
        return XXH64.hash(TextNorm.text(p.prompt), seed: min(a, b) &* 31 &+ max(a, b))
    }

    /// The eval set and each dataset's training pairs. With `eval`, training pairs whose prompt
    /// is an eval prompt are dropped. Without it, the eval set is held out from the union of the
    /// datasets' prompts by prompt group (one group is on one side for every dataset); a pair that
    /// appears in several datasets is evaluated once, and not at all when the datasets disagree on
    /// its label (there is no trusted label for it: give --eval for a trusted set).
    public static func plan(datasets: [[Pair]], eval: [Pair]?, s: ScoreSettings) -> (eval: [Pair], train: [[Pair]]) {
        if let e = eval {
            let evalPrompts = Set(e.map { XXH64.hash(TextNorm.normalize(TextNorm.text($0.prompt))) })
            return (e, datasets.map { d in d.filter { !evalPrompts.contains(XXH64.hash(TextNorm.normalize(TextNorm.text($0.prompt)))) } })
        }
        // Distinct texts across datasets, in order of first appearance, split by prompt group.
        var seen = Set<UInt64>()
        var union: [Pair] = []
        // Texts whose labels disagree between datasets: no trusted label, so not evaluated on.
        var firstChosen: [UInt64: UInt64] = [:]
        var conflicting = Set<UInt64>()
        for d in datasets {
            for p in d {
                let k = textKey(p), c = XXH64.hash(TextNorm.text(p.chosen))
                if seen.insert(k).inserted { union.append(p); firstChosen[k] = c } else if firstChosen[k] != c { conflicting.insert(k) }
            }
        }
        let (_, evIdx) = splitIndices(union, fraction: s.evalFraction, minEval: s.minEval, seed: s.seed)
        let evalSet = evIdx.map { union[$0] }.filter { !conflicting.contains(textKey($0)) }
        let evalPrompts = Set(evalSet.map { XXH64.hash(TextNorm.normalize(TextNorm.text($0.prompt))) })
        // Near-duplicate prompts were grouped with their eval pairs by the split; drop those too.
        let evalTexts = Set(evIdx.map { textKey(union[$0]) })
        let evalIndexSet = Set(evIdx)
        let trainSide = Set(union.indices.filter { !evalIndexSet.contains($0) }.map { textKey(union[$0]) })
        let train = datasets.map { d in
            d.filter { p in
                let k = textKey(p)
                return !evalTexts.contains(k) && trainSide.contains(k) && !evalPrompts.contains(XXH64.hash(TextNorm.normalize(TextNorm.text(p.prompt))))
            }
        }
        return (evalSet, train)
    }

    /// Tokenizer, reference model, eval tokens, reference log-probs and baselines, shared by every dataset.
    public static func conditions(trainSets: [[Pair]], eval evalSet: [Pair], settings s: ScoreSettings, refModel: String?,
                                  outDir: String?, log: Log?) throws -> ScoreConditions {
        let t0 = Date()
        var timings: [(String, Double)] = []
        let tok: BPETokenizer
        let reference: GPT<Float>
        let maxBatch = max(s.sftBatch, 2 * s.pairsPerBatch)
        var sftTokensPerS = 0.0
        var refSeqs = 0
        // The reference (and the tokenizer) see the texts of every dataset's training sample.
        var union: [Pair] = []
        var seen = Set<UInt64>()
        for d in trainSets { for p in d where seen.insert(textKey(p)).inserted { union.append(p) } }
        if let dir = refModel {
            let (m, t) = try Checkpoint.load(dir, maxBatch: maxBatch, threads: s.threads)
            guard let t else { throw TrainError("\(dir) has no tokenizer.json") }
            reference = m; tok = t
        } else {
            var texts: [String] = []
            var bytes = 0
            for p in sample(union, union.count, seed: s.seed) {
                for m in p.prompt + labelBlind(p).0 + labelBlind(p).1 { texts.append(m.text); bytes += m.text.utf8.count }
                if bytes >= s.tokenizerBytes { break }
            }
            tok = BPETokenizer.train(texts: texts, vocabSize: s.vocabSize)
            timings.append(("tokenizer_s", Date().timeIntervalSince(t0)))
            let cfg = GPTConfig(vocabSize: tok.vocabSize, maxT: s.maxLength, nLayer: s.nLayer, nHead: s.nHead, nEmbd: s.nEmbd)
            // Label-free: the two replies in an order that does not depend on which one was chosen.
            let seqs = ChatRender.sequences(union, replies: { p in s.referenceOn == .both ? [labelBlind(p).0, labelBlind(p).1] : [p.chosen] },
                                            tok, maxLength: s.maxLength, maxPrompt: s.maxPromptLength)
            guard !seqs.isEmpty else { throw TrainError("no training sequence has response tokens within --max-length") }
            refSeqs = seqs.count
            var ss = SFTSettings()
            ss.steps = s.sftEpochs.map { max(1, Int(($0 * Double(seqs.count) / Double(s.sftBatch)).rounded(.up))) } ?? s.sftSteps
            ss.batchSize = s.sftBatch; ss.seed = s.seed
            ss.optimizer.lr = s.sftLR; ss.optimizer.warmupSteps = max(1, ss.steps / 10)
            let r = try SFT.trainModel(seqs, config: cfg, ss, pad: tok.eos, maxBatch: maxBatch, threads: s.threads) { e in
                if e.step % 25 == 0 || e.step == ss.steps { log?(String(format: "reference sft %d/%d  loss %.3f", e.step, ss.steps, e.loss)) }
            }
            reference = r.model
            timings.append(("sft_s", r.seconds))
            sftTokensPerS = r.tokensPerSecond
        }
        if let dir = outDir { try Checkpoint.save(reference, tokenizer: tok, to: dir + "/reference", maxPromptLength: s.maxPromptLength) }
        let (evalTok, evalDropped, evalKept) = tokenizeAll(evalSet, tok, s)
        guard !evalTok.isEmpty else { throw TrainError("no eval pairs left after tokenization and truncation") }
        let t2 = Date()
        let re = DPOTrainer.logps(reference, evalTok, batchPairs: s.pairsPerBatch, pad: tok.eos)
        timings.append(("reference_eval_logps_s", Date().timeIntervalSince(t2)))
        let n = evalTok.count
        // Label-free baselines. Length is two-sided: "the longer reply wins" and "the shorter wins".
        let longer = evalKept.map { Measure.chars($0.chosen) > Measure.chars($0.rejected) ? 1.0 : 0.0 }
        let shorter = evalKept.map { Measure.chars($0.chosen) < Measure.chars($0.rejected) ? 1.0 : 0.0 }
        let refSum = (0..<n).map { re.c[$0] > re.r[$0] ? 1.0 : 0.0 }
        let refAvg = (0..<n).map { re.c[$0] / Double(max(1, re.nc[$0])) > re.r[$0] / Double(max(1, re.nr[$0])) ? 1.0 : 0.0 }
        let baselines: [(String, [Double])] = [("length", longer), ("length_shorter", shorter), ("reference", refSum), ("reference_avg", refAvg)]
        return ScoreConditions(tok: tok, reference: reference, evalTok: evalTok, evalKept: evalKept, evalDropped: evalDropped,
                               refEval: re, baselines: baselines, timings: timings, sftTokensPerS: sftTokensPerS, referenceSequences: refSeqs)
    }

    /// One DPO run of one dataset from the shared reference. The seed schedule (data order,
    /// batches) depends only on the seed and the number of pairs, so label variants of the same
    /// pairs see the same batches: their scores differ by the labels alone.
    public static func train(_ c: ScoreConditions, pairs: [Pair], name: String, beta: Double, settings s: ScoreSettings,
                             log: Log?) throws -> (ScoreRun, GPT<Float>) {
        let (trainTok, dropped, _) = tokenizeAll(sample(pairs, s.maxTrainPairs, seed: s.seed), c.tok, s)
        guard !trainTok.isEmpty else { throw TrainError("\(name): no training pairs left after tokenization and truncation") }
        let maxBatch = max(s.sftBatch, 2 * s.pairsPerBatch)
        let rt = DPOTrainer.logps(c.reference, trainTok, batchPairs: s.pairsPerBatch, pad: c.tok.eos)
        let policy = try GPT<Float>(config: c.reference.config, maxBatch: maxBatch, threads: s.threads)
        policy.params.p.update(from: c.reference.params.p, count: c.reference.params.count)
        var ds = DPOTrainSettings()
        ds.steps = s.dpoStepCount(trainTok.count)
        ds.pairsPerBatch = s.pairsPerBatch
        ds.evalEvery = s.evalEvery ?? max(1, ds.steps / max(1, s.evaluations))
        ds.patience = s.patience; ds.seed = s.seed
        ds.dpo.beta = beta; ds.dpo.loss = s.loss; ds.dpo.labelSmoothing = s.labelSmoothing
        ds.optimizer.lr = s.dpoLR; ds.optimizer.warmupSteps = max(1, ds.steps / 10); ds.optimizer.weightDecay = 0
        let r = DPOTrainer.train(policy: policy, train: trainTok, trainRef: (rt.c, rt.r), eval: c.evalTok, evalRef: (c.refEval.c, c.refEval.r),
                                 settings: ds, pad: c.tok.eos) { step, tr, ev in
            if let ev { log?(String(format: "%@ dpo beta %.3g step %d/%d  eval acc %.3f  loss %.4f", name, beta, step, ds.steps, ev.accuracy, tr?.loss ?? ev.loss)) }
        }
        let e = evalPairs(r.bestLogps, c.refEval, beta: beta)
        return (ScoreRun(dataset: name, beta: beta, seed: s.seed, result: r, eval: e, trainPairs: trainTok.count, trainDropped: dropped), policy)
    }

    static func evalPairs(_ p: (c: [Double], r: [Double], nc: [Int], nr: [Int]), _ ref: (c: [Double], r: [Double], nc: [Int], nr: [Int]), beta: Double) -> EvalPairs {
        let n = p.c.count
        var sum = [Double](repeating: 0, count: n), tokM = sum, loss = sum, pol = sum
        for i in 0..<n {
            let dc = p.c[i] - ref.c[i], dr = p.r[i] - ref.r[i]
            let nc = Double(max(1, p.nc[i])), nr = Double(max(1, p.nr[i]))
            sum[i] = beta * (dc - dr)
            tokM[i] = dc / nc - dr / nr
            loss[i] = -logSigmoid(sum[i])
            pol[i] = p.c[i] / nc - p.r[i] / nr
        }
        // Least squares of each reply's summed implicit reward on its length, over all 2n replies.
        var sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0
        for i in 0..<n {
            for (x, y) in [(Double(p.nc[i]), p.c[i] - ref.c[i]), (Double(p.nr[i]), p.r[i] - ref.r[i])] { sx += x; sy += y; sxx += x * x; sxy += x * y }
        }
        let m = Double(2 * n), den = m * sxx - sx * sx
        let slope = abs(den) > 1e-12 ? (m * sxy - sx * sy) / den : 0, icept = (sy - slope * sx) / max(m, 1)
        let lc = (0..<n).map { i -> Double in
            let nc = Double(max(1, p.nc[i])), nr = Double(max(1, p.nr[i]))
            let ec = p.c[i] - ref.c[i] - icept - slope * Double(p.nc[i]), er = p.r[i] - ref.r[i] - icept - slope * Double(p.nr[i])
            return ec / nc - er / nr
        }
        return EvalPairs(sumMargin: sum, tokenMargin: tokM, loss: loss, policyTokenMargin: pol, lengthControlled: lc)
    }

    /// The statistics of one run against the shared conditions, as JSON fields.
    static func runStats(_ run: ScoreRun, _ c: ScoreConditions, _ s: ScoreSettings) -> [(String, JSONValue)] {
        let correct = run.eval.correct(s.metric)
        let score = PairedStats.mean(correct)
        let (bname, bcorrect) = c.bestBaseline
        let gain = PairedStats.paired(correct, bcorrect, reps: s.bootstrapReps, seed: s.seed)
        let wilson = Wilson.interval(Int(correct.reduce(0, +).rounded()), correct.count)
        let labelGain = PairedStats.paired(run.eval.policyCorrect, c.referencePreference, reps: s.bootstrapReps, seed: s.seed)
        return [
            ("score", .double(PairedStats.round4(score))),
            ("ci95", Interval(wilson.low, wilson.high).json),
            ("metric", .string(s.metric.rawValue)),
            ("gain", .double(PairedStats.round4(gain.mean))), ("gain_ci95", gain.ci.json), ("gain_p", .double(PairedStats.round4(gain.p))),
            ("best_baseline", .string(bname)),
            ("accuracy_per_token", .double(PairedStats.round4(run.eval.accuracy(.perToken)))),
            ("accuracy_sum", .double(PairedStats.round4(run.eval.accuracy(.sum)))),
            ("accuracy_length_controlled", .double(PairedStats.round4(run.eval.accuracy(.lengthControlled)))),
            ("policy_accuracy", .double(PairedStats.round4(PairedStats.mean(run.eval.policyCorrect)))),
            ("label_gain", .double(PairedStats.round4(labelGain.mean))), ("label_gain_ci95", labelGain.ci.json), ("label_gain_p", .double(PairedStats.round4(labelGain.p))),
            ("eval_loss", .double(PairedStats.round4(PairedStats.mean(run.eval.loss)))),
            ("eval_loss_ci95", PairedStats.bootstrapCI(run.eval.loss, reps: s.bootstrapReps, seed: s.seed).json),
            ("eval_margin_per_token", .double(PairedStats.round4(PairedStats.mean(run.eval.tokenMargin)))),
            ("eval_margin_per_token_ci95", PairedStats.bootstrapCI(run.eval.tokenMargin, reps: s.bootstrapReps, seed: s.seed).json),
            ("eval_margin", .double(PairedStats.round4(PairedStats.mean(run.eval.sumMargin)))),
            ("eval_margin_ci95", PairedStats.bootstrapCI(run.eval.sumMargin, reps: s.bootstrapReps, seed: s.seed).json),
        ]
    }

    static func verdictText(score: Double, ci: (low: Double, high: Double), gain: PairedDifference, baseline: String, baselineAcc: Double) -> String {
        if gain.ci.low > 0 {
            return String(format: "DPO learned this data's preferences beyond length and likelihood: eval accuracy %.3f (95%% CI %.3f–%.3f) beats the best label-free baseline (%@, %.3f) by %.3f (paired 95%% CI %.3f–%.3f, p = %.3g).", score, ci.low, ci.high, baseline, baselineAcc, gain.mean, gain.ci.low, gain.ci.high, gain.p)
        }
        if ci.low > 0.5 {
            return String(format: "DPO finds a preference signal (eval accuracy %.3f, 95%% CI %.3f–%.3f, above chance), but not beyond the best label-free baseline (%@, %.3f; gain %.3f, paired 95%% CI %.3f–%.3f).", score, ci.low, ci.high, baseline, baselineAcc, gain.mean, gain.ci.low, gain.ci.high)
        }
        return String(format: "No signal beyond chance, length or likelihood: eval accuracy %.3f (95%% CI %.3f–%.3f); best label-free baseline %@ %.3f; gain %.3f (paired 95%% CI %.3f–%.3f).", score, ci.low, ci.high, baseline, baselineAcc, gain.mean, gain.ci.low, gain.ci.high)
    }

    static func configJSON(_ s: ScoreSettings, _ c: ScoreConditions, refModel: String?, dpoSteps: Int) -> JSONValue {
        .object([
            ("n_layer", .int(Int64(s.nLayer))), ("n_head", .int(Int64(s.nHead))), ("n_embd", .int(Int64(s.nEmbd))),
            ("vocab_size", .int(Int64(c.tok.vocabSize))), ("max_length", .int(Int64(s.maxLength))), ("max_prompt_length", .int(Int64(s.maxPromptLength))),
            ("reference", .string(refModel ?? "sft")), ("reference_on", .string(refModel == nil ? s.referenceOn.rawValue : "loaded")),
            ("sft_steps", .int(Int64(refModel == nil ? (s.sftEpochs.map { max(1, Int(($0 * Double(c.referenceSequences) / Double(s.sftBatch)).rounded(.up))) } ?? s.sftSteps) : 0))),
            ("sft_batch_size", .int(Int64(s.sftBatch))), ("sft_lr", .double(s.sftLR)),
            ("dpo_steps", .int(Int64(dpoSteps))), ("dpo_epochs", s.dpoSteps == nil ? .double(s.dpoEpochs) : .null),
            ("batch_size", .int(Int64(s.pairsPerBatch))), ("lr", .double(s.dpoLR)),
            ("betas", .array(s.betas.map { .double($0) })), ("loss", .string(s.loss.rawValue)), ("label_smoothing", .double(s.labelSmoothing)),
            ("metric", .string(s.metric.rawValue)), ("max_train_pairs", .int(Int64(s.maxTrainPairs))),
            ("evaluations", .int(Int64(s.evaluations))), ("patience", .int(Int64(s.patience))), ("threads", .int(Int64(s.threads))),
        ])
    }

    static func curveJSON(_ r: DPOResult) -> JSONValue {
        .array(r.curve.map { pt in .object([("step", .int(Int64(pt.step)))] + pt.values.map { ($0.0, .double($0.1)) }) })
    }

    /// `prefkit score`: one dataset, a beta sweep, score.json and report.html in `outDir`.
    public static func run(train trainPairs: [Pair], eval evalPairsIn: [Pair]?, settings s: ScoreSettings, refModel: String?,
                           outDir: String, log: Log? = nil, pairsRead: Int? = nil) throws -> ScoreReport {
        let t0 = Date()
        BLAS.setThreads(s.threads)
        let (evalSet, trains) = plan(datasets: [trainPairs], eval: evalPairsIn, s: s)
        let trainSet = trains[0]
        guard !trainSet.isEmpty, !evalSet.isEmpty else { throw TrainError("need training and evaluation pairs (got \(trainSet.count) and \(evalSet.count))") }
        log?("split: \(trainSet.count) train / \(evalSet.count) eval pairs")
        let c = try conditions(trainSets: [sample(trainSet, s.maxTrainPairs, seed: s.seed)], eval: evalSet, settings: s, refModel: refModel, outDir: outDir, log: log)
        var timings = c.timings
        var sweep: [BetaResult] = []
        var runs: [ScoreRun] = []
        let t3 = Date()
        for beta in s.betas {
            let (run, policy) = try train(c, pairs: trainSet, name: "data", beta: beta, settings: s, log: log)
            let correct = run.eval.correct(s.metric)
            let w = Wilson.interval(Int(correct.reduce(0, +).rounded()), correct.count)
            sweep.append(BetaResult(beta: beta, result: run.result, ci: w, score: PairedStats.mean(correct)))
            runs.append(run)
            try Checkpoint.save(policy, tokenizer: c.tok, to: s.betas.count == 1 ? outDir + "/policy" : outDir + "/policy-beta-\(beta)", maxPromptLength: s.maxPromptLength)
        }
        timings.append(("dpo_s", Date().timeIntervalSince(t3)))
        timings.append(("total_s", Date().timeIntervalSince(t0)))
        // The reported run: the best score; ties go to the smaller beta (the same run in every output).
        var mainIndex = 0
        for (i, b) in sweep.enumerated() where b.score > sweep[mainIndex].score || (b.score == sweep[mainIndex].score && b.beta < sweep[mainIndex].beta) { mainIndex = i }
        let main = runs[mainIndex], mainB = sweep[mainIndex]
        let n = c.n
        let (bname, bcorrect) = c.bestBaseline
        let gain = PairedStats.paired(main.eval.correct(s.metric), bcorrect, reps: s.bootstrapReps, seed: s.seed)
        let verdict = verdictText(score: mainB.score, ci: mainB.ci, gain: gain, baseline: bname, baselineAcc: PairedStats.mean(bcorrect))
        var warnings: [String] = []
        if n < ScoreSettings.smallSample {
            warnings.append("only \(n) eval pairs: the 95% interval spans \(String(format: "%.2f", mainB.ci.high - mainB.ci.low)); at least \(ScoreSettings.smallSample) are needed for a score that can tell datasets apart")
        }
        if main.trainPairs < ScoreSettings.smallSample {
            warnings.append("only \(main.trainPairs) training pairs: DPO has too little data for the score to describe the dataset")
        }
        let baselines = c.baselines.map { ($0.0, PairedStats.mean($0.1)) }
        var fields: [(String, JSONValue)] = runStats(main, c, s)
        fields += [
            ("n_eval", .int(Int64(n))), ("beta", .double(main.beta)), ("best_step", .int(Int64(main.result.bestStep))),
            ("eval_ties", .double(main.result.best.ties)),
            ("eval_rewards_chosen", .double(main.result.best.rewardsChosen)), ("eval_rewards_rejected", .double(main.result.best.rewardsRejected)),
            ("baselines", .object(baselines.map { ($0.0, .double(PairedStats.round4($0.1))) })),
            ("verdict", .string(verdict)),
            ("warnings", .array(warnings.map { .string($0) })),
            ("pairs", .object([("read", pairsRead.map { .int(Int64($0)) } ?? .int(Int64(trainPairs.count))), ("sampled", .int(Int64(trainPairs.count))),
                               ("train_available", .int(Int64(trainSet.count))), ("train", .int(Int64(main.trainPairs))),
                               ("reference_sequences", .int(Int64(c.referenceSequences))), ("eval", .int(Int64(n)))])),
            ("dropped", .object([("train", .object(main.trainDropped.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })),
                                 ("eval", .object(c.evalDropped.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) }))])),
            ("sweep", .array(zip(sweep, runs).map { b, r in .object([("beta", .double(b.beta)), ("score", .double(PairedStats.round4(b.score))),
                                                                 ("ci95", Interval(b.ci.low, b.ci.high).json), ("best_step", .int(Int64(b.result.bestStep))),
                                                                 ("steps_run", .int(Int64(b.result.steps))), ("stopped_early", .bool(b.result.stoppedEarly)),
                                                                 ("eval_loss", .double(PairedStats.round4(PairedStats.mean(r.eval.loss)))),
                                                                 ("eval_margin_per_token", .double(PairedStats.round4(PairedStats.mean(r.eval.tokenMargin))))]) })),
            ("curves", curveJSON(main.result)),
            ("config", configJSON(s, c, refModel: refModel, dpoSteps: s.dpoStepCount(main.trainPairs))), ("seed", .int(Int64(s.seed))), ("version", .string("prefkit 0.1.0")),
            ("timings", .object(timings.map { ($0.0, .double(($0.1 * 100).rounded() / 100)) })),
            ("throughput", .object([("sft_tokens_per_s", .double(c.sftTokensPerS.rounded())), ("dpo_pairs_per_s", .double((main.result.pairsPerSecond * 10).rounded() / 10)),
                                    ("blas_kernels", .string(BLAS.core))])),
        ]
        let json: JSONValue = .object(fields)
        let report = ScoreReport(json: json, sweep: sweep, baselines: baselines, settings: s, nEval: n, verdict: verdict, mainIndex: mainIndex)
        try json.write(to: outDir + "/score.json")
        let o = Losses.dpo(PairLogps(chosen: main.result.bestLogps.c, rejected: main.result.bestLogps.r, refChosen: c.refEval.c, refRejected: c.refEval.r,
                                     nChosen: main.result.bestLogps.nc, nRejected: main.result.bestLogps.nr), { var d = DPOSettings(); d.beta = main.beta; return d }())
        let html = ScoreHTML.page(report, rewards: (o.rewardsChosen, o.rewardsRejected))
        try EncodedFile.writeWhole(Array(html.utf8), to: outDir + "/report.html")
        return report
    }
}
