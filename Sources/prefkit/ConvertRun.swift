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
    var parquet: ParquetCodec? = nil
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
        for ext in [".jsonl", ".json", ".ndjson", ".parquet"] where base.hasSuffix(ext) { base.removeLast(ext.count) }
        return base + ".rejects.jsonl"
    }

    /// Converts, then publishes the pairs, rejects, removed records and the summary together
    /// (`summary` builds it once every output is finished; `summaryPath` nil: not written).
    func execute(summaryPath: String?, summary: (Outcome) -> RunSummary) throws -> (Outcome, RunSummary) {
        let outputs = RunOutputs()
        let sink: RecordSink
        if let s = shardSize {
            sink = try RecordSink(.shards(dir: output, size: s), zstdLevel: zstdLevel, overwriteShards: overwrite, parquet: parquet)
        } else {
            sink = try RecordSink(.file(output), zstdLevel: zstdLevel, parquet: parquet)
        }
        outputs.add(sink)
        let converter = Converter(config)
        let rejectsOut = outputs.add(LazyOutput(rejectsPath ?? ConvertRun.defaultRejects(output: output, sharded: shardSize != nil), level: zstdLevel))
        let removedOut: EncodedFile?
        do {
            removedOut = try removedPath.map { try outputs.add(EncodedFile(path: $0, compression: OutputCompression.forPath($0), level: zstdLevel)) }
        } catch { outputs.abort(); throw error }
        var shown = 0
        converter.onReject = { e in
            if quiet { return }
            shown += 1
            if shown <= 10 {
                FileHandle.standardError.write("prefkit: rejected \(printable(e.file)):\(e.line) (byte \(e.offset)): \(e.reason): \(printable(e.message))\n".data(using: .utf8)!)
            } else if shown == 11 {
                FileHandle.standardError.write("prefkit: more rejects follow; see the rejects file\n".data(using: .utf8)!)
            }
        }
        converter.onRejectWrite = { e in try rejectsOut.write(e.json()) }
        converter.onRemovedWrite = { bytes in try removedOut?.write(bytes) }
        do {
            try converter.run(sink: sink)
        } catch let abort as StrictAbort {
            // Nothing is published but the rejects file, which says where the run stopped.
            sink.abort()
            removedOut?.abort()
            let outcome = Outcome(converter: converter, outputs: [], rejectsPath: try rejectsOut.commit(), strictAbort: abort)
            return (outcome, summary(outcome))
        } catch {
            outputs.abort()
            throw error
        }
        try outputs.prepare()
        let outcome = Outcome(converter: converter, outputs: sink.files, rejectsPath: rejectsOut.written, strictAbort: nil)
        let s = summary(outcome)
        if let p = summaryPath {
            do { try outputs.addWhole(Array((s.json().serialized() + "\n").utf8), to: p) } catch { outputs.abort(); throw error }
        }
        try outputs.publish()
        if sink.parquetTextOnly > 0 && !quiet {
            FileHandle.standardError.write("prefkit: \(sink.parquetTextOnly) pairs have tool calls, content parts or other message keys; Parquet output holds their text only (write JSON Lines to keep them)\n".data(using: .utf8)!)
        }
        return (outcome, s)
    }
}

extension RunSummary {
    init(command: String, converter: Converter, outputs: [String], rejectsPath: String?, seconds: Double) {
        self.init(command: command, total: converter.total, inputs: converter.inputs, outputs: outputs, rejectsPath: rejectsPath, seconds: seconds)
    }
}
