import Foundation
import XCTest
@testable import PrefIO
import TestSupport

/// `prefkit pipeline` end to end on real corpora (the repo's fixtures when ../shared/realdata is
/// absent): every stage, a manifest that accounts for every record, resume and invalidation.
final class PipelineTests: CLITestCase {
    /// Raw corpora in four formats plus a file with planted malformed records (`light`: without
    /// the 2,312 HH-RLHF pairs, for the tests that run the pipeline many times).
    var light = false
    func rawInputs() -> [String] {
        let real = CLITestCase.repo + "/../shared/realdata/"
        if FileManager.default.fileExists(atPath: real + "hh-rlhf_harmless-base_test.jsonl.gz") {
            return (light ? [] : [real + "hh-rlhf_harmless-base_test.jsonl.gz"]) + [real + "se_coffee_Posts.xml", real + "oasst_en_100_tree.jsonl",
                    real + "ultrafeedback-binarized_train1k_kkminions-noise-study.jsonl", fixture("bad_trl.jsonl"), fixture("hh_small_named.jsonl.zst")]
        }
        return [fixture("hh_engine.jsonl.gz"), fixture("demo/se_kitchen_Posts.xml"), fixture("demo/oasst_kitchen_trees.jsonl"),
                fixture("ultrafeedback.jsonl"), fixture("bad_trl.jsonl"), fixture("hh_small_named.jsonl.zst")]
    }

    /// A tiny score: a few steps of a small model (the pipeline, not the score, is under test).
    let tinyScore = "budget: quick, sft-steps: 4, dpo-steps: 4, n-layer: 1, n-embd: 32, n-head: 2, vocab-size: 300, max-length: 64, max-train-pairs: 200, evaluations: 1"

    func config(_ dir: String, dedup: String = "keep: largest-margin", sharded: Bool) -> String {
        let s = sharded ? ", shards: 2, parallel: 2" : ""
        return """
        run: run
        threads: 2
        inputs:
        \(rawInputs().map { "  - \($0)" }.joined(separator: "\n"))
        stages:
          - convert: {max-pairs-per-question: 3\(s)}
          - filter: {empty: true, identical: true, tie: true\(s)}
          - dedup: {\(dedup)\(s)}
          - decontaminate: {against: [eval.jsonl]\(s)}
          - split: {test: 0.1, seed: 3\(s)}
          - stats: {\(sharded ? "shards: 2" : "")}
          - score: {\(tinyScore)}
          - export: {to: trl}

        """
    }

    func setUpRun(sharded: Bool) throws -> String {
        let dir = tempDir()
        // An eval set that shares two prompts with the data: decontaminate must remove them.
        let pairs = try run(["convert", rawInputs()[0], "-o", dir + "/first.jsonl", "-q"])
        XCTAssertEqual(pairs.code, 0, pairs.err)
        let lines = try String(contentsOfFile: dir + "/first.jsonl", encoding: .utf8).split(separator: "\n").prefix(2)
        let evalRows = try lines.map { line -> String in
            let v = try JSONValue.parse(bytes: Array(line.utf8))
            let text = v["prompt"]?.arrayValue?.compactMap { $0["content"]?.stringValue }.joined(separator: " ") ?? ""
            return JSONValue.object([("question", .string(text))]).serialized()
        }
        try (evalRows.joined(separator: "\n") + "\n").write(toFile: dir + "/eval.jsonl", atomically: true, encoding: .utf8)
        try config(dir, sharded: sharded).write(toFile: dir + "/pipeline.yaml", atomically: true, encoding: .utf8)
        return dir
    }

    func manifest(_ dir: String) throws -> JSONValue {
        try JSONValue.parse(bytes: Array(Data(contentsOf: URL(fileURLWithPath: dir + "/run/manifest.json"))))
    }

    func sha256sum(_ path: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [path]
        let o = Pipe(); p.standardOutput = o
        try p.run(); p.waitUntilExit()
        return String(String(decoding: o.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64))
    }

    func checkComplete(_ m: JSONValue, _ dir: String) throws {
        XCTAssertEqual(m["status"]?.stringValue, "done")
        XCTAssertEqual(m["version"]?.stringValue, "0.1.0")
        XCTAssertEqual(m["config"]?["stages"]?.arrayValue?.count, 8)
        // Inputs: every file with its size and SHA-256 (checked against coreutils).
        let inputs = m["inputs"]?.arrayValue ?? []
        XCTAssertEqual(inputs.count, rawInputs().count)
        for i in inputs {
            let path = i["path"]!.stringValue!
            XCTAssertEqual(i["sha256"]?.stringValue, try sha256sum(path), path)
            XCTAssertEqual(i["bytes"]?.intValue, (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value)
        }
        let stages = m["stages"]?.arrayValue ?? []
        XCTAssertEqual(stages.map { $0["stage"]?.stringValue ?? "" }, ["convert", "filter", "dedup", "decontaminate", "split", "stats", "score", "export"])
        for s in stages {
            XCTAssertEqual(s["status"]?.stringValue, "done")
            XCTAssertNotNil(s["seconds"]?.doubleValue)
            XCTAssertFalse((s["steps"]?.arrayValue ?? []).isEmpty)
            for o in s["outputs"]?.arrayValue ?? [] {
                XCTAssertEqual(o["sha256"]?.stringValue, try sha256sum(dir + "/run/" + o["path"]!.stringValue!))
            }
            // Every record accounted for in every stage that reads records.
            if let r = s["records"], let read = r["read"]?.intValue {
                XCTAssertEqual(read, r["written"]!.intValue! + r["removed"]!.intValue! + r["rejected"]!.intValue!, s["stage"]!.serialized())
            }
        }
        // The malformed records of bad_trl.jsonl are rejected by convert, not fatal.
        XCTAssertGreaterThan(stages[0]["records"]?["rejected"]?.intValue ?? 0, 0)
        XCTAssertGreaterThan(stages[2]["records"]?["removed"]?.intValue ?? 0, 0, "the planted copies are removed")
        XCTAssertGreaterThan(stages[3]["records"]?["removed"]?.intValue ?? 0, 0, "the eval prompts are removed")
        // Each stage reads what the one before it wrote.
        for k in 1..<5 {
            XCTAssertEqual(stages[k]["records"]?["read"]?.intValue, stages[k - 1]["records"]?["pairs"]?.intValue, "stage \(k + 1)")
        }
        XCTAssertEqual(stages[5]["records"]?["pairs"]?.intValue, stages[4]["records"]?["pairs"]?.intValue)
        XCTAssertNotNil(stages[6]["records"]?["score"]?.doubleValue)
        // index.html links the statistics and the score report, which exist.
        let index = try String(contentsOfFile: dir + "/run/index.html", encoding: .utf8)
        for r in ["06-stats/stats.html", "07-score/report.html", "manifest.json"] {
            XCTAssertTrue(index.contains("href=\"\(r)\""), r)
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/run/" + r), r)
        }
    }

    func testPipelineRunsEveryStageAndResumes() throws {
        light = true
        let dir = try setUpRun(sharded: false)
        let first = try run(["pipeline", dir + "/pipeline.yaml"])
        XCTAssertEqual(first.code, 0, first.err)
        XCTAssertTrue(first.err.contains("reports:") && first.err.contains("/run/index.html") && first.err.contains("/run/07-score/report.html"), first.err)
        let m1 = try manifest(dir)
        try checkComplete(m1, dir)

        // The dedup stage equals `prefkit dedup` run by hand on the filter's output.
        let manual = try run(["dedup", dir + "/run/02-filter/pairs.jsonl.zst", "-o", dir + "/manual.jsonl.zst", "--keep", "largest-margin", "-q"])
        XCTAssertEqual(manual.code, 0, manual.err)
        XCTAssertEqual(try Sources.readAll(dir + "/manual.jsonl.zst"), try Sources.readAll(dir + "/run/03-dedup/pairs.jsonl.zst"))

        // Rerun: every stage kept, nothing rewritten.
        let again = try run(["pipeline", dir + "/pipeline.yaml"])
        XCTAssertEqual(again.code, 0, again.err)
        let m2 = try manifest(dir)
        XCTAssertEqual(m2["stages"]?.arrayValue?.map { $0["kept_from_earlier_run"] }, Array(repeating: .bool(true), count: 8))
        XCTAssertEqual(m2["stages"]?.arrayValue?.map { $0["outputs"] }, m1["stages"]?.arrayValue?.map { $0["outputs"] })

        // A changed option reruns its stage and the ones after it, and says why.
        try config(dir, dedup: "keep: longest", sharded: false).write(toFile: dir + "/pipeline.yaml", atomically: true, encoding: .utf8)
        let changed = try run(["pipeline", dir + "/pipeline.yaml"])
        XCTAssertEqual(changed.code, 0, changed.err)
        XCTAssertTrue(changed.err.contains("[3/8] dedup: its options changed"), changed.err)
        XCTAssertEqual(try manifest(dir)["stages"]?.arrayValue?.map { $0["kept_from_earlier_run"] },
                       [.bool(true), .bool(true)] + Array(repeating: .bool(false), count: 6))

        // A changed file an option names (the eval set) reruns from decontaminate.
        try "{\"question\": \"a new evaluation question about nothing in particular at all\"}\n".write(toFile: dir + "/eval.jsonl", atomically: true, encoding: .utf8)
        let evalChanged = try run(["pipeline", dir + "/pipeline.yaml"])
        XCTAssertTrue(evalChanged.err.contains("[4/8] decontaminate: a file its options name changed"), evalChanged.err)
        XCTAssertEqual(try manifest(dir)["stages"]?.arrayValue?[3]["records"]?["removed"]?.intValue, 0)

        // A damaged output of a kept stage reruns it.
        try "x".write(toFile: dir + "/run/02-filter/pairs.jsonl.zst", atomically: true, encoding: .utf8)
        let damaged = try run(["pipeline", dir + "/pipeline.yaml"])
        XCTAssertEqual(damaged.code, 0, damaged.err)
        XCTAssertTrue(damaged.err.contains("[2/8] filter: its output 02-filter/pairs.jsonl.zst changed"), damaged.err)

        // A changed input reruns everything.
        let copy = dir + "/extra.jsonl"
        try FileManager.default.copyItem(atPath: fixture("hh_small.jsonl"), toPath: copy)
        var text = try String(contentsOfFile: dir + "/pipeline.yaml", encoding: .utf8)
        text = text.replacingOccurrences(of: "inputs:\n", with: "inputs:\n  - extra.jsonl\n")
        try text.write(toFile: dir + "/pipeline.yaml", atomically: true, encoding: .utf8)
        let input = try run(["pipeline", dir + "/pipeline.yaml", "-q"])
        XCTAssertEqual(input.code, 0, input.err)
        XCTAssertEqual(input.err, "", "--quiet prints nothing")
        let m3 = try manifest(dir)
        XCTAssertEqual(m3["stages"]?.arrayValue?.map { $0["kept_from_earlier_run"] }, Array(repeating: .bool(false), count: 8))
        XCTAssertEqual(m3["inputs"]?.arrayValue?.count, rawInputs().count + 1)
        // Quiet: each stage's output is in its logs directory.
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/run/01-convert/logs/convert.log"))
    }

    /// Sharded stages (convert, filter, decontaminate per shard; dedup, split, stats in phases)
    /// give the same data as the one-process pipeline.
    func testShardedPipelineEqualsOneProcess() throws {
        light = true
        let one = try setUpRun(sharded: false)
        let many = try setUpRun(sharded: true)
        for d in [one, many] {
            let r = try run(["pipeline", d + "/pipeline.yaml", "-q"])
            XCTAssertEqual(r.code, 0, r.err)
        }
        let a = try manifest(one), b = try manifest(many)
        try checkComplete(b, many)
        for k in 0..<6 {
            let ra = a["stages"]!.arrayValue![k]["records"], rb = b["stages"]!.arrayValue![k]["records"]
            XCTAssertEqual(ra, rb, "stage \(k + 1)")
        }
        XCTAssertEqual(b["stages"]?.arrayValue?[2]["steps"]?.arrayValue?.count, 4, "sign, cluster, merge, apply")
        // The same pairs in the end (the shards read the inputs in another order, so which side of
        // the split a prompt group lands on may differ, not the pairs).
        func lines(_ dir: String) throws -> Set<String> {
            let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".jsonl.zst") }
            var all: [String] = []
            for f in files { all += String(decoding: try Sources.readAll(dir + "/" + f), as: UTF8.self).split(separator: "\n").map(String.init) }
            XCTAssertEqual(Set(all).count, all.count, "no pair twice in \(dir)")
            return Set(all)
        }
        let x = try lines(one + "/run/05-split/data"), y = try lines(many + "/run/05-split/data")
        XCTAssertEqual(x.count, y.count)
        XCTAssertEqual(x.symmetricDifference(y).count, 0)
        // The statistics describe the same pairs.
        let sa = try JSONValue.parse(bytes: Sources.readAll(one + "/run/06-stats/stats.json"))
        let sb = try JSONValue.parse(bytes: Sources.readAll(many + "/run/06-stats/stats.json"))
        for k in ["pairs", "per_source", "prompt_chars", "chosen_chars", "tie_rate", "length_bias"] { XCTAssertEqual(sa[k], sb[k], k) }
    }

    /// A stage that fails stops the pipeline (exit 3) with one sentence and a hint; the finished
    /// stages are kept for the rerun.
    func testFailedStageStopsAndResumes() throws {
        let dir = tempDir()
        let cfg = """
        run: run
        inputs: [\(rawInputs()[0])]
        stages:
          - convert
          - score: {ref-model: no-such-model, model: no-such-model}

        """
        try cfg.write(toFile: dir + "/p.yaml", atomically: true, encoding: .utf8)
        let r = try run(["pipeline", dir + "/p.yaml"])
        XCTAssertEqual(r.code, 3, r.err)
        XCTAssertTrue(r.err.contains("prefkit pipeline: error: stage score: 'score' failed (exit 3)"), r.err)
        XCTAssertTrue(r.err.contains("hint: the stages that finished are kept"), r.err)
        XCTAssertTrue(r.err.contains("not a model directory") || r.err.contains("does not exist"), r.err)
        let m = try manifest(dir)
        XCTAssertEqual(m["status"]?.stringValue, "failed")
        XCTAssertEqual(m["stages"]?.arrayValue?.map { $0["status"]?.stringValue ?? "" }, ["done", "failed"])
        XCTAssertEqual(m["stages"]?.arrayValue?[1]["steps"]?.arrayValue?.first?["exit"]?.intValue, 3)
        try cfg.replacingOccurrences(of: "{ref-model: no-such-model, model: no-such-model}", with: "{\(tinyScore)}")
            .write(toFile: dir + "/p.yaml", atomically: true, encoding: .utf8)
        let fixed = try run(["pipeline", dir + "/p.yaml"])
        XCTAssertEqual(fixed.code, 0, fixed.err)
        XCTAssertTrue(fixed.err.contains("[1/2] convert: done in an earlier run"), fixed.err)
        XCTAssertTrue(fixed.err.contains("[2/2] score: its options changed"), fixed.err)
    }

    /// Config mistakes are usage errors (exit 2) on their line, before anything runs.
    func testConfigMistakesAndInit() throws {
        let dir = tempDir()
        let bad = "run: run\ninputs: [\(fixture("hh_small.jsonl"))]\nstages:\n  - filter: {empty: true}\n  - dedup: {kep: longest}\n"
        try bad.write(toFile: dir + "/p.yaml", atomically: true, encoding: .utf8)
        let r = try run(["pipeline", dir + "/p.yaml"])
        XCTAssertEqual(r.code, 2, r.err)
        XCTAssertTrue(r.err.contains("p.yaml:5: stage 'dedup':") && r.err.contains("--kep"), r.err)
        XCTAssertTrue(r.err.contains("hint:"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/run/01-filter"), "nothing ran")
        try bad.replacingOccurrences(of: "kep: longest", with: "keep: tallest").write(toFile: dir + "/p.yaml", atomically: true, encoding: .utf8)
        let badValue = try run(["pipeline", dir + "/p.yaml"])
        XCTAssertEqual(badValue.code, 2)
        XCTAssertTrue(badValue.err.contains("p.yaml:5:") && badValue.err.contains("tallest") && badValue.err.contains("largest-margin"), badValue.err)
        let missing = try run(["pipeline", dir + "/none.yaml"])
        XCTAssertEqual(missing.code, 2)
        XCTAssertTrue(missing.err.contains("no such file") && missing.err.contains("--init"), missing.err)

        // --init writes a config that parses, refuses to overwrite, and --dry-run shows its commands.
        let made = try run(["pipeline", "--init", dir + "/example.yaml"])
        XCTAssertEqual(made.code, 0, made.err)
        let again = try run(["pipeline", "--init", dir + "/example.yaml"])
        XCTAssertEqual(again.code, 2)
        XCTAssertTrue(again.err.contains("does not overwrite"), again.err)
        let dry = try run(["pipeline", dir + "/example.yaml", "--dry-run"])
        XCTAssertEqual(dry.code, 0, dry.err)
        XCTAssertTrue(dry.out.contains("prefkit dedup ") && dry.out.contains("--keep largest-margin") && dry.out.contains("prefkit score "), dry.out)
    }
}
