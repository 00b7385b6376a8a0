import ArgumentParser
import Foundation
import PrefCore
import PrefIO

/// `--shard-index I --shard-count N`: this process is one shard of a run (defaults from a Slurm
/// array task or a Kubernetes Indexed Job). Inputs are assigned by file, in sorted order.
struct ShardOptions: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "This shard's index, 0-based (default: SLURM_ARRAY_TASK_ID, or JOB_COMPLETION_INDEX).")
    var shardIndex: Int?

    @Option(name: .long, parsing: .unconditional, help: "Number of shards (default: SLURM_ARRAY_TASK_COUNT).")
    var shardCount: Int?

    /// The shard, from the flags or the environment; nil when the run is not sharded.
    func resolve() throws -> ShardSpec? {
        do { return try ShardSpec.resolve(index: shardIndex, count: shardCount, env: ProcessInfo.processInfo.environment) } catch {
            throw ValidationError("\(error)")
        }
    }

    func validate() throws { _ = try resolve() }

    /// The output of a sharded run: `DIR/PREFIX-0000I-of-0000N.EXT` in the directory `output`
    /// names (with a trailing slash, or an existing directory), created if needed.
    static func outputPath(_ output: String, _ shard: ShardSpec, prefix: String, ext: String) throws -> String {
        var isDir: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: output, isDirectory: &isDir)
        guard output.hasSuffix("/") || (exists && isDir.boolValue) else {
            throw ValidationError("shard \(shard.index) of \(shard.count) (from \(shard.origin)) writes into a directory: give -o DIR/ (every shard writes its own file there)")
        }
        let dir = output.hasSuffix("/") && output.count > 1 ? String(output.dropLast()) : output
        if !exists { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        // The tasks of a sharded run share the directory; a one-process shard set there is refused.
        do { try DirectoryLock.acquire(dir, exclusive: false) } catch { throw ValidationError("\(error)") }
        return dir + "/" + shard.name(prefix, ext: ext)
    }

    /// Before a shard runs: the run's identity, or nil when the run is not sharded. A shard whose
    /// completion marker matches and whose outputs check ends here (exit 0); a directory holding
    /// another run's shards is a usage error.
    static func begin(_ spec: ShardSpec?, command: String, inputs: [InputFile], output: String, quiet: Bool) throws -> String? {
        guard let spec else { return nil }
        let run = ShardMarker.runIdentity(command: command, arguments: Array(CommandLine.arguments.dropFirst(2)), inputs: inputs)
        let decision: ShardMarker.Decision
        do { decision = try ShardMarker.decide(run: run, spec: spec, output: output) } catch { throw ValidationError("\(error)") }
        switch decision {
        case .skip:
            if !quiet { FileHandle.standardError.write("prefkit \(command): shard \(spec.index) of \(spec.count) is already done (\(ShardMarker.path(for: output))); nothing to do\n".data(using: .utf8)!) }
            throw ExitCode.success
        case .run(let note):
            if let note, !quiet { FileHandle.standardError.write("prefkit \(command): \(note)\n".data(using: .utf8)!) }
        }
        return run
    }

    /// After a shard's outputs are published: its completion marker.
    static func finish(_ spec: ShardSpec?, run: String?, outputs: [String?], output: String) throws {
        guard let spec, let run else { return }
        try ShardMarker.write(run: run, spec: spec, outputs: outputs.compactMap { $0 }.filter { FileManager.default.fileExists(atPath: $0) }, markerFor: output)
    }
}
