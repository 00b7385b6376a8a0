// The end of every run: read = written + removed (by reason) + rejected (by reason), per input and
// in total, on screen and as the --summary-json contract documented in docs/cli.md.
import Foundation
import PrefIO

/// This process's peak resident memory in MB (VmHWM: unlike getrusage, not inherited across exec).
public func peakResidentMB() -> Int? {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return nil }
    return kb / 1024
}

/// A file opened at its first write, so that the rejects file exists only when something was rejected.
public final class LazyOutput {
    public let path: String?
    public let level: Int
    private var file: EncodedFile?

    public init(_ path: String?, level: Int) { self.path = path; self.level = level }

    public func write(_ bytes: [UInt8]) throws {
        guard let p = path else { return }
        if file == nil { file = try EncodedFile(path: p, compression: OutputCompression.forPath(p), level: level) }
        try file!.write(bytes)
    }

    /// Publishes the file if anything was written; returns its path then, nil otherwise.
    public func commit() throws -> String? {
        guard let f = file else { return nil }
        try f.commit()
        return path
    }

    /// The path of the file if anything was written (published with the run's outputs).
    public var written: String? { file == nil ? nil : path }
    public func prepare() throws { try file?.finish() }
    public func publish() throws { try file?.publish() }

    public func abort() { file?.abort() }
}

/// The end-of-run summary: one screen on stderr, and JSON for --summary-json.
public struct RunSummary {
    public var command: String
    public var total: Tally
    public var inputs: [InputReport]
    public var outputs: [String]
    public var rejectsPath: String?
    public var seconds: Double
    /// Command-specific fields added to the JSON (and listed on screen).
    public var extra: [(String, JSONValue)] = []
    /// Set when --strict stopped the run: nothing was published.
    public var strictStop: RecordFailure?
    /// Records that were converted but not published because --strict stopped the run.
    public var discarded = 0

    /// Nothing was published: the records converted before the stop count as discarded, the
    /// stopping record as rejected, so that read = written + removed + rejected + discarded.
    /// `total` holds the records read up to and including the stopping one; `uncounted` are records
    /// read before it that no tally holds yet (rows a join buffered): they are discarded too.
    public mutating func markStrictStop(_ e: RecordFailure, uncounted: Int = 0) {
        strictStop = e
        discarded = total.written + uncounted
        total.read += uncounted
        total.written = 0
        total.pairs = 0
        outputs = []
    }

    public init(command: String, total: Tally, inputs: [InputReport], outputs: [String], rejectsPath: String?, seconds: Double, extra: [(String, JSONValue)] = []) {
        self.command = command; self.total = total; self.inputs = inputs; self.outputs = outputs
        self.rejectsPath = rejectsPath; self.seconds = seconds; self.extra = extra
    }

    public func json() -> JSONValue {
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

    public func printScreen() {
        let t = total
        let bytesIn = inputs.reduce(Int64(0)) { $0 + $1.bytes }
        var s = "prefkit \(command): \(t.read) read = \(t.written) written + \(t.removedTotal) removed + \(t.rejectedTotal) rejected"
        if strictStop != nil { s += " + \(discarded) discarded (--strict stop: nothing published)" }
        if t.pairs != t.written { s += " -> \(t.pairs) pairs" }
        s += String(format: "  (%.2f s, %.0f records/s, %.1f MB/s of input)\n", seconds, Double(t.read) / max(seconds, 1e-9), Double(bytesIn) / 1e6 / max(seconds, 1e-9))
        let shownInputs = inputs.prefix(12)
        for r in shownInputs {
            s += "  \(printable(r.path))  [\(r.format), \(r.compression), \(r.layout)]  \(r.tally.read) read, \(r.tally.written) written"
            if r.tally.removedTotal > 0 { s += ", \(r.tally.removedTotal) removed" }
            if r.tally.rejectedTotal > 0 { s += ", \(r.tally.rejectedTotal) rejected" }
            s += "\n"
        }
        if inputs.count > shownInputs.count { s += "  ... and \(inputs.count - shownInputs.count) more inputs\n" }
        if !t.removed.isEmpty { s += "  removed:  " + t.removed.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n" }
        if !t.skipped.isEmpty { s += "  pairs skipped (not records): " + t.skipped.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n" }
        if !t.rejected.isEmpty {
            s += "  rejected: " + t.rejected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            s += rejectsPath.map { "  -> \(printable($0))\n" } ?? "\n"
        }
        for (k, v) in extra { s += "  \(k): \(v.serialized())\n" }
        if !outputs.isEmpty { s += "  output:   " + outputs.map { printable($0) }.joined(separator: ", ") + "\n" }
        FileHandle.standardError.write(s.data(using: .utf8)!)
    }
}
