import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
import PrefCore
@testable import PrefFormats
@testable import PrefIO

/// Stack Exchange dumps and OpenAssistant trees: pair invariants on the real samples, the spill
/// path against the in-memory path, flat export against tree export.
final class JoinTests: XCTestCase {
    func convertSE(_ paths: [String], memoryLimit: Int = 1 << 30, maxPairs: Int = 10) throws -> ConvertResult {
        return try convertWith(paths) { c in
            c.corpus = nil
            c.options.stackexchange.memoryLimit = memoryLimit
            c.options.stackexchange.maxPairsPerQuestion = maxPairs
            c.options.oasst.memoryLimit = memoryLimit
        }
    }

    /// Rows of a Posts.xml read independently with Foundation's XMLParser.
    func foundationRows(_ path: String) throws -> [[String: String]] {
        final class Delegate: NSObject, XMLParserDelegate {
            var rows: [[String: String]] = []
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String]) {
                if name == "row" { rows.append(attributes) }
            }
        }
        let p = XMLParser(contentsOf: URL(fileURLWithPath: path))!
        let d = Delegate()
        p.delegate = d
        XCTAssertTrue(p.parse(), "Foundation parses \(path)")
        return d.rows
    }

    func testRealStackExchangeDumpsFollowThePairingRule() throws {
        for name in ["se_coffee_Posts.xml", "se_beer_Posts.xml", "se_tpxml_Posts.xml"] {
            let path = try Paths.realdata(name)
            let r = try convertSE([path])
            let rows = try foundationRows(path)
            XCTAssertEqual(r.converter.total.read, rows.count, "every row is counted (\(name))")
            XCTAssertEqual(r.converter.total.rejected, [:])
            XCTAssertEqual(r.converter.inputs[0].format, "stackexchange")

            // Expected pairs per question, computed here from Foundation's rows with the H4 rule.
            var byId: [Int: [String: String]] = [:]
            var answersOf: [Int: [[String: String]]] = [:]
            for row in rows { byId[Int(row["Id"]!)!] = row }
            for row in rows where row["PostTypeId"] == "2" { answersOf[Int(row["ParentId"]!)!, default: []].append(row) }
            var expected = 0
            for (qid, answers) in answersOf {
                guard let q = byId[qid], q["PostTypeId"] == "1", answers.count >= 2 else { continue }
                let pm = answers.map { a -> Int in
                    let s = Int(a["Score"]!)!
                    return (s >= 0 ? Int(log2(Double(1 + s)).rounded()) : -1) + (a["Id"] == q["AcceptedAnswerId"] ? 1 : 0)
                }
                var n = 0
                for i in pm.indices { for j in pm.indices where pm[i] > pm[j] { n += 1 } }
                expected += min(n, 10)
            }
            XCTAssertEqual(r.pairs.count, expected, name)

            for p in r.pairs {
                XCTAssertGreaterThan(p.scoreChosen!, p.scoreRejected!)
                let meta = Dictionary(uniqueKeysWithValues: p.meta.map { ($0.0, $0.1) })
                let qid = Int(meta["question_id"]!.intValue!)
                let cid = Int(meta["chosen_answer_id"]!.intValue!), rid = Int(meta["rejected_answer_id"]!.intValue!)
                XCTAssertEqual(byId[cid]?["ParentId"], String(qid), "pairs only within one question")
                XCTAssertEqual(byId[rid]?["ParentId"], String(qid))
                XCTAssertEqual(meta["chosen_score_raw"]?.intValue, Int64(byId[cid]!["Score"]!))
                XCTAssertEqual(meta["chosen_accepted"], .bool(byId[qid]!["AcceptedAnswerId"] == String(cid)))
                XCTAssertTrue(p.prompt[0].text.hasPrefix(byId[qid]!["Title"]!.replacingOccurrences(of: "&amp;", with: "&")))
                // No markup left: any tag-shaped text outside code must have been escaped text in the source.
                for (text, id) in [(p.prompt[0].text, qid), (p.chosen[0].text, cid), (p.rejected[0].text, rid)] {
                    let html = byId[id]!["Body"]!
                    for tag in tagsOutsideCode(text) {
                        XCTAssertTrue(html.contains("&lt;" + tag), "<\(tag)> left in post \(id) of \(name)")
                    }
                }
            }
            // Code blocks survive as fenced blocks.
            let withPre = rows.filter { ($0["Body"] ?? "").contains("<pre") }.count
            if withPre > 0 {
                XCTAssertTrue(r.pairs.contains { ($0.prompt + $0.chosen + $0.rejected).contains { $0.text.contains("```\n") } }, name)
            }
        }
    }

    func tagsOutsideCode(_ s: String) -> [String] {
        var t = s.replacingOccurrences(of: #"```[\s\S]*?```"#, with: "", options: .regularExpression)
        t = t.replacingOccurrences(of: #"`[^`]*`"#, with: "", options: .regularExpression)
        let re = try! NSRegularExpression(pattern: #"</?(p|a|div|pre|code|br|li|ul|ol|blockquote|strong|em|img|h[1-6]|hr|b|i)\b[^>]*>"#)
        return re.matches(in: t, range: NSRange(t.startIndex..., in: t)).map { m in
            String(t[Range(m.range(at: 1), in: t)!])
        }
    }

    func testTagFormatsAndPreferenceScore() {
        XCTAssertEqual(StackExchange.parseTags("<storage><whole-bean>"), ["storage", "whole-bean"])
        XCTAssertEqual(StackExchange.parseTags("|storage|whole-bean|"), ["storage", "whole-bean"])
        XCTAssertEqual(StackExchange.parseTags(""), [])
        // round(log2(1 + score)); -1 for negative scores; +1 when accepted.
        XCTAssertEqual([0, 1, 2, 3, 5, 10, 100].map { StackExchange.pmScore(score: $0, accepted: false) }, [0, 1, 2, 2, 3, 3, 7])
        XCTAssertEqual(StackExchange.pmScore(score: -4, accepted: false), -1)
        XCTAssertEqual(StackExchange.pmScore(score: -4, accepted: true), 0)
        XCTAssertEqual(StackExchange.pmScore(score: 3, accepted: true), 3)
    }

    /// Opt-in (PREFKIT_LARGE_TESTS=1): a multi-hundred-MB dump with a small budget.
    func testLargeDumpSpillsAndMatches() throws {
        guard ProcessInfo.processInfo.environment["PREFKIT_LARGE_TESTS"] == "1" else {
            throw XCTSkip("set PREFKIT_LARGE_TESTS=1 for the 200 MB spill test (bench/run.sh runs it at 500 MB)")
        }
        let dir = Paths.tempDir()
        let path = dir + "/Posts.xml"
        try SyntheticPosts.write(path: path, questions: 400_000, seed: 11)
        let small = try convertSE([path], memoryLimit: 32 << 20)
        let large = try convertSE([path])
        XCTAssertGreaterThan(small.converter.spillReport[0].spilled, 0)
        XCTAssertTrue(small.bytes == large.bytes)
        try? FileManager.default.removeItem(atPath: dir)
    }

    func testSpillToDiskGivesTheSameOutputAsInMemory() throws {
        let dir = Paths.tempDir()
        let path = dir + "/Posts.xml"
        try SyntheticPosts.write(path: path, questions: 3000, seed: 7)
        let inMemory = try convertSE([path])
        let spilled = try convertSE([path], memoryLimit: 64 << 10)
        XCTAssertGreaterThan(spilled.converter.spillReport[0].spilled, 0, "the small budget forces spilling")
        XCTAssertEqual(inMemory.converter.spillReport[0].spilled, 0)
        XCTAssertLessThanOrEqual(spilled.converter.spillReport[0].peakBytes, (64 << 10) + 100_000)
        XCTAssertEqual(spilled.bytes, inMemory.bytes)
        XCTAssertGreaterThan(inMemory.pairs.count, 1000)
        XCTAssertEqual(spilled.converter.total.removed, inMemory.converter.total.removed)
        // Orphans and questions without answers are counted, not lost.
        XCTAssertGreaterThan(inMemory.converter.total.removed["orphan_answer"] ?? 0, 0)
        XCTAssertGreaterThan(inMemory.converter.total.removed["too_few_answers"] ?? 0, 0)
        try? FileManager.default.removeItem(atPath: dir)
    }

    func testMaxPairsPerQuestionKeepsLargestGapsDeterministically() throws {
        let dir = Paths.tempDir()
        let path = dir + "/Posts.xml"
        try SyntheticPosts.write(path: path, questions: 200, seed: 3)
        let r = try convertSE([path], maxPairs: 2)
        var perQ: [Int64: [Double]] = [:]
        for p in r.pairs { perQ[p.meta[0].1.intValue!, default: []].append(p.scoreChosen! - p.scoreRejected!) }
        XCTAssertTrue(perQ.values.allSatisfy { $0.count <= 2 && $0 == $0.sorted(by: >) })
        let again = try convertSE([path], maxPairs: 2)
        XCTAssertEqual(r.bytes, again.bytes)
    }

    func testBrokenAndCompressedXML() throws {
        let dir = Paths.tempDir()
        let good = dir + "/Posts.xml"
        try SyntheticPosts.write(path: good, questions: 50, seed: 1)
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: good)))
        // Cut the document inside a row: the rows before it are kept, the damage is one reject.
        bytes = Array(bytes[..<(bytes.count * 2 / 3)])
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/cut.xml"))
        let r = try convertSE([dir + "/cut.xml"])
        XCTAssertEqual(r.converter.total.rejected.keys.sorted(), ["malformed_xml"])
        XCTAssertGreaterThan(r.converter.total.read, 50)
        XCTAssertTrue(r.rejects[0].message.contains("line"), r.rejects[0].message)
        // gzip input: same pairs as plain.
        let gz = try shellRun("gzip -c '\(good)' > '\(dir)/Posts.xml.gz'")
        if gz {
            let a = try convertSE([good]), b = try convertSE([dir + "/Posts.xml.gz"])
            XCTAssertEqual(a.pairs.map { texts($0.prompt + $0.chosen + $0.rejected) }, b.pairs.map { texts($0.prompt + $0.chosen + $0.rejected) })
        }
    }

    func testOpenAssistantTreeExportsAndTheRule() throws {
        for name in ["oasst_en_100_tree.jsonl", "oasst_en_100_message.jsonl"] {
            let path = try Paths.realdata(name)
            let r = try convertSE([path])
            XCTAssertEqual(r.converter.inputs[0].format, "oasst")
            // Independent count of messages and of the expected pairs (default: no synthetic, no deleted, review passed).
            let trees = try foundationRecords(path)
            var messages = 0, expected = 0
            func walk(_ m: [String: Any], excluded: Bool) {
                messages += 1
                let bad = excluded || (m["deleted"] as? Bool ?? false) || (m["synthetic"] as? Bool ?? false) || (m["review_result"] as? Bool == false)
                let replies = m["replies"] as? [[String: Any]] ?? []
                if !bad && m["role"] as? String == "prompter" {
                    let ranks = replies.filter { !($0["deleted"] as? Bool ?? false) && !($0["synthetic"] as? Bool ?? false) && $0["review_result"] as? Bool != false }
                        .compactMap { $0["rank"] as? Int }
                    for i in ranks.indices { for j in ranks.indices where ranks[i] < ranks[j] { expected += 1 } }
                }
                for rep in replies { walk(rep, excluded: bad) }
            }
            for t in trees { walk((t["prompt"] as? [String: Any]) ?? t, excluded: false) }
            XCTAssertEqual(r.converter.total.read, messages, name)
            XCTAssertEqual(r.pairs.count, expected, name)
            for p in r.pairs {
                let meta = Dictionary(uniqueKeysWithValues: p.meta.map { ($0.0, $0.1) })
                XCTAssertLessThan(meta["chosen_rank"]!.intValue!, meta["rejected_rank"]!.intValue!)
                XCTAssertEqual(p.prompt.first?.role, .user)
                for (k, m) in p.prompt.enumerated() { XCTAssertEqual(m.role, k % 2 == 0 ? .user : .assistant, "alternating turns") }
            }
        }
    }

    func testFlatMessageExportGivesTheSamePairsAsTheTreeExport() throws {
        let path = try Paths.realdata("oasst_en_100_tree.jsonl")
        let dir = Paths.tempDir()
        // Flatten the real trees into one message per line, shuffled with a fixed seed.
        var lines: [String] = []
        for t in try foundationRecords(path) {
            let treeId = t["message_tree_id"] as! String
            func walk(_ m: [String: Any], parent: String?) {
                var flat = m
                flat.removeValue(forKey: "replies")
                flat["message_tree_id"] = treeId
                flat["parent_id"] = parent ?? NSNull()
                lines.append(String(decoding: try! JSONSerialization.data(withJSONObject: flat, options: [.sortedKeys]), as: UTF8.self))
                for r in m["replies"] as? [[String: Any]] ?? [] { walk(r, parent: m["message_id"] as? String) }
            }
            walk(t["prompt"] as! [String: Any], parent: nil)
        }
        var rng = SeededGenerator(seed: 42)
        lines.shuffle(using: &rng)
        let flat = dir + "/messages.jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: flat, atomically: true, encoding: .utf8)

        let tree = try convertSE([path])
        let flatR = try convertSE([flat])
        let spilled = try convertSE([flat], memoryLimit: 64 << 10)
        func canon(_ r: ConvertResult) -> [String] {
            r.pairs.map { p in (texts(p.prompt + p.chosen + p.rejected) + p.meta.map { "\($0.0)=\($0.1.serialized())" }).joined(separator: "|") }.sorted()
        }
        XCTAssertEqual(flatR.pairs.count, tree.pairs.count)
        XCTAssertEqual(canon(flatR), canon(tree))
        XCTAssertEqual(flatR.converter.total.read, tree.converter.total.read)
        XCTAssertEqual(flatR.converter.total.removed, tree.converter.total.removed)
        XCTAssertGreaterThan(spilled.converter.spillReport[0].spilled, 0)
        XCTAssertEqual(spilled.bytes, flatR.bytes)
    }

    func testOpenAssistantOptions() throws {
        let path = try Paths.realdata("oasst_en_100_tree.jsonl")
        let base = try convertSE([path])
        let withSynthetic = try convertWith([path]) { $0.options.oasst.includeSynthetic = true }
        XCTAssertGreaterThanOrEqual(withSynthetic.pairs.count, base.pairs.count)
        XCTAssertNil(withSynthetic.converter.total.removed["synthetic"])
        let german = try convertWith([path]) { $0.options.oasst.languages = ["de"] }
        XCTAssertEqual(german.pairs.count, 0)
        XCTAssertEqual(german.converter.total.read, base.converter.total.read)
    }
}


func shellRun(_ cmd: String) throws -> Bool {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", cmd]
    try p.run(); p.waitUntilExit()
    return p.terminationStatus == 0
}
