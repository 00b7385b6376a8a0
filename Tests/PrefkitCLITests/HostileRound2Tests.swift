import Foundation
import XCTest
import PrefIO
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

    // MARK: P13: other signals and crashes leave no temp file

    func testOtherSignalsRemoveTempFiles() throws {
        let d = tempDir()
        var s = ""
        for k in 0..<600_000 { s += "{\"chosen\": \"\\n\\nHuman: q\(k)?\\n\\nAssistant: a\", \"rejected\": \"\\n\\nHuman: q\(k)?\\n\\nAssistant: b\"}\n" }
        try s.write(toFile: d + "/big.jsonl", atomically: false, encoding: .utf8)
        for sig in [SIGUSR1, SIGALRM] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = ["convert", d + "/big.jsonl", "-o", d + "/o.jsonl", "--threads", "1"]
            p.standardError = FileHandle.nullDevice
            try p.run()
            // Signal once the temp output exists.
            for _ in 0..<200 where !entries(d).contains(where: { $0.contains(".tmp.") }) { usleep(20_000) }
            kill(p.processIdentifier, sig)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 128 + sig)
            XCTAssertEqual(entries(d), ["big.jsonl"], "signal \(sig): nothing left behind")
        }
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

    // MARK: D19: phase files with crafted numbers

    /// The review's `phase.py`: edits a phase file's index or rows and fixes its completion marker.
    func craft(_ path: String, _ action: String) throws {
        var d = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = Int(d[(d.count - 16)..<(d.count - 8)].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        var idx = try JSONSerialization.jsonObject(with: Data(d[(d.count - 16 - n)..<(d.count - 16)])) as! [String: Any]
        let body = Array(d[0..<(d.count - 16 - n)])
        func withIndex() throws -> [UInt8] {
            let j = Array(try JSONSerialization.data(withJSONObject: idx))
            var len = UInt64(j.count).littleEndian
            return body + j + withUnsafeBytes(of: &len) { Array($0) } + Array("PKPHASE1".utf8)
        }
        var segs = idx["segments"] as! [[String: Any]]
        switch action {
        case "idxlen_ff": for k in (d.count - 16)..<(d.count - 8) { d[k] = 0xFF }
        case "seg_overflow":
            for k in segs.indices where segs[k]["name"] as? String == "rows" { segs[k]["offset"] = Int64.max; segs[k]["length"] = 1 }
            idx["segments"] = segs; d = try withIndex()
        case "rows_overflow":
            var h = idx["header"] as! [String: Any]; h["rows"] = 1 << 61; idx["header"] = h; d = try withIndex()
        case "idoff_flip":
            let seg = segs.first { $0["name"] as? String == "rows" }!
            let off = seg["offset"] as! Int, count = seg["count"] as! Int, rs = (seg["length"] as! Int) / count
            for k in 0..<count { d[off + k * rs + 55] |= 0x80 }
        default: XCTFail(action)
        }
        try Data(d).write(to: URL(fileURLWithPath: path))
        // The marker is made to agree, so only the file's own checks stand between it and a crash.
        let m = path + ".done.json"
        if var j = try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: m))) as? [String: Any] {
            var outs = j["outputs"] as! [[String: Any]]
            for k in outs.indices where (outs[k]["path"] as! String).hasSuffix((path as NSString).lastPathComponent) {
                outs[k]["bytes"] = d.count
                outs[k]["crc32"] = Int(CRC32.of(d))
            }
            j["outputs"] = outs
            try JSONSerialization.data(withJSONObject: j).write(to: URL(fileURLWithPath: m))
        }
    }

    func testCraftedPhaseFilesAreDamagedNotACrash() throws {
        let d = tempDir()
        var s = ""
        for k in 0..<60 {
            s += "{\"id\": \"p\(k)\", \"source\": \"s\", \"prompt\": [{\"role\": \"user\", \"content\": \"How do I repair the broken item number \(k / 3) in my old kitchen drawer quickly and safely today\(k % 3 == 2 ? " again" : "")\"}], "
            s += "\"chosen\": [{\"role\": \"assistant\", \"content\": \"Take out drawer \(k / 3), tighten the screws, glue the joint and let it dry overnight.\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": \"Buy a new one.\"}]}\n"
        }
        try s.write(toFile: d + "/near.jsonl", atomically: false, encoding: .utf8)
        for action in ["idxlen_ff", "seg_overflow", "rows_overflow", "idoff_flip"] {
            try? FileManager.default.removeItem(atPath: d + "/sig"); try? FileManager.default.removeItem(atPath: d + "/cl")
            XCTAssertEqual(try run(["dedup", "sign", d + "/near.jsonl", "-o", d + "/sig/", "-q"]).code, 0)
            try craft(d + "/sig/sign-00000-of-00001.bin", action)
            let r = try run(["dedup", "cluster", d + "/sig", "-o", d + "/cl/"])
            XCTAssertEqual(r.code, 3, "\(action): \(r.err)")
            XCTAssertTrue(r.err.contains("damaged") || r.err.contains("does not match"), "\(action): \(r.err)")
        }
        // P20: a sign file cut short is damage (exit 3, as scale-out.md says), not a usage error.
        try? FileManager.default.removeItem(atPath: d + "/sig"); try? FileManager.default.removeItem(atPath: d + "/cl")
        XCTAssertEqual(try run(["dedup", "sign", d + "/near.jsonl", "-o", d + "/sig/", "-q"]).code, 0)
        let sign = d + "/sig/sign-00000-of-00001.bin"
        let whole = try Data(contentsOf: URL(fileURLWithPath: sign))
        try whole.prefix(whole.count - 100).write(to: URL(fileURLWithPath: sign))
        let cut = try run(["dedup", "cluster", d + "/sig", "-o", d + "/cl/"])
        XCTAssertEqual(cut.code, 3, cut.err)
        XCTAssertTrue(cut.err.contains("damaged"), cut.err)
        try? FileManager.default.removeItem(atPath: d + "/st")
        XCTAssertEqual(try run(["stats", d + "/near.jsonl", "-o", d + "/st/", "--shard-index", "0", "--shard-count", "1"]).code, 0)
        try craft(d + "/st/stats-00000-of-00001.bin", "idxlen_ff")
        let r = try run(["stats", "--merge", d + "/st", "--json", d + "/s.json"])
        XCTAssertEqual(r.code, 3, r.err)
        XCTAssertTrue(r.err.contains("damaged"), r.err)
    }

    // MARK: D7, D20: model directories that lie

    func testModelFilesThatLieAreRefusedBeforeAllocating() throws {
        let d = tempDir()
        try pairs(60, to: d + "/p.jsonl")
        var r = try run(["sft", d + "/p.jsonl", "-o", d + "/model", "--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--vocab-size", "300",
                         "--max-length", "64", "--steps", "2", "--threads", "1"])
        XCTAssertEqual(r.code, 0, r.err)
        func variant(_ name: String, config: ((inout [String: Any]) -> Void)? = nil, header: ((inout [String: Any]) -> Void)? = nil,
                     rawLength: [UInt8]? = nil, tokenizer: ((inout [String: Any]) -> Void)? = nil) throws -> String {
            let dir = d + "/" + name
            try FileManager.default.copyItem(atPath: d + "/model", toPath: dir)
            if let config {
                var c = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))) as! [String: Any]
                config(&c)
                try JSONSerialization.data(withJSONObject: c).write(to: URL(fileURLWithPath: dir + "/config.json"))
            }
            if let tokenizer {
                var t = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/tokenizer.json"))) as! [String: Any]
                tokenizer(&t)
                try JSONSerialization.data(withJSONObject: t).write(to: URL(fileURLWithPath: dir + "/tokenizer.json"))
            }
            var b = Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/model.safetensors")))
            let n = Int(b[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
            if let header {
                var h = try JSONSerialization.jsonObject(with: Data(b[8..<(8 + n)])) as! [String: Any]
                header(&h)
                var j = Array(try JSONSerialization.data(withJSONObject: h))
                while j.count % 8 != 0 { j.append(0x20) }
                var len = UInt64(j.count).littleEndian
                b = withUnsafeBytes(of: &len) { Array($0) } + j + Array(b[(8 + n)...])
            }
            if let rawLength { b.replaceSubrange(0..<8, with: rawLength) }
            try Data(b).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
            return dir
        }
        func offsets(_ f: @escaping (Int) -> Int) -> (inout [String: Any]) -> Void {
            { h in for (k, v) in h where k != "__metadata__" { var e = v as! [String: Any]; e["data_offsets"] = (e["data_offsets"] as! [Int]).map(f); h[k] = e } }
        }
        let cases: [(String, String)] = [
            (try variant("small", config: { $0["vocab_size"] = 40 }, header: { h in
                var w = h["transformer.wte.weight"] as! [String: Any]; w["shape"] = [40, 16]
                let o = w["data_offsets"] as! [Int]; w["data_offsets"] = [o[0], o[0] + 40 * 16 * 4]; h["transformer.wte.weight"] = w }), "vocab_size"),
            (try variant("neg", header: offsets { $0 - 10_000_000 }), "outside the file"),
            (try variant("neg64", header: offsets { $0 - 64 }), "outside the file"),
            (try variant("huge", header: offsets { _ in Int.max - 5 }), "outside the file"),
            (try variant("overlap", header: { h in
                var w = h["transformer.wpe.weight"] as! [String: Any]
                let e = h["transformer.wte.weight"] as! [String: Any]
                let o = e["data_offsets"] as! [Int], len = (w["data_offsets"] as! [Int])[1] - (w["data_offsets"] as! [Int])[0]
                w["data_offsets"] = [o[0], o[0] + len]; h["transformer.wpe.weight"] = w }), "overlap"),
            (try variant("big", config: { $0["n_embd"] = 4096; $0["n_layer"] = 64; $0["n_head"] = 64; $0["vocab_size"] = 65536; $0["n_positions"] = 8192 }), "shape"),
            (try variant("h0", config: { $0["n_head"] = 0 }), "n_head"),
            (try variant("l-1", config: { $0["n_layer"] = -1 }), "n_layer"),
            (try variant("e40", config: { $0["n_embd"] = 1 << 40; $0["n_positions"] = 1 << 40 }), "n_positions"),
            (try variant("hlff", rawLength: [UInt8](repeating: 0xFF, count: 8)), "header length"),
            (try variant("hl63", rawLength: [0xFB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]), "header length"),
            (try variant("tok", tokenizer: { t in var m = t["model"] as! [String: Any]; var v = m["vocab"] as! [String: Any]; v[v.keys.sorted()[0]] = -1; m["vocab"] = v; t["model"] = m }), "bad vocab id"),
        ]
        for (dir, want) in cases {
            r = try run(["-c", "ulimit -v 1500000; exec \(binary) logps --model \(dir) \(d)/p.jsonl -o \(d)/lp.jsonl"], executable: "/bin/sh")
            XCTAssertTrue(r.code == 2 || r.code == 3, "\(dir): \(r.code) \(r.err)")
            XCTAssertTrue(r.err.contains(want), "\(dir): \(r.err)")
        }
        // As a reference for another model: the reference must fit the policy's tokenizer.
        r = try run(["score", d + "/p.jsonl", "-o", d + "/sc", "--model", d + "/model", "--ref-model", d + "/small"])
        XCTAssertTrue(r.code == 2 || r.code == 3, r.err)
        // Sizes inside each flag's range that together need more memory than there is.
        r = try run(["-c", "ulimit -v 1500000; exec \(binary) sft \(d)/p.jsonl -o \(d)/ref --n-layer 64 --n-embd 4096 --n-head 64 --vocab-size 65536 --max-length 8192 --batch-size 4096 --steps 1"], executable: "/bin/sh")
        XCTAssertEqual(r.code, 2, r.err)
        XCTAssertTrue(r.err.contains("would need"), r.err)
        XCTAssertEqual(entries(d).filter { $0.contains(".tmp.") }, [])
    }

    // MARK: D21, D22: numbers in data, environment and flags

    func testExtremeNumbersAreNotACrash() throws {
        let d = tempDir()
        try """
        <posts>
        <row Id="1" PostTypeId="1" Score="5" Title="T" Body="q" />
        <row Id="2" PostTypeId="2" ParentId="1" Score="9223372036854775807" Body="a" />
        <row Id="3" PostTypeId="2" ParentId="1" Score="0" Body="b" />
        </posts>
        """.write(toFile: d + "/score.xml", atomically: false, encoding: .utf8)
        var r = try run(["convert", d + "/score.xml", "-o", d + "/s.jsonl", "-q"])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertEqual(lines(d + "/s.jsonl"), 1)
        try """
        {"id": "x", "source": "s", "prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "c"}], "rejected": [{"role": "assistant", "content": "r"}], "score_chosen": 1.7e308, "score_rejected": -1.7e308}
        {"id": "y", "source": "s", "prompt": [{"role": "user", "content": "q2"}], "chosen": [{"role": "assistant", "content": "c"}], "rejected": [{"role": "assistant", "content": "r"}], "score_chosen": -1.7e308, "score_rejected": 1.7e308}

        """.write(toFile: d + "/big.jsonl", atomically: false, encoding: .utf8)
        r = try run(["stats", d + "/big.jsonl", "--json", d + "/s.json", "--html", d + "/s.html"])
        XCTAssertEqual(r.code, 0, r.err)
        let stats = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/s.json"))) as! [String: Any]
        XCTAssertEqual((stats["score_chosen"] as? [String: Any])?["max"] as? Double, 1.7e308)
        XCTAssertTrue(read(d + "/s.html").contains("</html>"))
        r = try run(["convert", d + "/score.xml", "-o", d + "/o/"], env: ["SLURM_ARRAY_TASK_ID": "9223372036854775807", "SLURM_ARRAY_TASK_MIN": "-1", "SLURM_ARRAY_TASK_COUNT": "4"])
        XCTAssertEqual(r.code, 2, r.err)
        for m in ["17179869184G", "9223372036854775807K", "8589934592G"] {
            r = try run(["convert", d + "/score.xml", "-o", d + "/x.jsonl", "--memory-limit", m])
            XCTAssertEqual(r.code, 2, "\(m): \(r.err)")
        }
    }

    // MARK: D8, D9, D13, D16, P8: Parquet footers and pages that lie (fixtures/bad/parquet_*, scripts/make_hostile_parquet.py)

    func testHostileParquetIsBoundedInMemoryAndTime() throws {
        let d = tempDir()
        let map = ["--from", "generic", "--map", "prompt=prompt,chosen=prompt,rejected=prompt"]
        // (fixture, extra flags, expected exit, words of the reason)
        let cases: [(String, [String], Int32, String)] = [
            ("parquet_no_columns.parquet", [], 1, "no columns"),
            ("parquet_pages_bomb.parquet", ["--max-record-bytes", "1000000"], 1, "larger than a record may be"),
            ("parquet_pages_bomb.parquet", ["--memory-limit", "50M"], 1, "memory budget"),
            ("parquet_dictionary_bomb.parquet", [], 1, "memory budget"),
            ("parquet_dictionary_bomb.parquet", ["--memory-limit", "64M"], 1, "memory budget"),
            ("parquet_page_claims_1gib.parquet", [], 1, "parquet"),
            ("parquet_deep_list.parquet", [], 1, "nesting too deep"),
            ("parquet_bool_maps_unbacked.parquet", [], 1, "bad footer"),
            ("parquet_bool_maps.parquet", [], 0, "0 read"),
        ]
        for (name, flags, code, reason) in cases {
            let t0 = Date()
            // Under an address-space limit like the review's: an allocation past it would abort (134).
            let r = try run(["-c", "ulimit -v 1500000; exec \(binary) convert \(fixture("bad/" + name)) -o \(d)/o.jsonl " + (map + flags).joined(separator: " ")],
                            executable: "/bin/sh")
            XCTAssertEqual(r.code, code, "\(name) \(flags): \(r.err)")
            XCTAssertTrue(r.err.contains(reason), "\(name): \(r.err)")
            XCTAssertLessThan(Date().timeIntervalSince(t0), 20, "\(name) \(flags)")
            XCTAssertEqual(entries(d).filter { $0.contains(".tmp.") }, [], name)
        }
    }

    // MARK: D14, D17, P1-P6: every row of a well-formed dump is read, every row not read is counted

    func convertXML(_ rows: [String], prolog: String = "", _ d: String, name: String, flags: [String] = []) throws -> (code: Int32, err: String, summary: [String: Any]) {
        let path = d + "/" + name + ".xml"
        try (prolog + (["<posts>"] + rows + ["</posts>"]).joined(separator: "\n") + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        let r = try run(["convert", path, "-o", d + "/" + name + ".jsonl", "--summary-json", d + "/" + name + ".json"] + flags)
        let summary = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/" + name + ".json")))) as? [String: Any] ?? [:]
        return (r.code, r.err, summary)
    }

    func testXMLRowsAreReadOrCounted() throws {
        let d = tempDir()
        let q = #"<row Id="1" PostTypeId="1" Score="5" Title="T" Body="q" />"#
        let a = #"<row Id="2" PostTypeId="2" ParentId="1" Score="10" Body="a" />"#
        let b = #"<row Id="3" PostTypeId="2" ParentId="1" Score="0" Body="b" />"#
        // D17: an apostrophe in a DOCTYPE comment (and in a processing instruction) opens no quote.
        var r = try convertXML([q, a, b], prolog: "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!DOCTYPE posts [ <!-- it's a comment --> <?pi it's ?> ]>\n", d, name: "doctype")
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertEqual(r.summary["pairs"] as? Int, 1, r.err)
        // D14: a row with 320,000 attributes is one counted reject, in well under a second a row.
        let many = #"<row Id="9" PostTypeId="1" Score="5" Title="T" Body="q" "# + (0..<320_000).map { "a\($0)=\"\"" }.joined(separator: " ") + " />"
        let t0 = Date()
        r = try convertXML([many, q, a, b], d, name: "attrs")
        XCTAssertLessThan(Date().timeIntervalSince(t0), 15)
        XCTAssertEqual(r.code, 1, r.err)
        XCTAssertEqual((r.summary["rejected"] as? [String: Int])?["too_many_attributes"], 1, r.err)
        XCTAssertEqual(r.summary["pairs"] as? Int, 1)
        // P1: a character reference XML does not allow is not an encoding error.
        r = try convertXML([q, #"<row Id="2" PostTypeId="2" ParentId="1" Score="9" Body="a&#0;b" />"#, b], d, name: "charref")
        XCTAssertEqual((r.summary["rejected"] as? [String: Int])?["invalid_xml_char"], 1, r.err)
        // P2: a row nested in a row is a counted reject: 4 rows, 4 read.
        r = try convertXML([#"<row Id="1" PostTypeId="1" Score="1" Title="T" Body="q"><row Id="2" PostTypeId="2" ParentId="1" Score="9" Body="inner" /></row>"#,
                            #"<row Id="3" PostTypeId="2" ParentId="1" Score="0" Body="x" />"#, #"<row Id="4" PostTypeId="2" ParentId="1" Score="3" Body="y" />"#], d, name: "nested")
        XCTAssertEqual(r.summary["read"] as? Int, 4, r.err)
        XCTAssertEqual((r.summary["rejected"] as? [String: Int])?["nested_row"], 1, r.err)
        // P4: a NUL in an element name is a counted reject, not a silent skip.
        r = try convertXML([q, "<ro\u{0}w Id=\"2\" PostTypeId=\"2\" ParentId=\"1\" Score=\"9\" Body=\"a\" />", b], d, name: "nul")
        XCTAssertEqual(r.summary["read"] as? Int, 3, r.err)
        // P5: the last row closed by </row> at the very end of the input (no </posts>) is read.
        let eof = d + "/eof.xml"
        try "<posts>\n<row Id=\"1\" PostTypeId=\"1\" Score=\"1\" Title=\"T\" Body=\"q\"></row>\n<row Id=\"2\" PostTypeId=\"2\" ParentId=\"1\" Score=\"9\" Body=\"a\"></row>\n<row Id=\"3\" PostTypeId=\"2\" ParentId=\"1\" Score=\"0\" Body=\"b\"></row>\n".write(toFile: eof, atomically: false, encoding: .utf8)
        var c = try run(["convert", eof, "-o", d + "/eof.jsonl"])
        XCTAssertEqual(c.code, 0, c.err)
        XCTAssertEqual(lines(d + "/eof.jsonl"), 1)
        // P6: a second question with the same Id is a counted reject; its body is never a reply.
        r = try convertXML([q, #"<row Id="1" PostTypeId="1" Score="1" Title="Second" Body="SECOND QUESTION" />"#, a, b], d, name: "dup")
        XCTAssertEqual((r.summary["rejected"] as? [String: Int])?["duplicate_id"], 1, r.err)
        XCTAssertFalse(read(d + "/dup.jsonl").contains("SECOND"))
        // P3: UTF-16 without a byte order mark is refused with the iconv hint.
        let u16 = d + "/u16.xml"
        try Data("<?xml version=\"1.0\"?>\n<posts>\n\(q)\n</posts>\n".data(using: .utf16LittleEndian)!).write(to: URL(fileURLWithPath: u16))
        c = try run(["convert", u16, "--from", "stackexchange", "-o", d + "/u16.jsonl"])
        XCTAssertEqual(c.code, 1, c.err)
        XCTAssertTrue(c.err.contains("unsupported_encoding") && c.err.contains("iconv"), c.err)
        // D10: nested block quotes and lists grow the Markdown linearly.
        let quotes = String(repeating: "&lt;blockquote&gt;", count: 6000) + String(repeating: "&lt;p&gt;x&lt;/p&gt;", count: 6000)
        let lists = String(repeating: "&lt;ul&gt;&lt;li&gt;x", count: 6000)
        r = try convertXML([q, "<row Id=\"2\" PostTypeId=\"2\" ParentId=\"1\" Score=\"10\" Body=\"\(quotes)\" />", "<row Id=\"3\" PostTypeId=\"2\" ParentId=\"1\" Score=\"0\" Body=\"\(lists)\" />"], d, name: "nesting")
        XCTAssertEqual(r.code, 0, r.err)
        let input = (try FileManager.default.attributesOfItem(atPath: d + "/nesting.xml")[.size] as! NSNumber).intValue
        let output = (try FileManager.default.attributesOfItem(atPath: d + "/nesting.jsonl")[.size] as! NSNumber).intValue
        XCTAssertLessThan(output, 8 * input, "Markdown of nested HTML stays linear (\(input) -> \(output) bytes)")
    }

    // MARK: D11, D12: joins with bounded output per record

    func testRankedAndTreeJoinsAreBounded() throws {
        let d = tempDir()
        var wide = "{\"message_tree_id\": \"t\", \"prompt\": {\"message_id\": \"root\", \"role\": \"prompter\", \"text\": \"Tell me\", \"lang\": \"en\", \"replies\": ["
        wide += (0..<2000).map { "{\"message_id\": \"r\($0)\", \"role\": \"assistant\", \"text\": \"reply \($0)\", \"lang\": \"en\", \"rank\": \($0)}" }.joined(separator: ", ") + "]}}\n"
        try wide.write(toFile: d + "/wide.jsonl", atomically: false, encoding: .utf8)
        var r = try run(["convert", d + "/wide.jsonl", "--from", "oasst", "-o", d + "/w.jsonl", "--summary-json", d + "/w.json"])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertEqual(lines(d + "/w.jsonl"), 100)
        XCTAssertTrue(r.err.contains("pair_cap 1998900"), r.err)
        // The kept pairs are those with the largest rank gaps.
        XCTAssertTrue(read(d + "/w.jsonl").contains("\"chosen_message_id\": \"r0\", \"rejected_message_id\": \"r1999\""))
        r = try run(["convert", d + "/wide.jsonl", "--from", "oasst", "-o", d + "/w5.jsonl", "--max-pairs-per-record", "5", "-q"])
        XCTAssertEqual(lines(d + "/w5.jsonl"), 5)
        let nectar = "{\"prompt\": \"Human: hi\\n\\nAssistant:\", \"answers\": [" + (0..<3000).map { "{\"answer\": \"a\($0)\", \"model\": \"m\", \"rank\": \($0 + 1)}" }.joined(separator: ", ") + "], \"turns\": 1, \"num_responses\": 3000, \"source\": [\"x\"], \"good_natured\": true}\n"
        try nectar.write(toFile: d + "/nectar.jsonl", atomically: false, encoding: .utf8)
        r = try run(["-c", "ulimit -v 3000000; exec \(binary) convert \(d)/nectar.jsonl --from nectar --pairs all -o \(d)/n.jsonl -q"], executable: "/bin/sh")
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertEqual(lines(d + "/n.jsonl"), 100)
        // A reply chain of 30,000 messages: no stack overflow, output bounded by the depth cap.
        var chain = "", prev = "null"
        for k in 0..<30_000 {
            let role = k % 2 == 0 ? "prompter" : "assistant"
            chain += "{\"message_id\": \"m\(k)\", \"parent_id\": \(prev), \"message_tree_id\": \"t\", \"role\": \"\(role)\", \"text\": \"msg \(k)\", \"lang\": \"en\", \"rank\": \(role == "assistant" ? "0" : "null")}\n"
            if role == "assistant" { chain += "{\"message_id\": \"s\(k)\", \"parent_id\": \"m\(k - 1)\", \"message_tree_id\": \"t\", \"role\": \"assistant\", \"text\": \"sib \(k)\", \"lang\": \"en\", \"rank\": 1}\n" }
            prev = "\"m\(k)\""
        }
        try chain.write(toFile: d + "/chain.jsonl", atomically: false, encoding: .utf8)
        r = try run(["convert", d + "/chain.jsonl", "--from", "oasst", "-o", d + "/c.jsonl", "--summary-json", d + "/c.json"])
        XCTAssertEqual(r.code, 0, r.err)
        let s = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/c.json"))) as! [String: Any]
        XCTAssertEqual(s["read"] as? Int, 45_000, "every message counted")
        XCTAssertGreaterThan((s["removed"] as? [String: Int])?["too_deep"] ?? 0, 0)
        XCTAssertLessThan((try FileManager.default.attributesOfItem(atPath: d + "/c.jsonl")[.size] as! NSNumber).intValue, 1 << 20)
    }

    // MARK: D15, P14, P15, P19: pipeline configs

    func testPipelineConfigsThatWouldHangOrMisleadAreRefused() throws {
        let d = tempDir()
        try pairs(3, to: d + "/in.jsonl")
        var defs = ["a0: &a0 [x,x,x,x,x,x,x,x,x]"]
        for k in 1...9 { defs.append("a\(k): &a\(k) [" + Array(repeating: "*a\(k - 1)", count: 9).joined(separator: ",") + "]") }
        try pipeline(d, "run: run\ninputs: [in.jsonl]\nstages:\n  - filter:\n      defs: {\(defs.joined(separator: ", "))}\n  - dedup: {*a9 : 1}\n")
        let t0 = Date()
        var r = try run(["pipeline", d + "/p.yaml", "--dry-run"])
        XCTAssertLessThan(Date().timeIntervalSince(t0), 5)
        XCTAssertEqual(r.code, 2, r.err)
        XCTAssertTrue(r.err.contains("used as a mapping key"), r.err)
        for (opts, want) in [("{help: true}", "cannot set 'help'"), ("{version: true}", "cannot set 'version'"), ("{empty: 1}", "'empty' is a flag")] {
            try pipeline(d, "run: run\ninputs: [in.jsonl]\nstages:\n  - convert: {}\n  - filter: \(opts)\n")
            r = try run(["pipeline", d + "/p.yaml", "-q"])
            XCTAssertEqual(r.code, 2, "\(opts): \(r.err)")
            XCTAssertTrue(r.err.contains(want), "\(opts): \(r.err)")
        }
        try pipeline(d, "run: run\ninputs: [in.jsonl]\nstages:\n  - convert: {}\n  - filter: {empty: true}\n")
        r = try run(["pipeline", d + "/p.yaml", "--dry-run", "--set", "filter.empty=TRUE"])
        XCTAssertEqual(r.code, 2, r.err)
        // P19: inside a Slurm array task the pipeline's local stages are not shards.
        try pipeline(d, "run: run\ninputs: [in.jsonl]\nstages:\n  - convert: {}\n  - stats\n")
        r = try run(["pipeline", d + "/p.yaml", "-q"], env: ["SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "2"])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/run/02-stats/stats.json"))
    }

    // MARK: P11, P22, P23, P24, P25

    func testStrictCountsWhatWasReadAndOtherCarelessInputs() throws {
        let d = tempDir()
        var big = ""
        for k in 0..<20_000 { big += k == 14_999 ? "{\"chosen\": 1}\n" : "{\"chosen\": \"\\n\\nHuman: q\(k)?\\n\\nAssistant: a\", \"rejected\": \"\\n\\nHuman: q\(k)?\\n\\nAssistant: b\"}\n" }
        try big.write(toFile: d + "/big.jsonl", atomically: false, encoding: .utf8)
        for threads in ["1", "2"] {
            let r = try run(["convert", d + "/big.jsonl", "-o", d + "/y.jsonl", "--strict", "--threads", threads])
            XCTAssertEqual(r.code, 3, r.err)
            XCTAssertTrue(r.err.contains("15000 read = 0 written + 0 removed + 1 rejected + 14999 discarded"), r.err)
        }
        var xml = "<posts>\n"
        for i in 1...38 { xml += "<row Id=\"\(i)\" PostTypeId=\"1\" Score=\"1\" Title=\"T\(i)\" Body=\"q\" />\n" }
        xml += "<row Id=\"99\" PostTypeId=\"1\" Body=\"&bad;\" />\n<row Id=\"100\" PostTypeId=\"1\" Score=\"1\" Title=\"T\" Body=\"q\" />\n</posts>\n"
        try xml.write(toFile: d + "/s.xml", atomically: false, encoding: .utf8)
        var r = try run(["convert", d + "/s.xml", "-o", d + "/o.jsonl", "--strict"])
        XCTAssertEqual(r.code, 3, r.err)
        XCTAssertTrue(r.err.contains("39 read = 0 written + 0 removed + 1 rejected + 38 discarded"), r.err)
        // P24: a catastrophic pattern is stopped by its time limit.
        try "(x+x+)+y\n".write(toFile: d + "/pat.txt", atomically: false, encoding: .utf8)
        try "{\"id\": \"x\", \"source\": \"s\", \"prompt\": [{\"role\": \"user\", \"content\": \"q\"}], \"chosen\": [{\"role\": \"assistant\", \"content\": \"\(String(repeating: "x", count: 64))\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": \"r\"}]}\n".write(toFile: d + "/p64.jsonl", atomically: false, encoding: .utf8)
        let t0 = Date()
        r = try run(["filter", d + "/p64.jsonl", "-o", d + "/f.jsonl", "--block-patterns", d + "/pat.txt"])
        XCTAssertLessThan(Date().timeIntervalSince(t0), 10)
        XCTAssertTrue(r.err.contains("regex_timeout 1"), r.err)
        // P11: an sft output directory that holds an input is refused before training.
        try FileManager.default.createDirectory(atPath: d + "/ref", withIntermediateDirectories: true)
        try pairs(60, to: d + "/ref/special_tokens_map.json")
        r = try run(["sft", d + "/ref/special_tokens_map.json", "-o", d + "/ref", "--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--vocab-size", "300", "--steps", "2"])
        XCTAssertEqual(r.code, 2, r.err)
        XCTAssertFalse(r.err.contains("sft step"), "refused before training: \(r.err)")
        // P25: one permutation is refused; the default removes nothing from distinct prompts.
        try pairs(50, to: d + "/distinct.jsonl")
        r = try run(["dedup", d + "/distinct.jsonl", "-o", d + "/dd.jsonl", "--num-perm", "1"])
        XCTAssertEqual(r.code, 2, r.err)
    }
}
