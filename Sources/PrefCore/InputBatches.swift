// Reading inputs as record batches, the one way every stage does it: each input opened and decoded
// (`OpenedInput`), split into records by `RecordReader`, and an input that cannot be opened turned
// into a batch holding its single failure, so that it is counted like any other record.
import Foundation
import PrefIO

/// What was learned about one input once it was read.
public struct InputInfo: Sendable {
    /// False when the input could not be opened (its failure came as a batch).
    public var opened: Bool
    public var compression: String
    public var layout: String
    /// Bytes of the input as stored (before decompression).
    public var bytes: Int64
    /// Batches (including the failure batch) the input gave.
    public var batches: Int
}

public struct InputBatches: Sendable {
    public var paths: [String]
    /// Per input, the byte range to read (a shard of one large JSON Lines file), or nil.
    public var ranges: [ByteRange?]
    public var maxRecordBytes = 256 << 20
    public var batchBytes = 1 << 20
    public init(paths: [String], ranges: [ByteRange?]? = nil) { self.paths = paths; self.ranges = ranges ?? paths.map { _ in nil } }
    public init(_ inputs: [InputFile]) { self.init(paths: inputs.map(\.path), ranges: inputs.map(\.range)) }

    /// Calls `body` with every batch of every input in order (`inputIndex` and `sequence` set),
    /// then `finished` with what was learned about that input.
    public func forEach(_ body: (Int, RecordBatch) throws -> Void, finished: (Int, InputInfo) -> Void = { _, _ in }) throws {
        var seq = 0
        // Progress in bytes of the inputs as stored (a count of records when one is stdin).
        let progress = Progress.shared
        let sizes: [Int64?] = paths.indices.map { i in
            if let r = ranges[i] { return r.end - r.start }
            return Progress.size(of: paths[i])
        }
        progress.begin(total: sizes.contains(where: { $0 == nil }) ? nil : sizes.reduce(0) { $0 + ($1 ?? 0) })
        defer { progress.end() }
        var doneBytes: Int64 = 0, records = 0
        for (idx, p) in paths.enumerated() {
            switch OpenedInput.open(p, range: ranges[idx]) {
            case .failure(let f):
                let b = RecordBatch()
                b.failures.append(f)
                b.inputIndex = idx; b.sequence = seq; seq += 1
                try body(idx, b)
                finished(idx, InputInfo(opened: false, compression: "-", layout: "-", bytes: 0, batches: 1))
            case .success(let opened):
                let reader = RecordReader(opened.source, maxRecordBytes: maxRecordBytes, range: ranges[idx])
                var n = 0
                while let b = reader.nextBatch(targetBytes: batchBytes) {
                    b.inputIndex = idx; b.sequence = seq; seq += 1; n += 1
                    records += b.starts.count + b.failures.count
                    try body(idx, b)
                    progress.update(done: doneBytes + opened.bytesRead, items: records)
                }
                doneBytes += sizes[idx] ?? opened.bytesRead
                finished(idx, InputInfo(opened: true, compression: opened.compression.rawValue, layout: reader.mode.rawValue,
                                        bytes: opened.bytesRead, batches: n))
            }
        }
    }
}
