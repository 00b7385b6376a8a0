// Shard-parallel runs: which shard this process is (`--shard-index I --shard-count N`, or the
// scheduler's environment), which inputs it takes, and what its outputs are called, so that the
// outputs of all shards together are the dataset a single run writes. docs/scale-out.md.
#if canImport(Glibc)
import Glibc
#endif
import PrefIO

public struct ShardSpec: Sendable, Equatable {
    public var index: Int
    public var count: Int
    /// Where the numbers came from, for messages ("--shard-index", "SLURM_ARRAY_TASK_ID", ...).
    public var origin: String

    public init(index: Int, count: Int, origin: String = "--shard-index") { self.index = index; self.count = count; self.origin = origin }

    public struct Invalid: Error, CustomStringConvertible { public var description: String }

    /// The shard from the flags, else from the environment: a Slurm array task
    /// (`SLURM_ARRAY_TASK_ID` from `SLURM_ARRAY_TASK_MIN`, `SLURM_ARRAY_TASK_COUNT` tasks) or a
    /// Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`, with `--shard-count`). nil: not sharded.
    public static func resolve(index: Int?, count: Int?, env: [String: String]) throws -> ShardSpec? {
        func int(_ k: String) throws -> Int? {
            guard let s = env[k] else { return nil }
            guard let v = Int(s) else { throw Invalid(description: "\(k)=\(s) is not a number") }
            return v
        }
        var spec: ShardSpec
        if let i = index {
            guard let n = count else { throw Invalid(description: "--shard-index needs --shard-count") }
            spec = ShardSpec(index: i, count: n, origin: "--shard-index")
        } else if let task = try int("SLURM_ARRAY_TASK_ID") {
            let first = try int("SLURM_ARRAY_TASK_MIN") ?? 0
            guard let n = try count ?? int("SLURM_ARRAY_TASK_COUNT") else {
                throw Invalid(description: "SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT; give --shard-count")
            }
            let (index, overflow) = task.subtractingReportingOverflow(first)
            guard !overflow else { throw Invalid(description: "SLURM_ARRAY_TASK_ID (\(task)) - SLURM_ARRAY_TASK_MIN (\(first)) is out of range") }
            spec = ShardSpec(index: index, count: n, origin: "SLURM_ARRAY_TASK_ID")
        } else if let k = try int("JOB_COMPLETION_INDEX") {
            guard let n = count else { throw Invalid(description: "JOB_COMPLETION_INDEX is set: give --shard-count (the Job's completions)") }
            spec = ShardSpec(index: k, count: n, origin: "JOB_COMPLETION_INDEX")
        } else {
            if count != nil { throw Invalid(description: "--shard-count needs --shard-index (or a Slurm array / Indexed Job environment)") }
            return nil
        }
        guard spec.count >= 1 && spec.count <= 1_000_000 else { throw Invalid(description: "the shard count must be in 1...1000000 (got \(spec.count))") }
        guard spec.index >= 0 && spec.index < spec.count else {
            throw Invalid(description: "shard index \(spec.index) (from \(spec.origin)) is outside 0..<\(spec.count)")
        }
        return spec
    }

    /// This shard's inputs: of the inputs in sorted order (by path), file k goes to shard k mod N;
    /// a single input that is a plain (uncompressed) JSON Lines file is cut instead into N
    /// newline-aligned byte ranges, range k to shard k.
    public func assign(_ inputs: [InputFile]) throws -> [InputFile] {
        if count > 1, inputs.count == 1, ShardSpec.isPlainJSONLines(inputs[0].path) {
            var one = inputs[0]
            one.range = try ByteRange.part(one.path, index: index, count: count)
            return [one]
        }
        let sorted = inputs.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        return sorted.enumerated().filter { $0.offset % count == index }.map(\.element)
    }

    /// A regular file, not compressed, whose first non-blank byte (after a byte order mark) opens
    /// an object: JSON Lines, which can be cut at line ends.
    static func isPlainJSONLines(_ path: String) -> Bool {
        guard path != "-", let f = try? FileSource(path: path) else { return false }
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return false }
        var head = [UInt8](repeating: 0, count: 4096)
        guard let n = try? head.withUnsafeMutableBytes({ try f.read(into: $0) }), n > 0 else { return false }
        var bytes = Array(head[0..<n])
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        guard let (_, comp) = try? Sources.decoding(MemorySource(Array(head[0..<n]))), comp == .none else { return false }
        return bytes.first(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) == UInt8(ascii: "{")
    }

    /// A side file of this shard (removed records, summary): `dir/removed.jsonl` becomes
    /// `dir/removed-00003-of-00008.jsonl`, so the shards of a run never write the same file.
    public func perShard(_ path: String) -> String {
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        let file = path[slash...]
        // The first dot after the name's first character (a leading dot is part of a hidden file's name).
        let dot = file.dropFirst().firstIndex(of: ".") ?? file.endIndex
        return String(path[..<dot]) + name("", ext: "") + String(path[dot...])
    }

    /// `PREFIX-00003-of-00008` + `ext`: the shard's output name, the hub's shard naming.
    public func name(_ prefix: String, ext: String) -> String {
        "\(prefix)-\(fiveDigits(index))-of-\(fiveDigits(count))\(ext)"
    }
}

extension ShardSpec {
    /// The files every shard of one finished run left in `dir` (`PREFIX-0000I-of-0000N.EXT`, each
    /// with its completion marker), in shard order; nil when there are none. A shard missing or
    /// unfinished, or files of runs with other shard counts, is an error naming `step`.
    public static func finishedShards(in dir: String, prefix: String, ext: String, step: String) throws -> [String]? {
        let names = InputExpander.names(in: dir).filter { $0.hasPrefix(prefix + "-") && $0.hasSuffix(ext) }.sorted()
        guard let first = names.first else { return nil }
        guard let n = Int(first.dropFirst(prefix.count + "-00000-of-".count).dropLast(ext.count)), n > 0 else {
            throw PhaseFileError("\(dir)/\(first): not a shard file name (\(prefix)-0000I-of-0000N\(ext))")
        }
        let paths = (0..<n).map { dir + "/" + ShardSpec(index: $0, count: n).name(prefix, ext: ext) }
        for (k, p) in paths.enumerated() where access(ShardMarker.path(for: p), F_OK) != 0 || access(p, F_OK) != 0 {
            throw PhaseFileError("\(p) is missing or unfinished: \(step) shard \(k) of \(n) has not completed (run it, then this step)")
        }
        if names.count != n { throw PhaseFileError("\(dir) holds \(prefix) files of runs with different shard counts: use one directory per run") }
        return paths
    }
}
