import Foundation
import XCTest
import PrefCore
@testable import PrefCurate
@testable import PrefFormats
@testable import PrefIO

final class StatsDecontamTests: XCTestCase {
    func testStatsCountsRatesAndLengthBias() throws {
        let lines = [
            pairLine(id: "1", prompt: "p one", chosen: "long chosen reply", rejected: "short", sc: 3, sr: 1, source: "shp:a:1"),
            pairLine(id: "2", prompt: "p two", chosen: "longer chosen", rejected: "no", sc: 2, sr: 2, source: "shp:a:2"),
            pairLine(id: "3", prompt: "p three", chosen: "a", rejected: "much longer rejected", source: "hh:b:3"),
            pairLine(id: "4", prompt: "p three", chosen: "a", rejected: "much longer rejected", source: "hh:b:4"),
            pairLine(id: "5", prompt: "p five", chosen: "same", rejected: "same", source: "hh:b:5"),
        ]
        let src = try source([writeLines(lines)])
        let st = Stats.compute(try src.scanPairs { Stats.feature($0) })
        let j = st.json
        XCTAssertEqual(j["pairs"], .int(5))
        XCTAssertEqual(j["per_source"], .object([("hh", .int(3)), ("shp", .int(2))]))
        XCTAssertEqual(j["tie_rate"], .double(0.5))
        XCTAssertEqual(j["identical_rate"], .double(0.2))
        XCTAssertEqual(j["duplicate_rate"], .double(0.2))
        XCTAssertEqual(j["length_bias"]?["chosen_longer"], .double(0.4))
        XCTAssertEqual(j["length_bias"]?["rejected_longer"], .double(0.4))
        XCTAssertEqual(j["margin"]?["max"], .double(2))
        let html = Stats.html(st, title: "t")
        XCTAssertTrue(html.hasPrefix("<!doctype html>"))
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 5)
        XCTAssertFalse(html.contains("http"), "self-contained: no external resources")
    }

    func testDecontaminationFindsSharedThirteenGrams() throws {
        let evalText = "the capital of france is paris and it has been the capital for a very long time indeed"
        let evalFile = writeLines([pairLine(id: "e", prompt: evalText, chosen: "yes", rejected: "no")], name: "eval.jsonl")
        let lines = [
            pairLine(id: "leak", prompt: "Quiz: The capital of France is Paris, and it has been the capital for a very long time indeed!", chosen: "ok", rejected: "no"),
            pairLine(id: "short", prompt: "the capital of france is paris", chosen: "ok", rejected: "no"),
            pairLine(id: "clean", prompt: "what is the capital of spain and why has it been the capital for so long", chosen: "Madrid", rejected: "no"),
            pairLine(id: "inreply", prompt: "tell me", chosen: "Well: the capital of france is paris and it has been the capital for a very long time", rejected: "no"),
        ]
        let idx = EvalIndex(n: 13)
        try idx.add(path: evalFile, name: "eval.jsonl")
        let src = try source([writeLines(lines)])
        let scanned = try src.scanPairs { idx.feature($0) }
        // The shipped decisions, as `prefkit decontaminate` makes them.
        let (decisions, matched) = idx.decide(scanned)
        let o = try apply(src) { decisions[$0] }
        XCTAssertEqual(o.removed, ["leak": "contaminated", "inreply": "contaminated"])
        XCTAssertEqual(matched, ["eval.jsonl": 2])
        XCTAssertEqual(o.kept[0], ["short", "clean"], "texts shorter than 13 words have no 13-grams")
        if case .pair(let f) = scanned[0] {
            XCTAssertEqual(f.match?.field, "prompt")
            XCTAssertEqual(f.match?.gram, "the capital of france is paris and it has been the capital for")
        }
    }

    /// An eval question shorter than --ngram words is matched on its whole normalized text: as a
    /// training prompt, or as one message of a longer prompt; one- and two-word texts are not.
    func testShortEvalTextsMatchWhole() throws {
        let question = "Who wrote the novel Pride and Prejudice in 1813?"          // 9 words
        var multi = Pair(prompt: [Message(.system, "You are a quiz bot."), Message(.user, "WHO wrote the novel pride and prejudice in 1813")],
                         chosen: [Message(.assistant, "Jane Austen.")], rejected: [Message(.assistant, "Dickens.")])
        multi.id = "multi"; multi.source = "trl:t.jsonl:multi"
        var b = ByteBuffer(); multi.write(to: &b)
        let evalFile = writeLines([pairLine(id: "e", prompt: question, chosen: "Jane Austen", rejected: "Paris")], name: "eval.jsonl")
        let lines = [
            pairLine(id: "copied", prompt: "who wrote the novel PRIDE AND PREJUDICE, in 1813", chosen: "Austen", rejected: "Bronte"),
            String(decoding: b.bytes, as: UTF8.self),
            pairLine(id: "longer", prompt: "Tell me: who wrote the novel Pride and Prejudice in 1813, and why?", chosen: "a", rejected: "b"),
            pairLine(id: "other", prompt: "Who wrote the novel Emma in 1815?", chosen: "Jane Austen", rejected: "Paris"),
        ]
        let idx = EvalIndex(n: 13)
        try idx.add(path: evalFile, name: "eval.jsonl")
        XCTAssertEqual(idx.wholeCount, 1, "the question; the two-word replies are below --min-whole-words")
        let src = try source([writeLines(lines)])
        let scanned = try src.scanPairs { idx.feature($0) }
        let (decisions, _) = idx.decide(scanned)
        let o = try apply(src) { decisions[$0] }
        XCTAssertEqual(o.removed, ["copied": "contaminated", "multi": "contaminated"])
        XCTAssertEqual(o.kept[0], ["longer", "other"], "whole-text matching is not containment; two-word replies never match")
        if case .pair(let f) = scanned[0] { XCTAssertTrue(f.whole); XCTAssertEqual(f.match?.gram, "who wrote the novel pride and prejudice in 1813") }
        // With --min-whole-words 2, the two-word eval reply matches the "other" pair's chosen reply.
        let loose = EvalIndex(n: 13, minWholeWords: 2)
        try loose.add(path: evalFile, name: "eval.jsonl")
        let o2 = try apply(src) { loose.decide(try! src.scanPairs { loose.feature($0) }).decisions[$0] }
        XCTAssertEqual(o2.removed["other"], "contaminated")
    }

    func testNormalization() {
        XCTAssertEqual(String(decoding: TextNorm.normalize(Array("  Héllo,   WORLD!\n  ça va? ".utf8)), as: UTF8.self), "héllo world ça va")
        // NFC: a decomposed é equals the composed one.
        XCTAssertEqual(TextNorm.normalize(Array("e\u{301}té".utf8)), TextNorm.normalize(Array("\u{e9}té".utf8)))
        XCTAssertEqual(String(decoding: TextNorm.normalize(Array("It's a co-op.".utf8)), as: UTF8.self), "its a coop")
        XCTAssertEqual(String(decoding: TextNorm.normalize(Array("Its a coop".utf8)), as: UTF8.self), "its a coop")
    }
}

final class NonTextCurationTests: XCTestCase {
    /// Images and tools take part in the exact-duplicate key; tool calls are part of the text the
    /// curation commands see; stats count non-text pairs.
    func testImagesToolsAndCallsInKeysTextAndStats() {
        let base = Pair(prompt: [Message(.user, "What animal is this?")], chosen: [Message(.assistant, "A cat.")], rejected: [Message(.assistant, "A dog.")])
        var a = base, b = base
        a.images = .array([.string("cat1.png")]); b.images = .array([.string("cat2.png")])
        func key(_ p: Pair) -> Hash128 {
            Measure.exactKey(p, prompt: TextNorm.normalize(TextNorm.text(p.prompt)), chosen: TextNorm.normalize(TextNorm.text(p.chosen)),
                             rejected: TextNorm.normalize(TextNorm.text(p.rejected)))
        }
        XCTAssertNotEqual(key(a), key(b))
        XCTAssertNotEqual(key(a), key(base))
        XCTAssertEqual(key(a), key(a))
        var c = base
        c.chosen[0].extra = [("tool_calls", .array([.object([("name", .string("lookup"))])]))]
        XCTAssertTrue(String(decoding: TextNorm.text(c.chosen), as: UTF8.self).contains("lookup"))
        var t = base
        t.tools = .array([.string("schema")])
        t.prompt.append(Message(.tool, "result"))
        let st = Stats.compute([.pair(Stats.feature(a)), .pair(Stats.feature(c)), .pair(Stats.feature(t)), .pair(Stats.feature(base))])
        XCTAssertEqual(st.json["non_text"]?["with_images"]?.intValue, 1)
        XCTAssertEqual(st.json["non_text"]?["with_tools"]?.intValue, 1)
        XCTAssertEqual(st.json["non_text"]?["with_tool_turns"]?.intValue, 2)
    }
}
