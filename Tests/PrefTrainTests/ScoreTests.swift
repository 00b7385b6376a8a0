import Foundation
import XCTest
import PrefCore
@testable import PrefCurate
@testable import PrefFormats
@testable import PrefIO
@testable import PrefTrain
import TestSupport

/// `prefkit score` must measure what it claims, on data whose preference is known.
final class ScoreTests: XCTestCase {
    /// Chosen replies use one vocabulary, rejected another, lengths matched; `flip` of the labels
    /// are swapped at random.
    static func planted(n: Int, flip: Double, seed: UInt64) -> [Pair] {
        var rng = SeededGenerator(seed: seed)
        let topics = (0..<60).map { "topic\($0)" }
        // Same word lengths on both sides, so character lengths match too.
        let good = ["kind", "calm", "fair", "true", "good", "warm", "wise", "neat"]
        let bad = ["rude", "vain", "lazy", "sour", "dull", "mean", "cold", "junk"]
        return (0..<n).map { i in
            let t1 = topics.randomElement(using: &rng)!, t2 = topics.randomElement(using: &rng)!
            let prompt = "question \(i) about \(t1) and \(t2)"
            let len = Int.random(in: 4...8, using: &rng)
            var c = (0..<len).map { _ in good.randomElement(using: &rng)! }.joined(separator: " ")
            var r = (0..<len).map { _ in bad.randomElement(using: &rng)! }.joined(separator: " ")
            if Double.random(in: 0..<1, using: &rng) < flip { swap(&c, &r) }
            var p = Pair(prompt: [Message(.user, prompt)], chosen: [Message(.assistant, c)], rejected: [Message(.assistant, r)])
            p.id = String(format: "%016x", i)
            p.source = "test:planted:\(i)"
            return p
        }
    }

    static func tiny(seed: UInt64 = 0) -> ScoreSettings {
        var s = ScoreSettings()
        s.nLayer = 1; s.nHead = 2; s.nEmbd = 32; s.vocabSize = 300
        s.maxLength = 40; s.maxPromptLength = 20
        s.sftSteps = 40; s.sftBatch = 8; s.sftLR = 3e-3
        s.dpoSteps = 80; s.pairsPerBatch = 8; s.dpoLR = 3e-3
        s.evalEvery = 20; s.patience = 0; s.bootstrapReps = 500
        s.betas = [0.1]; s.seed = seed; s.threads = 2
        s.minEval = 200; s.evalFraction = 0.25
        return s
    }

    func score(flip: Double, seed: UInt64 = 0, dataSeed: UInt64 = 1) throws -> ScoreReport {
        let dir = Paths.tempDir()
        return try Scorer.run(train: ScoreTests.planted(n: 800, flip: flip, seed: dataSeed), eval: nil, settings: ScoreTests.tiny(seed: seed), refModel: nil, outDir: dir)
    }

    func testPlantedPreferenceIsLearnedBeyondLabelFreeBaselines() throws {
        let r = try score(flip: 0)
        let acc = r.json["score"]!.doubleValue!
        XCTAssertGreaterThanOrEqual(acc, 0.9, "planted preference")
        XCTAssertEqual(r.nEval, 200)
        // Lengths are matched, so neither side of the length baseline can explain it.
        XCTAssertEqual(r.baselines.first { $0.0 == "length" }!.1, 0, "equal lengths: 'the longer wins' never picks chosen")
        XCTAssertEqual(r.baselines.first { $0.0 == "length_shorter" }!.1, 0)
        // The reference learned both replies, so its likelihood knows nothing of the labels: trained
        // on the same texts with 40% of the labels swapped, every baseline is exactly the same.
        let data = ScoreTests.planted(n: 800, flip: 0, seed: 1)
        let (ev, tr) = Scorer.split(data, fraction: 0.25, minEval: 200, seed: 0)
        var rng = SeededGenerator(seed: 5)
        let swapped = tr.map { Double.random(in: 0..<1, using: &rng) < 0.4 ? Validity.flipped($0) : $0 }
        let x = try Scorer.run(train: tr, eval: ev, settings: ScoreTests.tiny(), refModel: nil, outDir: Paths.tempDir())
        let y = try Scorer.run(train: swapped, eval: ev, settings: ScoreTests.tiny(), refModel: nil, outDir: Paths.tempDir())
        XCTAssertEqual(x.baselines.map(\.1), y.baselines.map(\.1), "label-free baselines do not depend on the training labels")
        XCTAssertGreaterThan(x.json["score"]!.doubleValue!, y.json["score"]!.doubleValue!)
        XCTAssertTrue(r.verdict.hasPrefix("DPO learned"), r.verdict)
        let gci = r.json["gain_ci95"]!.arrayValue!.compactMap(\.doubleValue)
        XCTAssertGreaterThan(gci[0], 0.2, "the gain's paired interval is far above zero")
        for key in ["eval_loss", "eval_loss_ci95", "eval_margin_per_token", "eval_margin_per_token_ci95", "accuracy_sum", "accuracy_per_token"] {
            XCTAssertNotNil(r.json[key], key)
        }
        let ci = r.json["ci95"]!.arrayValue!.compactMap(\.doubleValue)
        XCTAssertLessThanOrEqual(ci[0], acc); XCTAssertGreaterThanOrEqual(ci[1], acc)
        XCTAssertGreaterThan(ci[0], 0.5)
        for key in ["eval/rewards/chosen", "eval/rewards/rejected", "eval/rewards/accuracies", "eval/rewards/margins", "eval/logps/chosen", "eval/logps/rejected", "eval/loss", "train/loss", "train/rewards/accuracies"] {
            XCTAssertNotNil(r.json["curves"]!.arrayValue!.last![key], key)
        }
    }

    func testNoiseLowersTheScoreInOrderAndHalfFlippedIsChance() throws {
        let s0 = try score(flip: 0).json["score"]!.doubleValue!
        let s20 = try score(flip: 0.2).json["score"]!.doubleValue!
        let s40 = try score(flip: 0.4).json["score"]!.doubleValue!
        let half = try score(flip: 0.5)
        let s50 = half.json["score"]!.doubleValue!
        XCTAssertGreaterThan(s0, s20, "0% > 20% flipped")
        XCTAssertGreaterThan(s20, s40, "20% > 40% flipped")
        print(String(format: "planted preference, eval accuracy by flipped fraction: 0%%: %.3f, 20%%: %.3f, 40%%: %.3f, 50%%: %.3f", s0, s20, s40, s50))
        // 50% flipped: within noise of 0.5 (200 eval pairs; 3 standard errors).
        XCTAssertLessThan(abs(s50 - 0.5), 0.11, "50% flipped scored \(s50)")
        let g = half.json["gain_ci95"]!.arrayValue!.compactMap(\.doubleValue)
        XCTAssertLessThanOrEqual(g[0], 0, "no gain over the label-free baselines is claimed at 50% flipped")
        XCTAssertFalse(half.verdict.hasPrefix("DPO learned"), half.verdict)
    }

    func testSameSeedSameScoreAndCurvesBitForBit() throws {
        let a = try score(flip: 0.2, seed: 3), b = try score(flip: 0.2, seed: 3)
        func strip(_ j: JSONValue) -> JSONValue {
            guard case .object(let o) = j else { return j }
            return .object(o.filter { $0.0 != "timings" && $0.0 != "throughput" })
        }
        XCTAssertEqual(strip(a.json), strip(b.json))
    }

    func testReferenceOnChosenSeesTheLabels() throws {
        var s = ScoreTests.tiny()
        s.referenceOn = .chosen
        let r = try Scorer.run(train: ScoreTests.planted(n: 800, flip: 0, seed: 1), eval: nil, settings: s, refModel: nil, outDir: Paths.tempDir())
        // Trained on prompt + chosen only, the reference prefers the planted vocabulary by itself.
        XCTAssertGreaterThan(r.baselines.first { $0.0 == "reference_avg" }!.1, 0.8)
        XCTAssertEqual(r.json["config"]!["reference_on"]!.stringValue, "chosen")
    }

    func testSamplingCapsTheTrainingPairs() throws {
        var s = ScoreTests.tiny()
        s.maxTrainPairs = 150
        let r = try Scorer.run(train: ScoreTests.planted(n: 800, flip: 0, seed: 1), eval: nil, settings: s, refModel: nil, outDir: Paths.tempDir())
        XCTAssertEqual(r.json["pairs"]!["train"]!.intValue, 150)
        XCTAssertEqual(r.json["pairs"]!["train_available"]!.intValue, 600)
        XCTAssertEqual(Scorer.sample(Array(0..<10), 4, seed: 3), Scorer.sample(Array(0..<10), 4, seed: 3), "seeded")
        XCTAssertEqual(Scorer.sample(Array(0..<10), 4, seed: 3).count, 4)
        XCTAssertEqual(Scorer.sample(Array(0..<10), 4, seed: 3), Scorer.sample(Array(0..<10), 4, seed: 3).sorted(), "original order kept")
    }

    func testCompareRanksCleanAboveNoisyAndIdenticalDataTies() throws {
        let clean = ScoreTests.planted(n: 800, flip: 0, seed: 1)
        // The same texts with 40% of the labels swapped.
        var rng = SeededGenerator(seed: 9)
        let noisy = clean.map { Double.random(in: 0..<1, using: &rng) < 0.4 ? Validity.flipped($0) : $0 }
        let dir = Paths.tempDir()
        let r = try Scorer.compare(datasets: [("noisy", noisy), ("clean", clean), ("clean-copy", clean)], eval: nil, settings: ScoreTests.tiny(),
                                   seeds: [0], compare: CompareSettings(), refModel: nil, outDir: dir)
        XCTAssertEqual(r.datasets.last?.name, "noisy", "the noisy variant ranks last")
        let cn = r.comparisons.first { Set([$0.a, $0.b]) == Set(["clean", "noisy"]) }!
        XCTAssertEqual(cn.a, "clean")
        XCTAssertLessThan(cn.difference.p, 0.05)
        XCTAssertTrue(cn.verdict.hasPrefix("clean is better than noisy"), cn.verdict)
        // Identical data under identical conditions: exactly the same model, no difference claimed.
        let cc = r.comparisons.first { Set([$0.a, $0.b]) == Set(["clean", "clean-copy"]) }!
        XCTAssertEqual(cc.margin.mean, 0)
        XCTAssertEqual(cc.difference.p, 1)
        XCTAssertTrue(cc.verdict.hasPrefix("no significant difference"), cc.verdict)
        // The eval set is the same for all and leak-free: no eval prompt among the training prompts.
        XCTAssertEqual(r.json["n_eval"]!.intValue, Int64(r.nEval))
        let j = try JSONValue.parse(String(contentsOfFile: dir + "/compare.json", encoding: .utf8))
        XCTAssertEqual(j["ranking"]!.arrayValue!.last!.stringValue, "noisy")
        XCTAssertTrue(try String(contentsOfFile: dir + "/report.html", encoding: .utf8).contains("Pairwise differences"))
        let (ev, tr) = Scorer.plan(datasets: [noisy, clean], eval: nil, s: ScoreTests.tiny())
        let evalPrompts = Set(ev.map { TextNorm.text($0.prompt) })
        for t in tr { XCTAssertTrue(t.allSatisfy { !evalPrompts.contains(TextNorm.text($0.prompt)) }) }
        XCTAssertEqual(tr[0].count, tr[1].count, "label variants keep the same training pairs")
        // Pairs whose labels disagree between the datasets are not evaluated on; the rest carry the agreed label.
        let cleanByText = Dictionary(clean.map { (Scorer.textKey($0), TextNorm.text($0.chosen)) }, uniquingKeysWith: { a, _ in a })
        XCTAssertTrue(ev.allSatisfy { cleanByText[Scorer.textKey($0)] == TextNorm.text($0.chosen) })
        XCTAssertGreaterThan(r.datasets.first { $0.name == "clean" }!.meanScore, 0.9)
    }

    func testStatisticsOnKnownInputs() {
        // Bootstrap interval of a mean: 600 ones in 1,000 gives about 0.57-0.63 (normal approximation 0.570-0.630).
        let x = (0..<1000).map { $0 < 600 ? 1.0 : 0.0 }
        let ci = PairedStats.bootstrapCI(x, reps: 4000, seed: 1)
        XCTAssertEqual(ci.low, 0.570, accuracy: 0.006)
        XCTAssertEqual(ci.high, 0.630, accuracy: 0.006)
        XCTAssertEqual(PairedStats.bootstrapCI(x, reps: 500, seed: 1), PairedStats.bootstrapCI(x, reps: 500, seed: 1), "seeded")
        // Paired: identical runs differ by nothing; a consistent shift is significant.
        let a = (0..<200).map { Double($0 % 7) }
        let same = PairedStats.paired(a, a)
        XCTAssertEqual(same.mean, 0); XCTAssertEqual(same.p, 1)
        let shifted = PairedStats.paired(a.map { $0 + 0.5 }, a)
        XCTAssertEqual(shifted.mean, 0.5, accuracy: 1e-12)
        XCTAssertLessThan(shifted.p, 0.001)
        // Symmetric noise around zero is not.
        var rng = SeededGenerator(seed: 4)
        let noise = (0..<200).map { _ in Double.random(in: -1...1, using: &rng) }
        XCTAssertGreaterThan(PairedStats.paired(noise, [Double](repeating: 0, count: 200)).p, 0.05)
        // McNemar exact: 10 vs 2 discordant pairs, p = 2 * P(X <= 2 | n = 12) = 2 * 79 / 4096.
        let m = PairedStats.mcnemar(Array(repeating: true, count: 10) + Array(repeating: false, count: 2) + [true],
                                    Array(repeating: false, count: 10) + Array(repeating: true, count: 2) + [true])
        XCTAssertEqual(m.onlyA, 10); XCTAssertEqual(m.onlyB, 2)
        XCTAssertEqual(m.p, 2 * 79 / 4096, accuracy: 1e-12)
        // Spearman: monotone = 1, reversed = -1, with ties the textbook value.
        XCTAssertEqual(PairedStats.spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1, accuracy: 1e-12)
        XCTAssertEqual(PairedStats.spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1, accuracy: 1e-12)
        XCTAssertEqual(PairedStats.spearman([1, 2, 3, 4], [1, 1, 2, 2]), 0.894427, accuracy: 1e-5)
    }

    func testLengthControlledMarginRemovesLengthDriftOnly() {
        // Every reply's implicit reward drifts by a + b * length (here -2 - 0.3 per token) whatever
        // its label, and the chosen reply is the longer one in 3 of 4 pairs: the per-token margin
        // then favours the longer reply and the summed one the shorter, with no label signal at all.
        var rng = SeededGenerator(seed: 9)
        let n = 400
        var nc: [Int] = [], nr: [Int] = []
        for i in 0..<n {
            let long = Int.random(in: 30...60, using: &rng), short = Int.random(in: 5...25, using: &rng)
            if i % 4 == 0 { nc.append(short); nr.append(long) } else { nc.append(long); nr.append(short) }
        }
        let ref = (c: nc.map { -2.0 * Double($0) }, r: nr.map { -2.0 * Double($0) }, nc: nc, nr: nr)
        func drift(_ len: Int) -> Double { -2 - 0.3 * Double(len) }
        let pol = (c: (0..<n).map { ref.c[$0] + drift(nc[$0]) }, r: (0..<n).map { ref.r[$0] + drift(nr[$0]) }, nc: nc, nr: nr)
        let none = Scorer.evalPairs(pol, ref, beta: 0.1)
        XCTAssertEqual(none.accuracy(.perToken), 0.75, accuracy: 1e-9, "per-token: the longer reply wins")
        XCTAssertEqual(none.accuracy(.sum), 0.25, accuracy: 1e-9, "summed: the shorter reply wins")
        XCTAssertTrue(none.lengthControlled.allSatisfy { abs($0) < 1e-9 }, "length-controlled: no signal, no margin")
        // Add a real preference (+3 nats on the chosen reply): only it moves the length-controlled margin.
        let sig = (c: pol.c.map { $0 + 3 }, r: pol.r, nc: nc, nr: nr)
        let with = Scorer.evalPairs(sig, ref, beta: 0.1)
        XCTAssertEqual(with.accuracy(.lengthControlled), 1, accuracy: 1e-9)
        XCTAssertEqual(with.margins(.lengthControlled).count, n)
    }

    func testWilsonInterval() {
        let (lo, hi) = Wilson.interval(64, 100)
        XCTAssertEqual(lo, 0.5421, accuracy: 1e-3)
        XCTAssertEqual(hi, 0.7271, accuracy: 1e-3)
        XCTAssertEqual(Wilson.interval(0, 10).low, 0)
    }
}

/// The probe's statistics on synthetic representations with a known preference direction and a
/// known rate of flipped labels: the cross-fitted disagreement, the corrected noise estimate
/// (trusted clean eval set), accuracy and the bits beyond a length baseline behave as they must.
final class ProbeStatisticsTests: XCTestCase {
    func synthetic(n: Int, d: Int, flip: Double, lengthOnly: Bool = false, seed: UInt64) -> [(ProbePair, Bool)] {
        var rng = Normal(seed: seed)
        var out: [(ProbePair, Bool)] = []
        for i in 0..<n {
            let a = (0..<d).map { _ in Float(rng.next()) }, b = (0..<d).map { _ in Float(rng.next()) }
            // The true preference: the first coordinate (plus noise); length independent of it.
            let aBetter = a[0] - b[0] + Float(0.3 * rng.next()) > 0
            var (c, r) = aBetter ? (a, b) : (b, a)
            let flipped = Double(rng.u64() % 10_000) / 10_000 < flip
            if flipped { swap(&c, &r) }
            let lc = 100 + Int(rng.u64() % 200), lr = 100 + Int(rng.u64() % 200)
            var p = ProbePair(id: "p\(i)", chosen: c, rejected: r, logpChosen: -Double(lc) / 4, logpRejected: -Double(lr) / 4, nChosen: lc / 4, nRejected: lr / 4,
                              charsChosen: lc, charsRejected: lr)
            if lengthOnly { p.charsChosen = max(lc, lr) + 1; p.charsRejected = min(lc, lr) }
            out.append((p, flipped))
        }
        return out
    }

    func run(_ train: [ProbePair], _ eval: [ProbePair], trusted: Bool) -> [String: JSONValue] {
        let d = train[0].chosen.count
        let X = train.flatMap { p in (0..<d).map { Double(p.chosen[$0] - p.rejected[$0]) } }
        let Xe = eval.flatMap { p in (0..<d).map { Double(p.chosen[$0] - p.rejected[$0]) } }
        var s = ProbeSettings()
        s.bootstrapReps = 500
        let oof = Probe.crossFit(X, n: train.count, d: d, lambda: 0.01, folds: 5, seed: 1)
        let w = Probe.fit(X, n: train.count, d: d, lambda: 0.01)
        let m = Probe.margins(Xe, n: eval.count, d: d, w)
        return Dictionary(uniqueKeysWithValues: Probe.statistics(train: train, oof: oof, eval: eval, evalMargin: m, trustedEval: trusted, s: s))
    }

    func testNoiseDisagreementAndGainFollowTheTruth() {
        let eval = synthetic(n: 600, d: 8, flip: 0, seed: 99).map(\.0)
        var noise: [Double] = [], disagreement: [Double] = []
        for flip in [0.0, 0.2, 0.4] {
            let train = synthetic(n: 1500, d: 8, flip: flip, seed: 7 + UInt64(flip * 10)).map(\.0)
            let st = run(train, eval, trusted: true)
            let acc = st["accuracy"]!.doubleValue!
            XCTAssertGreaterThan(acc, 0.85, "the direction is learnt through \(flip) flips")
            let eta = st["noise_rate"]!.doubleValue!, ci = st["noise_rate_ci95"]!.arrayValue!.map { $0.doubleValue! }
            XCTAssertEqual(eta, flip, accuracy: 0.06, "noise estimate at \(flip) flipped")
            XCTAssertTrue(ci[0] <= flip + 0.02 && flip - 0.02 <= ci[1], "interval \(ci) covers \(flip)")
            XCTAssertGreaterThan(st["bits_beyond_baseline_ci95"]!.arrayValue![0].doubleValue!, 0, "beyond the length baseline")
            noise.append(eta)
            disagreement.append(st["disagreement"]!.doubleValue!)
        }
        XCTAssertLessThan(disagreement[0], disagreement[1])
        XCTAssertLessThan(disagreement[1], disagreement[2])
        // Without a trusted eval set there is no noise estimate, only the disagreement.
        let st = run(synthetic(n: 400, d: 8, flip: 0.2, seed: 3).map(\.0), eval, trusted: false)
        XCTAssertTrue(st["noise_rate"]!.isNull)
        XCTAssertNotNil(st["disagreement"]!.doubleValue)
    }

    func testALengthOnlyPreferenceIsNotASignal() {
        // Labels that say "longer wins" and representations that carry nothing: balanced accuracy
        // 0.5 is out of reach (no strata with a shorter chosen reply), and no bits beyond the length baseline.
        var rng = Normal(seed: 5)
        let make: (Int) -> [ProbePair] = { n in
            (0..<n).map { i in
                let lc = 100 + Int(rng.u64() % 200), lr = 100 + Int(rng.u64() % 200)
                return ProbePair(id: "q\(i)", chosen: (0..<8).map { _ in Float(rng.next()) }, rejected: (0..<8).map { _ in Float(rng.next()) },
                                 logpChosen: -1, logpRejected: -1, nChosen: 1, nRejected: 1, charsChosen: max(lc, lr) + 1, charsRejected: min(lc, lr))
            }
        }
        let st = run(make(800), make(400), trusted: false)
        XCTAssertEqual(st["baselines"]!["longer_wins"]!.doubleValue!, 1)
        XCTAssertLessThanOrEqual(st["bits_beyond_baseline_ci95"]!.arrayValue![0].doubleValue!, 0, "no gain beyond length")
        XCTAssertTrue(st["balanced_accuracy"]!.isNull, "no pairs with a shorter chosen reply")
        XCTAssertTrue(st["verdict"]!.stringValue!.hasPrefix("no signal") || st["verdict"]!.stringValue!.hasPrefix("below"))
    }
}
