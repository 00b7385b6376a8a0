import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Issue 22 (hostile input, round 2; reproductions in ../shared/reviews/hostile-inputs-2026-12-03.md)
/// at the command line: symlink races, data lost by other routes, streams read once, locks on
/// shared directories, the run's outputs published together.
final class HostileRound2Tests: CLITestCase {
    /// Normalized pairs, one per line (the review's `mkpairs.py`).
    func pairs(_ n: Int, to path: String, tag: String = "") throws {
        var s = ""
        for k in 0..<n {
            s += "{\"id\": \"\(tag)\(k)\", \"source\": \"s\", \"prompt\": [{\"role\": \"user\", \"content\": \"question \(k) about topic \(k * 7)\"}], "
            s += "\"chosen\": [{\"role\": \"assistant\", \"content\": \"a careful helpful answer \(k)\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": \"no \(k)\"}]}\n"
        }
        try s.write(toFile: path, atomically: false, encoding: .utf8)
    }

    func read(_ p: String) -> String { (try? String(contentsOfFile: p, encoding: .utf8)) ?? "<missing>" }
    func lines(_ p: String) -> Int { read(p).split(separator: "\n").count }
    func entries(_ d: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: d)) ?? []).sorted() }

    /// Runs a shell command line (for redirections and pipes a Process cannot express).
    @discardableResult
    func sh(_ script: String, env: [String: String] = [:]) throws -> (code: Int32, out: String, err: String) {
        try run(["-c", "PK=" + binary + "; " + script], executable: "/bin/sh", env: env)
    }

    func pidMax() -> Int {
        min(65536, Int((try? String(contentsOfFile: "/proc/sys/kernel/pid_max", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 32768)
    }

    // MARK: D1, D2: temp files with names nobody can plant

    func testStdinSpoolAndOutputTempsIgnorePlantedLinks() throws {
        let d = tempDir()
        let shared = d + "/shtmp"
        XCTAssertEqual(mkdir(shared, 0o1777), 0); chmod(shared, 0o1777)
        let victim = d + "/victim.txt"
        try "secret\n".write(toFile: victim, atomically: false, encoding: .utf8)
        chmod(victim, 0o600)
        // Links under every name 0.2 used: the stdin spool in $TMPDIR and OUT.tmp.<pid>.1 beside the output.
        let out = d + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        for p in 1...pidMax() {
            symlink(victim, shared + "/prefkit-stdin-\(p)-0.jsonl")
            symlink(victim, out + "/o.jsonl.tmp.\(p).1")
        }
        try pairs(3, to: d + "/in.jsonl")
        var r = try sh("$PK filter - -o \(out)/f.jsonl --empty -q < \(d)/in.jsonl", env: ["TMPDIR": shared])
        XCTAssertEqual(r.code, 0, r.err)
        r = try run(["convert", d + "/in.jsonl", "-o", out + "/o.jsonl", "-q"])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertEqual(read(victim), "secret\n", "the planted links were never written through")
        var st = stat()
        XCTAssertEqual(stat(victim, &st), 0); XCTAssertEqual(st.st_mode & 0o777, 0o600)
        for o in [out + "/f.jsonl", out + "/o.jsonl"] {
            XCTAssertEqual(lstat(o, &st), 0); XCTAssertEqual(st.st_mode & S_IFMT, S_IFREG, "\(o) is a regular file, not a link")
            XCTAssertEqual(lines(o), 3)
        }
        XCTAssertEqual(entries(shared).filter { !$0.hasPrefix("prefkit-stdin-") }, [], "the spool is gone")
    }

    func testForeignSymlinkInASharedDirectoryIsNotFollowed() throws {
        guard geteuid() == 0 else { throw XCTSkip("needs root to give a link to another user") }
        let d = tempDir()
        let shared = d + "/shared"
        XCTAssertEqual(mkdir(shared, 0o1777), 0); chmod(shared, 0o1777)
        let victim = d + "/victim.txt"
        try "secret\n".write(toFile: victim, atomically: false, encoding: .utf8)
        symlink(victim, shared + "/out.jsonl")
        XCTAssertEqual(lchown(shared + "/out.jsonl", 65534, 65534), 0)
        try pairs(2, to: d + "/in.jsonl")
        let r = try run(["convert", d + "/in.jsonl", "-o", shared + "/out.jsonl", "-q"])
        XCTAssertEqual(r.code, 2, r.err)
        XCTAssertTrue(r.err.contains("owned by another user"), r.err)
        XCTAssertEqual(read(victim), "secret\n")
        // The caller's own link is followed as before (cli.md).
        let own = d + "/own.jsonl"
        symlink(victim, own)
        XCTAssertEqual(try run(["convert", d + "/in.jsonl", "-o", own, "-q"]).code, 0)
        XCTAssertEqual(lines(victim), 2)
    }

    // MARK: D5, D6, D18: inputs read once, stdin that is the output, directories

    func testStdinThatIsTheOutputIsRefused() throws {
        let d = tempDir()
        try pairs(4, to: d + "/raw.jsonl")
        let before = read(d + "/raw.jsonl")
        for cmd in ["convert - -o raw.jsonl", "filter - -o raw.jsonl --empty", "convert /dev/stdin -o raw.jsonl"] {
            let r = try sh("cd \(d) && $PK \(cmd) < raw.jsonl")
            XCTAssertEqual(r.code, 2, "\(cmd): \(r.err)")
            XCTAssertTrue(r.err.contains("refusing to overwrite an input"), r.err)
            XCTAssertEqual(read(d + "/raw.jsonl"), before, cmd)
        }
    }

    func testPipesFIFOsAndProcessSubstitutionAreReadOnce() throws {
        let d = tempDir()
        try pairs(200, to: d + "/p.jsonl")
        // Process substitution and /dev/stdin on a pipe: every record, for a one-pass and a two-pass command.
        for (cmd, out) in [("convert /dev/stdin -o a.jsonl -q", "a.jsonl"), ("filter /dev/stdin -o b.jsonl --empty -q", "b.jsonl"),
                           ("dedup /dev/stdin -o c.jsonl -q", "c.jsonl"), ("stats /dev/stdin --json s.json", "s.json")] {
            let r = try sh("cd \(d) && cat p.jsonl | $PK \(cmd)")
            XCTAssertEqual(r.code, 0, "\(cmd): \(r.err)")
            if out == "s.json" {
                XCTAssertTrue(read(d + "/" + out).contains("\"pairs\": 200"), read(d + "/" + out).prefix(300).description)
            } else {
                XCTAssertEqual(lines(d + "/" + out), 200, cmd)
            }
        }
        if FileManager.default.isExecutableFile(atPath: "/bin/bash") {
            let r = try run(["-c", "\(binary) convert <(cat \(d)/p.jsonl) -o \(d)/ps.jsonl -q"], executable: "/bin/bash")
            XCTAssertEqual(r.code, 0, r.err)
            XCTAssertEqual(lines(d + "/ps.jsonl"), 200)
        }
        // A FIFO: opened once, never blocks in a second open.
        let fifo = d + "/f"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        for (cmd, out) in [(["convert"], "fa.jsonl"), (["filter", "--empty"], "fb.jsonl")] {
            let writer = Process()
            writer.executableURL = URL(fileURLWithPath: "/bin/sh")
            writer.arguments = ["-c", "cat \(d)/p.jsonl > \(fifo)"]
            try writer.run()
            let r = try run(["-c", "timeout 20 \(binary) \(cmd[0]) \(fifo) -o \(d)/\(out) \(cmd.dropFirst().joined(separator: " ")) -q"], executable: "/bin/sh")
            writer.waitUntilExit()
            XCTAssertEqual(r.code, 0, "\(cmd): \(r.err)")
            XCTAssertEqual(lines(d + "/" + out), 200, "\(cmd)")
        }
        XCTAssertEqual(entries(d).filter { $0.contains(".tmp.") }, [])
    }

    func testDirectoryWalkEntersEachDirectoryOnceAndSkipsDevices() throws {
        let d = tempDir()
        try FileManager.default.createDirectory(atPath: d + "/in/sub", withIntermediateDirectories: true)
        try pairs(5, to: d + "/in/a.jsonl")
        symlink("..", d + "/in/sub/up")
        symlink(d + "/in", d + "/in/sub/abs")
        XCTAssertEqual(mkfifo(d + "/in/sub/pipe.jsonl", 0o644), 0)
        let r = try run(["-c", "timeout 20 \(binary) filter \(d)/in -o \(d)/o.jsonl --empty"], executable: "/bin/sh")
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertTrue(r.err.contains("5 read = 5 written"), r.err)
    }

    // MARK: D25, P17: one run at a time in a shared directory

    func testShardDirectoryAndRunDirectoryAreLocked() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/flock") else { throw XCTSkip("flock(1) is not installed") }
        let d = tempDir()
        try pairs(20, to: d + "/in.jsonl")
        try FileManager.default.createDirectory(atPath: d + "/out", withIntermediateDirectories: true)
        // Another run holds the directory (flock on the directory itself, as prefkit takes it): a
        // second shard set there is refused at once, before anything is written.
        var r = try sh("flock \(d)/out sleep 3 & sleep 0.3; $PK convert \(d)/in.jsonl -o \(d)/out/ --shard-size 7 -q; echo second=$?; wait")
        XCTAssertTrue(r.out.contains("second=2"), r.out + r.err)
        XCTAssertTrue(r.err.contains("is being written by another prefkit run"), r.err)
        XCTAssertEqual(entries(d + "/out"), [])
        // Free again: the set is written; the tasks of a sharded run share the directory.
        r = try sh("$PK convert \(d)/in.jsonl -o \(d)/out/ --shard-size 7 -q && $PK filter \(d)/in.jsonl -o \(d)/sh/ --empty --shard-index 0 --shard-count 2 -q && echo ok")
        XCTAssertTrue(r.out.contains("ok"), r.err)
        XCTAssertEqual(entries(d + "/out").filter { $0.hasPrefix("part-") }.count, 3)
        // A pipeline's run directory: a second pipeline there is refused at once.
        try FileManager.default.createDirectory(atPath: d + "/run", withIntermediateDirectories: true)
        try "run: run\ninputs: [in.jsonl]\nstages:\n  - filter: {empty: true}\n".write(toFile: d + "/p.yaml", atomically: false, encoding: .utf8)
        r = try sh("flock \(d)/run sleep 3 & sleep 0.3; $PK pipeline \(d)/p.yaml -q; echo code=$?; wait")
        XCTAssertTrue(r.out.contains("code=2"), r.out + r.err)
        XCTAssertTrue(r.err.contains("is being written by another prefkit run"), r.err)
    }

    // MARK: D3, D23, D24, P16, P18: the pipeline owns only what it made

    func pipeline(_ d: String, _ yaml: String) throws { try yaml.write(toFile: d + "/p.yaml", atomically: false, encoding: .utf8) }

    func testPipelineNeverDeletesWhatItDidNotMake() throws {
        let d = tempDir()
        try FileManager.default.createDirectory(atPath: d + "/01-convert", withIntermediateDirectories: true)
        try pairs(3, to: d + "/01-convert/raw.jsonl")
        try pipeline(d, "run: .\ninputs: [01-convert/raw.jsonl]\nstages:\n  - convert: {}\n  - filter: {empty: true}\n")
        var r = try run(["pipeline", d + "/p.yaml", "-q"])
        XCTAssertEqual(r.code, 2, r.err)
        XCTAssertTrue(r.err.contains("lies inside the stage directory"), r.err)
        XCTAssertEqual(lines(d + "/01-convert/raw.jsonl"), 3)
        // A directory of the user's own where a stage directory goes: refused, not emptied.
        try pairs(3, to: d + "/raw.jsonl")
        try FileManager.default.createDirectory(atPath: d + "/r2/01-convert", withIntermediateDirectories: true)
        try "mine".write(toFile: d + "/r2/01-convert/notes.txt", atomically: false, encoding: .utf8)
        try pipeline(d, "run: r2\ninputs: [raw.jsonl]\nstages:\n  - convert: {}\n")
        r = try run(["pipeline", d + "/p.yaml", "-q"])
        XCTAssertNotEqual(r.code, 0, r.err)
        XCTAssertTrue(r.err.contains("was not made by prefkit pipeline"), r.err)
        XCTAssertEqual(read(d + "/r2/01-convert/notes.txt"), "mine")
    }

    func testResumeTrustsNoPathFromTheManifest() throws {
        let d = tempDir()
        try pairs(5, to: d + "/in.jsonl")
        try pipeline(d, "run: run\ninputs: [in.jsonl]\nstages:\n  - convert: {}\n  - filter: {empty: true}\n  - stats\n")
        XCTAssertEqual(try run(["pipeline", d + "/p.yaml", "-q"]).code, 0)
        let mpath = d + "/run/manifest.json"
        func edit(_ f: (inout [String: Any]) -> Void) throws {
            var m = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: mpath))) as! [String: Any]
            f(&m)
            try JSONSerialization.data(withJSONObject: m).write(to: URL(fileURLWithPath: mpath))
        }
        // D23: a path outside the run (a FIFO) is never opened: the rerun does not hang.
        XCTAssertEqual(mkfifo(d + "/fifo", 0o644), 0)
        try edit { m in
            var st = m["stages"] as! [[String: Any]]
            var outs = st[0]["outputs"] as! [[String: Any]]
            outs.append(["path": "../fifo", "bytes": 1, "sha256": "00"])
            st[0]["outputs"] = outs; m["stages"] = st
        }
        var r = try run(["-c", "timeout 30 \(binary) pipeline \(d)/p.yaml"], executable: "/bin/sh")
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertTrue(r.err.contains("../fifo is missing"), r.err)
        // P18: a deleted output dropped from the manifest too: the stage still runs again.
        let data = d + "/run/02-filter/pairs.jsonl.zst"
        XCTAssertTrue(FileManager.default.fileExists(atPath: data))
        unlink(data)
        try edit { m in
            var st = m["stages"] as! [[String: Any]]
            st[1]["outputs"] = (st[1]["outputs"] as! [[String: Any]]).filter { !(($0["path"] as? String) ?? "").hasSuffix("pairs.jsonl.zst") }
            m["stages"] = st
        }
        r = try run(["pipeline", d + "/p.yaml"])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: data), r.err)
        // P16: a report link with a scheme is text, not a link.
        try edit { m in
            var st = m["stages"] as! [[String: Any]]
            st[2]["reports"] = [["title": "x", "path": "javascript:alert(document.domain)"]]
            m["stages"] = st
        }
        r = try run(["pipeline", d + "/p.yaml", "-q"])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertFalse(read(d + "/run/index.html").contains("href=\"javascript:"))
    }

    func testSIGTERMStopsTheRunningStage() throws {
        let d = tempDir()
        var s = ""
        for k in 0..<300_000 { s += "{\"chosen\": \"\\n\\nHuman: q\(k)?\\n\\nAssistant: good \(k)\", \"rejected\": \"\\n\\nHuman: q\(k)?\\n\\nAssistant: bad \(k)\"}\n" }
        try s.write(toFile: d + "/big.jsonl", atomically: false, encoding: .utf8)
        try pipeline(d, "run: run\ninputs: [big.jsonl]\nthreads: 1\nstages:\n  - convert: {}\n  - dedup: {}\n")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["pipeline", d + "/p.yaml", "-q"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait until the dedup stage runs, then stop the pipeline.
        var child: Int32 = 0
        for _ in 0..<600 where child == 0 {
            usleep(50_000)
            let r = try run(["-c", "pgrep -P \(p.processIdentifier) -f dedup || true"], executable: "/bin/sh")
            child = Int32(r.out.split(separator: "\n").first ?? "") ?? 0
        }
        XCTAssertNotEqual(child, 0, "the dedup stage started")
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 128 + SIGTERM)
        XCTAssertNotEqual(kill(child, 0), 0, "the stage stopped with the pipeline")
        usleep(500_000)
        XCTAssertEqual(entries(d + "/run/02-dedup").filter { !$0.hasPrefix(".") && $0 != "logs" }, [], "nothing was published after the stop")
    }

    // MARK: D4, P9, P10, P12: side files published with the data, or nothing

    func testLlamaFactoryRegistryIsMergedAndPublishedWithTheData() throws {
        let d = tempDir()
        try pairs(5, to: d + "/pairs.jsonl")
        try FileManager.default.createDirectory(atPath: d + "/data", withIntermediateDirectories: true)
        try "{\"other_a\": {\"file_name\": \"a.json\"}, \"other_b\": {\"file_name\": \"b.json\"}}\n".write(toFile: d + "/data/dataset_info.json", atomically: false, encoding: .utf8)
        var r = try run(["export", d + "/pairs.jsonl", "--to", "llamafactory", "-o", d + "/data/mine.json"])
        XCTAssertEqual(r.code, 0, r.err)
        let reg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/data/dataset_info.json"))) as! [String: Any]
        XCTAssertEqual(Set(reg.keys), ["other_a", "other_b", "mine"])
        XCTAssertTrue(r.err.contains("entry 'mine' added"), r.err)
        // P10: a registry that cannot be written publishes nothing.
        try FileManager.default.createDirectory(atPath: d + "/a/dataset_info.json", withIntermediateDirectories: true)
        r = try run(["export", d + "/pairs.jsonl", "--to", "llamafactory", "-o", d + "/a/out.json"])
        XCTAssertEqual(r.code, 2, r.err)
        XCTAssertEqual(entries(d + "/a"), ["dataset_info.json"])
        // A registry that is not JSON is the user's file: refused, kept, nothing published.
        try "not json".write(toFile: d + "/data/dataset_info.json", atomically: false, encoding: .utf8)
        r = try run(["export", d + "/pairs.jsonl", "--to", "llamafactory", "-o", d + "/data/x.json"])
        XCTAssertEqual(r.code, 2, r.err)
        XCTAssertEqual(read(d + "/data/dataset_info.json"), "not json")
        XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/data/x.json"))
        // P9: the summary may not name the registry.
        r = try run(["export", d + "/pairs.jsonl", "--to", "llamafactory", "-o", d + "/e.json", "--summary-json", d + "/dataset_info.json"])
        XCTAssertEqual(r.code, 2, r.err)
        XCTAssertTrue(r.err.contains("name the same file"), r.err)
    }

    func testAFailingSideFilePublishesNothing() throws {
        guard FileManager.default.fileExists(atPath: "/dev/full") else { throw XCTSkip("/dev/full is absent") }
        let d = tempDir()
        try pairs(5, to: d + "/in.jsonl")
        try "not json\n".write(toFile: d + "/bad.jsonl", atomically: false, encoding: .utf8)
        for args in [["convert", d + "/in.jsonl", "-o", d + "/o1.jsonl", "--summary-json", "/dev/full"],
                     ["convert", d + "/bad.jsonl", "-o", d + "/o2.jsonl", "--rejects", "/dev/full"],
                     ["filter", d + "/in.jsonl", "-o", d + "/o3.jsonl", "--empty", "--summary-json", "/dev/full"],
                     ["export", d + "/in.jsonl", "--to", "trl", "-o", d + "/o4.jsonl", "--summary-json", "/dev/full"]] {
            let r = try run(args + ["-q"])
            XCTAssertEqual(r.code, 3, "\(args): \(r.err)")
        }
        XCTAssertEqual(entries(d), ["bad.jsonl", "in.jsonl"], "no output, no temp file")
    }

    // MARK: P21: names from outside never drive the terminal

    func testControlCharactersInNamesAreEscaped() throws {
        let d = tempDir()
        let name = d + "/esc\u{1b}]0;TITLE\u{07}\u{1b}[31mred\nline.jsonl"
        try "x\n".write(toFile: name, atomically: false, encoding: .utf8)
        let r = try run(["convert", name, "--from", "hh", "-o", d + "/o.jsonl"])
        XCTAssertEqual(r.code, 1, r.err)
        XCTAssertFalse(r.err.contains("\u{1b}"), r.err)
        XCTAssertTrue(r.err.contains("\\x1b"), r.err)
        XCTAssertFalse(r.err.contains("red\nline"), "a newline in a name does not split a line")
    }
}
