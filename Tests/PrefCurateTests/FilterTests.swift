import Foundation
import XCTest
import PrefCore
@testable import PrefCurate
@testable import PrefFormats
@testable import PrefIO

final class FilterTests: XCTestCase {
    /// Runs the shipped filter pass (`Filtering.run`) and the shared writer.
    func run(_ lines: [String], _ choices: [FilterChoice]) throws -> Outcome {
        let src = try source([writeLines(lines)])
        let pass = try Filtering.run(src, try FilterPlan(choices))
        return try apply(src) { i in pass.decision(i) }
    }

    func testTableParsesFlagsAndConfigTheSameWay() throws {
        let fromFlags = try Filters.fromFlags(["min-margin": "1.5", "prompt-chars": ":40", "tie": ""], order: nil)
        XCTAssertEqual(fromFlags.map(\.def.name), ["tie", "min-margin", "prompt-chars"], "table order without --filters")
        let d = NSTemporaryDirectory() + "prefkit-filtercfg-\(getpid()).json"
        try #"{"filters": [{"name": "prompt-chars", "max": 40}, {"name": "min-margin", "value": 1.5}, {"name": "tie"}]}"#.write(toFile: d, atomically: true, encoding: .utf8)
        let fromConfig = try Filters.fromConfig(d)
        XCTAssertEqual(fromConfig.map(\.def.name), ["prompt-chars", "min-margin", "tie"])
        guard case .bounds(nil, 40) = fromConfig[0].argument, case .number(1.5) = fromConfig[1].argument else { return XCTFail("arguments") }
        XCTAssertEqual(try Filters.fromFlags(["min-margin": "1", "tie": ""], order: "min-margin,identical,tie").map(\.def.name), ["min-margin", "identical", "tie"])
        XCTAssertThrowsError(try Filters.fromFlags([:], order: "min-margin"), "a filter with a parameter needs its flag")
        XCTAssertThrowsError(try Filters.fromFlags(["max-pairs-per-prompt": "0"], order: nil))
        XCTAssertThrowsError(try Filters.fromFlags(["length-ratio": "2:1"], order: nil))
        XCTAssertEqual(Set(Filters.names).count, Filters.table.count)
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

/// The filter choices the tests use, by the table's names.
extension FilterChoice {
    static func of(_ name: String, _ a: FilterArgument = .none) -> FilterChoice { FilterChoice(Filters.named(name)!, a) }
    static var empty: FilterChoice { of("empty") }
    static var identical: FilterChoice { of("identical") }
    static var tie: FilterChoice { of("tie") }
    static func minMargin(_ x: Double) -> FilterChoice { of("min-margin", .number(x)) }
    static func minRatio(_ x: Double) -> FilterChoice { of("min-ratio", .number(x)) }
    static func promptWords(_ lo: Int?, _ hi: Int?) -> FilterChoice { of("prompt-words", .bounds(lo, hi)) }
    static func responseChars(_ lo: Int?, _ hi: Int?) -> FilterChoice { of("response-chars", .bounds(lo, hi)) }
    static func lengthRatio(_ lo: Double, _ hi: Double) -> FilterChoice { of("length-ratio", .ratio(lo, hi)) }
    static func maxTurns(_ n: Int) -> FilterChoice { of("max-turns", .count(n)) }
    static func regex(patterns: [String], fields: Set<String>) -> FilterChoice { of("regex", .patterns(patterns, fields: fields)) }
    static func lang(_ s: Set<Script>) -> FilterChoice { of("lang", .languages(s)) }
    static func maxPairsPerPrompt(_ n: Int) -> FilterChoice { of("max-pairs-per-prompt", .count(n)) }
}
