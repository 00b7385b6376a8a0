import Foundation
import XCTest
import PrefCore
@testable import PrefFormats
@testable import PrefIO

/// Every export reads back through `convert` to the same pairs (KTO: two labelled rows per pair).
final class ExportTests: XCTestCase {
    func sourcePairs() throws -> [Pair] {
        try convert([try Paths.realdata("hh-rlhf_harmless-base_test.jsonl.gz"), Paths.fixture("tools/trl_tools_images.jsonl"),
                     try Paths.realdata("ultrafeedback-binarized_train1k_kkminions-noise-study.jsonl"), Paths.fixture("hh_small.jsonl")]).pairs
    }

    func testEveryTargetRoundTrips() throws {
        let pairs = try sourcePairs()
        XCTAssertGreaterThan(pairs.count, 3000)
        let dir = Paths.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for target in [ExportTarget.trl, .openai, .llamafactory, .axolotl] {
            var kept: [Pair] = []
            var removed: [String: Int] = [:]
            var b = ByteBuffer()
            for p in pairs {
                switch Exporter.rows(p, target) {
                case .success(let rows): XCTAssertEqual(rows.count, 1); b.appendJSONValue(rows[0]); b.append(0x0A); kept.append(p)
                case .failure(let e): removed[e.reason, default: 0] += 1
                }
            }
            let path = dir + "/\(target.rawValue).jsonl"
            try Data(b.bytes).write(to: URL(fileURLWithPath: path))
            let back = try convert([path])
            XCTAssertEqual(back.converter.total.rejectedTotal, 0, "\(target): \(back.rejects.prefix(2).map(\.message))")
            XCTAssertEqual(back.pairs.count, kept.count, "\(target)")
            for (x, y) in zip(kept, back.pairs) {
                XCTAssertEqual(x.prompt, y.prompt, "\(target) \(x.source)")
                XCTAssertEqual(x.chosen, y.chosen, "\(target) \(x.source)")
                XCTAssertEqual(x.rejected, y.rejected, "\(target) \(x.source)")
                XCTAssertEqual(x.tools, y.tools, "\(target) \(x.source)")
                XCTAssertEqual(x.images, y.images, "\(target) \(x.source)")
                if target == .trl { XCTAssertEqual(x.scoreChosen, y.scoreChosen); XCTAssertEqual(x.scoreRejected, y.scoreRejected) }
            }
            // What a target cannot take is said, never silently changed: HH rows whose replies span
            // several messages, and (for all but trl) the multimodal pair.
            if target == .trl { XCTAssertEqual(removed, [:]) } else { XCTAssertGreaterThan(removed["multi_turn_response"] ?? 0, 0, "\(target)") }
        }
    }

    /// The Parquet form of each export (all but OpenAI's) reads back to the same pairs as its JSON
    /// Lines form, for pairs of plain text (Parquet messages hold role and content only); KTO's
    /// rows keep their labels.
    func testParquetExportsReadBackLikeJSONLines() throws {
        let pairs = try sourcePairs().filter { $0.isPlainText && ($0.prompt + $0.chosen + $0.rejected).allSatisfy { $0.extra.isEmpty } }
        let dir = Paths.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertNil(ExportTarget.openai.parquetLayout)
        for target in [ExportTarget.trl, .llamafactory, .axolotl, .kto] {
            let pq = dir + "/\(target.rawValue).parquet", jl = dir + "/\(target.rawValue).jsonl"
            let w = try ParquetPairWriter(path: pq, layout: target.parquetLayout!, rowGroupRows: 500)
            var b = ByteBuffer()
            for p in pairs {
                guard case .success(let rows) = Exporter.rows(p, target, unpair: .chosenDesirable) else { continue }
                for r in rows {
                    var line = ByteBuffer()
                    if target == .trl { p.write(to: &line); line.bytes.removeLast() } else { line.appendJSONValue(r) }
                    try line.bytes.withUnsafeBytes { try w.add($0) }
                    b.appendJSONValue(r); b.append(0x0A)
                }
            }
            try w.commit()
            try Data(b.bytes).write(to: URL(fileURLWithPath: jl))
            if target == .kto {
                let (src, _) = try Sources.open(pq)
                let rows = try Sources.readAll(src).split(separator: 0x0A).map { try JSONSerialization.jsonObject(with: Data($0)) as! [String: Any] }
                let want = try foundationRecords(jl)
                XCTAssertEqual(rows.count, want.count)
                for (r, o) in zip(rows, want) {
                    XCTAssertEqual(r["label"] as? Bool, o["label"] as? Bool)
                    XCTAssertEqual(r["completion"] as? NSObject, o["completion"] as? NSObject)
                }
                continue
            }
            let a = try convert([pq]), j = try convert([jl])
            XCTAssertEqual(a.pairs.count, j.pairs.count, "\(target)")
            XCTAssertGreaterThan(a.pairs.count, 3000)
            for (x, y) in zip(a.pairs, j.pairs) {
                XCTAssertEqual(x.prompt, y.prompt, "\(target)"); XCTAssertEqual(x.chosen, y.chosen); XCTAssertEqual(x.rejected, y.rejected)
            }
        }
    }

    func testKTONeedsARuleAndGivesTwoLabelledRows() throws {
        let p = Pair(prompt: [Message(.user, "q")], chosen: [Message(.assistant, "good")], rejected: [Message(.assistant, "bad")])
        guard case .failure(let e) = Exporter.rows(p, .kto) else { return XCTFail("KTO without a rule must fail") }
        XCTAssertEqual(e.reason, "no_rule")
        guard case .success(let rows) = Exporter.rows(p, .kto, unpair: .chosenDesirable) else { return XCTFail() }
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(rows[0]["label"], .bool(true)); XCTAssertEqual(rows[1]["label"], .bool(false))
        XCTAssertEqual(rows[0]["completion"]?.arrayValue?.first?["content"], .string("good"))
        XCTAssertEqual(rows[1]["completion"]?.arrayValue?.first?["content"], .string("bad"))
        XCTAssertEqual(rows[0]["prompt"], rows[1]["prompt"])
    }

    func testLlamaFactoryEntryMatchesTheRealDatasetInfo() throws {
        let real = try JSONValue.parse(String(contentsOfFile: try Paths.realdata("llamafactory_dataset_info.json"), encoding: .utf8))
        let ours = Exporter.llamaFactoryInfo(name: "x", fileName: "x.jsonl", tools: false, system: false)["x"]!
        let demo = real["dpo_en_demo"]!
        // The same formatting, ranking flag and column names as LLaMA-Factory's own DPO demo entry.
        XCTAssertEqual(ours["formatting"], demo["formatting"])
        XCTAssertEqual(ours["ranking"], demo["ranking"])
        for k in ["messages", "chosen", "rejected"] { XCTAssertEqual(ours["columns"]?[k], demo["columns"]?[k]) }
        // A column is declared only when every row has it (LLaMA-Factory indexes each row by it).
        XCTAssertNil(ours["columns"]?["system"])
        XCTAssertEqual(Exporter.llamaFactoryInfo(name: "x", fileName: "x.jsonl", tools: false, system: true)["x"]?["columns"]?["system"], .string("system"))
    }

    func testLlamaFactoryRegistryIsMergedNotReplaced() throws {
        let path = try Paths.realdata("llamafactory_dataset_info.json")
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        guard case .object(let before) = try JSONValue.parse(bytes: bytes) else { return XCTFail("the real registry is an object") }
        XCTAssertGreaterThan(before.count, 50)
        let entry = Exporter.llamaFactoryInfo(name: "mine", fileName: "mine.json", tools: false, system: false)
        let (added, replacedNew) = try Exporter.mergeLlamaFactoryRegistry(existing: bytes, path: path, entry: entry)
        guard case .object(let after) = added else { return XCTFail() }
        XCTAssertFalse(replacedNew)
        XCTAssertEqual(after.map(\.0), before.map(\.0) + ["mine"], "every entry kept, in order, the new one last")
        for (k, v) in before { XCTAssertEqual(added[k], v, k) }
        // An entry of the same name is replaced in place.
        let name = before[3].0
        let (replaced, didReplace) = try Exporter.mergeLlamaFactoryRegistry(existing: bytes, path: path,
                                                                           entry: Exporter.llamaFactoryInfo(name: name, fileName: "n.json", tools: false, system: true))
        XCTAssertTrue(didReplace)
        guard case .object(let r) = replaced else { return XCTFail() }
        XCTAssertEqual(r.map(\.0), before.map(\.0))
        XCTAssertEqual(replaced[name]?["file_name"], .string("n.json"))
        // The pretty form parses back to the same registry.
        XCTAssertEqual(try JSONValue.parse(bytes: Array(added.pretty().utf8)), added)
        // Not a JSON object: refused.
        for bad in ["not json", "[1, 2]", "{\"a\": "] {
            XCTAssertThrowsError(try Exporter.mergeLlamaFactoryRegistry(existing: Array(bad.utf8), path: "d.json", entry: entry), bad)
        }
    }
}
