import Foundation
import XCTest
import PrefCore
@testable import PrefFormats
@testable import PrefIO

/// Ranked and rated replies into pairs: the shared strategies, then every corpus that uses them,
/// on the real samples where there are some (PandaLM, FineGrainedRLHF, LLMBar) and on the
/// generated fixtures of scripts/make_ranked_fixtures.py otherwise.
final class RankedTests: XCTestCase {
    func options(_ s: PairStrategy?, minGap: Double = 0, seed: UInt64 = 0) -> PairingOptions {
        var o = PairingOptions(); o.strategy = s; o.minGap = minGap; o.seed = seed
        return o
    }

    func testStrategiesOnScores() {
        let s: [Double?] = [3, 9, nil, 1, 9, 5]
        // best-worst: the first highest (1) against the lowest (3); the unrated reply is counted.
        let bw = Ranking.select(s, strategy: .bestWorst, options: options(nil), key: 1)
        XCTAssertEqual(bw.pairs, [RankedPair(chosen: 1, rejected: 3)])
        XCTAssertEqual(bw.skipped["unrated_response"], 1)
        // all: every pair with a positive margin; the 9/9 tie is skipped and counted.
        let all = Ranking.select(s, strategy: .all, options: options(nil), key: 1)
        XCTAssertEqual(all.pairs.count, 9)
        XCTAssertEqual(all.skipped["tie"], 1)
        for p in all.pairs { XCTAssertGreaterThan(s[p.chosen]!, s[p.rejected]!) }
        // --min-gap 4: only margins of 4 or more.
        let gap = Ranking.select(s, strategy: .all, options: options(nil, minGap: 4), key: 1)
        XCTAssertEqual(Set(gap.pairs.map { "\($0.chosen)>\($0.rejected)" }), ["1>0", "1>3", "4>0", "4>3", "1>5", "4>5", "5>3"])
        XCTAssertEqual(gap.skipped["below_min_gap"], 2)
        // best-worst under a gap larger than any margin: the record is removed for it.
        XCTAssertEqual(Ranking.select(s, strategy: .bestWorst, options: options(nil, minGap: 9), key: 1).removal?.reason, "below_min_gap")
        // Equal scores throughout: a tie; one rated reply: too few.
        XCTAssertEqual(Ranking.select([2, 2, 2], strategy: .all, options: options(nil), key: 1).removal?.reason, "tie")
        XCTAssertEqual(Ranking.select([2, 2], strategy: .bestRandom, options: options(nil), key: 1).removal?.reason, "tie")
        XCTAssertEqual(Ranking.select([2, nil], strategy: .bestWorst, options: options(nil), key: 1).removal?.reason, "too_few_responses")
    }

    func testBestRandomIsSeededAndDrawsEveryLowerReply() {
        let s: [Double?] = [10, 1, 2, 3, 4, 10]
        var drawn: [Int: Int] = [:]
        for key in 0..<400 as Range<UInt64> {
            let a = Ranking.select(s, strategy: .bestRandom, options: options(nil, seed: 7), key: key)
            let b = Ranking.select(s, strategy: .bestRandom, options: options(nil, seed: 7), key: key)
            XCTAssertEqual(a.pairs, b.pairs)
            XCTAssertEqual(a.pairs.count, 1)
            XCTAssertEqual(a.pairs[0].chosen, 0)
            drawn[a.pairs[0].rejected, default: 0] += 1
        }
        // Replies 1-4 are all drawn, roughly evenly; the other 10 (a tie with the best) never is.
        XCTAssertEqual(Set(drawn.keys), [1, 2, 3, 4])
        for (_, n) in drawn { XCTAssertGreaterThan(n, 60) }
        // Another seed draws differently for some records.
        let moved = (0..<50 as Range<UInt64>).filter {
            Ranking.select(s, strategy: .bestRandom, options: options(nil, seed: 7), key: $0).pairs
                != Ranking.select(s, strategy: .bestRandom, options: options(nil, seed: 8), key: $0).pairs
        }
        XCTAssertGreaterThan(moved.count, 10)
    }

    func testVotesMustAgree() {
        // 0 beats 1, 1 beats 2, 2 beats 0 (a cycle), 3 loses to all.
        let v: [[Int?]] = [[nil, 1, -1, 1], [-1, nil, 1, 1], [1, -1, nil, 1], [-1, -1, -1, nil]]
        let votes: (Int, Int) -> Int? = { v[$0][$1] }
        let scores = Ranking.copeland(count: 4, votes: votes)
        XCTAssertEqual(scores, [1, 1, 1, -3])
        let all = Ranking.select(scores, strategy: .all, options: options(nil), key: 0, votes: votes)
        XCTAssertEqual(Set(all.pairs.map { "\($0.chosen)>\($0.rejected)" }), ["0>3", "1>3", "2>3"])
        XCTAssertEqual(all.skipped["tie"], 3)
    }

    func testRawUltraFeedbackFixture() throws {
        let r = try convert([Paths.fixture("ranked/ultrafeedback_raw.jsonl")])
        XCTAssertEqual(r.converter.inputs[0].format, "ultrafeedback-raw")
        XCTAssertEqual(r.converter.total.removed, ["tie": 1, "too_few_responses": 1])
        XCTAssertEqual(r.converter.total.skipped["unrated_response"], 1)
        let originals = try foundationRecords(Paths.fixture("ranked/ultrafeedback_raw.jsonl"))
        for p in r.pairs {
            let line = Int(p.source.split(separator: ":")[2])!
            let comps = originals[line - 1]["completions"] as! [[String: Any]]
            let scores = comps.map { ($0["overall_score"] as? Double) }
            let rated = scores.compactMap { $0 }
            // best-worst: chosen has the highest rating, rejected the lowest.
            XCTAssertEqual(p.scoreChosen, rated.max()); XCTAssertEqual(p.scoreRejected, rated.min())
            XCTAssertEqual(p.prompt.map(\.text), [originals[line - 1]["instruction"] as! String])
            let ci = Int(p.meta.first { $0.0 == "chosen_index" }!.1.intValue!)
            XCTAssertEqual(p.chosen[0].text, comps[ci]["response"] as? String)
        }
        // The fine-grained rating ranks by the aspect mean, leaving out "N/A".
        var o = FormatOptions(); o.ultrafeedbackRating = .fineGrained; o.pairing.strategy = .all
        let fg = try convert([Paths.fixture("ranked/ultrafeedback_raw.jsonl")], options: o)
        let first = fg.pairs.filter { $0.source.contains(":1:") }
        // Record 1's means are 5, 2, 4.33, 2: five ordered pairs, one tie (2 = 2).
        XCTAssertEqual(first.count, 5)
        XCTAssertEqual(fg.converter.total.skipped["tie"], 1)
    }

    func testNectarHelpSteerDistilabelFixtures() throws {
        let n = try convert([Paths.fixture("ranked/nectar.jsonl")])
        XCTAssertEqual(n.converter.inputs[0].format, "nectar")
        XCTAssertEqual(n.pairs.count, 2)
        XCTAssertEqual(n.converter.total.removed, ["tie": 1])
        XCTAssertEqual(texts(n.pairs[1].prompt), ["user: hi", "assistant: Hello! How can I help?", "user: tell me a joke"])
        XCTAssertEqual(n.pairs[1].chosen[0].text, "A joke: knock knock.")
        XCTAssertEqual(n.pairs[1].rejected[0].text, "No.")
        XCTAssertNil(n.pairs[0].scoreChosen, "ranks are not written as scores")
        XCTAssertEqual(n.pairs[0].meta.first { $0.0 == "chosen_rank" }?.1, .int(1))

        let h = try convert([Paths.fixture("ranked/helpsteer2.jsonl")])
        XCTAssertEqual(h.converter.inputs[0].format, "helpsteer2")
        XCTAssertEqual(h.converter.total.read, 10)
        XCTAssertEqual(h.converter.total.removed, ["tie": 2, "too_few_responses": 1, "unpaired_response": 1])
        XCTAssertEqual(h.pairs.count, 3)
        XCTAssertEqual(texts(h.pairs[1].prompt), ["user: Write a haiku.", "assistant: An old pond / a frog jumps in / splash", "user: Another one, about snow."])
        // The default weights: 0.3*4 + 0.74*4 + 0.46*4 + 0.47*0 - 0.33*0 = 6.0.
        XCTAssertEqual(h.pairs[0].scoreChosen, 6.0)
        // Weights from the flag: verbosity alone, so the long wrong reply wins.
        var o = FormatOptions(); o.attributeWeights = try HelpSteer.parseWeights("verbosity=1")
        let hv = try convert([Paths.fixture("ranked/helpsteer2.jsonl")], options: o)
        XCTAssertTrue(hv.pairs[0].chosen[0].text.hasPrefix("2+2 is 5"))
        XCTAssertThrowsError(try HelpSteer.parseWeights("verbosity=x"))

        let d = try convert([Paths.fixture("ranked/distilabel.jsonl")])
        XCTAssertEqual(d.converter.inputs[0].format, "distilabel")
        XCTAssertEqual(d.pairs.map { "\($0.chosen[0].text)>\($0.rejected[0].text)" }, ["Rapid, swift.>Slow."])
        XCTAssertEqual(d.converter.total.removed, ["tie": 1, "too_few_responses": 1])
        var all = FormatOptions(); all.pairing.strategy = .all
        XCTAssertEqual(try convert([Paths.fixture("ranked/distilabel.jsonl")], options: all).pairs.count, 3)
    }

    /// PandaLM's real test set: the chosen reply is the majority of the three annotators, ties removed.
    func testPandaLMRealVotes() throws {
        let path = try Paths.realdata("pandalm_testset-v1_WeOpenML-PandaLM.json")
        let r = try convert([path])
        XCTAssertEqual(r.converter.inputs[0].format, "pandalm")
        let originals = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [[String: Any]]
        XCTAssertEqual(r.converter.total.read, originals.count)
        var ties = 0, nonString = 0
        for o in originals {
            let v = (1...3).map { o["annotator\($0)"] as! Int }
            if v.filter({ $0 == 1 }).count == v.filter({ $0 == 2 }).count { ties += 1 }
            else if !(o["response1"] is String) || !(o["response2"] is String) { nonString += 1 }
        }
        XCTAssertEqual(r.converter.total.removed["tie"], ties)
        // Six rows hold a reply as a JSON boolean: rejected with the type named.
        XCTAssertEqual(r.converter.total.rejected["bad_type"], nonString)
        XCTAssertTrue(r.rejects.allSatisfy { $0.message.contains("not a boolean") }, "\(r.rejects.map(\.message))")
        for p in r.pairs {
            let o = originals[Int(p.source.split(separator: ":").last!)! - 1]
            let v = (1...3).map { o["annotator\($0)"] as! Int }
            let first = v.filter { $0 == 1 }.count > v.filter { $0 == 2 }.count
            XCTAssertEqual(p.chosen[0].text, (first ? o["response1"] : o["response2"]) as? String)
            XCTAssertEqual(p.rejected[0].text, (first ? o["response2"] : o["response1"]) as? String)
            let agreement = p.meta.first { $0.0 == "agreement" }!.1.doubleValue!
            XCTAssertEqual(agreement, Double(v.filter { $0 == (first ? 1 : 2) }.count) / 3, accuracy: 1e-12)
        }
    }

    /// FineGrainedRLHF's real dev feedback: every pair's own human vote prefers its chosen reply.
    func testFineGrainedRealVotes() throws {
        let path = try Paths.realdata("finegrainedrlhf_qa-feedback-dev_allenai-FineGrainedRLHF.json")
        let originals = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [[String: Any]]
        let order = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
        for strategy in PairStrategy.allCases {
            var o = FormatOptions(); o.pairing.strategy = strategy
            let r = try convert([path], options: o)
            XCTAssertEqual(r.converter.inputs[0].format, "finegrained")
            XCTAssertEqual(r.converter.total.read, 500)
            XCTAssertGreaterThan(r.pairs.count, strategy == .all ? 1000 : 400)
            for p in r.pairs {
                let rec = originals[Int(p.source.split(separator: ":")[2])! - 1]
                let c = Int(p.meta.first { $0.0 == "chosen_index" }!.1.intValue!), j = Int(p.meta.first { $0.0 == "rejected_index" }!.1.intValue!)
                XCTAssertEqual(p.chosen[0].text, rec["prediction \(c + 1)"] as? String)
                let k = order.firstIndex { $0 == (min(c, j), max(c, j)) }!
                let vote = (rec["preference"] as! [Int])[k]
                XCTAssertEqual(vote, c < j ? 1 : 2, "\(p.source): the direct vote must prefer the chosen prediction")
                XCTAssertGreaterThan(p.scoreChosen!, p.scoreRejected!)
                XCTAssertTrue(p.prompt[0].text.hasPrefix(rec["question"] as! String))
            }
        }
    }

    /// LLMBar's real natural set through the generic label mapping: label 1 or 2 names the better output.
    func testLabelMappingOnLLMBar() throws {
        let path = try Paths.realdata("llmbar_natural_princeton-nlp.json")
        var o = FormatOptions()
        o.fieldMap = try FormatOptions.parseMap("prompt=input,a=output_1,b=output_2,label=label")
        let r = try convert([path], format: "generic", options: o)
        let originals = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [[String: Any]]
        XCTAssertEqual(r.pairs.count, originals.count)
        for (p, rec) in zip(r.pairs, originals) {
            let label = rec["label"] as! Int
            XCTAssertEqual(p.chosen[0].text, rec[label == 1 ? "output_1" : "output_2"] as? String)
            XCTAssertEqual(p.rejected[0].text, rec[label == 1 ? "output_2" : "output_1"] as? String)
        }
        // Swapped label values swap every pair.
        o.labelValues = try GenericAdapter.parseLabelValues("1:b,2:a")
        let swapped = try convert([path], format: "generic", options: o)
        XCTAssertEqual(swapped.pairs.map { $0.chosen[0].text }, r.pairs.map { $0.rejected[0].text })
    }

    func testLabelFixtureVotesTiesAndBadLabels() throws {
        var o = FormatOptions()
        o.fieldMap = try FormatOptions.parseMap("prompt=instruction,a=output_1,b=output_2,label=preference")
        let r = try convert([Paths.fixture("ranked/labels.jsonl")], format: "generic", options: o)
        XCTAssertEqual(r.pairs.map { $0.chosen[0].text }, ["Rome.", "Jupiter.", "Two."])
        XCTAssertEqual(r.converter.total.removed, ["tie": 1])
        XCTAssertEqual(r.converter.total.rejected, ["bad_label": 1])
        XCTAssertEqual(r.pairs[2].meta.first { $0.0 == "agreement" }?.1.doubleValue ?? 0, 2.0 / 3, accuracy: 1e-12)
        XCTAssertThrowsError(try FormatOptions.parseMap("a=x,b=y"))
        XCTAssertThrowsError(try FormatOptions.parseMap("a=x,b=y,label=z,chosen=c,rejected=d"))
        XCTAssertThrowsError(try GenericAdapter.parseLabelValues("1:c"))
    }

    /// OpenAssistant keeps its default (all pairs of different rank) and follows --pairs.
    func testOpenAssistantFollowsPairs() throws {
        let path = try Paths.realdata("oasst_en_100_tree.jsonl")
        let all = try convert([path])
        var o = FormatOptions(); o.pairing.strategy = .bestWorst
        let bw = try convert([path], options: o)
        XCTAssertLessThan(bw.pairs.count, all.pairs.count)
        let allIds = Set(all.pairs.map(\.id))
        for p in bw.pairs {
            XCTAssertTrue(allIds.contains(p.id), "a best-worst pair is one of the all-pairs, with the same id")
            XCTAssertEqual(p.meta.first { $0.0 == "chosen_rank" }?.1, .int(0))
        }
    }
}
