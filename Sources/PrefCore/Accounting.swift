// What every stage counts and reports: inputs, per-input reports, the tally of read = written +
// removed (by reason) + rejected (by reason). A rejected record is a `RecordFailure` (PrefIO).
import PrefIO

/// Counts for one input or the whole run: read = written + removed + rejected.
public struct Tally: Sendable {
    public var read = 0
    /// Records (or, for joins, source rows) that went into at least one written pair.
    public var written = 0
    /// Pairs written (equal to `written` for the one-record-per-pair formats).
    public var pairs = 0
    public var removed: [String: Int] = [:]
    public var rejected: [String: Int] = [:]
    /// Candidate pairs of ranked or rated records that were not written (ties, margins below
    /// --min-gap, unrated replies): not records, so outside read = written + removed + rejected.
    public var skipped: [String: Int] = [:]
    public init() {}
    public var removedTotal: Int { removed.values.reduce(0, +) }
    public var rejectedTotal: Int { rejected.values.reduce(0, +) }
    public var balanced: Bool { read == written + removedTotal + rejectedTotal }

    public mutating func add(_ o: Tally) {
        read += o.read; written += o.written; pairs += o.pairs
        for (k, v) in o.removed { removed[k, default: 0] += v }
        for (k, v) in o.rejected { rejected[k, default: 0] += v }
        for (k, v) in o.skipped { skipped[k, default: 0] += v }
    }

    public func jsonFields() -> [(String, JSONValue)] {
        func counts(_ d: [String: Int]) -> JSONValue { .object(d.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) }) }
        var f: [(String, JSONValue)] = [("read", .int(Int64(read))), ("written", .int(Int64(written))), ("pairs", .int(Int64(pairs))),
                                        ("removed", counts(removed)), ("rejected", counts(rejected))]
        if !skipped.isEmpty { f.append(("pairs_skipped", counts(skipped))) }
        return f
    }
}

public struct InputReport: Sendable {
    public var path: String
    public var format = "?"
    public var compression = "?"
    public var layout = "?"
    public var bytes: Int64 = 0
    public var tally = Tally()
    public init(path: String) { self.path = path }
}
