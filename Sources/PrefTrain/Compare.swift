// `prefkit compare`: several datasets trained under identical conditions (one eval set, one
// tokenizer, one label-free reference, one seed schedule), ranked, with every pairwise difference
// tested on the same eval pairs.
import Foundation
import PrefCore
import PrefIO

public struct CompareSettings: Sendable {
    /// The paired statistic that decides "A is better than B".
    public enum Statistic: String, Sendable, CaseIterable { case margin, accuracy, loss }
    public var statistic: Statistic = .margin
    public var alpha = 0.05
    public init() {}
}

public struct DatasetSummary {
    public var name: String
    public var pairsRead: Int
    public var trainPairs: Int
    public var scores: [Double]
    public var gains: [Double]
    /// Per eval pair, averaged over seeds: correctness (score metric), per-token margin, loss.
    public var correct: [Double]
    public var margin: [Double]
    public var loss: [Double]
    public var meanScore: Double { PairedStats.mean(scores) }
}

public struct Comparison {
    public var a: String, b: String
    public var statistic: CompareSettings.Statistic
    public var difference: PairedDifference
    public var accuracy: PairedDifference
    public var margin: PairedDifference
    public var loss: PairedDifference
    public var verdict: String
}

public struct CompareReport {
    public var json: JSONValue
    public var datasets: [DatasetSummary]
    public var comparisons: [Comparison]
    public var baselines: [(String, Double)]
    public var nEval: Int
}

extension Scorer {
    /// Trains every dataset for every seed under shared conditions and compares them.
    public static func compare(datasets: [(name: String, pairs: [Pair])], eval: [Pair]?, settings base: ScoreSettings, seeds: [UInt64],
                               compare cs: CompareSettings, refModel: String?, outDir: String, log: Log? = nil) throws -> CompareReport {
        let t0 = Date()
        BLAS.setThreads(base.threads)
        // The eval set is fixed by the first seed; every seed and dataset uses it.
        let (evalSet, trains) = plan(datasets: datasets.map(\.pairs), eval: eval, s: base)
        guard !evalSet.isEmpty else { throw TrainError("no evaluation pairs") }
        for (i, t) in trains.enumerated() where t.isEmpty { throw TrainError("\(datasets[i].name): no training pairs outside the eval prompts") }
        var perSeed: [[ScoreRun]] = []
        var cond: ScoreConditions?
        for seed in seeds {
            var s = base
            s.seed = seed
            let samples = trains.map { sample($0, s.maxTrainPairs, seed: seed) }
            let c = try conditions(trainSets: samples, eval: evalSet, settings: s, refModel: refModel, outDir: seed == seeds[0] ? outDir : nil, log: log)
            if cond == nil { cond = c }
            var runs: [ScoreRun] = []
            for (i, d) in datasets.enumerated() {
                let (run, _) = try train(c, pairs: samples[i], name: d.name, beta: s.betas[0], settings: s, log: log)
                runs.append(run)
            }
            perSeed.append(runs)
        }
        let c = cond!
        let n = c.n
        let (bname, bcorrect) = c.bestBaseline
        func avg(_ xs: [[Double]]) -> [Double] { (0..<n).map { i in PairedStats.mean(xs.map { $0[i] }) } }
        var summaries: [DatasetSummary] = []
        for (i, d) in datasets.enumerated() {
            let runs = perSeed.map { $0[i] }
            let scores = runs.map { $0.eval.accuracy(base.metric) }
            let gains = runs.map { PairedStats.mean($0.eval.correct(base.metric)) - PairedStats.mean(bcorrect) }
            summaries.append(DatasetSummary(name: d.name, pairsRead: d.pairs.count, trainPairs: runs[0].trainPairs, scores: scores, gains: gains,
                                            correct: avg(runs.map { $0.eval.correct(base.metric) }), margin: avg(runs.map { $0.eval.tokenMargin }),
                                            loss: avg(runs.map(\.eval.loss))))
        }
        // Ranking by mean score (ties by input order).
        let order = summaries.indices.sorted { summaries[$0].meanScore != summaries[$1].meanScore ? summaries[$0].meanScore > summaries[$1].meanScore : $0 < $1 }
        var comparisons: [Comparison] = []
        for x in 0..<order.count {
            for y in (x + 1)..<max(x + 1, order.count) {
                let A = summaries[order[x]], B = summaries[order[y]]
                let acc = PairedStats.paired(A.correct, B.correct, reps: base.bootstrapReps, seed: base.seed)
                let mar = PairedStats.paired(A.margin, B.margin, reps: base.bootstrapReps, seed: base.seed)
                // Lower loss is better: the difference is B - A so that positive favours A.
                let los = PairedStats.paired(B.loss, A.loss, reps: base.bootstrapReps, seed: base.seed)
                let d: PairedDifference
                switch cs.statistic { case .margin: d = mar; case .accuracy: d = acc; case .loss: d = los }
                let verdict: String
                if d.p < cs.alpha && d.mean > 0 {
                    verdict = String(format: "%@ is better than %@ (%@ difference %.4f, 95%% CI %.4f–%.4f, p = %.3g)", A.name, B.name, cs.statistic.rawValue, d.mean, d.ci.low, d.ci.high, d.p)
                } else if d.p < cs.alpha && d.mean < 0 {
                    verdict = String(format: "%@ is better than %@ by %@ (difference %.4f, p = %.3g), although %@ has the higher score", B.name, A.name, cs.statistic.rawValue, -d.mean, d.p, A.name)
                } else {
                    verdict = String(format: "no significant difference between %@ and %@ (%@ difference %.4f, 95%% CI %.4f–%.4f, p = %.3g)", A.name, B.name, cs.statistic.rawValue, d.mean, d.ci.low, d.ci.high, d.p)
                }
                comparisons.append(Comparison(a: A.name, b: B.name, statistic: cs.statistic, difference: d, accuracy: acc, margin: mar, loss: los, verdict: verdict))
            }
        }
        func diffJSON(_ d: PairedDifference) -> JSONValue {
            .object([("difference", .double(PairedStats.round4(d.mean))), ("ci95", d.ci.json), ("p", .double(d.p))])
        }
        let baselines = c.baselines.map { ($0.0, PairedStats.mean($0.1)) }
        let json: JSONValue = .object([
            ("ranking", .array(order.map { .string(summaries[$0].name) })),
            ("datasets", .array(order.map { i in
                let d = summaries[i]
                return .object([("name", .string(d.name)), ("score", .double(PairedStats.round4(d.meanScore))),
                                ("score_sd", .double(PairedStats.round4(PairedStats.sd(d.scores)))),
                                ("scores_by_seed", .array(d.scores.map { .double(PairedStats.round4($0)) })),
                                ("gain", .double(PairedStats.round4(PairedStats.mean(d.gains)))),
                                ("eval_margin", .double(PairedStats.round4(PairedStats.mean(d.margin)))),
                                ("eval_margin_ci95", PairedStats.bootstrapCI(d.margin, reps: base.bootstrapReps, seed: base.seed).json),
                                ("eval_loss", .double(PairedStats.round4(PairedStats.mean(d.loss)))),
                                ("eval_loss_ci95", PairedStats.bootstrapCI(d.loss, reps: base.bootstrapReps, seed: base.seed).json),
                                ("pairs", .object([("read", .int(Int64(d.pairsRead))), ("train", .int(Int64(d.trainPairs)))]))])
            })),
            ("comparisons", .array(comparisons.map { cmp in
                .object([("a", .string(cmp.a)), ("b", .string(cmp.b)), ("statistic", .string(cmp.statistic.rawValue)),
                         ("significant", .bool(cmp.difference.p < cs.alpha)), ("verdict", .string(cmp.verdict)),
                         ("margin", diffJSON(cmp.margin)), ("accuracy", diffJSON(cmp.accuracy)), ("loss", diffJSON(cmp.loss))])
            })),
            ("baselines", .object(baselines.map { ($0.0, .double(PairedStats.round4($0.1))) })),
            ("best_baseline", .string(bname)),
            ("n_eval", .int(Int64(n))), ("seeds", .array(seeds.map { .int(Int64($0)) })), ("metric", .string(base.metric.rawValue)),
            ("alpha", .double(cs.alpha)),
            ("config", configJSON(base, c, refModel: refModel, dpoSteps: base.dpoStepCount(summaries[0].trainPairs))),
            ("version", .string("prefkit 0.1.0")),
            ("seconds", .double((Date().timeIntervalSince(t0) * 10).rounded() / 10)),
        ])
        let report = CompareReport(json: json, datasets: order.map { summaries[$0] }, comparisons: comparisons, baselines: baselines, nEval: n)
        try json.write(to: outDir + "/compare.json")
        try EncodedFile.writeWhole(Array(ScoreHTML.comparePage(report).utf8), to: outDir + "/report.html")
        return report
    }
}
