import Foundation
import XCTest
import TestSupport

/// What a person sees: errors as one sentence and a hint with the documented exit status, progress
/// on long work, shell completions.
final class UsabilityTests: CLITestCase {
    /// One "error:" sentence, one "hint:" line, no ArgumentParser banner or stack trace.
    func assertActionable(_ r: (code: Int32, out: String, err: String), code: Int32, mentions: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.code, code, r.err, file: file, line: line)
        let lines = r.err.split(separator: "\n").filter { !$0.hasPrefix("prefkit: rejected") }
        XCTAssertEqual(lines.filter { $0.contains(": error: ") }.count, 1, r.err, file: file, line: line)
        XCTAssertEqual(lines.filter { $0.hasPrefix("  hint: ") }.count, 1, r.err, file: file, line: line)
        XCTAssertFalse(r.err.contains("Error:") || r.err.contains("Usage:") || r.err.contains("Fatal error"), r.err, file: file, line: line)
        for m in mentions { XCTAssertTrue(r.err.contains(m), "\(m) in: \(r.err)", file: file, line: line) }
    }

    func testErrorsAreOneSentenceAndAHint() throws {
        let d = tempDir()
        assertActionable(try run(["convert", d + "/missing.jsonl", "-o", d + "/o.jsonl"]), code: 2,
                         mentions: ["prefkit convert: error: input not found", "hint: check the path"])
        // A bad value lists the valid ones on one line.
        assertActionable(try run(["convert", fixture("hh_small.jsonl"), "--from", "hhh", "-o", d + "/o.jsonl"]), code: 2,
                         mentions: ["prefkit convert: error: The value 'hhh' is invalid for '--from", "hh, ultrafeedback", "see 'prefkit convert --help'"])
        assertActionable(try run(["score", fixture("hh_small.jsonl"), "-o", d + "/s", "--budget", "huge"]), code: 2,
                         mentions: ["prefkit score: error:", "'quick', 'standard' or 'thorough'"])
        assertActionable(try run(["dedup", "sign", fixture("hh_small.jsonl"), "-o", d + "/sig", "--buckets", "0"]), code: 2,
                         mentions: ["prefkit dedup sign: error:", "buckets"])
        assertActionable(try run(["frobnicate"]), code: 2, mentions: ["prefkit: error: Unexpected argument 'frobnicate'", "commands: convert", "pipeline"])
        // An unreadable model directory: what is missing, and what a model directory is.
        try FileManager.default.createDirectory(atPath: d + "/empty-model", withIntermediateDirectories: true)
        assertActionable(try run(["score", fixture("hh_engine.jsonl.gz"), "-o", d + "/s2", "--model", d + "/empty-model", "--ref-model", d + "/empty-model"]), code: 3,
                         mentions: ["is not a model directory: config.json is missing", "hint: a model directory is"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/s2"), "a failed score leaves no run directory")
    }

    /// A file every record of which fails under a named --from: the summary says what
    /// auto-detection sees. An undetectable file's reject names the formats.
    func testWrongFormatGetsADetectionHint() throws {
        let d = tempDir()
        let r = try run(["convert", fixture("shp.jsonl"), "--from", "hh", "-o", d + "/o.jsonl"])
        XCTAssertEqual(r.code, 1, r.err)
        XCTAssertTrue(r.err.contains("hint: every record of") && r.err.contains("--from auto detects it as shp: try --from shp"), r.err)
        try "{\"foo\": 1}\n".write(toFile: d + "/odd.jsonl", atomically: true, encoding: .utf8)
        let u = try run(["convert", d + "/odd.jsonl", "-o", d + "/u.jsonl"])
        XCTAssertEqual(u.code, 1)
        XCTAssertTrue(u.err.contains("name it with --from (one of hh,") || u.err.contains("name it with --from (one of"), u.err)
        XCTAssertTrue(u.err.contains("stackexchange"), u.err)
    }

    /// Not a terminal: plain periodic lines (every PREFKIT_PROGRESS_SECONDS); --quiet: none.
    func testProgressLinesWhenNotATerminal() throws {
        let input = try Paths.realdata("hh-rlhf_harmless-base_test.jsonl.gz")
        let d = tempDir()
        let r = try run(["convert", input, "-o", d + "/a.jsonl"], env: ["PREFKIT_PROGRESS_SECONDS": "0"])
        XCTAssertEqual(r.code, 0, r.err)
        let lines = r.err.split(separator: "\n").filter { $0.hasPrefix("prefkit convert: ") && $0.contains("%") }
        XCTAssertFalse(lines.isEmpty, r.err)
        XCTAssertTrue(lines.allSatisfy { $0.contains(" of ") && $0.contains("records") && $0.contains("/s") }, r.err)
        XCTAssertFalse(r.err.contains("\u{1B}["), "no escape codes off a terminal")
        let f = try run(["filter", d + "/a.jsonl", "-o", d + "/b.jsonl", "--empty"], env: ["PREFKIT_PROGRESS_SECONDS": "0"])
        XCTAssertTrue(f.err.contains("prefkit filter: ") && f.err.contains("ETA"), f.err)
        // A join (Stack Exchange) reads its dump whole before it pairs answers: its reading shows too.
        let se = try run(["convert", fixture("demo/se_kitchen_Posts.xml"), "-o", d + "/se.jsonl"], env: ["PREFKIT_PROGRESS_SECONDS": "0"])
        XCTAssertEqual(se.code, 0, se.err)
        XCTAssertTrue(se.err.contains("prefkit convert: 100%, 73 kB of 73 kB"), se.err)
        let q = try run(["filter", d + "/a.jsonl", "-o", d + "/c.jsonl", "--empty", "-q"], env: ["PREFKIT_PROGRESS_SECONDS": "0"])
        XCTAssertEqual(q.err, "")
        // The default interval (10 s) prints nothing for work this short.
        let quietDefault = try run(["filter", d + "/a.jsonl", "-o", d + "/e.jsonl", "--empty"])
        XCTAssertFalse(quietDefault.err.contains("%"), quietDefault.err)
    }

    /// On a terminal (a pseudo-terminal from script(1)): a bar redrawn in place, coloured unless
    /// NO_COLOR is set.
    func testProgressBarOnATerminal() throws {
        let input = try Paths.realdata("hh-rlhf_harmless-base_test.jsonl.gz")
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { throw XCTSkip("script(1) is not installed (util-linux)") }
        let d = tempDir()
        func onTTY(_ env: String, _ out: String) throws -> String {
            let cmd = "\(env) PREFKIT_PROGRESS_SECONDS=0 '\(binary)' convert '\(input)' -o '\(d)/\(out)'"
            return try run(["-qec", cmd, "/dev/null"], executable: "/usr/bin/script").out
        }
        let coloured = try onTTY("env -u NO_COLOR TERM=xterm", "a.jsonl")
        XCTAssertTrue(coloured.contains("\r\u{1B}[K"), coloured)
        XCTAssertTrue(coloured.contains("\u{1B}[36m") && coloured.contains("█"), coloured)
        XCTAssertTrue(coloured.contains("ETA"), coloured)
        let plain = try onTTY("env NO_COLOR=1 TERM=xterm", "b.jsonl")
        XCTAssertTrue(plain.contains("\r\u{1B}[K") && plain.contains("["), plain)
        XCTAssertFalse(plain.contains("\u{1B}[36m") || plain.contains("\u{1B}[1m"), plain)
    }

    /// The completion scripts `make install` installs know every command and option.
    func testCompletionScripts() throws {
        for shell in ["bash", "zsh", "fish"] {
            let r = try run(["--generate-completion-script", shell])
            XCTAssertEqual(r.code, 0, r.err)
            for word in ["pipeline", "dedup", "dry-run", "keep"] { XCTAssertTrue(r.out.contains(word), "\(shell): \(word)") }
        }
    }
}
