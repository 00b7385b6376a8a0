// Reads normalized pair files twice: a parallel first pass that turns each pair into compact
// features, and a sequential second pass that copies each record's original line to where the
// command's decision sends it. Inputs from stdin are spooled to a temporary file first.
import Foundation
import PrefCore
import PrefIO

public struct RecordInfo: Sendable {
    public var input: Int
    public var line: Int
}

public final class PairSource {
    public let inputs: [InputFile]
    var paths: [String]
    var spooled: [String] = []
    public let threads: Int
    public private(set) var reports: [InputReport]

    public init(_ inputs: [InputFile], threads: Int) throws {
        self.inputs = inputs
        self.threads = max(1, threads)
        paths = inputs.map(\.path)
        reports = inputs.map { InputReport(path: $0.path) }
        // Streams (stdin, FIFOs, pipes) are read twice here, so each is copied once, decoded, into
        // a private temp file; the spool lives until the run ends, and a signal or a failed run removes it too.
        for (i, input) in inputs.enumerated() where input.isStream {
            let (src, _) = try Sources.decoding(FileSource(path: input.path))
            let tmp = try TempFiles.spool(src)
            spooled.append(tmp)
            paths[i] = tmp
        }
    }

    deinit { for s in spooled { unlink(s); TempFiles.unregister(s) } }

    /// Each record of every input, in order: a parsed pair (or the reason it is rejected).
    public enum Item {
        case pair(Pair)
        case rejected(reason: String, message: String)
    }

    func batches(_ body: (Int, RecordBatch) throws -> Void) throws {
        try InputBatches(paths: paths, ranges: inputs.map(\.range)).forEach(body, finished: { idx, info in
            reports[idx].format = info.opened ? "pairs" : "?"
            reports[idx].compression = info.opened ? info.compression : "?"
            reports[idx].layout = info.opened ? info.layout : "?"
            reports[idx].bytes = info.bytes
        })
    }

    /// Every record of every input in order, one at a time, parsed on this thread (for streaming
    /// consumers that keep only a bounded part, such as a sample).
    public func forEach(_ body: (Item) throws -> Void) throws {
        try batches { _, b in for item in PairSource.items(b) { try body(item) } }
    }

    /// Pass 1: `feature` runs on worker threads for every record while a reader thread decodes
    /// the inputs; results come back in record order. Rejected records get `feature(.rejected)` too,
    /// so indices line up with pass 2.
    public func scan<F>(_ feature: @escaping @Sendable (Item) -> F) throws -> [F] {
        try scanAt { item, _ in feature(item) }
    }

    /// Pass 1 with each record's place (input index and line): for phased runs, whose records are
    /// named by their place in the whole run rather than by their index in this process.
    public func scanAt<F>(_ feature: @escaping @Sendable (Item, RecordInfo) -> F) throws -> [F] {
        // The reader thread is the only one touching `self` (its input reports) until the
        // pipeline returns, which waits for it.
        nonisolated(unsafe) let me = self
        var out: [F] = []
        try OrderedPipeline.run(threads: threads, produce: { emit in
            try me.batches { _, b in try emit(b) }
        }, work: { b in
            let items = PairSource.items(b)
            var out: [F] = []
            out.reserveCapacity(items.count)
            for (k, item) in items.enumerated() {
                let line = k < b.failures.count ? b.failures[k].line : b.lines[k - b.failures.count]
                out.append(feature(item, RecordInfo(input: b.inputIndex, line: line)))
            }
            return out
        }, consume: { part in
            out += part
        })
        return out
    }

    static func items(_ b: RecordBatch) -> [Item] {
        var out: [Item] = []
        out.reserveCapacity(b.count + b.failures.count)
        for f in b.failures { out.append(.rejected(reason: f.reason, message: f.message)) }
        var scanner = JSONScanner()
        for i in 0..<b.count {
            out.append(b.withRecord(i) { buf -> Item in
                do {
                    let p = try Pair.parse(try scanner.parseRecord(buf).root)
                    if let (reason, message) = p.validate() { return .rejected(reason: reason, message: message) }
                    return .pair(p)
                } catch let e as FormatError {
                    return .rejected(reason: e.reason, message: e.message)
                } catch { return .rejected(reason: "not_a_pair", message: "\(error)") }
            })
        }
        return out
    }

    /// Pass 2: calls `body` with each record's index, its raw line (no newline; valid during the
    /// call) and where it came from.
    public func copy(_ body: (Int, UnsafeRawBufferPointer, RecordInfo) throws -> Void) throws {
        var index = 0
        try batches { idx, b in
            for f in b.failures {
                try f.raw.withUnsafeBytes { try body(index, $0, RecordInfo(input: idx, line: f.line)) }; index += 1
            }
            try b.data.withUnsafeBytes { all in
                for i in 0..<b.count {
                    try body(index, UnsafeRawBufferPointer(rebasing: all[b.starts[i]..<b.ends[i]]), RecordInfo(input: idx, line: b.lines[i]))
                    index += 1
                }
            }
        }
    }
}

extension PairSource {
    /// Every valid pair of the inputs, in order, parsed in parallel; malformed records are
    /// counted, not returned.
    public static func readAll(_ inputs: [InputFile], threads: Int) throws -> (pairs: [Pair], rejected: Int) {
        let src = try PairSource(inputs, threads: threads)
        var pairs: [Pair] = []
        var bad = 0
        for item in try src.scan({ $0 }) {
            switch item { case .pair(let p): pairs.append(p); case .rejected: bad += 1 }
        }
        return (pairs, bad)
    }

    /// Streams the inputs and keeps a seeded uniform sample of at most `cap` valid pairs
    /// (reservoir sampling), in input order: memory is bounded by the sample whatever the input
    /// size. Returns the sample, the number of valid pairs read and of malformed records.
    public static func readSample(_ inputs: [InputFile], cap: Int, seed: UInt64) throws -> (pairs: [Pair], read: Int, rejected: Int) {
        let src = try PairSource(inputs, threads: 1)
        var rng = SplitMix64(state: seed &+ 0x7E5E)
        var reservoir: [(Int, Pair)] = []
        var read = 0, bad = 0
        try src.forEach { item in
            guard case .pair(let p) = item else { bad += 1; return }
            if reservoir.count < cap { reservoir.append((read, p)) } else {
                let j = Int(rng.next() % UInt64(read + 1))
                if j < cap { reservoir[j] = (read, p) }
            }
            read += 1
        }
        return (reservoir.sorted { $0.0 < $1.0 }.map(\.1), read, bad)
    }
}
