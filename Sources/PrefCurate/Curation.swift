// The second pass shared by every curation command: each record goes to an output, to the removed
// file with its reason, or to the rejects file; every record is counted once.
import PrefCore
import PrefIO

public enum Decision: Sendable {
    case keep(output: Int)
    case remove(reason: String, extra: [(String, JSONValue)])
    case reject(reason: String, message: String)
}

public final class CurationWriter {
    public private(set) var total = Tally()
    public private(set) var reports: [InputReport] = []
    public var onReject: ((RecordFailure) -> Void)?

    public init() {}

    /// Writes every record where its decision sends it; outputs are published by the caller.
    /// `stage` names the command in each removed record.
    public func write(_ source: PairSource, stage: String, decide: (Int, UnsafeRawBufferPointer) -> Decision, outputs: [RecordSink],
                      removed: EncodedFile?, rejects: ((RecordFailure) throws -> Void)?) throws {
        reports = source.reports
        var buffers = [ByteBuffer](repeating: ByteBuffer(), count: outputs.count)
        var ends = [[Int]](repeating: [], count: outputs.count)
        func flush(_ k: Int) throws {
            try outputs[k].write(buffers[k].bytes, ends: ends[k])
            buffers[k].removeAll(); ends[k].removeAll()
        }
        try source.copy { index, raw, info in
            var t = Tally()
            t.read = 1
            switch decide(index, raw) {
            case .keep(let k):
                buffers[k].append(raw); buffers[k].append(0x0A); ends[k].append(buffers[k].count)
                t.written = 1; t.pairs = 1
                if buffers[k].count >= 1 << 20 { try flush(k) }
            case .remove(let reason, let extra):
                t.removed[reason] = 1
                if let r = removed {
                    var b = ByteBuffer()
                    RemovedRecord.append(to: &b, reason: reason, stage: stage, source: "\(source.inputs[info.input].display):\(info.line)",
                                         details: extra, record: raw)
                    try r.write(b.bytes)
                }
            case .reject(let reason, let message):
                t.rejected[reason] = 1
                let e = RecordFailure(file: source.inputs[info.input].display, line: info.line, offset: 0, reason: reason, message: message, raw: Array(raw))
                onReject?(e)
                try rejects?(e)
            }
            total.add(t)
            reports[info.input].tally.add(t)
        }
        for k in outputs.indices where !ends[k].isEmpty { try flush(k) }
    }
}

/// The common first-pass result: a pair's features, or why the record is rejected.
public enum Scanned<F: Sendable>: Sendable {
    case pair(F)
    case rejected(String, String)
}

extension PairSource {
    public func scanPairs<F>(_ f: @escaping @Sendable (Pair) -> F) throws -> [Scanned<F>] {
        try scan { item in
            switch item {
            case .pair(let p): return .pair(f(p))
            case .rejected(let r, let m): return .rejected(r, m)
            }
        }
    }
}
