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
    /// Parquet output (a `.parquet` file, or hub-named shards): the codec, and the open file.
    let parquet: ParquetCodec?
    var parquetFile: ParquetPairWriter?
    var parquetShards: [(writer: ParquetPairWriter, provisional: String)] = []
    /// The Parquet columns (normalized pairs unless told otherwise).
    let layout: [ParquetColumn]
    /// Pairs written to Parquet with their text only (tool calls, content parts, reasoning dropped).
    public private(set) var parquetTextOnly = 0
    var inShard = 0
    var shardIndex = 0
    public private(set) var files: [String] = []
    var finishedShards: [EncodedFile] = []

    /// `parquet`: write Parquet with this codec (a `.parquet` path also selects it, with zstd).
    public init(_ target: Target, zstdLevel: Int = 3, overwriteShards: Bool = false, parquet: ParquetCodec? = nil,
                layout: [ParquetColumn] = ParquetLayout.pairs) throws {
        // A shard directory without its trailing slash, so shard paths are DIR/NAME.
        if case .shards(let d, let size) = target, d.count > 1, d.hasSuffix("/") {
            self.target = .shards(dir: String(d.dropLast()), size: size)
        } else {
            self.target = target
        }
        self.layout = layout
        level = zstdLevel
        var pq = parquet
        if case .file(let p) = target, p.hasSuffix(".parquet"), pq == nil { pq = .zstd }
        self.parquet = pq
        switch self.target {
        case .file(let p) where pq != nil:
            parquetFile = try ParquetPairWriter(path: p, layout: layout, codec: pq!, level: zstdLevel)
            files = [p]
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
            // One run writes a shard set at a time: a second one would publish a mixed set.
            try DirectoryLock.acquire(dir, exclusive: true)
            let existing = RecordSink.existingShards(dir)
            if !existing.isEmpty {
                guard overwriteShards else {
                    throw OutputError("\(dir) already holds \(existing.count) shard(s) (part-*.jsonl.zst or train-*-of-*.parquet); use --overwrite to replace them", usage: true)
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
        InputExpander.names(in: dir).filter { name in
            name.hasPrefix("part-") && name.hasSuffix(".jsonl.zst") || name.hasPrefix("train-") && name.contains("-of-") && name.hasSuffix(".parquet")
        }.sorted()
    }

    /// Writes whole records; `ends` are the offsets just past each record's newline.
    public func write(_ bytes: [UInt8], ends: [Int]) throws {
        guard !ends.isEmpty else { return }
        if parquet != nil { try writeParquet(bytes, ends: ends); return }
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

    func writeParquet(_ bytes: [UInt8], ends: [Int]) throws {
        try bytes.withUnsafeBytes { raw in
            var start = 0
            for end in ends {
                let record = UnsafeRawBufferPointer(rebasing: raw[start..<(end - 1)])      // without the newline
                start = end
                switch target {
                case .file: try parquetFile!.add(record)
                case .shards(let dir, let size):
                    if parquetShards.isEmpty || parquetShards[parquetShards.count - 1].writer.totalRows >= size {
                        // A finished shard keeps only its footer's metadata in memory until commit.
                        try parquetShards.last?.writer.flushRowGroup()
                        // The final name needs the shard count: known at commit.
                        let p = dir + "/train-" + fiveDigits(parquetShards.count) + ".parquet"
                        parquetShards.append((try ParquetPairWriter(path: p, layout: layout, codec: parquet!, level: level), p))
                    }
                    try parquetShards[parquetShards.count - 1].writer.add(record)
                }
            }
        }
    }


    /// Publishes every output at once, at the end of a successful run.
    public func commit() throws {
        try prepare()
        try publish()
    }

    /// Finishes every file (the last shard, Parquet footers); nothing is visible yet.
    public func prepare() throws {
        if let f = parquetFile { try f.finish(); parquetTextOnly = f.textOnly; return }
        if case .shards(let dir, _) = target, parquet != nil {
            if parquetShards.isEmpty {
                parquetShards.append((try ParquetPairWriter(path: dir + "/train-00000.parquet", layout: layout, codec: parquet!, level: level), ""))
            }
            let n = parquetShards.count
            files = []
            parquetTextOnly = 0
            for (k, s) in parquetShards.enumerated() {
                let name = dir + "/train-" + fiveDigits(k) + "-of-" + fiveDigits(n) + ".parquet"
                try s.writer.finish()
                parquetShards[k].provisional = name
                files.append(name)
                parquetTextOnly += s.writer.textOnly
            }
            return
        }
        if let c = current { try c.finish(); finishedShards.append(c); current = nil }
    }

    /// Renames every prepared file into place (and removes the shards it replaces, with --overwrite).
    public func publish() throws {
        try prepare()
        if let f = parquetFile { try f.publish(); parquetFile = nil; return }
        for s in parquetShards { try s.writer.publish(as: s.provisional) }
        parquetShards = []
        for f in finishedShards { try f.publish() }
        finishedShards = []
        for f in staleShards where !files.contains(f) { unlink(f) }
        staleShards = []
    }

    public func abort() {
        parquetFile?.abort()
        for s in parquetShards { s.writer.abort() }
        parquetShards = []
        current?.abort()
        current = nil
        for f in finishedShards { f.abort() }
        finishedShards = []
    }
}

/// A shard number as the shard names write it: at least five digits, zero-padded.
public func fiveDigits(_ i: Int) -> String { let s = String(i); return String(repeating: "0", count: max(0, 5 - s.count)) + s }

extension String {
    init(format5 i: Int) { self = "part-\(fiveDigits(i)).jsonl.zst" }
}
