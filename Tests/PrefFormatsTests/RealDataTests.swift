import Foundation
import XCTest
import PrefCore
@testable import PrefFormats
@testable import PrefIO

final class RealDataTests: XCTestCase {
    /// HH-RLHF harmless-base test: every pair converts, and the transcripts rebuilt from the
    /// normalized messages equal the originals byte for byte.
    func testHHRoundTripOnTheRealSplit() throws {
        let path = try Paths.realdata("hh-rlhf_harmless-base_test.jsonl.gz")
        let r = try convert([path])
        let originals = try foundationRecords(path)
        XCTAssertEqual(originals.count, 2312)
        XCTAssertEqual(r.converter.total.read, 2312)
        XCTAssertEqual(r.pairs.count, 2312)
        XCTAssertEqual(r.converter.inputs[0].format, "hh")
        XCTAssertEqual(r.converter.inputs[0].compression, "gzip")
        var multiTurnResponses = 0
        var expectedMulti = 0
        for (p, o) in zip(r.pairs, originals) {
            // Independently: a response spans several messages iff its text (after the prompt)
            // holds a further turn marker.
            let promptLen = HHAdapter.render(p.prompt).count
            let rest = [o["chosen"] as! String, o["rejected"] as! String].map { String(decoding: Array($0.utf8)[promptLen...], as: UTF8.self) }
            if rest.contains(where: { $0.dropFirst(12).contains("\n\nHuman:") || $0.dropFirst(12).contains("\n\nAssistant:") }) { expectedMulti += 1 }
            XCTAssertEqual(p.prompt.last?.role, .user)
            XCTAssertEqual(p.chosen.first?.role, .assistant)
            XCTAssertEqual(String(decoding: HHAdapter.render(p.prompt + p.chosen), as: UTF8.self), o["chosen"] as? String, p.source)
            XCTAssertEqual(String(decoding: HHAdapter.render(p.prompt + p.rejected), as: UTF8.self), o["rejected"] as? String, p.source)
            if p.chosen.count > 1 || p.rejected.count > 1 { multiTurnResponses += 1 }
        }
        // Rows 1255, 1689, 1953 and 2037 diverge before the last turn of chosen (a naive
        // last-marker split gets them wrong): their responses span several messages.
        let multi = r.pairs.filter { $0.chosen.count > 1 || $0.rejected.count > 1 }.map { $0.source.split(separator: ":").last! }
        XCTAssertTrue(Set(["1255", "1689", "1953", "2037"]).isSubset(of: Set(multi)), "\(multi)")
        XCTAssertEqual(multiTurnResponses, expectedMulti)
        // Ids are unique and stable.
        XCTAssertEqual(Set(r.pairs.map(\.id)).count, 2312)
        XCTAssertEqual(r.pairs[0].id, hex16(XXH64.hash("hh:hh-rlhf_harmless-base_test.jsonl.gz:1")))
    }

    func testLlamaFactoryDemos() throws {
        for (name, n) in [("llamafactory_dpo_en_demo.json", 300), ("llamafactory_dpo_zh_demo.json", 300)] {
            let path = try Paths.realdata(name)
            let r = try convert([path])
            XCTAssertEqual(r.pairs.count, n)
            XCTAssertEqual(r.converter.inputs[0].layout, "json-array")
            let originals = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [[String: Any]]
            for (p, o) in zip(r.pairs, originals) {
                let conv = o["conversations"] as! [[String: String]]
                XCTAssertEqual(p.prompt.map(\.text), conv.map { $0["value"]! })
                XCTAssertEqual(p.prompt.last?.role, .user)
                XCTAssertEqual(p.chosen.map(\.text), [(o["chosen"] as! [String: String])["value"]!])
                XCTAssertEqual(p.rejected.map(\.text), [(o["rejected"] as! [String: String])["value"]!])
            }
            XCTAssertTrue(r.pairs.contains { $0.prompt.first?.role == .system } || name.contains("zh"))
        }
    }

    func testLlamaFactoryV1AndRankedOutputs() throws {
        let v1 = try convert([try Paths.realdata("llamafactory_v1_dpo_demo.jsonl")])
        XCTAssertEqual(v1.pairs.count, 10)
        for p in v1.pairs {
            XCTAssertEqual(p.prompt.map(\.role), [.system, .user])
            XCTAssertEqual(p.chosen.count, 1)
            XCTAssertNotEqual(p.chosen[0].content, p.rejected[0].content)
        }
        let ranked = try convert([try Paths.realdata("llamafactory_oaast_rm_zh.json")])
        XCTAssertEqual(ranked.pairs.count, 775)
        let originals = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: try Paths.realdata("llamafactory_oaast_rm_zh.json")))) as! [[String: Any]]
        for (p, o) in zip(ranked.pairs, originals) {
            let out = o["output"] as! [String]
            XCTAssertEqual(p.chosen[0].text, out[0]); XCTAssertEqual(p.rejected[0].text, out[1])
            XCTAssertEqual(p.meta.first { $0.0 == "n_ranked" }?.1, .int(Int64(out.count)))
            XCTAssertEqual(p.prompt.count, 1 + 2 * ((o["history"] as? [[String]])?.count ?? 0))
        }
    }

    func testKTODataIsNotMistakenForPairs() throws {
        let r = try convert([try Paths.realdata("llamafactory_kto_en_demo.json")])
        XCTAssertEqual(r.pairs.count, 0)
        XCTAssertEqual(r.converter.total.rejected["unknown_format"], 300)
    }
}
