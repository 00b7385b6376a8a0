import Foundation
import XCTest
import PrefCore
@testable import PrefFormats
@testable import PrefIO

/// Hostile and careless input (issue 9): fixtures/bad/ (scripts/make_bad_fixtures.py) and large
/// inputs generated here. Each test asserts the exact reject reason, the accounting, and that
/// nothing outside the input leaks into the output.
final class HostileInputTests: XCTestCase {
    func bad(_ name: String) -> String { Paths.fixture("bad/" + name) }

    /// The fixture with @DIR@ replaced by the fixture directory, in a temp dir.
    func materialize(_ name: String) throws -> String {
        let text = try String(contentsOfFile: bad(name), encoding: .utf8).replacingOccurrences(of: "@DIR@", with: Paths.fixture("bad"))
        let p = Paths.tempDir() + "/" + name
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    func outputText(_ r: ConvertResult) -> String { String(decoding: r.bytes, as: UTF8.self) }

    func assertNoPasswd(_ r: ConvertResult, file: StaticString = #filePath, line: UInt = #line) {
        let all = outputText(r) + r.rejects.map { $0.message + String(decoding: $0.raw, as: UTF8.self) }.joined()
        XCTAssertFalse(all.contains("root:"), "no line of /etc/passwd reaches the output or the rejects", file: file, line: line)
    }

    func testExternalParameterEntityIsNeverLoaded() throws {
        let r = try convert([try materialize("xml_external_parameter_entity.xml")])
        assertNoPasswd(r)
        XCTAssertEqual(r.converter.total.rejected, ["xml_entity": 1], "the row using the entity is rejected")
        XCTAssertEqual(r.converter.total.read, 3)
        XCTAssertTrue(r.rejects[0].message.contains("leak"), r.rejects[0].message)
    }

    func testExternalGeneralEntitiesAreNeverOpened() throws {
        // file:///dev/stdin would block for ever if it were opened; the test would hang.
        let r = try convert([bad("xml_external_general_entity.xml")])
        assertNoPasswd(r)
        XCTAssertEqual(r.converter.total.rejected, ["xml_entity": 3])
        XCTAssertEqual(r.converter.total.read, 6)
        XCTAssertEqual(r.pairs.count, 1, "the two clean answers still make their pair")
        XCTAssertEqual(r.rejects.map(\.line), [9, 10, 11])
    }

    func testEntityExpansionBombsAreRejectedInstantly() throws {
        for name in ["xml_billion_laughs.xml", "xml_quadratic_blowup.xml"] {
            let t0 = Date()
            let r = try convert([bad(name)])
            XCTAssertLessThan(Date().timeIntervalSince(t0), 5, name)
            XCTAssertEqual(r.converter.total.rejected, ["xml_entity": 1], name)
            XCTAssertEqual(r.converter.total.read, 3, name)
            XCTAssertLessThan(r.bytes.count, 1 << 16, "\(name): nothing expanded into the output")
        }
    }

    func testInvalidUTF8InOneRowLosesOnlyThatRow() throws {
        let r = try convert([bad("xml_invalid_utf8.xml")])
        XCTAssertEqual(r.converter.total.read, 30, "every row of the dump is counted")
        XCTAssertEqual(r.converter.total.rejected, ["invalid_utf8": 1])
        XCTAssertEqual(r.rejects[0].line, 9)
        XCTAssertFalse(r.rejects[0].message.contains("\n"), "one-line message")
        let answersUsed = r.pairs.flatMap { p in [p.meta.first { $0.0 == "chosen_answer_id" }?.1, p.meta.first { $0.0 == "rejected_answer_id" }?.1] }
        XCTAssertFalse(answersUsed.contains(.int(7)), "the broken answer is in no pair")
        XCTAssertGreaterThan(r.pairs.count, 0)
    }

    func testUnterminatedQuoteRejectsOneRowAndReadsTheRest() throws {
        let r = try convert([bad("xml_unterminated_quote.xml")])
        XCTAssertEqual(r.converter.total.read, 11)
        XCTAssertEqual(r.converter.total.rejected, ["malformed_xml": 1])
        XCTAssertEqual(r.rejects[0].line, 7)
        let ids = Set(r.pairs.compactMap { $0.meta.first { $0.0 == "chosen_answer_id" }?.1.intValue })
        XCTAssertTrue(ids.contains(11), "rows after the damage are read")
    }

    func testEncodingsOtherThanUTF8AreRefused() throws {
        for name in ["xml_utf16.xml", "xml_latin1_declared.xml"] {
            let r = try convert([bad(name)])
            XCTAssertEqual(r.converter.total.rejected, ["unsupported_encoding": 1], name)
            XCTAssertEqual(r.converter.inputs[0].format, "stackexchange", name)
        }
    }

    func testLargeAttributeIsLinearAndTheLimitHolds() throws {
        let d = Paths.tempDir()
        let p = d + "/Posts.xml"
        let body = String(repeating: "word ", count: 4_000_000)          // 20 MB
        let xml = "<posts>\n<row Id=\"1\" PostTypeId=\"1\" Title=\"q\" Body=\"\(body)\" />\n" +
            "<row Id=\"2\" PostTypeId=\"2\" ParentId=\"1\" Body=\"a\" Score=\"3\" />\n<row Id=\"3\" PostTypeId=\"2\" ParentId=\"1\" Body=\"b\" Score=\"0\" />\n</posts>\n"
        try xml.write(toFile: p, atomically: false, encoding: .utf8)
        let t0 = Date()
        let r = try convert([p])
        XCTAssertLessThan(Date().timeIntervalSince(t0), 20, "a 20 MB attribute converts in linear time (the push parser took minutes)")
        XCTAssertEqual(r.pairs.count, 1)
        XCTAssertGreaterThan(r.pairs[0].prompt[0].text.utf8.count, 19_000_000, "the whole body is kept")
        // Under a 1 MB record limit the row is rejected, and the others are still read.
        let small = try convertWith([p]) { $0.maxRecordBytes = 1 << 20 }
        XCTAssertEqual(small.converter.total.rejected, ["record_too_large": 1])
        XCTAssertEqual(small.converter.total.read, 3)
    }

    func testOneQuestionWithThousandsOfAnswersStaysSmall() throws {
        let d = Paths.tempDir()
        let p = d + "/Posts.xml"
        var xml = "<posts>\n<row Id=\"1\" PostTypeId=\"1\" Title=\"q\" Body=\"x\" />\n"
        for i in 2...8001 { xml += "<row Id=\"\(i)\" PostTypeId=\"2\" ParentId=\"1\" Body=\"answer \(i)\" Score=\"\(i % 1000)\" />\n" }
        xml += "</posts>\n"
        try xml.write(toFile: p, atomically: false, encoding: .utf8)
        for limit in [1 << 30, 1 << 16] {
            let r = try convertWith([p]) { $0.options.stackexchange.memoryLimit = limit; $0.options.stackexchange.maxPairsPerQuestion = 10 }
            XCTAssertEqual(r.converter.total.read, 8001)
            XCTAssertEqual(r.pairs.count, 10)
            XCTAssertEqual(r.converter.total.removed["unpaired_answer"], 8000 - r.converter.total.written + 1)
            // The largest pm-score gap first: score 999 answers (pm 10) against score 0 answers (pm 0).
            let gaps = r.pairs.map { ($0.scoreChosen ?? 0) - ($0.scoreRejected ?? 0) }
            XCTAssertEqual(gaps, Array(repeating: gaps.max()!, count: 10))
            XCTAssertEqual(r.pairs.map(\.scoreChosen), r.pairs.map { _ in 10.0 })
        }
    }

    func testPairingRuleMatchesTheFullSortOnRandomQuestions() throws {
        // The lazy enumeration must pick exactly what sorting every candidate pair picks.
        var rng = SeededGenerator(seed: 7)
        for trial in 0..<30 {
            let n = Int.random(in: 2...40, using: &rng)
            let scores = (0..<n).map { _ in Int.random(in: -3...60, using: &rng) }
            let accepted = Bool.random(using: &rng) ? Int.random(in: 0..<n, using: &rng) + 2 : 0
            let limit = Int.random(in: 1...15, using: &rng)
            var xml = "<posts>\n<row Id=\"1\" PostTypeId=\"1\" Title=\"q\" Body=\"x\" AcceptedAnswerId=\"\(accepted)\" />\n"
            for (k, s) in scores.enumerated() { xml += "<row Id=\"\(k + 2)\" PostTypeId=\"2\" ParentId=\"1\" Body=\"a\(k)\" Score=\"\(s)\" />\n" }
            xml += "</posts>\n"
            let p = Paths.tempDir() + "/Posts.xml"
            try xml.write(toFile: p, atomically: false, encoding: .utf8)
            let r = try convertWith([p]) { $0.options.stackexchange.maxPairsPerQuestion = limit }
            let pm = scores.enumerated().map { StackExchange.pmScore(score: $0.1, accepted: $0.0 + 2 == accepted) }
            var cands: [(c: Int, r: Int, gap: Int)] = []
            for i in 0..<n { for j in 0..<n where pm[i] > pm[j] { cands.append((i + 2, j + 2, pm[i] - pm[j])) } }
            cands.sort { $0.gap != $1.gap ? $0.gap > $1.gap : ($0.c != $1.c ? $0.c < $1.c : $0.r < $1.r) }
            let expected = cands.prefix(limit).map { "\($0.c):\($0.r)" }
            let got = r.pairs.map { p in "\(p.meta.first { $0.0 == "chosen_answer_id" }!.1.intValue!):\(p.meta.first { $0.0 == "rejected_answer_id" }!.1.intValue!)" }
            XCTAssertEqual(got, expected, "trial \(trial)")
        }
    }

    func testRecordLimitHoldsForEveryRecord() throws {
        let hh = Paths.fixture("hh_small.jsonl")
        let lines = try String(contentsOfFile: hh, encoding: .utf8).split(separator: "\n")
        let lengths = lines.map(\.utf8.count).sorted()
        let limit = lengths[lengths.count / 2] - 1
        let over = lines.filter { $0.utf8.count > limit }.count
        XCTAssertGreaterThan(over, 0)
        XCTAssertLessThan(over, lines.count)
        let r = try convertWith([hh]) { $0.maxRecordBytes = limit }
        XCTAssertEqual(r.converter.total.rejected, ["record_too_large": over], "lines within one buffer are checked too")
        XCTAssertEqual(r.converter.total.read, lines.count, "no phantom record")
        // JSON arrays: an element past the limit is skipped to its end, the next one is read.
        let d = Paths.tempDir()
        let big = String(repeating: "y", count: 5000)
        let arr = "[{\"prompt\": \"p\", \"chosen\": \"\(big)\", \"rejected\": \"n\"},\n {\"prompt\": \"p2\", \"chosen\": \"c\", \"rejected\": \"n\"}]\n"
        try arr.write(toFile: d + "/a.json", atomically: false, encoding: .utf8)
        let a = try convertWith([d + "/a.json"]) { $0.maxRecordBytes = 1000 }
        XCTAssertEqual(a.converter.total.rejected, ["record_too_large": 1])
        XCTAssertEqual(a.pairs.count, 1)
        XCTAssertEqual(a.pairs[0].prompt.last?.text, "p2")
        XCTAssertEqual(a.converter.total.read, 2)
    }

    func testDetectionOfAHugeFirstLineIsBoundedByTheLimit() throws {
        let d = Paths.tempDir()
        let p = d + "/big.jsonl"
        let huge = String(repeating: "z", count: 40 << 20)
        let text = "{\"prompt\": \"p\", \"chosen\": \"\(huge)\", \"rejected\": \"r\"}\n{\"prompt\": \"q\", \"chosen\": \"c\", \"rejected\": \"r\"}\n"
        try text.write(toFile: p, atomically: false, encoding: .utf8)
        XCTAssertEqual(Converter.detectFile(p, maxRecordBytes: 1 << 20)?.name, "trl", "detected from the next record")
        let (src, _) = try Sources.open(p)
        let reader = RecordReader(src, maxRecordBytes: 1 << 20, chunk: 1 << 16)
        let batch = reader.nextBatch(targetBytes: 1 << 16, maxRecords: 64)!
        XCTAssertEqual(batch.failures.map(\.reason), ["record_too_large"])
        XCTAssertLessThanOrEqual(reader.cap, 4 << 20, "the detection buffer stays within the limit")
        let r = try convertWith([p]) { $0.maxRecordBytes = 1 << 20 }
        XCTAssertEqual(r.converter.total.rejected, ["record_too_large": 1])
        XCTAssertEqual(r.pairs.count, 1)
    }

    func testDuplicateJSONKeysLastOneWins() throws {
        let r = try convert([bad("json_duplicate_key.jsonl")], format: "trl")
        XCTAssertEqual(r.pairs.count, 2)
        XCTAssertEqual(r.pairs[0].prompt.last?.text, "Which is warmer, tea or ice?")
        XCTAssertEqual(r.pairs[1].rejected.last?.text, "Seven.")
        // The same as Python's json.loads / Foundation.
        let f = try foundationRecords(bad("json_duplicate_key.jsonl"))
        XCTAssertEqual(f[0]["prompt"] as? String, "Which is warmer, tea or ice?")
    }
}
