import Foundation
import XCTest
import PrefIO
import TestSupport

/// The phased forms of dedup, split and stats (sign / cluster or group / apply, partial stats and
/// --merge): sharded any way, their outputs together equal the one-process run's, for every keep
/// policy; intermediates that are damaged, missing or from another run are refused.
final class PhasedTests: CLITestCase {
    /// Real pairs (HH-RLHF harmless, UltraFeedback with scores, Stack Exchange) in four files, with
    /// planted exact copies (other case and punctuation), near copies (a word added to prompt and
    /// replies), label conflicts, prompts reused with other replies, and a malformed line.
    func corpus(_ d: String) throws -> String {
        let hh = try Paths.realdata("hh-rlhf_harmless-base_test.jsonl.gz")
        let uf = try Paths.realdata("ultrafeedback-binarized_train1k_kkminions-noise-study.jsonl")
        let se = try Paths.realdata("se_coffee_Posts.xml")
        for (name, src, extra) in [("hh", hh, [String]()), ("uf", uf, []), ("se", se, ["--from", "stackexchange"])] {
            XCTAssertEqual(try run(["convert", src, "-o", d + "/\(name).jsonl", "-q"] + extra).code, 0)
        }
        func read(_ n: String) throws -> [[String: Any]] {
            try String(decoding: Data(contentsOf: URL(fileURLWithPath: d + "/\(n).jsonl")), as: UTF8.self).split(separator: "\n")
                .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        }
        let hhPairs = Array(try read("hh").prefix(700)), ufPairs = Array(try read("uf").prefix(500)), sePairs = try read("se")
        func line(_ o: [String: Any]) throws -> String { String(decoding: try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self) }
        func edit(_ o: [String: Any], id: String, _ f: (String) -> String, swap: Bool = false, replies: Bool = true) -> [String: Any] {
            var o = o
            o["id"] = id
            func map(_ k: String) { o[k] = (o[k] as! [[String: Any]]).map { m in var m = m; if let c = m["content"] as? String { m["content"] = f(c) }; return m } }
            map("prompt")
            if replies { map("chosen"); map("rejected") }
            if swap { (o["chosen"], o["rejected"]) = (o["rejected"]!, o["chosen"]!) }
            return o
        }
        var planted: [String] = []
        var rng = SeededGenerator(seed: 13)
        for (k, p) in (hhPairs + ufPairs).enumerated() where k % 9 == 0 {
            let id = p["id"] as! String
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: planted.append(try line(edit(p, id: id + "-exact", { $0.uppercased() + "!!" })))
            case 1: planted.append(try line(edit(p, id: id + "-near", { $0 + " indeed" })))
            case 2: planted.append(try line(edit(p, id: id + "-swap", { $0 }, swap: true)))
            default: planted.append(try line(edit(p, id: id + "-reuse", { $0 }, replies: false).merging(["chosen": [["role": "assistant", "content": "A reply of its own, \(k)."]]]) { $1 }))
            }
        }
        let dir = d + "/in"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try (hhPairs.map(line).joined(separator: "\n") + "\n").write(toFile: dir + "/a.jsonl", atomically: true, encoding: .utf8)
        try (ufPairs.map(line).joined(separator: "\n") + "\n").write(toFile: dir + "/b.jsonl", atomically: true, encoding: .utf8)
        try (sePairs.map(line).joined(separator: "\n") + "\n").write(toFile: dir + "/c.jsonl", atomically: true, encoding: .utf8)
        try (planted.joined(separator: "\n") + "\n{\"prompt\": broken\n").write(toFile: dir + "/d.jsonl", atomically: true, encoding: .utf8)
        return dir
    }

    func lines(_ paths: [String]) throws -> [String] {
        try paths.flatMap { String(decoding: try Sources.readAll($0), as: UTF8.self).split(separator: "\n").map(String.init) }.sorted()
    }
    func listing(_ dir: String, _ prefix: String, _ suffix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) }.sorted().map { dir + "/" + $0 }
    }

    func testPhasedDedupEqualsOneProcessForEveryKeepPolicy() throws {
        let d = tempDir()
        let input = try corpus(d)
        let configs: [(match: [String], policy: [String])] = [
            ([], []), ([], ["--keep", "largest-margin"]), ([], ["--keep", "longest"]),
            ([], ["--keep", "source-priority", "--source-priority", "stackexchange,ultrafeedback"]), ([], ["--keep-conflicts"]),
            (["--by", "prompt"], ["--keep", "longest"]), (["--exact-only"], []),
        ]
        var signed: [String: String] = [:]
        var reasonsSeen = Set<String>()
        for (n, c) in configs.enumerated() {
            let w = d + "/run\(n)"
            try FileManager.default.createDirectory(atPath: w, withIntermediateDirectories: true)
            let one = try run(["dedup", input, "-o", w + "/one.jsonl", "--removed", w + "/one.removed.jsonl", "--clusters", w + "/one.clusters.jsonl", "-q"] + c.match + c.policy)
            XCTAssertEqual(one.code, 1, one.err)   // the malformed line
            // Sign once per way of matching (3 shards, 5 buckets); cluster on 2 shards, then merge; apply on 4 shards.
            let key = c.match.joined(separator: " ")
            if signed[key] == nil {
                signed[key] = d + "/sig\(signed.count)"
                for k in 0..<3 {
                    let r = try run(["dedup", "sign", input, "-o", signed[key]!, "--buckets", "5", "--shard-index", String(k), "--shard-count", "3", "-q"] + c.match)
                    XCTAssertEqual(r.code, 0, r.err)
                }
            }
            for k in 0..<2 {
                let r = try run(["dedup", "cluster", signed[key]!, "-o", w + "/cl", "--shard-index", String(k), "--shard-count", "2", "-q"] + c.policy)
                XCTAssertEqual(r.code, 0, r.err)
            }
            let m = try run(["dedup", "cluster", signed[key]!, "-o", w + "/cl", "--merge", "--clusters", w + "/clusters.jsonl", "-q"] + c.policy)
            XCTAssertEqual(m.code, 0, m.err)
            var codes: [Int32] = []
            for k in 0..<4 {
                codes.append(try run(["dedup", "apply", input, "--clusters", w + "/cl", "-o", w + "/out/", "--removed", w + "/out/removed.jsonl",
                                      "--shard-index", String(k), "--shard-count", "4", "-q"]).code)
            }
            XCTAssertEqual(codes.sorted(), [0, 0, 0, 1], "\(c): one shard holds the malformed line")
            let label = "\(c.match) \(c.policy)"
            let kept = try lines([w + "/one.jsonl"]), removed = try lines([w + "/one.removed.jsonl"])
            XCTAssertGreaterThan(removed.count, 30, label)
            XCTAssertEqual(try lines(try listing(w + "/out", "part-", ".jsonl.zst")), kept, label)
            XCTAssertEqual(try lines(try listing(w + "/out", "removed-", ".jsonl")), removed, label)
            XCTAssertEqual(try String(contentsOfFile: w + "/clusters.jsonl", encoding: .utf8), try String(contentsOfFile: w + "/one.clusters.jsonl", encoding: .utf8), label)
            XCTAssertEqual(try lines(try listing(w + "/out", "part-", ".rejects.jsonl")).count, 1, label)
            for r in removed { if let o = try JSONSerialization.jsonObject(with: Data(r.utf8)) as? [String: Any], let why = o["removed_reason"] as? String { reasonsSeen.insert(why) } }
            // The same grouping unsharded (one cluster process, one apply writing a file).
            if n == 0 {
                XCTAssertEqual(try run(["dedup", "cluster", signed[key]!, "-o", w + "/cl1", "-q"]).code, 0)
                XCTAssertEqual(try run(["dedup", "apply", input, "--clusters", w + "/cl1", "-o", w + "/all.jsonl", "-q"]).code, 1)
                XCTAssertEqual(try String(contentsOfFile: w + "/all.jsonl", encoding: .utf8), try String(contentsOfFile: w + "/one.jsonl", encoding: .utf8))
            }
        }
        for reason in ["exact_duplicate", "near_duplicate", "conflict", "exact_duplicate_prompt", "near_duplicate_prompt"] {
            XCTAssertTrue(reasonsSeen.contains(reason), "the planted data exercises \(reason): \(reasonsSeen)")
        }
    }

    func testPhasedSplitAndStatsMergeEqualOneProcess() throws {
        let d = tempDir()
        let input = try corpus(d)
        let configs: [(grouping: [String], placement: [String])] = [([], []), ([], ["--test", "0.1", "--valid", "0.1", "--seed", "7", "--stratify", "source"]),
                                                                    (["--exact-only"], ["--test", "0.2", "--seed", "3"])]
        for (n, c) in configs.enumerated() {
            let w = d + "/split\(n)"
            XCTAssertEqual(try run(["split", input, "-o", w + "/one/", "-q"] + c.grouping + c.placement).code, 1)
            for k in 0..<2 { XCTAssertEqual(try run(["split", "sign", input, "-o", w + "/sig", "--buckets", "3", "--shard-index", String(k), "--shard-count", "2", "-q"] + c.grouping).code, 0) }
            for k in 0..<3 { XCTAssertEqual(try run(["split", "group", w + "/sig", "-o", w + "/gr", "--shard-index", String(k), "--shard-count", "3", "-q"]).code, 0) }
            XCTAssertEqual(try run(["split", "group", w + "/sig", "-o", w + "/gr", "--merge", "-q"] + c.placement).code, 0)
            for k in 0..<3 { _ = try run(["split", "apply", input, "--groups", w + "/gr", "-o", w + "/out", "--shard-index", String(k), "--shard-count", "3", "-q"]) }
            for side in ["train", "test", "valid"] where FileManager.default.fileExists(atPath: w + "/one/\(side).jsonl") {
                let one = try lines([w + "/one/\(side).jsonl"])
                XCTAssertGreaterThan(one.count, 50, "\(c) \(side)")
                XCTAssertEqual(try lines(try listing(w + "/out", side + "-", ".jsonl")), one, "\(c) \(side)")
            }
        }
        // Statistics of three shards merged: the same JSON and HTML as one process.
        _ = try run(["stats", input, "--json", d + "/one.json", "--html", d + "/one.html"])
        for k in 0..<3 { XCTAssertEqual(try run(["stats", input, "-o", d + "/st/", "--shard-index", String(k), "--shard-count", "3"]).code, 0) }
        XCTAssertEqual(try run(["stats", "--merge", d + "/st", "--json", d + "/m.json", "--html", d + "/m.html"]).code, 1, "the malformed line is counted")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: d + "/m.json")), try Data(contentsOf: URL(fileURLWithPath: d + "/one.json")))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: d + "/m.html")), try Data(contentsOf: URL(fileURLWithPath: d + "/one.html")))
        XCTAssertEqual(try run(["stats", "--merge", d + "/st", d + "/one.json"]).code, 2, "--merge takes no inputs")
    }

    /// A damaged, missing or foreign intermediate is reported and never used; reruns skip finished shards.
    func testDamagedMissingAndForeignIntermediatesAreRefused() throws {
        let d = tempDir()
        let input = try corpus(d)
        for k in 0..<2 { XCTAssertEqual(try run(["dedup", "sign", input, "-o", d + "/sig", "--shard-index", String(k), "--shard-count", "2", "-q"]).code, 0) }
        let again = try run(["dedup", "sign", input, "-o", d + "/sig", "--shard-index", "1", "--shard-count", "2"])
        XCTAssertEqual(again.code, 0)
        XCTAssertTrue(again.err.contains("already done"), again.err)
        // Another shard count, or other options, into the same directory: refused before anything is read.
        XCTAssertEqual(try run(["dedup", "sign", input, "-o", d + "/sig", "--shard-index", "0", "--shard-count", "3", "-q"]).code, 2)
        XCTAssertEqual(try run(["dedup", "sign", input, "-o", d + "/sig", "--shard-index", "0", "--shard-count", "2", "--threshold", "0.5", "-q"]).code, 2)

        let sign1 = d + "/sig/sign-00001-of-00002.bin"
        let good = try Data(contentsOf: URL(fileURLWithPath: sign1))
        // One flipped byte inside the bucket entries: the cluster step fails on the CRC and writes nothing.
        var bad = good
        bad[bad.count / 2] ^= 0x40
        try bad.write(to: URL(fileURLWithPath: sign1))
        let r = try run(["dedup", "cluster", d + "/sig", "-o", d + "/cl"])
        XCTAssertNotEqual(r.code, 0)
        XCTAssertTrue(r.err.contains("CRC-32") || r.err.contains("damaged"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/cl/decisions.bin"))
        // Cut short: reported as damaged.
        try good.prefix(good.count - 100).write(to: URL(fileURLWithPath: sign1))
        let cut = try run(["dedup", "cluster", d + "/sig", "-o", d + "/cl"])
        XCTAssertNotEqual(cut.code, 0)
        XCTAssertTrue(cut.err.contains("damaged"), cut.err)
        // Rerunning the sign shard finds its output no longer matches the marker, and redoes it.
        let redo = try run(["dedup", "sign", input, "-o", d + "/sig", "--shard-index", "1", "--shard-count", "2"])
        XCTAssertEqual(redo.code, 0)
        XCTAssertTrue(redo.err.contains("does not match its completion marker"), redo.err)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: sign1)), good, "deterministic: the redone shard is the same file")
        // A missing shard.
        try FileManager.default.moveItem(atPath: sign1, toPath: d + "/moved.bin")
        let missing = try run(["dedup", "cluster", d + "/sig", "-o", d + "/cl"])
        XCTAssertEqual(missing.code, 2)
        XCTAssertTrue(missing.err.contains("sign shard 1 of 2"), missing.err)
        try FileManager.default.moveItem(atPath: d + "/moved.bin", toPath: sign1)
        // Merge before every cluster shard is done.
        XCTAssertEqual(try run(["dedup", "cluster", d + "/sig", "-o", d + "/cl", "--shard-index", "0", "--shard-count", "2", "-q"]).code, 0)
        let early = try run(["dedup", "cluster", d + "/sig", "-o", d + "/cl", "--merge"])
        XCTAssertNotEqual(early.code, 0)
        XCTAssertTrue(early.err.contains("shard 1 of 2"), early.err)
        XCTAssertEqual(try run(["dedup", "cluster", d + "/sig", "-o", d + "/cl", "--shard-index", "1", "--shard-count", "2", "-q"]).code, 0)
        XCTAssertEqual(try run(["dedup", "cluster", d + "/sig", "-o", d + "/cl", "--merge", "-q"]).code, 0)
        // Apply over other inputs than were signed: refused.
        let other = try run(["dedup", "apply", input + "/a.jsonl", "--clusters", d + "/cl", "-o", d + "/x.jsonl"])
        XCTAssertEqual(other.code, 2)
        XCTAssertTrue(other.err.contains("other inputs"), other.err)
        // A split step given dedup's sign files.
        XCTAssertEqual(try run(["split", "group", d + "/sig", "-o", d + "/gr"]).code, 2)
    }

    /// One large plain JSON Lines file cut into byte ranges: sign and apply shards by range equal one process.
    func testPhasedDedupOverByteRangesOfOneFile() throws {
        let d = tempDir()
        let input = try corpus(d)
        let all = try listing(input, "", ".jsonl").map { try String(contentsOfFile: $0, encoding: .utf8) }.joined()
        try all.write(toFile: d + "/one.jsonl", atomically: true, encoding: .utf8)
        XCTAssertEqual(try run(["dedup", d + "/one.jsonl", "-o", d + "/single.jsonl", "-q"]).code, 1)
        for k in 0..<4 { XCTAssertEqual(try run(["dedup", "sign", d + "/one.jsonl", "-o", d + "/sig", "--shard-index", String(k), "--shard-count", "4", "-q"]).code, 0) }
        XCTAssertEqual(try run(["dedup", "cluster", d + "/sig", "-o", d + "/cl", "-q"]).code, 0)
        for k in 0..<3 { _ = try run(["dedup", "apply", d + "/one.jsonl", "--clusters", d + "/cl", "-o", d + "/out/", "--shard-index", String(k), "--shard-count", "3", "-q"]) }
        let single = try lines([d + "/single.jsonl"])
        XCTAssertEqual(try lines(try listing(d + "/out", "part-", ".jsonl.zst")), single)
        XCTAssertLessThan(single.count, all.split(separator: "\n").count - 50)
    }
}
