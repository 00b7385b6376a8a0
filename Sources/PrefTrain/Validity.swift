// The validity benchmark behind `prefkit-bench validity` (bench/validity.sh): does the score fall
// as labels are flipped? A fixed trusted eval set is held out once; for each seed the training
// pairs get nested label flips (the 20% variant flips the 10% variant's pairs and more), and every
// variant is scored under the same conditions (one tokenizer and label-free reference per seed,
// the same batches), exactly as `prefkit compare` scores datasets.
import Foundation
import PrefCore
import PrefIO

public struct ValidityRow: Sendable {
    public var noise: Double
    public var seed: UInt64
    public var score: Double
    public var accuracySum: Double
    public var accuracyPerToken: Double
    public var accuracyLC: Double
    public var evalLoss: Double
    public var marginPerToken: Double
    public var marginSum: Double
    public var gain: Double
    public var gainLow: Double
    /// The policy's own per-token preference accuracy minus the label-free reference's (paired).
    public var labelGain: Double
    public var bestBaseline: Double
    public var seconds: Double
    /// Per eval pair, for paired comparisons between noise levels.
    public var tokenMargin: [Double]
    public var correct: [Double]
}

public enum Validity {
    /// Swaps chosen and rejected (and their scores) of a pair.
    public static func flipped(_ p: Pair) -> Pair {
        var q = p
        swap(&q.chosen, &q.rejected)
        swap(&q.scoreChosen, &q.scoreRejected)
        return q
    }

    /// The trusted eval set and the training pairs, as `run` holds them out.
    public static func holdOut(_ pairs: [Pair], evalSize: Int) -> (train: [Pair], eval: [Pair]) {
        let frac = min(0.5, Double(evalSize) / Double(max(1, pairs.count)))
        return Scorer.split(pairs, fraction: frac, minEval: min(evalSize, pairs.count / 2), seed: 12345)
    }

    /// The training pairs with a `q` share of labels flipped; nested in q for one seed.
    public static func variant(_ train: [Pair], flipping q: Double, seed: UInt64) -> [Pair] {
        variant(train, flipping: q, order: flipOrder(train.count, seed: seed))
    }

    /// The seeded order in which pairs are flipped: level q flips the first q share of it, so the
    /// levels of one seed are nested (every pair flipped at 20% is flipped at 40%).
    public static func flipOrder(_ count: Int, seed: UInt64) -> [Int] {
        var rng = SplitMix64(state: seed &+ 0xF1)
        var order = Array(0..<count)
        for k in stride(from: count - 1, to: 0, by: -1) { order.swapAt(k, Int(rng.next() % UInt64(k + 1))) }
        return order
    }

    static func variant(_ train: [Pair], flipping q: Double, order: [Int]) -> [Pair] {
        let flip = Set(order.prefix(Int((q * Double(train.count)).rounded())))
        return train.indices.map { flip.contains($0) ? flipped(train[$0]) : train[$0] }
    }

    public static func run(pairs: [Pair], evalSize: Int, noise: [Double], seeds: [UInt64], settings base: ScoreSettings,
                           log: Scorer.Log?) throws -> (rows: [ValidityRow], nEval: Int, nTrain: Int, baselines: [(String, Double)]) {
        // One trusted eval set for every seed and noise level.
        let (trainAll, evalSet) = holdOut(pairs, evalSize: evalSize)
        var rows: [ValidityRow] = []
        var baselines: [(String, Double)] = []
        var nEval = 0, nTrain = 0
        for seed in seeds {
            var s = base
            s.seed = seed
            let train = Scorer.sample(trainAll, s.maxTrainPairs, seed: seed)
            nTrain = train.count
            let c = try Scorer.conditions(trainSets: [train], eval: evalSet, settings: s, refModel: nil, outDir: nil, log: log)
            nEval = c.n
            baselines = c.baselines.map { ($0.0, PairedStats.mean($0.1)) }
            // Nested flips: one seeded order of the training pairs; level q flips its first q share.
            let order = flipOrder(train.count, seed: seed)
            for q in noise {
                let variant = variant(train, flipping: q, order: order)
                let t0 = Date()
                let (run, _) = try Scorer.train(c, pairs: variant, name: String(format: "%.0f%%", q * 100), beta: s.betas[0], settings: s, log: log)
                let secs = Date().timeIntervalSince(t0) + c.timings.reduce(0) { $0 + $1.1 } / Double(noise.count)
                let correct = run.eval.correct(s.metric)
                let (_, bc) = c.bestBaseline
                let gain = PairedStats.paired(correct, bc, reps: 1000, seed: seed)
                let labelGain = PairedStats.mean(run.eval.policyCorrect) - PairedStats.mean(c.referencePreference)
                rows.append(ValidityRow(noise: q, seed: seed, score: PairedStats.mean(correct), accuracySum: run.eval.accuracy(.sum),
                                        accuracyPerToken: run.eval.accuracy(.perToken), accuracyLC: run.eval.accuracy(.lengthControlled), evalLoss: PairedStats.mean(run.eval.loss),
                                        marginPerToken: PairedStats.mean(run.eval.tokenMargin), marginSum: PairedStats.mean(run.eval.sumMargin),
                                        gain: gain.mean, gainLow: gain.ci.low, labelGain: labelGain, bestBaseline: PairedStats.mean(bc), seconds: secs,
                                        tokenMargin: run.eval.tokenMargin, correct: correct))
            }
        }
        return (rows, nEval, nTrain, baselines)
    }

    /// The table: per noise level, mean and spread over seeds of each statistic; Spearman of each
    /// statistic with the noise level over all runs.
    public static func table(_ rows: [ValidityRow], name: String, nEval: Int, nTrain: Int, baselines: [(String, Double)]) -> String {
        let levels = Array(Set(rows.map(\.noise))).sorted()
        func col(_ f: (ValidityRow) -> Double) -> [(Double, Double)] {
            levels.map { q in let v = rows.filter { $0.noise == q }.map(f); return (PairedStats.mean(v), PairedStats.sd(v)) }
        }
        var out = "\(name): \(nTrain) training pairs, \(nEval) eval pairs, seeds \(Set(rows.map(\.seed)).sorted().map(String.init).joined(separator: ","))\n"
        out += "baselines: " + baselines.map { String(format: "%@ %.3f", $0.0, $0.1) }.joined(separator: ", ") + "\n"
        func pad(_ t: String, _ w: Int) -> String { t.count >= w ? t : t + String(repeating: " ", count: w - t.count) }
        out += ["flipped", "score", "acc(sum)", "acc(per-token)", "acc(len-ctl)", "eval loss", "margin/token", "gain", "label gain"].enumerated().map { pad($0.1, $0.0 == 0 ? 8 : 15) }.joined(separator: " ") + "  s/run\n"
        let cols = [col(\.score), col(\.accuracySum), col(\.accuracyPerToken), col(\.accuracyLC), col(\.evalLoss), col(\.marginPerToken), col(\.gain), col(\.labelGain)]
        let secs = col(\.seconds)
        for (i, q) in levels.enumerated() {
            out += pad(String(format: "%.0f%%", q * 100), 8)
            for c in cols { out += " " + pad(String(format: "%.3f ± %.3f", c[i].0, c[i].1), 15) }
            out += String(format: " %7.1f\n", secs[i].0)
        }
        let x = rows.map(\.noise)
        out += "Spearman with noise: " + [("score", rows.map(\.score)), ("acc(sum)", rows.map(\.accuracySum)), ("acc(per-token)", rows.map(\.accuracyPerToken)), ("acc(len-ctl)", rows.map(\.accuracyLC)),
                                          ("eval loss", rows.map(\.evalLoss)), ("margin/token", rows.map(\.marginPerToken)), ("gain", rows.map(\.gain)), ("label gain", rows.map(\.labelGain))]
            .map { String(format: "%@ %.3f", $0.0, PairedStats.spearman(x, $0.1)) }.joined(separator: ", ") + "\n"
        let s0 = col(\.score)
        if let i40 = levels.firstIndex(where: { abs($0 - 0.4) < 1e-9 }), let i0 = levels.firstIndex(of: 0) {
            out += String(format: "clean - 40%% flipped: %.3f\n", s0[i0].0 - s0[i40].0)
        }
        // Paired per-pair margin differences against the clean run of the same seed (what `compare
        // --by margin` tests): z per seed.
        if levels.first == 0 {
            for q in levels.dropFirst() {
                let zs: [String] = Set(rows.map(\.seed)).sorted().compactMap { seed in
                    guard let a = rows.first(where: { $0.seed == seed && $0.noise == 0 }), let b = rows.first(where: { $0.seed == seed && $0.noise == q }) else { return nil }
                    let d = zip(a.tokenMargin, b.tokenMargin).map { $0 - $1 }
                    let se = PairedStats.sd(d) / Double(max(1, d.count)).squareRoot()
                    return String(format: "%.1f", se > 0 ? PairedStats.mean(d) / se : 0)
                }
                out += String(format: "clean vs %.0f%%: paired margin z per seed ", q * 100) + zs.joined(separator: ", ") + "\n"
            }
        }
        let strictly = zip(s0, s0.dropFirst()).allSatisfy { $0.0 > $1.0 }
        out += "mean score falls strictly with noise: \(strictly ? "yes" : "no")\n"
        return out
    }
}
