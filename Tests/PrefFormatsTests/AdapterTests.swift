import Foundation
import XCTest
import PrefCore
@testable import PrefFormats
@testable import PrefIO

final class AdapterTests: XCTestCase {
    func testRegistryIsTheOnePlaceACorpusIsNamed() throws {
        let names = Corpora.all.map(\.name)
        XCTAssertEqual(Set(names).count, names.count, "names are unique")
        XCTAssertEqual(Corpora.fromValues, ["auto"] + names)
        for c in Corpora.all { XCTAssertTrue(Corpora.named(c.name)?.summary == c.summary) }
        XCTAssertFalse(Corpora.named("generic")!.autoDetected)
        XCTAssertTrue(Corpora.named("stackexchange")!.isJoin && Corpora.named("oasst")!.isJoin && !Corpora.named("trl")!.isJoin)
        // First match wins: a record with chosen/rejected and an alpaca instruction is LLaMA-Factory,
        // listed before the catch-all trl; without the instruction it is trl.
        func detected(_ json: String) throws -> String? {
            var sc = JSONScanner()
            let bytes = Array(json.utf8)
            return try bytes.withUnsafeBytes { try Corpora.detect(sc.parse($0).root)?.name }
        }
        XCTAssertEqual(try detected(#"{"instruction": "i", "chosen": "a", "rejected": "b"}"#), "llamafactory")
        XCTAssertEqual(try detected(#"{"prompt": "p", "chosen": "a", "rejected": "b"}"#), "trl")
        XCTAssertEqual(try detected(#"{"chosen": "\n\nHuman: hi\n\nAssistant: a", "rejected": "\n\nHuman: hi\n\nAssistant: b"}"#), "hh")
        XCTAssertNil(try detected(#"{"question": "q"}"#))
        XCTAssertEqual(Corpora.sniff(Array("<?xml".utf8))?.name, "stackexchange")
        // docs/format.md's corpus table lists exactly the registry, in its order.
        let doc = try String(contentsOfFile: Paths.repo + "/docs/format.md", encoding: .utf8)
        let section = doc.components(separatedBy: "## Corpora")[1].components(separatedBy: "\n## ")[0]
        let rows = section.split(separator: "\n").filter { $0.hasPrefix("| `") }.map { String($0.dropFirst(3).prefix { $0 != "`" }) }
        XCTAssertEqual(rows, names, "docs/format.md lists the registry's corpora in its order")
        XCTAssertNil(Corpora.sniff(Array("{\"a\"".utf8)))
    }

    func testAutoDetectionOfEveryFixture() throws {
        let expect: [(String, String)] = [("shp.jsonl", "shp"), ("ultrafeedback.jsonl", "ultrafeedback"), ("trl_standard_explicit.jsonl", "trl"),
                                          ("trl_conversational.jsonl", "trl"), ("openai.jsonl", "openai"), ("arena.jsonl", "arena"),
                                          ("pku.jsonl", "pku"), ("llamafactory_alpaca.jsonl", "llamafactory"), ("hh_small.jsonl", "hh"),
                                          ("llamafactory_bom_crlf.json", "llamafactory")]
        for (file, fmt) in expect {
            let r = try convert([Paths.fixture(file)])
            XCTAssertEqual(r.converter.inputs[0].format, fmt, file)
        }
    }

    func testSHPLabelsPickTheChosenSideAndScoresFollow() throws {
        let r = try convert([Paths.fixture("shp.jsonl")])
        XCTAssertEqual(r.pairs.count, 2)
        XCTAssertEqual(r.pairs[0].chosen[0].text, "Yes, always ask. It signals you take yourself seriously.")
        XCTAssertEqual(r.pairs[0].scoreChosen, 52); XCTAssertEqual(r.pairs[0].scoreRejected, 7)
        XCTAssertEqual(r.pairs[1].chosen[0].text.prefix(16), "Usually under-pr")    // labels 0: B wins
        XCTAssertEqual(r.pairs[1].scoreChosen, 40); XCTAssertEqual(r.pairs[1].scoreRejected, 3)
        XCTAssertEqual(r.pairs[1].meta.first { $0.0 == "chosen_comment_id" }?.1, .string("b1"))
        XCTAssertEqual(texts(r.pairs[1].prompt), ["user: Why does my bread come out dense?"])
    }

    func testUltraFeedbackSplitsRepeatedUserTurnAndFallsBackToPromptField() throws {
        let r = try convert([Paths.fixture("ultrafeedback.jsonl")])
        XCTAssertEqual(texts(r.pairs[0].prompt), ["user: How do I boil an egg?"])
        XCTAssertEqual(texts(r.pairs[0].rejected), ["assistant: Microwave it."])
        XCTAssertEqual(r.pairs[0].scoreChosen, 8.5)
        XCTAssertEqual(texts(r.pairs[1].prompt), ["user: Name a prime."])
        XCTAssertEqual(texts(r.pairs[1].chosen), ["assistant: 7"])
    }

    func testTRLImplicitPromptEdgeCases() throws {
        let r = try convert([Paths.fixture("trl_standard_implicit.jsonl")])
        let got = r.pairs.map { ($0.prompt[0].text, $0.chosen[0].text, $0.rejected[0].text) }
        XCTAssertEqual(got.count, 4)
        XCTAssertTrue(got[0] == ("Q: What colour is the sky? A:", " Blue.", " Green."))
        XCTAssertTrue(got[1] == ("Tell me a fact. Water is", " wet", " wet and cold"), "one side a prefix of the other: \(got[1])")
        XCTAssertTrue(got[2] == ("The answer is", " 42", " 41"), "no split inside a word: \(got[2])")
        XCTAssertTrue(got[3] == ("Say café please:", " é", " è"), "no split inside a character: \(got[3])")
        for (p, c, j) in got { XCTAssertEqual(p + c, p + c); XCTAssertFalse(c.isEmpty); XCTAssertFalse(j.isEmpty) }
        // Differing at the first character: no prompt, so rejected with a reason, not guessed.
        XCTAssertEqual(r.converter.total.rejected, ["no_common_prompt": 1])
        XCTAssertEqual(r.rejects.first?.line, 5)
    }

    func testTRLImplicitStringSplitPreservesBothTexts() throws {
        let cases: [(String, String)] = [("a b c", "a b d"), ("x", "x y"), ("same text", "same text"), ("hello\nworld", "hello\nthere"),
                                         ("日本語の文 です", "日本語の文 でした"), ("  lead", "  lean")]
        for (c, j) in cases {
            guard let (p, cc, jj) = try? PromptSplit.strings(Array(c.utf8), Array(j.utf8)) else { continue }
            XCTAssertEqual(p + cc, Array(c.utf8)); XCTAssertEqual(p + jj, Array(j.utf8))
            XCTAssertNotNil(String(validating: p, as: UTF8.self))
            XCTAssertNotNil(String(validating: cc, as: UTF8.self))
        }
    }

    func testTRLConversationalExplicitAndImplicit() throws {
        let r = try convert([Paths.fixture("trl_conversational.jsonl"), Paths.fixture("trl_standard_explicit.jsonl")])
        XCTAssertEqual(texts(r.pairs[0].prompt), ["system: Be brief.", "user: Capital of France?"])
        XCTAssertEqual(texts(r.pairs[1].prompt), ["user: Hi"])
        XCTAssertEqual(texts(r.pairs[1].chosen), ["assistant: Hello! How can I help?"])
        XCTAssertEqual(texts(r.pairs[2].prompt), ["user: Count to two"])
        XCTAssertEqual(texts(r.pairs[2].chosen), ["assistant: one"])
        XCTAssertEqual(texts(r.pairs[2].rejected), ["assistant: one", "user: go on", "assistant: two"])
        XCTAssertEqual(texts(r.pairs[3].prompt), ["user: The sky is"])
        XCTAssertEqual(r.pairs[4].scoreChosen, 1.0)
    }

    func testOpenAIDeveloperRoleAndContentParts() throws {
        let r = try convert([Paths.fixture("openai.jsonl")])
        XCTAssertEqual(texts(r.pairs[0].prompt), ["system: You are terse.", "user: Hello, how is the weather in Boston?"])
        XCTAssertEqual(texts(r.pairs[1].prompt), ["user: Say hi"])
        XCTAssertEqual(texts(r.pairs[1].rejected), ["assistant: bye"])
    }

    func testArenaTiesAreRemovedNotPairs() throws {
        let r = try convert([Paths.fixture("arena.jsonl")])
        XCTAssertEqual(r.converter.total.read, 4)
        XCTAssertEqual(r.pairs.count, 2)
        XCTAssertEqual(r.converter.total.removed, ["tie": 2])
        XCTAssertEqual(texts(r.pairs[0].chosen), ["assistant: 4"])
        XCTAssertEqual(r.pairs[0].meta.first { $0.0 == "chosen_model" }?.1, .string("beta"))
        // Two-turn conversation: the prompt is the first user turn, responses hold the rest.
        XCTAssertEqual(texts(r.pairs[1].chosen), ["assistant: Apple", "user: Another", "assistant: Pear"])
        XCTAssertEqual(String(decoding: r.removed, as: UTF8.self).components(separatedBy: "\n").filter { !$0.isEmpty }.count, 2)
    }

    func testPKUAxes() throws {
        let better = try convert([Paths.fixture("pku.jsonl")])
        XCTAssertEqual(better.pairs[0].chosen[0].text, "Here is how to break into a house...")
        var o = FormatOptions(); o.pkuAxis = .safer
        let safer = try convert([Paths.fixture("pku.jsonl")], options: o)
        XCTAssertEqual(safer.pairs[0].chosen[0].text, "If you are locked out, call a licensed locksmith.")
        XCTAssertEqual(safer.pairs[0].meta.first { $0.0 == "chosen_is_safe" }?.1, .bool(true))
    }

    func testGenericMapping() throws {
        var o = FormatOptions()
        o.fieldMap = try FormatOptions.parseMap("prompt=q.text,chosen=good,rejected=bad,score_chosen=s.good,score_rejected=s.bad,id=uid")
        let r = try convert([Paths.fixture("generic.jsonl")], format: "generic", options: o)
        XCTAssertEqual(texts(r.pairs[0].prompt), ["user: Best sorting algorithm for nearly sorted data?"])
        XCTAssertEqual(r.pairs[0].scoreChosen, 0.9)
        XCTAssertEqual(r.pairs[1].meta.first { $0.0 == "original_id" }?.1, .string("18"))
        XCTAssertThrowsError(try FormatOptions.parseMap("prompt=q"))
        XCTAssertThrowsError(try FormatOptions.parseMap("chosen=a,rejected=b,colour=c"))
    }

    func testLlamaFactoryAlpacaSystemAndHistory() throws {
        let r = try convert([Paths.fixture("llamafactory_alpaca.jsonl"), Paths.fixture("llamafactory_bom_crlf.json")])
        XCTAssertEqual(texts(r.pairs[0].prompt), ["system: You translate.", "user: Translate to German: thanks", "assistant: danke", "user: Translate to French\ngood morning"])
        XCTAssertEqual(texts(r.pairs[1].prompt), ["user: Pick the larger number"])
        XCTAssertEqual(r.pairs.count, 4)
        XCTAssertEqual(texts(r.pairs[3].prompt), ["user: Say no"])
    }

    func testHHReplyContainingAnAssistantMarker() throws {
        let r = try convert([Paths.fixture("hh_small.jsonl")])
        let last = r.pairs.last!
        XCTAssertEqual(texts(last.prompt), ["user: Quote the log"])
        // The chosen reply holds "\n\nAssistant: hello": a naive last-marker split would put
        // "It says:" into the prompt. Rendering restores the transcript exactly.
        XCTAssertEqual(texts(last.rejected), ["assistant: No."])
        XCTAssertEqual(String(decoding: HHAdapter.render(last.prompt + last.chosen), as: UTF8.self), "\n\nHuman: Quote the log\n\nAssistant: It says:\n\nAssistant: hello")
    }
}
