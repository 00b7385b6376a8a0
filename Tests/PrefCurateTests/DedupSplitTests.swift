import Foundation
import XCTest
import PrefCore
@testable import PrefCurate
@testable import PrefFormats
@testable import PrefIO

final class DedupSplitTests: XCTestCase {
    func dedup(_ lines: [String], _ configure: (inout DedupOptions) -> Void = { _ in }) throws -> (Outcome, DedupResult) {
        var o = DedupOptions()
        configure(&o)
        let src = try source([writeLines(lines)])
        let r = Dedup.run(try Dedup.scan(src, o), o, threads: 2)
        return (try applyRaw(src) { r.decision($0, raw: $1) }, r)
    }

    let base = "How do I make a good cup of coffee at home with a simple drip machine and fresh beans"

    func testExactDuplicatesUnderCaseWhitespaceAndPunctuation() throws {
        let lines = [
            pairLine(id: "a", prompt: base, chosen: "Use fresh beans.", rejected: "Use instant."),
            pairLine(id: "b", prompt: base.uppercased(), chosen: "use   fresh beans", rejected: "Use instant!"),
            pairLine(id: "c", prompt: base + "?", chosen: "Use fresh beans.", rejected: "Use instant."),
            pairLine(id: "d", prompt: base, chosen: "Grind just before brewing.", rejected: "Use instant."),
        ]
        let (o, r) = try dedup(lines) { $0.near = false }
        XCTAssertEqual(o.kept[0], ["a", "d"], "same prompt with different responses is not a duplicate")
        XCTAssertEqual(o.removed, ["b": "exact_duplicate", "c": "exact_duplicate"])
        XCTAssertEqual(r.clusters.count, 1)
    }

    func testNearDuplicatesNeedSimilarPromptsAndResponses() throws {
        let long = String(repeating: "the quick brown fox jumps over the lazy dog while the cat sleeps ", count: 4)
        let lines = [
            pairLine(id: "a", prompt: long + "tell me a story", chosen: "Once upon a time there was a fox who jumped over a dog every single day.", rejected: "No."),
            pairLine(id: "b", prompt: long + "tell me a story please", chosen: "Once upon a time there was a fox who jumped over a dog every single day.", rejected: "No."),
            pairLine(id: "c", prompt: long + "tell me a story", chosen: "A completely different reply about something else entirely unrelated here.", rejected: "Nope, I refuse to."),
            // The same words in reverse order share no word 5-gram: not a near duplicate.
            pairLine(id: "d", prompt: (long + "tell me a story").split(separator: " ").reversed().joined(separator: " "),
                     chosen: "Once upon a time there was a fox who jumped over a dog every single day.", rejected: "No."),
        ]
        let (o, r) = try dedup(lines)
        XCTAssertEqual(o.removed["b"], "near_duplicate")
        XCTAssertNil(o.removed["c"], "shares the prompt but not the responses")
        XCTAssertEqual(o.kept[0].first, "a")
        XCTAssertEqual(r.bands * r.rows <= 128, true)
        XCTAssertEqual(r.bands, 9); XCTAssertEqual(r.rows, 13)
        XCTAssertNil(o.removed["d"], "reordered words are a different text for word n-grams")
        XCTAssertEqual(o.kept[0], ["a", "c", "d"])
    }

    /// --by prompt: pairs whose prompts are exact or near duplicates form one cluster whatever
    /// their replies, with their own reasons, and opposite labels are not a conflict there.
    func testDedupByPrompt() throws {
        let long = String(repeating: "the quick brown fox jumps over the lazy dog while the cat sleeps ", count: 4)
        let lines = [
            pairLine(id: "a", prompt: long + "tell me a story", chosen: "Once upon a time.", rejected: "No."),
            pairLine(id: "b", prompt: (long + "tell me a story").uppercased(), chosen: "Something else entirely.", rejected: "Nope."),
            pairLine(id: "c", prompt: long + "tell me a story please", chosen: "A third reply.", rejected: "Never."),
            pairLine(id: "d", prompt: "Is water wet?", chosen: "Yes.", rejected: "No."),
            pairLine(id: "e", prompt: "is water wet", chosen: "no", rejected: "yes"),
            pairLine(id: "f", prompt: "A different question about the weather in spring.", chosen: "Mild.", rejected: "Hot."),
        ]
        let (o, r) = try dedup(lines) { $0.by = .prompt }
        XCTAssertEqual(o.removed, ["b": "exact_duplicate_prompt", "c": "near_duplicate_prompt", "e": "exact_duplicate_prompt"])
        XCTAssertEqual(o.kept[0], ["a", "d", "f"])
        XCTAssertEqual(r.conflicts, 0)
        // The default keeps all three story pairs (their replies differ) and drops d/e as a conflict.
        let (pairwise, _) = try dedup(lines)
        XCTAssertEqual(pairwise.removed, ["d": "conflict", "e": "conflict"])
        // Exact-only by prompt still groups b with a, not c.
        let (exact, _) = try dedup(lines) { $0.by = .prompt; $0.near = false }
        XCTAssertEqual(exact.removed, ["b": "exact_duplicate_prompt", "e": "exact_duplicate_prompt"])
    }

    func testConflictingLabelsAreDroppedBoth() throws {
        let lines = [
            pairLine(id: "x", prompt: "Is water wet?", chosen: "Yes.", rejected: "No."),
            pairLine(id: "y", prompt: "is water wet", chosen: "no", rejected: "yes"),
            pairLine(id: "z", prompt: "Is fire hot?", chosen: "Yes.", rejected: "No."),
        ]
        let (o, r) = try dedup(lines)
        XCTAssertEqual(o.removed, ["x": "conflict", "y": "conflict"])
        XCTAssertEqual(r.conflicts, 2)
        let (kept, _) = try dedup(lines) { $0.dropConflicts = false }
        XCTAssertEqual(kept.kept[0], ["x", "y", "z"])
    }

    func testKeepPolicies() throws {
        let lines = [
            pairLine(id: "b", prompt: base, chosen: "Fresh beans", rejected: "Instant", sc: 2, sr: 1, source: "shp:x:1"),
            pairLine(id: "a", prompt: base, chosen: "fresh beans!", rejected: "instant", sc: 9, sr: 1, source: "hh:x:2"),
        ]
        XCTAssertEqual(try dedup(lines) { $0.near = false }.0.kept[0], ["b"])
        XCTAssertEqual(try dedup(lines) { $0.near = false; $0.keep = .largestMargin }.0.kept[0], ["a"])
        XCTAssertEqual(try dedup(lines) { $0.near = false; $0.keep = .sourcePriority; $0.sourcePriority = ["shp", "hh"] }.0.kept[0], ["b"])
        XCTAssertEqual(try dedup(lines) { $0.near = false; $0.keep = .longest }.0.kept[0], ["a"], "'fresh beans!' is one character longer")
    }

    /// The signature estimates Jaccard similarity without bias: a monotone hash family (every
    /// permutation picking the same minimum) would pass the other tests but fail this one.
    func testMinHashEstimatesJaccard() {
        let h = MinHasher(numPerm: 128)
        var rng = SeededGenerator(seed: 5)
        for trueJ in [0.2, 0.5, 0.8] {
            var errors: [Double] = []
            for _ in 0..<40 {
                let shared = Int(200 * trueJ), own = (200 - shared) / 2
                let common = (0..<shared).map { _ in UInt64.random(in: 0...UInt64.max, using: &rng) }
                let x = common + (0..<own).map { _ in UInt64.random(in: 0...UInt64.max, using: &rng) }
                let y = common + (0..<own).map { _ in UInt64.random(in: 0...UInt64.max, using: &rng) }
                let exact = Double(shared) / Double(shared + 2 * own)
                errors.append(MinHasher.similarity(h.signature(x)[...], h.signature(y)[...]) - exact)
            }
            let bias = errors.reduce(0, +) / Double(errors.count)
            let rmse = (errors.map { $0 * $0 }.reduce(0, +) / Double(errors.count)).squareRoot()
            XCTAssertLessThan(abs(bias), 0.03, "bias at J=\(trueJ)")
            XCTAssertLessThan(rmse, 0.07, "spread at J=\(trueJ) (128 permutations: about 0.04 expected)")
        }
    }

    func testOptimalLSHParametersMatchDatasketch() {
        // What datasketch's MinHashLSH(threshold, num_perm) chooses (read from datasketch 1.6 here).
        for (t, n, b, r) in [(0.8, 128, 9, 13), (0.5, 128, 25, 5), (0.9, 128, 5, 25), (0.8, 64, 5, 11)] {
            let got = LSHParams.optimal(threshold: t, numPerm: n)
            XCTAssertTrue(got == (b, r), "threshold \(t), \(n) perms: \(got)")
        }
    }

    func testSplitIsLeakFreeDeterministicAndNearFractions() throws {
        var lines: [String] = []
        for i in 0..<600 {
            let topic = "question number \(i / 3) about a topic that is long enough to have several five word shingles in it"
            // Three pairs per prompt: one exact copy, one case/punctuation variant, one near duplicate.
            lines.append(pairLine(id: "p\(i)", prompt: i % 3 == 1 ? topic.uppercased() + "!" : (i % 3 == 2 ? topic + " today" : topic),
                                  chosen: "answer \(i)", rejected: "bad \(i)", source: i % 2 == 0 ? "hh:a:\(i)" : "shp:b:\(i)"))
        }
        func split(_ seed: UInt64, stratify: Bool = false) throws -> Outcome {
            var o = SplitOptions(); o.test = 0.1; o.valid = 0.1; o.seed = seed; o.stratifySource = stratify
            let src = try source([writeLines(lines)])
            let h = MinHasher(numPerm: 128)
            let opts = o
            let scanned = try src.scanPairs { Splitter.feature($0, opts, h) }
            let (d, groups) = Splitter.assign(scanned, o, threads: 2)
            XCTAssertEqual(groups, 200, "exact, normalized and near-duplicate prompts group together")
            return try apply(src, outputs: 3) { d[$0] }
        }
        let a = try split(7), b = try split(7), c = try split(8)
        XCTAssertEqual(a.kept, b.kept, "deterministic")
        XCTAssertNotEqual(a.kept, c.kept, "the seed matters")
        XCTAssertEqual(a.kept.map(\.count).reduce(0, +), 600)
        XCTAssertEqual(a.kept[1].count, 60); XCTAssertEqual(a.kept[2].count, 60)
        // No prompt group on two sides.
        var sideOf: [Int: Int] = [:]
        for (side, ids) in a.kept.enumerated() {
            for id in ids {
                let g = Int(id.dropFirst())! / 3
                if let s = sideOf[g] { XCTAssertEqual(s, side, "group \(g) leaks") } else { sideOf[g] = side }
            }
        }
        // Stratified: each corpus gets its own 10% test share.
        let st = try split(7, stratify: true)
        let testIds = st.kept[1].map { Int($0.dropFirst())! }
        XCTAssertEqual(testIds.filter { $0 % 2 == 0 }.count, 30, "hh: 10% of 300")
        XCTAssertEqual(testIds.filter { $0 % 2 == 1 }.count, 30, "shp: 10% of 300")
    }
}
