import ArgumentParser
import Foundation
import PrefCore
import PrefCurate
import PrefFormats
import PrefIO

/// Options every curation command shares: normalized pair inputs, outputs and accounting files.
struct CurateIO: ParsableArguments {
    @Argument(help: "Normalized pair files (prefkit convert output), directories, globs, or '-' for stdin.")
    var inputs: [String]

    @Option(name: .long, help: "Write removed records, each with its \"removed_reason\", to this file.")
    var removed: String?

    @Option(name: .long, help: "Where malformed records go (default: beside the output).")
    var rejects: String?

    @Option(name: .long, help: "Write the machine-readable run summary to this JSON file.")
    var summaryJson: String?

    @Option(name: .long, parsing: .unconditional, help: "Worker threads, 1-256 (default: all cores).")
    var threads: Int?

    @Option(name: .long, parsing: .unconditional, help: "zstd level for .zst outputs, 1-22.")
    var zstdLevel: Int = 3

    @Flag(name: [.short, .long], help: "No summary on stderr.")
    var quiet = false

    func validate() throws {
        try Range.check(threads, "threads", Range.threads)
        try Range.check(zstdLevel, "zstd-level", Range.zstdLevel)
    }

    /// A side file's path for this run (numbered by the shard in a sharded run).
    func sidePath(_ p: String?, _ shard: ShardSpec?) -> String? { p.map { shard?.perShard($0) ?? $0 } }

    /// Expands the inputs and checks, before anything is read, that no output is an input. A shard
    /// of a sharded run (filter, decontaminate) takes files k mod N of the sorted inputs.
    func source(outputs: [(flag: String, path: String?)]) throws -> PairSource { try shardSource(outputs: outputs, shard: nil, command: "").0 }

    /// The source of one shard of a sharded run (nil: the whole run) and the run's identity for its
    /// completion marker; a shard already done ends the process here (ShardOptions.begin).
    func shardSource(outputs: [(flag: String, path: String?)], shard: ShardSpec?, command: String) throws -> (PairSource, String?) {
        var expanded: [InputFile]
        var runID: String? = nil
        do {
            expanded = try InputExpander.expand(inputs)
            if let shard {
                runID = try ShardOptions.begin(shard, command: command, inputs: expanded, output: outputs[0].path ?? "", quiet: quiet)
                expanded = try shard.assign(expanded)
            }
            try InputRegistry.checkOutputs(outputs + [("--removed", sidePath(removed, shard)), ("--rejects", sidePath(rejects, shard)),
                                                      ("--summary-json", sidePath(summaryJson, shard))])
        } catch let e as ValidationError { throw e } catch let e as ExitCode { throw e } catch { throw ValidationError("\(error)") }
        return (try PairSource(expanded, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount), runID)
    }

    /// Writes the decisions to the outputs, publishes everything, prints and saves the summary.
    /// `more` writes further outputs once pass 2 is done (e.g. dedup's clusters); they are published
    /// with the others, and the summary (file and screen) comes last, after every output exists.
    func finish(command: String, source: PairSource, outputs: [String], decide: (Int, UnsafeRawBufferPointer) -> Decision,
                started: Date, rejectsDefault: String?, extra: [(String, JSONValue)] = [], shard: ShardSpec? = nil, runID: String? = nil,
                more: () throws -> [EncodedFile] = { [] }) throws {
        let removed = sidePath(removed, shard), rejects = sidePath(rejects, shard), summaryJson = sidePath(summaryJson, shard)
        let files = RunOutputs()
        let sinks: [RecordSink], removedOut: EncodedFile?
        do {
            sinks = try outputs.map { try files.add(RecordSink(.file($0), zstdLevel: zstdLevel)) }
            removedOut = try removed.map { try files.add(EncodedFile(path: $0, compression: OutputCompression.forPath($0), level: zstdLevel)) }
        } catch { files.abort(); throw error }
        let rejectsOut = files.add(LazyOutput(rejects ?? rejectsDefault, level: zstdLevel))
        let writer = CurationWriter()
        var shown = 0
        writer.onReject = { e in
            shown += 1
            if !quiet && shown <= 10 {
                FileHandle.standardError.write("prefkit: rejected \(printable(e.file)):\(e.line): \(e.reason): \(printable(e.message))\n".data(using: .utf8)!)
            }
        }
        let summary: RunSummary
        do {
            try writer.write(source, stage: command, decide: decide, outputs: sinks, removed: removedOut) { e in try rejectsOut.write(e.json()) }
            for f in try more() { files.add(f) }
            try files.prepare()
            phase("pass 2 (write)", started)
            // Every output, side file and the summary appear together, or none of them.
            summary = RunSummary(command: command, total: writer.total, inputs: writer.reports, outputs: outputs,
                                 rejectsPath: rejectsOut.written, seconds: Date().timeIntervalSince(started), extra: extra)
            if let p = summaryJson { try files.addWhole(Array((summary.json().serialized() + "\n").utf8), to: p) }
            try files.publish()
        } catch { files.abort(); throw error }
        try ShardOptions.finish(shard, run: runID, outputs: outputs.map { Optional($0) } + [rejectsOut.written, removed, summaryJson], output: outputs[0])
        if !quiet { summary.printScreen() }
        if writer.total.rejectedTotal > 0 { throw ExitCode(1) }
    }
}

func defaultRejects(_ output: String) -> String? { ConvertRun.defaultRejects(output: output, sharded: false) }

/// With PREFKIT_TIMING=1, prints how long a phase took (for profiling; not part of any output).
func phase(_ name: String, _ since: Date) {
    guard ProcessInfo.processInfo.environment["PREFKIT_TIMING"] == "1" else { return }
    FileHandle.standardError.write(String(format: "  [timing] %@: %.2f s\n", name, Date().timeIntervalSince(since)).data(using: .utf8)!)
}
