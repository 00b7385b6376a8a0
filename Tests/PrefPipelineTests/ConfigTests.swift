import Foundation
import XCTest
@testable import PrefPipeline
import TestSupport

final class ConfigTests: XCTestCase {
    func parse(_ yaml: String) throws -> PipelineConfig {
        try PipelineConfig.parse(yaml, path: "/tmp/cfg/pipeline.yaml", display: "pipeline.yaml")
    }

    func failure(_ yaml: String) -> ConfigError? {
        do { _ = try parse(yaml); return nil } catch let e as ConfigError { return e } catch { XCTFail("\(error)"); return nil }
    }

    /// The config --init writes parses, and every key it shows is used.
    func testInitExampleParses() throws {
        let c = try parse(PipelineConfig.example)
        XCTAssertEqual(c.stages.map(\.kind), [.convert, .filter, .dedup, .split, .stats, .score])
        XCTAssertEqual(c.run, "/tmp/cfg/runs/example")
        XCTAssertEqual(c.resolvedInputs.first, "/tmp/cfg/data/hh-rlhf/train.jsonl.gz")
        XCTAssertEqual(c.stages[1].option("empty"), .flag(true))
        XCTAssertEqual(c.stages[1].option("response-chars"), .value("1:20000"))
        XCTAssertEqual(c.stages[2].option("keep"), .value("largest-margin"))
        // Lines are 1-based, as an editor shows them.
        let lines = PipelineConfig.example.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(c.stages[0].line, lines.firstIndex(where: { $0.hasSuffix("- convert:") })! + 1)
    }

    func testValuesListsAndStageKeys() throws {
        let c = try parse("""
        run: out
        inputs: a.jsonl
        threads: 3
        stages:
          - stats
          - decontaminate: {against: [x.jsonl, y.jsonl], ngram: 8, shards: 4, parallel: 2}
          - filter: {tie: false, min-margin: 0.5}
        """)
        XCTAssertEqual(c.threads, 3)
        XCTAssertEqual(c.stages[0].options.count, 0)
        XCTAssertEqual(c.stages[1].option("against"), .list(["x.jsonl", "y.jsonl"]))
        XCTAssertEqual(c.stages[1].option("ngram"), .value("8"))
        XCTAssertEqual(c.stages[1].shards, 4)
        XCTAssertEqual(c.stages[1].parallel, 2)
        XCTAssertEqual(c.stages[2].option("tie"), .flag(false))
        XCTAssertEqual(OptionValue.flag(false).arguments("tie"), [])
        XCTAssertEqual(OptionValue.list(["x", "y"]).arguments("against"), ["--against", "x", "--against", "y"])
    }

    /// Each mistake is reported on its line, with what to do.
    func testMistakesNameTheirLine() {
        let base = "run: out\ninputs: [a.jsonl]\nstages:\n"
        var e = failure(base + "  - convert\n  - fliter: {empty: true}\n")
        XCTAssertEqual(e?.line, 5); XCTAssertTrue(e?.message.contains("unknown stage 'fliter'") ?? false); XCTAssertTrue(e?.hint?.contains("filter") ?? false)
        e = failure(base + "  - filter: {empty: true, output: x.jsonl}\n")
        XCTAssertEqual(e?.line, 4); XCTAssertTrue(e?.message.contains("cannot set 'output'") ?? false)
        e = failure(base + "  - filter: {empty: true}\n  - convert\n")
        XCTAssertEqual(e?.line, 5); XCTAssertTrue(e?.message.contains("convert must be the first stage") ?? false)
        e = failure(base + "  - split\n  - dedup\n")
        XCTAssertEqual(e?.line, 5); XCTAssertTrue(e?.message.contains("after split") ?? false)
        e = failure(base + "  - dedup: {shards: 0}\n")
        XCTAssertEqual(e?.line, 4); XCTAssertTrue(e?.message.contains("shards") ?? false)
        e = failure(base + "  - score: {shards: 2}\n")
        XCTAssertTrue(e?.message.contains("does not run sharded") ?? false)
        e = failure("run: out\ninput: [a.jsonl]\nstages: [stats]\n")
        XCTAssertEqual(e?.line, 2); XCTAssertTrue(e?.message.contains("unknown key 'input'") ?? false)
        e = failure("run: out\nstages: [stats]\n")
        XCTAssertTrue(e?.message.contains("no 'inputs'") ?? false)
        e = failure("run: out\ninputs: a\nstages: [stats\n")
        XCTAssertTrue(e?.message.contains("not valid YAML") ?? false)
        e = failure(base + "  - dedup: {launcher: slurm}\n")
        XCTAssertTrue(e?.message.contains("give 'shards'") ?? false)
    }

    /// `--set STAGE.OPTION=VALUE` replaces or adds the option of every stage of that kind.
    func testOverrides() throws {
        var c = try parse("run: out\ninputs: a\nstages:\n  - filter: {empty: true}\n  - score: {budget: quick}\n")
        try c.apply(override: "score.budget=standard")
        try c.apply(override: "score.sft-steps=5")
        try c.apply(override: "filter.empty=false")
        XCTAssertEqual(c.stages[1].option("budget"), .value("standard"))
        XCTAssertEqual(c.stages[1].options.map(\.0), ["budget", "sft-steps"], "in place, new ones last")
        XCTAssertEqual(c.stages[0].option("empty"), .flag(false))
        XCTAssertEqual(c.json["overrides"], .array([.string("score.budget=standard"), .string("score.sft-steps=5"), .string("filter.empty=false")]))
        for bad in ["score", "scor.budget=1", "dedup.keep=longest", "score.output=x", "score.=1"] {
            XCTAssertThrowsError(try c.apply(override: bad), bad)
        }
    }

    /// Sharded dedup and split run in phases, each phase given only its own options; the next
    /// stages read the parts.
    func testShardedStagesRunInPhases() throws {
        let c = try parse("""
        run: out
        inputs: [a.jsonl]
        stages:
          - dedup: {threshold: 0.7, keep: longest, buckets: 16, shards: 3}
          - split: {test: 0.2, exact-only: true, shards: 2}
          - stats: {shards: 2}
          - score: {budget: quick}
        """)
        let plans = Planner.plan(c)
        let dedup = plans[0].steps
        XCTAssertEqual(dedup.map(\.label), ["dedup sign", "dedup cluster", "dedup cluster --merge", "dedup apply"])
        XCTAssertEqual(dedup.map(\.tasks), [3, 3, nil, 3])
        XCTAssertTrue(dedup[0].arguments.contains("--threshold") && dedup[0].arguments.contains("--buckets") && !dedup[0].arguments.contains("--keep"))
        XCTAssertTrue(dedup[1].arguments.contains("--keep") && !dedup[1].arguments.contains("--threshold"))
        XCTAssertTrue(dedup[2].arguments.contains("--keep") && dedup[2].arguments.contains("--merge"))
        XCTAssertFalse(dedup[3].arguments.contains("--keep") || dedup[3].arguments.contains("--threshold"))
        XCTAssertTrue(dedup[3].arguments.contains("/tmp/cfg/out/01-dedup/parts/"))
        let split = plans[1].steps
        XCTAssertEqual(split[0].arguments.first(where: { $0.hasSuffix("/parts") }), "/tmp/cfg/out/01-dedup/parts")
        XCTAssertTrue(split[0].arguments.contains("--exact-only") && !split[0].arguments.contains("--test"))
        XCTAssertTrue(split[2].arguments.contains("--test") && split[2].arguments.contains("--merge"))
        XCTAssertEqual(plans[2].steps.map(\.label), ["stats", "stats --merge"])
        XCTAssertTrue(plans[2].steps[0].arguments.contains("/tmp/cfg/out/02-split/data/test-00001-of-00002.jsonl.zst"))
        // Score trains on the train side and evaluates on the test side of the split.
        let score = plans[3].steps[0].arguments
        XCTAssertTrue(score.contains("/tmp/cfg/out/02-split/data/train-00000-of-00002.jsonl.zst"))
        XCTAssertEqual(score.indices.filter { score[$0] == "--eval" }.map { score[$0 + 1] },
                       ["/tmp/cfg/out/02-split/data/test-00000-of-00002.jsonl.zst", "/tmp/cfg/out/02-split/data/test-00001-of-00002.jsonl.zst"])
        XCTAssertFalse(score.contains("/tmp/cfg/out/02-split/data/test-00000-of-00002.jsonl.zst") && score.firstIndex(of: "/tmp/cfg/out/02-split/data/test-00000-of-00002.jsonl.zst")! < score.firstIndex(of: "-o")!)
    }
}
