import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Issue 9 at the command line: outputs never destroy what is at their path or an input, failed
/// and interrupted runs leave nothing behind, every numeric option has a checked range, exit codes
/// and messages are distinct and say what happened.
final class HostileCLITests: CLITestCase {
    func bad(_ n: String) -> String { fixture("bad/" + n) }

    func hh(_ d: String) throws -> String {
        let p = d + "/in.jsonl"
        try FileManager.default.copyItem(atPath: fixture("hh_small.jsonl"), toPath: p)
        return p
    }

    func temps(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.contains(".tmp.") || $0.hasPrefix("prefkit-") }
    }

    // MARK: Outputs

    func testOutputEqualToAnInputIsRefusedBeforeReading() throws {
        let d = tempDir()
        let input = try hh(d)
        let before = try Data(contentsOf: URL(fileURLWithPath: input))
        try FileManager.default.createSymbolicLink(atPath: d + "/link.jsonl", withDestinationPath: input)
        XCTAssertEqual(link(input, d + "/hard.jsonl"), 0)
        let cases: [[String]] = [
            ["convert", input, "-o", input],
            ["convert", input, "-o", d + "/link.jsonl"],
            ["convert", input, "-o", d + "/hard.jsonl"],
            ["convert", input, "-o", d + "/o.jsonl", "--summary-json", input],
            ["convert", input, "-o", d + "/o.jsonl", "--rejects", d + "/o.jsonl"],
            ["filter", input, "-o", input, "--tie"],
            ["dedup", input, "-o", d + "/x.jsonl", "--removed", input],
            ["dedup", input, "-o", d + "/x.jsonl", "--clusters", d + "/hard.jsonl"],
            ["decontaminate", input, "--against", fixture("hh_small_named.jsonl"), "-o", input],
            ["stats", input, "--json", input],
            ["split", d + "/train.jsonl", "-o", d],
        ]
        try FileManager.default.copyItem(atPath: input, toPath: d + "/train.jsonl")
        for args in cases {
            let r = try run(args)
            XCTAssertEqual(r.code, 2, "\(args): \(r.err)")
            XCTAssertTrue(r.err.contains("refusing to overwrite an input") || r.err.contains("name the same file"), "\(args): \(r.err)")
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: input)), before, "\(args): the input is intact")
            XCTAssertEqual(temps(d), [], "\(args)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: d + "/train.jsonl")), before)
    }

    func testDevicesFIFOsAndSymlinksAreNeverReplaced() throws {
        let d = tempDir()
        let input = try hh(d)
        // /dev/null: written directly, still a character device afterwards.
        var r = try run(["convert", input, "-o", "/dev/null", "-q"])
        XCTAssertEqual(r.code, 0, r.err)
        var st = stat()
        XCTAssertEqual(stat("/dev/null", &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFCHR)
        r = try run(["convert", fixture("bad_trl.jsonl"), "-o", "/dev/null", "-q"])
        XCTAssertEqual(r.code, 1, r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/dev/null.rejects.jsonl"), "no rejects file is made up beside a device")
        // /dev/full: the write fails (exit 3, I/O), the device node stays.
        if FileManager.default.fileExists(atPath: "/dev/full") {
            r = try run(["convert", input, "-o", "/dev/full", "-q"])
            XCTAssertEqual(r.code, 3, r.err)
            XCTAssertTrue(r.err.contains("/dev/full") && !r.err.contains(".tmp."), r.err)
            XCTAssertFalse(r.err.contains("Usage"), "no usage banner for an I/O error")
            XCTAssertEqual(stat("/dev/full", &st), 0)
            XCTAssertEqual(st.st_mode & S_IFMT, S_IFCHR)
        }
        // A FIFO: the reader gets the output, the FIFO stays a FIFO.
        let fifo = d + "/pipe"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/bin/sh")
        reader.arguments = ["-c", "cat '\(fifo)' > '\(d)/from-fifo.jsonl'"]
        try reader.run()
        r = try run(["convert", input, "-o", fifo, "-q"])
        reader.waitUntilExit()
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertEqual(lstat(fifo, &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFIFO)
        let viaFifo = try String(contentsOfFile: d + "/from-fifo.jsonl", encoding: .utf8)
        XCTAssertEqual(viaFifo.split(separator: "\n").count, 41)
        // A symlink to a regular file is followed: the target is replaced, the link stays a link.
        XCTAssertTrue(FileManager.default.createFile(atPath: d + "/target.jsonl", contents: Data("old\n".utf8)))
        try FileManager.default.createSymbolicLink(atPath: d + "/out-link.jsonl", withDestinationPath: d + "/target.jsonl")
        r = try run(["convert", input, "-o", d + "/out-link.jsonl", "-q"])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertEqual(lstat(d + "/out-link.jsonl", &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFLNK)
        XCTAssertEqual(try String(contentsOfFile: d + "/target.jsonl", encoding: .utf8), viaFifo)
        // A dangling symlink and a directory are refused, and leave nothing behind.
        try FileManager.default.createSymbolicLink(atPath: d + "/dangling.jsonl", withDestinationPath: d + "/nowhere/x.jsonl")
        try FileManager.default.createDirectory(atPath: d + "/adir", withIntermediateDirectories: false)
        for out in [d + "/dangling.jsonl", d + "/adir"] {
            r = try run(["convert", input, "-o", out, "-q"])
            XCTAssertEqual(r.code, 2, r.err)
            XCTAssertEqual(temps(d), [], out)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: d + "/adir"), [])
        }
        XCTAssertEqual(lstat(d + "/dangling.jsonl", &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFLNK)
    }

    func testCompressedNamesWeCannotWriteAreRefused() throws {
        let d = tempDir()
        let input = try hh(d)
        for ext in ["xz", "bz2", "lz4", "7z", "zip"] {
            let r = try run(["convert", input, "-o", d + "/out.jsonl." + ext])
            XCTAssertEqual(r.code, 2, r.err)
            XCTAssertTrue(r.err.contains(".\(ext) compression is not supported"), r.err)
            XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/out.jsonl." + ext))
        }
    }

    func testFileSizeLimitLeavesNoTempAndNoPartialOutput() throws {
        let d = tempDir()
        let input = try hh(d)
        let r = try run(["-c", "ulimit -f 8; exec '\(binary)' convert '\(input)' -o '\(d)/out.jsonl' -q"], executable: "/bin/sh")
        XCTAssertEqual(r.code, 3, r.err)
        XCTAssertTrue(r.err.contains("out.jsonl") && !r.err.contains(".tmp."), "the message names the final path: \(r.err)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/out.jsonl"))
        XCTAssertEqual(temps(d), [])
    }

    func testSIGTERMRemovesTheStdinSpoolAndSaysSo() throws {
        let d = tempDir()
        let spoolDir = d + "/tmp"
        try FileManager.default.createDirectory(atPath: spoolDir, withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["dedup", "-", "-o", d + "/out.jsonl"]
        p.environment = ["TMPDIR": spoolDir, "PATH": "/usr/bin:/bin"]
        let input = Pipe(), err = Pipe()
        p.standardInput = input; p.standardError = err; p.standardOutput = FileHandle.nullDevice
        try p.run()
        // Feed some data but keep stdin open: prefkit is spooling when the signal comes.
        let line = try Data(contentsOf: URL(fileURLWithPath: fixture("hh_small.jsonl")))
        for _ in 0..<20 { input.fileHandleForWriting.write(line) }
        var spooled = false
        for _ in 0..<100 where !spooled {
            usleep(50_000)
            spooled = !((try? FileManager.default.contentsOfDirectory(atPath: spoolDir)) ?? []).isEmpty
        }
        XCTAssertTrue(spooled, "the stdin spool exists while the run is going")
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        let msg = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(p.terminationStatus, 128 + SIGTERM)
        XCTAssertTrue(msg.contains("interrupted by SIGTERM"), msg)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: spoolDir), [], "the spool is removed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/out.jsonl"))
        XCTAssertEqual(temps(d).filter { $0 != "tmp" }, [])
    }

    func testDedupPublishesEveryOutputBeforeTheSummary() throws {
        let d = tempDir()
        let input = d + "/pairs.jsonl"
        XCTAssertEqual(try run(["convert", try hh(d), "-o", input, "-q"]).code, 0)
        let r = try run(["dedup", input, input, "-o", d + "/o.jsonl", "--clusters", d + "/c.jsonl",
                         "--removed", d + "/r.jsonl", "--summary-json", d + "/s.json"])
        XCTAssertEqual(r.code, 0, r.err)
        func mtime(_ p: String) -> Double { ((try? FileManager.default.attributesOfItem(atPath: p)[.modificationDate]) as? Date)?.timeIntervalSince1970 ?? .infinity }
        for f in ["o.jsonl", "c.jsonl", "r.jsonl"] { XCTAssertLessThanOrEqual(mtime(d + "/" + f), mtime(d + "/s.json"), f) }
        XCTAssertTrue(r.err.hasSuffix("\n") && r.err.contains("output:"), r.err)
    }

    func testMemoryStaysBoundedWhateverTheShapeOfTheInput() throws {
        let d = tempDir()
        // A 150 MB line under a 1 MB record limit, auto-detected and with --from hh.
        let big = d + "/big.jsonl"
        XCTAssertTrue(FileManager.default.createFile(atPath: big, contents: nil))
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: big))
        h.write(Data("{\"chosen\": \"\\n\\nHuman: hi\\n\\nAssistant: ".utf8))
        let chunk = Data(repeating: UInt8(ascii: "x"), count: 1 << 20)
        for _ in 0..<150 { h.write(chunk) }
        h.write(Data("\", \"rejected\": \"\\n\\nHuman: hi\\n\\nAssistant: no\"}\n".utf8))
        h.write(try Data(contentsOf: URL(fileURLWithPath: fixture("hh_small.jsonl"))))
        try h.close()
        for from in ["auto", "hh"] {
            let r = try run(["convert", big, "--from", from, "-o", d + "/o.jsonl", "--max-record-bytes", "1000000", "--summary-json", d + "/s.json"])
            XCTAssertEqual(r.code, 1, "one record rejected (\(from))")
            let peak = try summary(d + "/s.json")["peak_rss_mb"] as! Int
            XCTAssertLessThan(peak, 100, "--from \(from): memory stays near the 1 MB record limit (was 441 MB)")
        }
        try FileManager.default.removeItem(atPath: big)
        // One question with 8,000 answers under a 64 KB join budget (was 1.2 GB).
        var xml = "<posts>\n<row Id=\"1\" PostTypeId=\"1\" Title=\"q\" Body=\"x\" />\n"
        for i in 2...8001 { xml += "<row Id=\"\(i)\" PostTypeId=\"2\" ParentId=\"1\" Body=\"answer \(i)\" Score=\"\(i % 1000)\" />\n" }
        try (xml + "</posts>\n").write(toFile: d + "/Posts.xml", atomically: false, encoding: .utf8)
        let r = try run(["convert", d + "/Posts.xml", "-o", d + "/se.jsonl", "--memory-limit", "64K", "--summary-json", d + "/s2.json"])
        XCTAssertEqual(r.code, 0)
        XCTAssertLessThan(try summary(d + "/s2.json")["peak_rss_mb"] as! Int, 100, "8,000 answers to one question (was 1.2 GB)")
    }

    // MARK: Flags

    func testEveryBadNumberGetsItsRangeNotACrash() throws {
        let d = tempDir()
        let input = try hh(d)
        let o = d + "/o"
        let cases: [([String], String)] = [
            (["dedup", input, "-o", o, "--ngram", "0"], "--ngram must be in 1...64"),
            (["dedup", input, "-o", o, "--num-perm", "0"], "--num-perm must be in 16...4096"),
            (["dedup", input, "-o", o, "--num-perm", "1"], "--num-perm must be in 16...4096"),
            (["dedup", input, "-o", o, "--threshold", "nan"], "--threshold"),
            (["sft", input, "-o", o, "--steps", "0"], "--steps must be in 1..."),
            (["sft", input, "-o", o, "--steps=-5"], "--steps must be in 1..."),
            (["sft", input, "-o", o, "--steps", "-5"], "--steps must be in 1..."),
            (["sft", input, "-o", o, "--batch-size=-2"], "--batch-size must be in 1...4096"),
            (["sft", input, "-o", o, "--batch-size", "0"], "--batch-size must be in 1...4096"),
            (["sft", input, "-o", o, "--lr", "nan"], "--lr must be a finite number"),
            (["sft", input, "-o", o, "--threads", "0"], "--threads must be in 1...256"),
            (["sft", input, "-o", o, "--threads", "100000"], "--threads must be in 1...256"),
            (["score", input, "-o", o, "--batch-size=-1"], "--batch-size must be in 1...4096"),
            (["score", input, "-o", o, "--batch-size", "0"], "--batch-size must be in 1...4096"),
            (["score", input, "-o", o, "--dpo-steps", "0"], "--dpo-steps must be in 1..."),
            (["score", input, "-o", o, "--dpo-steps", "-3"], "--dpo-steps must be in 1..."),
            (["score", input, "-o", o, "--eval-fraction", "1.5"], "--eval-fraction must be in 0.01...0.9"),
            (["score", input, "-o", o, "--beta", "0,0.1"], "--beta takes numbers in (0, 100]"),
            (["convert", input, "-o", o, "--threads", "0"], "--threads must be in 1...256"),
            (["convert", input, "-o", o, "--max-record-bytes", "0"], "--max-record-bytes must be in 64..."),
            (["convert", input, "-o", o, "--zstd-level", "40"], "--zstd-level must be in 1...22"),
            (["filter", input, "-o", o, "--max-pairs-per-prompt", "0"], "--max-pairs-per-prompt must be at least 1"),
            (["filter", input, "-o", o, "--prompt-chars", "-3:5"], "whole numbers >= 0"),
            (["split", input, "-o", o, "--test", "1.5"], "--test and --valid"),
            (["decontaminate", input, "--against", input, "-o", o, "--ngram", "0"], "--ngram must be in 1...64"),
            (["logps", input, "--model", d, "-o", o, "--batch-size", "0"], "--batch-size must be in 1...4096"),
            (["stats", input, "--threads", "-1"], "--threads must be in 1...256"),
        ]
        for (args, expected) in cases {
            let r = try run(args)
            XCTAssertEqual(r.code, 2, "\(args): \(r.err)")
            XCTAssertTrue(r.err.contains(expected), "\(args): expected '\(expected)' in: \(r.err)")
            XCTAssertFalse(r.err.contains("Missing value"), "\(args)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: o), "\(args): nothing was written")
        }
    }

    // MARK: Accounting, exit codes and messages

    func testStrictSummarySaysNothingWasPublished() throws {
        let d = tempDir()
        let r = try run(["convert", fixture("hh_small.jsonl"), fixture("bad_trl.jsonl"), "-o", d + "/out.jsonl", "--strict", "--summary-json", d + "/s.json"])
        XCTAssertEqual(r.code, 3, r.err)
        let s = try summary(d + "/s.json")
        XCTAssertEqual(s["status"] as? String, "stopped_by_strict")
        XCTAssertEqual(s["published"] as? Bool, false)
        XCTAssertEqual(s["written"] as? Int, 0)
        XCTAssertEqual((s["outputs"] as? [String]) ?? ["?"], [])
        let rejected = (s["rejected"] as! [String: Int]).values.reduce(0, +)
        XCTAssertEqual(rejected, 1, "the record that stopped the run is counted")
        let removed = (s["removed"] as! [String: Int]).values.reduce(0, +)
        XCTAssertEqual(s["read"] as! Int, (s["written"] as! Int) + removed + rejected + (s["discarded"] as! Int))
        XCTAssertNotNil((s["stopped_at"] as? [String: Any])?["line"])
        XCTAssertTrue(r.err.contains("nothing published"), r.err)
    }

    func testExitCodesAreDistinct() throws {
        let d = tempDir()
        let input = try hh(d)
        XCTAssertEqual(try run(["convert", input, "-o", d + "/ok.jsonl", "-q"]).code, 0)
        XCTAssertEqual(try run(["convert", fixture("bad_trl.jsonl"), "-o", d + "/rej.jsonl", "-q"]).code, 1, "records rejected, output written")
        XCTAssertEqual(try run(["convert", input, "--no-such-flag"]).code, 2, "usage")
        let missing = try run(["convert", d + "/missing.jsonl", "-o", d + "/m.jsonl"])
        XCTAssertEqual(missing.code, 2)
        XCTAssertTrue(missing.err.contains("input not found"), missing.err)
        let io = try run(["convert", input, "-o", d + "/no/such/dir/out.jsonl"])
        XCTAssertEqual(io.code, 3, "I/O: \(io.err)")
        XCTAssertTrue(io.err.contains("no/such/dir/out.jsonl") && !io.err.contains(".tmp."), io.err)
        XCTAssertFalse(io.err.contains("Usage:"), io.err)
        XCTAssertEqual(try run(["convert", fixture("bad_trl.jsonl"), "-o", d + "/s.jsonl", "--strict", "-q"]).code, 3)
        // stats reports rejected records with exit status 1, like every command.
        let st = try run(["stats", fixture("bad_trl.jsonl")])
        XCTAssertEqual(st.code, 1, st.err)
    }

    func testFilterConfigMistakesAreOneSentence() throws {
        let d = tempDir()
        let input = try hh(d)
        let cases: [(String, String)] = [
            (bad("filter_config_malformed.json"), "not valid JSON at line 4, column"),
            (bad("filter_config_wrong_type.json"), "\"value\" must be a number, got a string"),
            (bad("filter_config_not_a_list.json"), "\"filters\" must be a list of objects, got an object"),
            (bad("filter_config_unknown_filter.json"), "unknown filter \"no-such-filter\""),
            (d + "/missing.json", "cannot read the file"),
        ]
        for (cfg, expected) in cases {
            let r = try run(["filter", input, "-o", d + "/o.jsonl", "--config", cfg])
            XCTAssertEqual(r.code, 2, r.err)
            XCTAssertTrue(r.err.contains(expected), "expected '\(expected)' in \(r.err)")
            XCTAssertTrue(r.err.contains(cfg), "names the file: \(r.err)")
            XCTAssertFalse(r.err.contains("NSCocoaErrorDomain"), r.err)
            XCTAssertLessThanOrEqual(r.err.split(separator: "\n").count, 2, r.err)
        }
    }

    func testScoreOnTinyDataWarnsAndAFailedRunLeavesNoDirectory() throws {
        let d = tempDir()
        let tiny = ["--n-layer", "1", "--n-embd", "16", "--n-head", "2", "--vocab-size", "300", "--sft-steps", "2", "--dpo-steps", "2", "--max-length", "64", "--max-prompt-length", "32", "-q"]
        // Three pairs: no eval split possible; the run fails and removes the directory it made.
        let three = d + "/three.jsonl"
        let lines = try String(contentsOfFile: fixture("hh_small.jsonl"), encoding: .utf8).split(separator: "\n").prefix(3)
        try (lines.joined(separator: "\n") + "\n").write(toFile: three, atomically: true, encoding: .utf8)
        let converted = d + "/three.norm.jsonl"
        XCTAssertEqual(try run(["convert", three, "-o", converted, "-q"]).code, 0)
        var r = try run(["score", converted, "-o", d + "/run3"] + tiny)
        if r.code != 0 {
            XCTAssertEqual(r.code, 3, r.err)
            XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/run3"), "no empty run directory is left")
        } else {
            XCTAssertTrue(r.out.contains("warning: only"), r.out)
        }
        // Forty pairs: a score, with the small-sample warning in score.json and on screen.
        let all = d + "/all.norm.jsonl"
        XCTAssertEqual(try run(["convert", fixture("hh_small.jsonl"), "-o", all, "-q"]).code, 0)
        r = try run(["score", all, "-o", d + "/run40"] + tiny)
        XCTAssertEqual(r.code, 0, r.err)
        let s = try summary(d + "/run40/score.json")
        XCTAssertFalse((s["warnings"] as? [String] ?? []).isEmpty)
        XCTAssertTrue(r.out.contains("warning: only"), r.out)
    }

    func testCompareFromTheCommandLine() throws {
        let d = tempDir()
        let a = d + "/a.jsonl", b = d + "/b.jsonl"
        XCTAssertEqual(try run(["convert", fixture("hh_small.jsonl"), "-o", a, "-q"]).code, 0)
        // b: the same pairs with every third label swapped (those are not evaluated on: no agreed label).
        let lines = try String(contentsOfFile: a, encoding: .utf8).split(separator: "\n")
        let swapped = try lines.enumerated().map { k, l -> String in
            if k % 3 != 0 { return String(l) }
            var o = try JSONSerialization.jsonObject(with: Data(l.utf8)) as! [String: Any]
            (o["chosen"], o["rejected"]) = (o["rejected"], o["chosen"])
            return String(decoding: try JSONSerialization.data(withJSONObject: o), as: UTF8.self)
        }
        try (swapped.joined(separator: "\n") + "\n").write(toFile: b, atomically: true, encoding: .utf8)
        let tiny = ["--n-layer", "1", "--n-embd", "16", "--n-head", "2", "--vocab-size", "300", "--sft-steps", "2", "--dpo-steps", "2",
                    "--max-length", "64", "--max-prompt-length", "32", "-q"]
        let r = try run(["compare", a, b, "-o", d + "/cmp", "--names", "orig,swapped"] + tiny)
        XCTAssertEqual(r.code, 0, r.err)
        let j = try summary(d + "/cmp/compare.json")
        XCTAssertEqual(Set(j["ranking"] as! [String]), ["orig", "swapped"])
        XCTAssertEqual((j["comparisons"] as! [[String: Any]]).count, 1)
        XCTAssertTrue(r.out.contains("ranking"), r.out)
        XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/cmp/report.html"))
        XCTAssertEqual(try run(["compare", a, "-o", d + "/one"] + tiny).code, 2, "one dataset is a usage error")
        XCTAssertEqual(try run(["compare", a, b, "-o", d + "/n", "--names", "x"] + tiny).code, 2)
        XCTAssertEqual(try run(["score", a, "-o", d + "/s", "--metric", "nope"]).code, 2, "enum values are checked in parsing")
    }
}
