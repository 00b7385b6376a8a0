import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PrefIO

/// `RUN/manifest.json`: the tool and config, every input with its size and SHA-256, and every
/// stage's commands, exit statuses, timing, record counts, summaries and outputs.
enum Manifest {
    static func make(config: PipelineConfig, configHash: String, version: String, inputs: [JSONValue], stages: [JSONValue],
                     started: Date, plans: [StagePlan]) -> JSONValue {
        let done = stages.count == plans.count && stages.allSatisfy { $0["status"]?.stringValue == "done" }
        let failed = stages.contains { $0["status"]?.stringValue == "failed" }
        return .object([
            ("tool", .string("prefkit")), ("version", .string(version)),
            ("status", .string(done ? "done" : failed ? "failed" : "running")),
            ("started", .string(iso(started))), ("updated", .string(iso(Date()))),
            ("config_file", .string(config.path)), ("config_sha256", .string(configHash)), ("config", config.json),
            ("run", .string(config.run)), ("inputs", .array(inputs)),
            ("stages", .array(stages)),
            ("pending", .array(plans.dropFirst(stages.count).map { .string(String(format: "%02d-", $0.index + 1) + $0.name) })),
        ])
    }

    /// A finished (or failed) stage: its steps, summaries, record counts and output files.
    static func stage(_ p: StagePlan, fingerprint: String, optionFiles: [JSONValue], status: String, steps: [JSONValue], seconds: Double, run: String) throws -> JSONValue {
        let written = files(under: p.directory).filter { !$0.hasPrefix(p.directory + "/logs/") }
        var summaries: [(String, JSONValue)] = []
        for f in written where isSummary(f) {
            if let v = try? JSONValue.parse(bytes: Array(Data(contentsOf: URL(fileURLWithPath: f)))) { summaries.append((relative(f, p.directory), v)) }
        }
        let outputs = try written.map { f -> JSONValue in
            let (sha, bytes) = try SHA256.file(f)
            return .object([("path", .string(relative(f, run))), ("bytes", .int(bytes)), ("sha256", .string(sha))])
        }
        return .object([
            ("index", .int(Int64(p.index + 1))), ("stage", .string(p.name)), ("directory", .string(relative(p.directory, run))),
            ("status", .string(status)), ("fingerprint", .string(fingerprint)), ("kept_from_earlier_run", .bool(false)),
            ("options", p.config.identity["options"] ?? .null), ("option_files", .array(optionFiles)), ("shards", p.config.shards.map { .int(Int64($0)) } ?? .null),
            ("reads", .array(p.reads.map { .string(relative($0, run)) })),
            ("finished", .string(iso(Date()))), ("seconds", .double(round(seconds))), ("steps", .array(steps)),
            ("records", records(summaries.map(\.1), p)), ("summaries", .object(summaries)),
            ("reports", .array(p.reports.filter { FileManager.default.fileExists(atPath: $0.1) }.map { .object([("title", .string($0.0)), ("path", .string(relative($0.1, run)))]) })),
            ("outputs", .array(outputs)),
        ])
    }

    static func isSummary(_ f: String) -> Bool {
        let name = (f as NSString).lastPathComponent
        return (name.hasPrefix("summary") || name.hasSuffix(".summary.json") || name == "stats.json" || name == "score.json") && name.hasSuffix(".json")
    }

    /// read = written + removed + rejected over the stage's summaries (sharded: every shard's).
    static func records(_ summaries: [JSONValue], _ p: StagePlan) -> JSONValue {
        var read: Int64 = 0, written: Int64 = 0, removed: Int64 = 0, rejected: Int64 = 0, pairs: Int64 = 0, any = false
        func sum(_ v: JSONValue?) -> Int64 {
            guard case .object(let o)? = v else { return v?.intValue ?? 0 }
            return o.reduce(0) { $0 + ($1.1.intValue ?? 0) }
        }
        for s in summaries {
            guard let r = s["read"]?.intValue else { continue }
            any = true
            read += r; written += s["written"]?.intValue ?? 0; removed += sum(s["removed"]); rejected += sum(s["rejected"])
            pairs += s["pairs"]?.intValue ?? s["written"]?.intValue ?? 0
        }
        if p.config.kind == .stats, let s = summaries.first {
            return .object([("pairs", s["pairs"] ?? .null), ("rejected", s["rejected_records"] ?? .null)])
        }
        if p.config.kind == .score, let s = summaries.first {
            return .object([("score", s["score"] ?? .null), ("ci95", s["ci95"] ?? .null), ("gain", s["gain"] ?? .null), ("eval_pairs", s["n_eval"] ?? .null)])
        }
        guard any else { return .null }
        return .object([("read", .int(read)), ("written", .int(written)), ("removed", .int(removed)), ("rejected", .int(rejected)), ("pairs", .int(pairs))])
    }

    static func kept(_ old: JSONValue) -> JSONValue {
        guard case .object(var o) = old else { return old }
        o = o.map { $0.0 == "kept_from_earlier_run" ? ($0.0, .bool(true)) : $0 }
        return .object(o)
    }

    /// Why a stage finished in an earlier run cannot be kept, or nil when it can.
    static func staleness(_ old: JSONValue, fingerprint: String, plan p: StagePlan, files: [JSONValue], run: String) -> String? {
        guard old["stage"]?.stringValue == p.name else { return "the stage at this place changed (was \(old["stage"]?.stringValue ?? "?"))" }
        if old["fingerprint"]?.stringValue != fingerprint {
            let was = old["options"] ?? .null, now = p.config.identity["options"] ?? .null
            if was != now { return "its options changed (\(was.serialized()) -> \(now.serialized()))" }
            if (old["shards"] ?? .null) != (p.config.shards.map { .int(Int64($0)) } ?? .null) { return "its shards changed" }
            if let was = old["option_files"]?.arrayValue, was != files {
                let changed = files.filter { !was.contains($0) }.compactMap { $0["path"]?.stringValue }
                return "a file its options name changed (\(changed.isEmpty ? "a file is gone" : changed.joined(separator: ", ")))"
            }
            return "the tool version or the threads changed"
        }
        guard old["status"]?.stringValue == "done" else { return "it did not finish last time" }
        // The manifest is data from the last run, not a list of paths to trust: only the regular
        // files found in the stage's own directory are read, and they must be exactly the outputs
        // it recorded, with the same bytes.
        var recorded: [String: (Int64?, String?)] = [:]
        for o in old["outputs"]?.arrayValue ?? [] {
            guard let rel = o["path"]?.stringValue else { continue }
            recorded[rel] = (o["bytes"]?.intValue, o["sha256"]?.stringValue)
        }
        let present = Manifest.files(under: p.directory).filter { !$0.hasPrefix(p.directory + "/logs/") }
        let presentRel = Set(present.map { relative($0, run) })
        if let gone = recorded.keys.sorted().first(where: { !presentRel.contains($0) }) { return "its output \(gone) is missing" }
        for f in present {
            let rel = relative(f, run)
            guard let want = recorded[rel] else { return "its directory holds \(rel), which the last run did not write" }
            guard let (sha, bytes) = try? SHA256.file(f) else { return "its output \(rel) cannot be read" }
            if bytes != want.0 || sha != want.1 { return "its output \(rel) changed" }
        }
        return nil
    }

    static func changedInputs(_ old: JSONValue, _ now: [JSONValue]) -> String {
        let was = Dictionary((old.arrayValue ?? []).compactMap { v in v["path"]?.stringValue.map { ($0, v["sha256"]?.stringValue ?? "") } }, uniquingKeysWith: { a, _ in a })
        var notes: [String] = []
        for v in now {
            guard let p = v["path"]?.stringValue else { continue }
            if was[p] == nil { notes.append("new \(p)") } else if was[p] != v["sha256"]?.stringValue { notes.append("\(p) changed") }
        }
        let nowPaths = Set(now.compactMap { $0["path"]?.stringValue })
        notes += was.keys.filter { !nowPaths.contains($0) }.sorted().map { "\($0) gone" }
        return notes.prefix(3).joined(separator: ", ") + (notes.count > 3 ? ", ..." : "")
    }

    /// Regular files under a directory, sorted (the directory itself if it is a file). Links,
    /// FIFOs and devices are not files of a stage: they are neither listed nor opened.
    static func files(under dir: String) -> [String] {
        var st = stat()
        if lstat(dir, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG { return [dir] }
        guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
        var out: [String] = []
        while let rel = e.nextObject() as? String {
            let p = dir + "/" + rel
            if lstat(p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && rel != PipelineRunner.stageMarker { out.append(p) }
        }
        return out.sorted()
    }

    static func relative(_ path: String, _ base: String) -> String {
        path.hasPrefix(base + "/") ? String(path.dropFirst(base.count + 1)) : path
    }

    static func commandLine(_ s: Step, executable: String, run: String) -> String {
        ([executable] + s.arguments.map { $0.contains(" ") ? "'\($0)'" : $0 }).joined(separator: " ")
            + (s.tasks.map { " --shard-index I --shard-count \($0)" } ?? "")
    }

    static func worse(_ a: Int32, _ b: Int32) -> Int32 {
        func rank(_ c: Int32) -> Int32 { c == 0 ? 0 : c == 1 ? 1 : 2 }
        return rank(b) > rank(a) || (rank(b) == rank(a) && b > a) ? b : a
    }

    static func round(_ d: Double) -> Double { (d * 1000).rounded() / 1000 }

    static func iso(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: d)
    }

    /// Pretty-printed JSON (two-space indent), written atomically.
    static func write(_ v: JSONValue, to path: String) throws {
        var s = ""
        pretty(v, 0, &s)
        try EncodedFile.writeWhole(Array((s + "\n").utf8), to: path)
    }

    static func pretty(_ v: JSONValue, _ depth: Int, _ s: inout String) {
        let pad = String(repeating: "  ", count: depth + 1), end = String(repeating: "  ", count: depth)
        switch v {
        case .array(let a) where !a.isEmpty:
            s += "[\n"
            for (i, x) in a.enumerated() { s += pad; pretty(x, depth + 1, &s); s += i + 1 < a.count ? ",\n" : "\n" }
            s += end + "]"
        case .object(let o) where !o.isEmpty:
            s += "{\n"
            for (i, (k, x)) in o.enumerated() {
                s += pad + JSONValue.string(k).serialized() + ": "
                pretty(x, depth + 1, &s)
                s += i + 1 < o.count ? ",\n" : "\n"
            }
            s += end + "}"
        default:
            s += v.serialized()
        }
    }
}
