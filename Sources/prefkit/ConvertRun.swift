import ArgumentParser
import Foundation
import PrefCore
import PrefFormats
import PrefIO

/// Wires a conversion to its outputs: pairs, rejects and removed records, all published atomically.
struct ConvertRun {
    var config: ConvertConfig
    var output: String
    var shardSize: Int?
    var zstdLevel: Int
    var rejectsPath: String?
    var removedPath: String?
    var overwrite: Bool
    var quiet: Bool

    struct Outcome {
        var converter: Converter
        var outputs: [String]
        var rejectsPath: String?
        var strictAbort: StrictAbort?
    }

    /// Default rejects file: beside the output.
    static func defaultRejects(output: String, sharded: Bool) -> String? {
        // stdout, /dev/null, a FIFO: no rejects file is made up beside them (use --rejects).
        if output == "-" || isDeviceOrFIFO(output) { return nil }
        if sharded { return (output.hasSuffix("/") ? output : output + "/") + "rejects.jsonl" }
        var base = output
        for ext in [".zst", ".zstd", ".gz"] where base.hasSuffix(ext) { base.removeLast(ext.count) }
        for ext in [".jsonl", ".json", ".ndjson"] where base.hasSuffix(ext) { base.removeLast(ext.count) }
        return base + ".rejects.jsonl"
    }

    func execute() throws -> Outcome {
        let sink: RecordSink
        do {
            if let s = shardSize {
                sink = try RecordSink(.shards(dir: output, size: s), zstdLevel: zstdLevel, overwriteShards: overwrite)
            } else {
                sink = try RecordSink(.file(output), zstdLevel: zstdLevel)
            }
        }
        let converter = Converter(config)
        let rejectsOut = LazyOutput(rejectsPath ?? ConvertRun.defaultRejects(output: output, sharded: shardSize != nil), level: zstdLevel)
        let removedOut = try removedPath.map { try EncodedFile(path: $0, compression: OutputCompression.forPath($0), level: zstdLevel) }
        var shown = 0
        converter.onReject = { e in
            if quiet { return }
            shown += 1
            if shown <= 10 {
                FileHandle.standardError.write("prefkit: rejected \(e.file):\(e.line) (byte \(e.offset)): \(e.reason): \(e.message)\n".data(using: .utf8)!)
            } else if shown == 11 {
                FileHandle.standardError.write("prefkit: more rejects follow; see the rejects file\n".data(using: .utf8)!)
            }
        }
        converter.onRejectWrite = { e in try rejectsOut.write(e.json()) }
        converter.onRemovedWrite = { bytes in try removedOut?.write(bytes) }
        do {
            try converter.run(sink: sink)
        } catch let abort as StrictAbort {
            sink.abort()
            removedOut?.abort()
            return Outcome(converter: converter, outputs: [], rejectsPath: try rejectsOut.commit(), strictAbort: abort)
        } catch {
            sink.abort(); rejectsOut.abort(); removedOut?.abort()
            throw error
        }
        try sink.commit()
        let rejectsWritten = try rejectsOut.commit()
        try removedOut?.commit()
        return Outcome(converter: converter, outputs: sink.files, rejectsPath: rejectsWritten, strictAbort: nil)
    }
}

/// This process's peak resident memory in MB (VmHWM: unlike getrusage, not inherited across exec).
func peakResidentMB() -> Int? {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return nil }
    return kb / 1024
}

/// A file opened at its first write, so that the rejects file exists only when something was rejected.
final class LazyOutput {
    let path: String?
    let level: Int
    private var file: EncodedFile?

    init(_ path: String?, level: Int) { self.path = path; self.level = level }

    func write(_ bytes: [UInt8]) throws {
        guard let p = path else { return }
        if file == nil { file = try EncodedFile(path: p, compression: OutputCompression.forPath(p), level: level) }
        try file!.write(bytes)
    }

    /// Publishes the file if anything was written; returns its path then, nil otherwise.
    func commit() throws -> String? {
        guard let f = file else { return nil }
        try f.commit()
        return path
    }

    func abort() { file?.abort() }
}

/// The end-of-run summary: one screen on stderr, and JSON for --summary-json.
struct RunSummary {
    var command: String
    var total: Tally
    var inputs: [InputReport]
    var outputs: [String]
    var rejectsPath: String?
    var seconds: Double
    /// Command-specific fields added to the JSON (and listed on screen).
    var extra: [(String, JSONValue)] = []
    /// Set when --strict stopped the run: nothing was published.
    var strictStop: RejectEntry?
    /// Records that were converted but not published because --strict stopped the run.
    var discarded = 0

    /// Nothing was published: the records converted before the stop count as discarded, the
    /// stopping record as rejected, so that read = written + removed + rejected + discarded.
    mutating func markStrictStop(_ e: RejectEntry) {
        strictStop = e
        discarded = total.written
        total.written = 0
        total.pairs = 0
        total.read += 1
        total.rejected[e.reason, default: 0] += 1
        outputs = []
    }

    init(command: String, converter: Converter, outputs: [String], rejectsPath: String?, seconds: Double) {
        self.init(command: command, total: converter.total, inputs: converter.inputs, outputs: outputs, rejectsPath: rejectsPath, seconds: seconds)
    }

    init(command: String, total: Tally, inputs: [InputReport], outputs: [String], rejectsPath: String?, seconds: Double, extra: [(String, JSONValue)] = []) {
        self.command = command; self.total = total; self.inputs = inputs; self.outputs = outputs
        self.rejectsPath = rejectsPath; self.seconds = seconds; self.extra = extra
    }

    func json() -> JSONValue {
        let status = strictStop != nil ? "stopped_by_strict" : (total.rejectedTotal > 0 ? "ok_with_rejects" : "ok")
        var fields: [(String, JSONValue)] = [("command", .string(command)), ("status", .string(status)), ("published", .bool(strictStop == nil))]
        fields += total.jsonFields()
        if let e = strictStop {
            fields.append(("discarded", .int(Int64(discarded))))
            fields.append(("stopped_at", .object([("file", .string(e.file)), ("line", .int(Int64(e.line))), ("offset", .int(e.offset)),
                                                  ("reason", .string(e.reason)), ("message", .string(e.message))])))
        }
        fields.append(("inputs", .array(inputs.map { r in
            .object([("path", .string(r.path)), ("format", .string(r.format)), ("compression", .string(r.compression)),
                     ("layout", .string(r.layout)), ("bytes", .int(r.bytes))] + r.tally.jsonFields())
        })))
        fields.append(("outputs", .array(outputs.map { .string($0) })))
        fields.append(("rejects_file", rejectsPath.map { .string($0) } ?? .null))
        fields += extra
        fields.append(("seconds", .double((seconds * 1000).rounded() / 1000)))
        if let mb = peakResidentMB() { fields.append(("peak_rss_mb", .int(Int64(mb)))) }
        return .object(fields)
    }

    func printScreen() {
        let t = total
        let bytesIn = inputs.reduce(Int64(0)) { $0 + $1.bytes }
        var s = "prefkit \(command): \(t.read) read = \(t.written) written + \(t.removedTotal) removed + \(t.rejectedTotal) rejected"
        if strictStop != nil { s += " + \(discarded) discarded (--strict stop: nothing published)" }
        if t.pairs != t.written { s += " -> \(t.pairs) pairs" }
        s += String(format: "  (%.2f s, %.0f records/s, %.1f MB/s of input)\n", seconds, Double(t.read) / max(seconds, 1e-9), Double(bytesIn) / 1e6 / max(seconds, 1e-9))
        let shownInputs = inputs.prefix(12)
        for r in shownInputs {
            s += "  \(r.path)  [\(r.format), \(r.compression), \(r.layout)]  \(r.tally.read) read, \(r.tally.written) written"
            if r.tally.removedTotal > 0 { s += ", \(r.tally.removedTotal) removed" }
            if r.tally.rejectedTotal > 0 { s += ", \(r.tally.rejectedTotal) rejected" }
            s += "\n"
        }
        if inputs.count > shownInputs.count { s += "  ... and \(inputs.count - shownInputs.count) more inputs\n" }
        if !t.removed.isEmpty { s += "  removed:  " + t.removed.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n" }
        if !t.rejected.isEmpty {
            s += "  rejected: " + t.rejected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            s += rejectsPath.map { "  -> \($0)\n" } ?? "\n"
        }
        for (k, v) in extra { s += "  \(k): \(v.serialized())\n" }
        if !outputs.isEmpty { s += "  output:   " + outputs.joined(separator: ", ") + "\n" }
        FileHandle.standardError.write(s.data(using: .utf8)!)
    }
}
