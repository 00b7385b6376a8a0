// Completion markers of sharded runs: a finished shard leaves `OUTPUT.done.json` beside its output,
// naming the run (command, arguments, inputs with sizes and modification times, shard count) and
// each output file with its size and CRC-32. A rerun skips a shard whose marker matches and whose
// outputs still check; a marker of another run (other inputs, flags or shard count) in the same
// directory is refused; an output that no longer matches its marker is reported and redone.
#if canImport(Glibc)
import Glibc
#endif
import PrefIO

public struct ShardMarker: Sendable {
    /// What identifies the run: the same for every shard of one run.
    public var run: String
    public var spec: ShardSpec
    /// Output files (path, bytes, CRC-32).
    public var outputs: [(path: String, bytes: Int64, crc: UInt32)]

    public static func path(for output: String) -> String { output + ".done.json" }

    /// The run's identity: the command and its arguments without the shard flags, --threads and
    /// --quiet, and every input
    /// with its size and modification time.
    public static func runIdentity(command: String, arguments: [String], inputs: [InputFile]) -> String {
        var args: [String] = []
        var skip = false
        for a in arguments {
            if skip { skip = false; continue }
            // The shard, and what changes no output: the thread count, quiet.
            if a == "--shard-index" || a == "--shard-count" || a == "--threads" { skip = true; continue }
            if a.hasPrefix("--shard-index=") || a.hasPrefix("--shard-count=") || a.hasPrefix("--threads=") || a == "-q" || a == "--quiet" { continue }
            args.append(a)
        }
        var parts = [command] + args
        for f in inputs.sorted(by: { $0.path < $1.path }) {
            var st = stat()
            let ok = stat(f.path, &st) == 0
            parts.append("\(f.path)|\(ok ? Int64(st.st_size) : -1)|\(ok ? Int64(st.st_mtim.tv_sec) : -1)")
        }
        return parts.joined(separator: "\u{1F}")
    }

    /// Size and CRC-32 of a file, read in chunks.
    public static func checksum(_ path: String) throws -> (Int64, UInt32) {
        var crc: UInt32 = 0
        let total = try FileSource.eachBlock(of: path) { crc = CRC32.update(crc, $0) }
        return (total, crc)
    }

    func json() -> JSONValue {
        .object([("run", .string(run)), ("shard_index", .int(Int64(spec.index))), ("shard_count", .int(Int64(spec.count))),
                 ("outputs", .array(outputs.map { .object([("path", .string($0.path)), ("bytes", .int($0.bytes)), ("crc32", .int(Int64($0.crc)))]) }))])
    }

    /// Writes the marker of a finished shard (atomically), after its outputs are published.
    public static func write(run: String, spec: ShardSpec, outputs: [String], markerFor output: String) throws {
        let outs = try outputs.map { p -> (path: String, bytes: Int64, crc: UInt32) in let (n, c) = try checksum(p); return (p, n, c) }
        let m = ShardMarker(run: run, spec: spec, outputs: outs)
        try EncodedFile.writeWhole(Array((m.json().serialized() + "\n").utf8), to: path(for: output))
    }

    public enum Decision: Equatable {
        /// No usable marker: run the shard (with what was found wrong, if anything).
        case run(note: String?)
        /// The shard is done and its outputs check: nothing to do.
        case skip
    }

    public struct Conflict: Error, CustomStringConvertible { public var description: String }

    /// What a (re)run of this shard should do, given the markers in the output's directory.
    /// Throws `Conflict` when the directory holds shards of another run.
    public static func decide(run: String, spec: ShardSpec, output: String) throws -> Decision {
        let dir = PathParts(path: output).directory
        // Any marker in the directory made with another shard count or by another run is a conflict.
        for name in InputExpander.names(in: dir).sorted() where name.hasSuffix(".done.json") {
            guard let v = try? JSONValue.parse(bytes: Sources.readAll(dir + "/" + name)) else { continue }
            if let n = v["shard_count"]?.intValue, Int(n) != spec.count {
                throw Conflict(description: "\(dir) holds shards of a run with \(n) shards (\(name)); this run has \(spec.count): use another output directory")
            }
            if let r = v["run"]?.stringValue, r != run {
                throw Conflict(description: "\(dir) holds shards of a run over other inputs or options (\(name)): use another output directory, or remove it to start over")
            }
        }
        let markerPath = path(for: output)
        guard let bytes = try? Sources.readAll(markerPath) else { return .run(note: nil) }
        guard let v = try? JSONValue.parse(bytes: bytes), let outs = v["outputs"]?.arrayValue else {
            return .run(note: "\(markerPath) is damaged; the shard is run again")
        }
        for o in outs {
            guard let p = o["path"]?.stringValue, let n = o["bytes"]?.intValue, let c = o["crc32"]?.intValue else {
                return .run(note: "\(markerPath) is damaged; the shard is run again")
            }
            guard let (size, crc) = try? checksum(p), size == n, Int64(crc) == c else {
                return .run(note: "\(p) does not match its completion marker (missing, partial or changed); the shard is run again")
            }
        }
        return .skip
    }
}

/// The directory part of a path ("." for a bare name).
struct PathParts {
    let path: String
    var directory: String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
