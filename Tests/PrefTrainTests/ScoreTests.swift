import Foundation
import XCTest
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
        s.evalEvery = 20; s.patience = 0
        s.betas = [0.1]; s.seed = seed; s.threads = 2
        s.minEval = 200; s.evalFraction = 0.25
        return s
    }

    func score(flip: Double, seed: UInt64 = 0, dataSeed: UInt64 = 1) throws -> ScoreReport {
        let dir = Paths.tempDir()
        return try Scorer.run(train: ScoreTests.planted(n: 800, flip: flip, seed: dataSeed), eval: nil, settings: ScoreTests.tiny(seed: seed), refModel: nil, outDir: dir)
    }

    func testPlantedPreferenceIsLearned() throws {
        let r = try score(flip: 0)
        let acc = r.json["score"]!.doubleValue!
        XCTAssertGreaterThanOrEqual(acc, 0.9, "planted preference")
        XCTAssertEqual(r.nEval, 200)
        // Lengths are matched, so the length baseline cannot explain it.
        XCTAssertEqual(r.baselines.first { $0.0 == "length" }!.1, 0, "equal lengths: the length heuristic never picks chosen")
        // The SFT reference is trained on prompt + chosen, so it learns the planted vocabulary too:
        // its own preference is a strong baseline here, and the verdict must not claim more.
        XCTAssertFalse(r.verdict.hasPrefix("DPO learned"), r.verdict)
        XCTAssertTrue(r.verdict.contains("real preference signal"), r.verdict)
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
        // 50% flipped: within noise of 0.5 (best-of-evaluations on 200 pairs; 3 standard errors).
        XCTAssertLessThan(abs(s50 - 0.5), 0.11, "50% flipped scored \(s50)")
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

    func testWilsonInterval() {
        let (lo, hi) = Wilson.interval(64, 100)
        XCTAssertEqual(lo, 0.5421, accuracy: 1e-3)
        XCTAssertEqual(hi, 0.7271, accuracy: 1e-3)
        XCTAssertEqual(Wilson.interval(0, 10).low, 0)
    }
}
