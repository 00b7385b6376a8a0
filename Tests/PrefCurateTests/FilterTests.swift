import Foundation
import XCTest
@testable import PrefCurate
@testable import PrefFormats
@testable import PrefIO

final class FilterTests: XCTestCase {
    func run(_ lines: [String], _ specs: [FilterSpec]) throws -> Outcome {
        let src = try source([writeLines(lines)])
        let plan = try FilterPlan(specs)
        let scanned = try src.scanPairs { p in (plan.reason(p), XXH64.hash(TextNorm.normalize(TextNorm.text(p.prompt))), Measure.margin(p) ?? 0, p.id) }
        var survivors: [(index: Int, prompt: UInt64, margin: Double, id: String)] = []
        for (i, s) in scanned.enumerated() { if case .pair(let f) = s, f.0 == nil { survivors.append((i, f.1, f.2, f.3)) } }
        let limited = plan.limitPerPrompt(survivors)
        return try apply(src) { i in
            switch scanned[i] {
            case .rejected(let r, let m): return .reject(reason: r, message: m)
            case .pair(let f):
                if let r = f.0 { return .remove(reason: r, extra: []) }
                return limited.contains(i) ? .remove(reason: "max-pairs-per-prompt", extra: []) : .keep(output: 0)
            }
        }
    }

    func testEmptyIdenticalTieAndMargins() throws {
        let lines = [
            pairLine(id: "ok", prompt: "Q", chosen: "good", rejected: "bad", sc: 5, sr: 1),
            pairLine(id: "blankprompt", prompt: "  \n ", chosen: "a", rejected: "b"),
            pairLine(id: "blankresp", prompt: "Q", chosen: "\t", rejected: "b"),
            pairLine(id: "same", prompt: "Q", chosen: "same  answer\n", rejected: " same answer"),
            pairLine(id: "case", prompt: "Q", chosen: "Same answer", rejected: "same answer"),
            pairLine(id: "tie", prompt: "Q", chosen: "x", rejected: "y", sc: 2, sr: 2),
            pairLine(id: "small", prompt: "Q", chosen: "x", rejected: "y", sc: 2.5, sr: 2),
            pairLine(id: "ratio", prompt: "Q", chosen: "x", rejected: "y", sc: 3, sr: 2),
            pairLine(id: "noscore", prompt: "Q", chosen: "x", rejected: "z"),
        ]
        let o = try run(lines, [.empty, .identical, .tie, .minMargin(1), .minRatio(2)])
        XCTAssertEqual(o.kept[0], ["ok", "case", "noscore"], "case differences are not identical; pairs without scores pass score filters")
        XCTAssertEqual(o.removed, ["blankprompt": "empty", "blankresp": "empty", "same": "identical", "tie": "tie", "small": "min-margin", "ratio": "min-ratio"])
        // Order matters: the first filter that removes a pair names it.
        let o2 = try run(lines, [.minMargin(1), .tie])
        XCTAssertEqual(o2.removed["tie"], "min-margin")
    }

    func testLengthBoundsTurnsAndLengthRatio() throws {
        let long = String(repeating: "word ", count: 50)
        var multi = Pair(prompt: [Message(.system, "s"), Message(.user, "a"), Message(.assistant, "b"), Message(.user, "c")],
                         chosen: [Message(.assistant, "x")], rejected: [Message(.assistant, "y")])
        multi.id = "turns"; multi.source = "t:t:1"
        var b = ByteBuffer(); multi.write(to: &b)
        let lines = [
            pairLine(id: "ok", prompt: "short prompt", chosen: "abcd", rejected: "abc"),
            pairLine(id: "longprompt", prompt: long, chosen: "abcd", rejected: "abc"),
            pairLine(id: "ratio", prompt: "p", chosen: "a very much longer chosen reply", rejected: "tiny"),
            pairLine(id: "éé", prompt: "é", chosen: "ééé", rejected: "éé"),
            String(decoding: b.bytes, as: UTF8.self),
        ]
        let o = try run(lines, [.promptWords(nil, 10), .responseChars(1, 100), .lengthRatio(0.5, 2), .maxTurns(2)])
        XCTAssertEqual(o.removed, ["longprompt": "prompt-words", "ratio": "length-ratio", "turns": "max-turns"])
        XCTAssertEqual(o.kept[0], ["ok", "éé"], "characters are counted, not bytes (3/2 = 1.5 is within 0.5...2)")
        // Bounds are inclusive.
        let o2 = try run([pairLine(id: "edge", prompt: "p", chosen: "abcd", rejected: "ab")], [.lengthRatio(0.5, 2)])
        XCTAssertEqual(o2.kept[0], ["edge"])
    }

    func testRegexLangAndMaxPairsPerPrompt() throws {
        let lines = [
            pairLine(id: "a1", prompt: "Same prompt", chosen: "x", rejected: "y", sc: 9, sr: 1),
            pairLine(id: "a2", prompt: "same   PROMPT!", chosen: "x2", rejected: "y2", sc: 5, sr: 1),
            pairLine(id: "a3", prompt: "Same prompt", chosen: "x3", rejected: "y3", sc: 9, sr: 1),
            pairLine(id: "ru", prompt: "Привет, как дела?", chosen: "Хорошо, спасибо.", rejected: "Нет."),
            pairLine(id: "zh", prompt: "你好吗", chosen: "我很好", rejected: "不好"),
            pairLine(id: "ad", prompt: "Tell me", chosen: "Visit http://spam.example now", rejected: "no"),
        ]
        let o = try run(lines, [.regex(patterns: ["https?://spam"], fields: ["chosen"]), .lang([.latin]), .maxPairsPerPrompt(2)])
        XCTAssertEqual(o.removed["ad"], "regex")
        XCTAssertEqual(o.removed["ru"], "lang"); XCTAssertEqual(o.removed["zh"], "lang")
        // Same normalized prompt: keep the 2 with the largest margin; a1 and a3 tie at 8, a2 has 4.
        XCTAssertEqual(o.removed["a2"], "max-pairs-per-prompt")
        XCTAssertEqual(o.kept[0], ["a1", "a3"])
        XCTAssertEqual(Script.dominant(Array("これは日本語です漢字".utf8)), .kana)
        XCTAssertEqual(Script.dominant(Array("这是中文".utf8)), .han)
        XCTAssertThrowsError(try FilterPlan([.regex(patterns: ["(unclosed"], fields: ["prompt"])]))
    }

    func testMalformedRecordsAreRejectedAndCounted() throws {
        let lines = [pairLine(id: "ok", prompt: "Q", chosen: "a", rejected: "b"), "{\"broken\n", "{\"prompt\": [], \"chosen\": [], \"rejected\": []}\n"]
        let o = try run(lines, [.empty])
        XCTAssertEqual(o.tally.read, 3)
        XCTAssertEqual(o.tally.rejectedTotal, 2)
        XCTAssertEqual(o.kept[0], ["ok"])
    }

    func testRealHHSplitFilters() throws {
        let hh = try Paths.realdata("hh-rlhf_harmless-base_test.jsonl.gz")
        let d = Paths.tempDir()
        var cfg = ConvertConfig(inputs: [InputFile(path: hh, display: "hh.jsonl.gz")])
        cfg.threads = 2
        let sink = try RecordSink(.file(d + "/hh.jsonl"))
        try Converter(cfg).run(sink: sink); try sink.commit()
        let o = try run([try String(contentsOfFile: d + "/hh.jsonl", encoding: .utf8)], [.empty, .identical, .lengthRatio(0.25, 4)])
        XCTAssertEqual(o.tally.read, 2312)
        XCTAssertTrue(o.tally.balanced)
        XCTAssertGreaterThan(o.removed.values.filter { $0 == "length-ratio" }.count, 100)
        XCTAssertGreaterThan(o.tally.written, 1500)
    }
}
