// Where pairs go: one file, stdout, or numbered zstd shards in a directory.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import CZstd

/// Where converted records go: one file (or stdout), or numbered shards in a directory.
public final class RecordSink {
    public enum Target { case file(String), shards(dir: String, size: Int) }
    let target: Target
    let level: Int
    var current: EncodedFile?
    var inShard = 0
    var shardIndex = 0
    public private(set) var files: [String] = []
    var finishedShards: [EncodedFile] = []

    public init(_ target: Target, zstdLevel: Int = 3, overwriteShards: Bool = false) throws {
        self.target = target
        level = zstdLevel
        switch target {
        case .file(let p):
            let c = OutputCompression.forPath(p)
            current = try EncodedFile(path: p, compression: c, level: c == .gzip ? 6 : zstdLevel)
            files = [p]
        case .shards(let dir, let size):
            guard size > 0 else { throw OutputError("--shard-size must be positive") }
            var st = stat()
            if stat(dir, &st) != 0 {
                if mkdir(dir, 0o755) != 0 { throw OutputError("cannot create directory \(dir): \(errnoText())") }
            } else if (st.st_mode & S_IFMT) != S_IFDIR {
                throw OutputError("\(dir) exists and is not a directory; --shard-size writes a directory of shards", usage: true)
            }
            let existing = RecordSink.existingShards(dir)
            if !existing.isEmpty {
                guard overwriteShards else {
                    throw OutputError("\(dir) already holds \(existing.count) part-*.jsonl.zst shard(s); use --overwrite to replace them", usage: true)
                }
                // Old shards stay until the new set is published (then any left over are removed),
                // and none of them may be an input of this run.
                for f in existing { try InputRegistry.refuseIfInput(dir + "/" + f, output: dir + "/" + f) }
                staleShards = existing.map { dir + "/" + $0 }
            }
        }
    }

    var staleShards: [String] = []

    static func existingShards(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            if name.hasPrefix("part-") && name.hasSuffix(".jsonl.zst") { out.append(name) }
        }
        return out.sorted()
    }

    /// Writes whole records; `ends` are the offsets just past each record's newline.
    public func write(_ bytes: [UInt8], ends: [Int]) throws {
        guard !ends.isEmpty else { return }
        switch target {
        case .file:
            try current!.write(bytes)
        case .shards(let dir, let size):
            var start = 0
            var k = 0
            while k < ends.count {
                if current == nil {
                    let p = dir + "/" + String(format5: shardIndex)
                    current = try EncodedFile(path: p, compression: .zstd, level: level)
                    files.append(p)
                    shardIndex += 1
                    inShard = 0
                }
                let take = min(size - inShard, ends.count - k)
                let end = ends[k + take - 1]
                try bytes.withUnsafeBytes { try current!.write(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
                start = end
                k += take
                inShard += take
                if inShard == size { try current!.finish(); finishedShards.append(current!); current = nil }
            }
        }
    }

    /// Publishes every output at once, at the end of a successful run.
    public func commit() throws {
        if let c = current { try c.finish(); finishedShards.append(c); current = nil }
        for f in finishedShards { try f.publish() }
        finishedShards = []
        for f in staleShards where !files.contains(f) { unlink(f) }
        staleShards = []
    }

    public func abort() {
        current?.abort()
        current = nil
        for f in finishedShards { f.abort() }
        finishedShards = []
    }
}

extension String {
    init(format5 i: Int) {
        var s = String(i)
        while s.count < 5 { s = "0" + s }
        self = "part-\(s).jsonl.zst"
    }
}
