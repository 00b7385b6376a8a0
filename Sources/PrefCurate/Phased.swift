// Phased grouping for runs past one machine (docs/scale-out.md): `sign` turns each shard's pairs
// into fixed-size rows (keys, MinHash signatures, what keep policies compare) and sorted bucket
// segments of (key, record) entries; `cluster` merges one bucket of every shard at a time and emits
// conflicts, exact-group edges and verified near-duplicate edges; `merge` joins the edges of every
// bucket with union-find. Dedup and split read the components it gives. The grouping is the one
// process's (Dedup.run, Splitter.assign) rebuilt from buckets: the same conflicts, the same exact
// groups, and LSH candidates linked to each band bucket's first non-conflict representative, so
// the result is the same whatever the shard and bucket counts.
import Foundation
import PrefCore
import PrefIO

/// What the grouping matches on, fixed at `sign` and read back by the later phases.
public struct PhaseParams: Sendable, Equatable {
    public enum Purpose: String, Sendable { case dedup, split }
    public var purpose: Purpose = .dedup
    public var by: DedupOptions.By = .pair
    public var near = true
    public var ngram = 5
    public var numPerm = 128
    /// Permutations of the response check (0: none, as for --by prompt and split).
    public var responsePerm = 32
    public var threshold = 0.8
    public var bands = 0
    public var rows = 0
    public var seed: UInt64 = 1
    public var buckets = 64
    public init() {}

    public static func dedup(_ o: DedupOptions, buckets: Int) -> PhaseParams {
        var p = PhaseParams()
        p.purpose = .dedup; p.by = o.by; p.near = o.near; p.ngram = o.ngram; p.numPerm = o.near ? o.numPerm : 0
        p.responsePerm = o.near && o.by == .pair ? o.responsePerm : 0; p.threshold = o.threshold; p.seed = o.seed; p.buckets = buckets
        if o.near { if let b = o.bands, let r = o.rows { (p.bands, p.rows) = (b, r) } else { (p.bands, p.rows) = LSHParams.optimal(threshold: o.threshold, numPerm: o.numPerm) } }
        return p
    }

    public static func split(_ o: SplitOptions, buckets: Int) -> PhaseParams {
        var p = PhaseParams()
        p.purpose = .split; p.by = .prompt; p.near = o.near; p.ngram = o.ngram; p.numPerm = o.near ? o.numPerm : 0
        p.responsePerm = 0; p.threshold = o.threshold; p.seed = 1; p.buckets = buckets
        if o.near { (p.bands, p.rows) = LSHParams.optimal(threshold: o.threshold, numPerm: o.numPerm) }
        return p
    }

    /// Same prompt and replies with other labels: both removed (dedup of whole pairs only).
    var conflictsApply: Bool { purpose == .dedup && by == .pair }
    var rowSize: Int { 60 + 4 * (numPerm + responsePerm) }

    public var json: JSONValue {
        .object([("purpose", .string(purpose.rawValue)), ("by", .string(by.rawValue)), ("near", .int(near ? 1 : 0)), ("ngram", .int(Int64(ngram))),
                 ("num_perm", .int(Int64(numPerm))), ("response_perm", .int(Int64(responsePerm))), ("threshold", .double(threshold)),
                 ("bands", .int(Int64(bands))), ("rows", .int(Int64(rows))), ("seed", .string(String(seed))), ("buckets", .int(Int64(buckets)))])
    }

    init?(_ j: JSONValue) {
        guard let pu = j["purpose"]?.stringValue.flatMap(Purpose.init), let by = j["by"]?.stringValue.flatMap(DedupOptions.By.init),
              let near = j["near"]?.intValue, let ng = j["ngram"]?.intValue, let np = j["num_perm"]?.intValue, let rp = j["response_perm"]?.intValue,
              let t = j["threshold"]?.doubleValue, let b = j["bands"]?.intValue, let r = j["rows"]?.intValue,
              let s = j["seed"]?.stringValue.flatMap({ UInt64($0) }), let k = j["buckets"]?.intValue, k > 0 else { return nil }
        // A header is data from a file: every size is checked before it sizes anything.
        guard (0...1).contains(near), (1...1024).contains(ng), (0...8192).contains(np), (0...8192).contains(rp), t.isFinite,
              (0...8192).contains(b), (0...8192).contains(r), b * r <= max(np, 1), k <= 1 << 20 else { return nil }
        purpose = pu; self.by = by; self.near = near != 0; ngram = Int(ng); numPerm = Int(np); responsePerm = Int(rp); threshold = t
        bands = Int(b); rows = Int(r); seed = s; buckets = Int(k)
    }
}

/// One pair as the phases see it. `pos` orders records as the one-process run does: the input's
/// place in the run's input list (high bits) and the record's line.
public struct SignRecord: Sendable {
    public var pos: UInt64
    var exact: Hash128
    var group: UInt64
    var conflict: UInt64
    var margin: Float
    var length: Int32
    var format: UInt32
    var id: String
    var promptSig: [UInt32]
    var responseSig: [UInt32]
}

public enum Phased {
    public static func position(input rank: Int, line: Int) -> UInt64 { UInt64(rank) << 40 | UInt64(line) }

    /// The hashers and per-pair record of a sign run (the one process's features, field for field).
    public static func signer(_ params: PhaseParams, dedup: DedupOptions?, split: SplitOptions?) -> @Sendable (Pair, UInt64) -> SignRecord {
        switch params.purpose {
        case .dedup:
            var o = dedup!
            o.keep = .longest   // any policy but `first`: the feature then carries id, margin, length and corpus
            let ph = MinHasher(numPerm: o.numPerm, seed: o.seed), rh = MinHasher(numPerm: o.responsePerm, seed: o.seed &+ 17)
            let opts = o
            return { p, pos in
                let f = Dedup.feature(p, opts, ph, rh)
                let group = opts.by == .pair ? f.conflict : f.exact.a
                return SignRecord(pos: pos, exact: f.exact, group: group, conflict: f.conflict, margin: f.margin, length: f.length, format: f.format,
                                  id: p.id, promptSig: f.promptSig, responseSig: f.responseSig)
            }
        case .split:
            let o = split!
            let h = MinHasher(numPerm: o.numPerm, seed: 1)
            return { p, pos in
                let f = Splitter.feature(p, o, h)
                return SignRecord(pos: pos, exact: Hash128((f.prompt, 0)), group: f.prompt, conflict: f.prompt, margin: 0, length: 0,
                                  format: Dedup.formatKey(f.format), id: p.id, promptSig: f.sig, responseSig: [])
            }
        }
    }

    // MARK: - sign

    /// Writes one shard's sign file: rows, ids and `buckets` sorted entry segments.
    public static func writeSign(_ records: [SignRecord], params: PhaseParams, header: [(String, JSONValue)], to path: String) throws {
        var buckets = [[Entry]](repeating: [], count: params.buckets)
        try PhaseFileWriter.write(to: path) { w in
            var ids: [UInt8] = []
            try w.segment("rows") { w in
                for (local, r) in records.enumerated() {
                    let idBytes = Array(r.id.utf8)
                    var row: [UInt8] = []
                    row.reserveCapacity(params.rowSize)
                    row.putLE(r.pos); row.putLE(r.exact.a); row.putLE(r.exact.b); row.putLE(r.conflict)
                    row.putLE(r.margin.bitPattern); row.putLE(UInt32(bitPattern: r.length)); row.putLE(r.format)
                    row.putLE(UInt32(idBytes.count)); row.putLE(UInt64(ids.count))
                    guard r.promptSig.count == params.numPerm, r.responseSig.count == params.responsePerm else { preconditionFailure("signature sizes") }
                    for v in r.promptSig { row.putLE(v) }
                    for v in r.responseSig { row.putLE(v) }
                    row.putLE(rowCRC(row, idBytes[...]))
                    try w.write(row)
                    ids += idBytes
                    let tag = UInt64(local)
                    buckets[Int(r.group % UInt64(params.buckets))].append(Entry(k0: r.group, exA: r.exact.a, exB: r.exact.b, conflict: r.conflict, pos: r.pos, tag: tag))
                    if params.near {
                        for band in 0..<params.bands {
                            let h = bandHash(r.promptSig, band: band, rows: params.rows)
                            buckets[Int(h % UInt64(params.buckets))].append(Entry(k0: h, exA: r.exact.a, exB: r.exact.b, conflict: r.conflict, pos: r.pos,
                                                                                  tag: UInt64(band + 1) << 32 | tag))
                        }
                    }
                }
                return records.count
            }
            try w.segment("ids") { w in try w.write(ids); return records.count }
            for k in 0..<params.buckets {
                buckets[k].sort(by: Entry.less)
                try w.segment("b\(k)") { w in
                    for e in buckets[k] { try e.write(to: w) }
                    return buckets[k].count
                }
                buckets[k] = []
            }
            return .object(header + [("params", params.json), ("rows", .int(Int64(records.count)))])
        }
    }

    /// The band's bucket hash: the one process's (lshCandidates).
    static func bandHash(_ sig: [UInt32], band: Int, rows: Int) -> UInt64 {
        sig.withUnsafeBytes { XXH64.hash(UnsafeRawBufferPointer(rebasing: $0[(band * rows * 4)..<((band + 1) * rows * 4)]), seed: UInt64(band)) }
    }

    static func rowCRC(_ row: [UInt8], _ id: ArraySlice<UInt8>) -> UInt32 {
        let c = row.withUnsafeBytes { CRC32.update(0, $0) }
        return id.withUnsafeBytes { CRC32.update(c, $0) }
    }

    struct Entry {
        static let size = 48
        var k0, exA, exB, conflict, pos, tag: UInt64
        var kind: UInt64 { tag >> 32 }
        var local: Int { Int(tag & 0xFFFF_FFFF) }
        static func less(_ a: Entry, _ b: Entry) -> Bool { (a.kind, a.k0, a.exA, a.exB, a.pos) < (b.kind, b.k0, b.exA, b.exB, b.pos) }
        func write(to w: PhaseFileWriter) throws { try w.put(k0); try w.put(exA); try w.put(exB); try w.put(conflict); try w.put(pos); try w.put(tag) }
        init(k0: UInt64, exA: UInt64, exB: UInt64, conflict: UInt64, pos: UInt64, tag: UInt64) {
            self.k0 = k0; self.exA = exA; self.exB = exB; self.conflict = conflict; self.pos = pos; self.tag = tag
        }
        init(_ s: ArraySlice<UInt8>) {
            k0 = s.le(0); exA = s.le(8); exB = s.le(16); conflict = s.le(24); pos = s.le(32); tag = s.le(40)
        }
    }
}

/// The sign files of a run, opened and checked against each other.
public final class SignSet {
    public let readers: [PhaseFileReader]
    public let params: PhaseParams
    /// The run's inputs (path, size, modification time), in the order the one-process run reads them.
    public let inputs: JSONValue
    public let counts: [Int]
    public let offsets: [Int]
    public var total: Int { offsets.last! + counts.last! }
    let rowsSeg: [PhaseFileReader.Segment]
    let idsSeg: [PhaseFileReader.Segment]

    /// Opens `DIR/sign-*-of-N.bin` (every shard must be there, from one run).
    public convenience init(dir: String, purpose: PhaseParams.Purpose) throws {
        guard let paths = try ShardSpec.finishedShards(in: dir, prefix: "sign", ext: ".bin", step: "\(purpose.rawValue) sign") else {
            throw PhaseFileError("\(dir) holds no sign files (sign-*.bin): run `prefkit \(purpose.rawValue) sign` first")
        }
        // One descriptor per sign file stays open: raise the soft limit towards the hard one if needed.
        var lim = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim) == 0 && lim.rlim_cur < rlim_t(paths.count + 256) {
            lim.rlim_cur = min(lim.rlim_max, rlim_t(paths.count + 256))
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim)
        }
        try self.init(readers: try paths.map { try PhaseFileReader(path: $0) }, purpose: purpose)
    }

    /// The sign set of opened sign files (one per shard, in shard order), checked against each other
    /// and each against its own header.
    public init(readers: [PhaseFileReader], purpose: PhaseParams.Purpose) throws {
        guard !readers.isEmpty else { throw PhaseFileError("no sign files") }
        guard let p = PhaseParams(readers[0].header["params"] ?? .null), p.purpose == purpose else {
            throw PhaseFileError("\(readers[0].path) was not written by `prefkit \(purpose.rawValue) sign`")
        }
        let inputs = readers[0].header["inputs"] ?? .null
        for r in readers.dropFirst() {
            guard PhaseParams(r.header["params"] ?? .null) == p, (r.header["inputs"] ?? .null).serialized() == inputs.serialized() else {
                throw PhaseFileError("\(r.path) and \(readers[0].path) come from different sign runs (other options or inputs)")
            }
        }
        self.readers = readers; params = p; self.inputs = inputs
        let rowsSeg = try readers.map { try $0.segment("rows") }
        self.rowsSeg = rowsSeg
        idsSeg = try readers.map { try $0.segment("ids") }
        // The row count of each header must be what its rows segment holds (no product of header numbers is trusted).
        counts = try readers.enumerated().map { k, r in
            guard let c = r.header["rows"]?.intValue, c >= 0, rowsSeg[k].length % Int64(p.rowSize) == 0, rowsSeg[k].length / Int64(p.rowSize) == c,
                  c < 1 << 32 else {
                throw PhaseFileError("\(r.path): its rows do not match its header (damaged)", damage: true)
            }
            return Int(c)
        }
        var o: [Int] = [], s = 0
        for c in counts { o.append(s); s += c }
        offsets = o
    }

    public struct Row {
        public var pos: UInt64
        var exact: Hash128
        var margin: Float
        var length: Int32
        var format: UInt32
        public var id: String
        var promptSig: [UInt32]
        var responseSig: [UInt32]
    }

    /// Record `local` of shard `shard`, its CRC-32 checked.
    public func row(_ shard: Int, _ local: Int) throws -> Row {
        let r = readers[shard], size = params.rowSize
        let b = try r.read(rowsSeg[shard], at: Int64(local * size), count: size)[...]
        let idLen = Int(b.le(44, as: UInt32.self))
        guard let idOff = Int64(exactly: b.le(48, as: UInt64.self)) else {
            throw PhaseFileError("\(r.path): record \(local) fails its CRC-32 check (damaged); run that sign shard again", damage: true)
        }
        let id = try r.read(idsSeg[shard], at: idOff, count: idLen)
        guard Phased.rowCRC(Array(b.dropLast(4)), id[...]) == b.le(size - 4, as: UInt32.self) else {
            throw PhaseFileError("\(r.path): record \(local) fails its CRC-32 check (damaged); run that sign shard again", damage: true)
        }
        var ps: [UInt32] = [], rs: [UInt32] = []
        ps.reserveCapacity(params.numPerm); rs.reserveCapacity(params.responsePerm)
        for k in 0..<params.numPerm { ps.append(b.le(56 + 4 * k)) }
        for k in 0..<params.responsePerm { rs.append(b.le(56 + 4 * (params.numPerm + k))) }
        return Row(pos: b.le(0), exact: Hash128((b.le(8), b.le(16))), margin: Float(bitPattern: b.le(32)), length: Int32(bitPattern: b.le(36)),
                   format: b.le(40), id: String(decoding: id, as: UTF8.self), promptSig: ps, responseSig: rs)
    }

    /// The dense index of a record named by (shard, local) in an edge file; a reference outside the
    /// set is a damaged file, never an index used.
    public func dense(_ ref: UInt64) throws -> Int {
        let shard = Int(ref >> 32), local = Int(ref & 0xFFFF_FFFF)
        guard shard < counts.count, local < counts[shard] else {
            throw PhaseFileError("an edge file names record \(local) of sign shard \(shard), which does not exist (damaged or from another run)", damage: true)
        }
        return offsets[shard] + local
    }
    public func ref(dense i: Int) -> (shard: Int, local: Int) {
        var lo = 0, hi = offsets.count - 1
        while lo < hi { let m = (lo + hi + 1) / 2; if offsets[m] <= i { lo = m } else { hi = m - 1 } }
        return (lo, i - offsets[lo])
    }
    public func row(dense i: Int) throws -> Row { let r = ref(dense: i); return try row(r.shard, r.local) }
}

/// The cluster phase for a set of buckets: conflicts, exact-group edges and near edges.
public struct BucketResult {
    public var conflicts: [UInt64] = []
    public var edges: [(UInt64, UInt64)] = []
    public var candidatePairs = 0
    public var nearEdges = 0
    public init() {}
}

extension SignSet {
    /// Conflicts and edges of bucket `k` from every shard's sorted segment (a k-way merge: memory
    /// holds one group at a time). `dropConflicts`: --keep-conflicts not given.
    public func cluster(bucket k: Int, dropConflicts: Bool, into out: inout BucketResult) throws {
        let conflicts = dropConflicts && params.conflictsApply
        let streams = try readers.map { try $0.stream("b\(k)", chunk: 1 << 16) }
        var heads: [Phased.Entry?] = try streams.map { try $0.next(Phased.Entry.size).map(Phased.Entry.init) }
        var heap = EntryHeap()
        for (s, h) in heads.enumerated() { if let h { heap.push(h, s) } }
        var group: [(Phased.Entry, Int)] = []
        func flush() throws {
            guard !group.isEmpty else { return }
            defer { group.removeAll(keepingCapacity: true) }
            let ref = { (e: Phased.Entry, s: Int) in UInt64(s) << 32 | UInt64(e.local) }
            if group[0].0.kind == 0 {
                // One group key: a conflict when it holds two exact keys (dedup of whole pairs),
                // else exact groups, each linked to its first record.
                let distinct = group.contains { $0.0.exA != group[0].0.exA || $0.0.exB != group[0].0.exB }
                if conflicts && distinct { out.conflicts += group.map(ref); return }
                var s = 0
                while s < group.count {
                    var e = s + 1
                    while e < group.count && group[e].0.exA == group[s].0.exA && group[e].0.exB == group[s].0.exB {
                        out.edges.append((ref(group[s].0, group[s].1), ref(group[e].0, group[e].1))); e += 1
                    }
                    s = e
                }
                return
            }
            // A band bucket: the first record of each exact group represents it; representatives
            // in conflict are left out; the rest are checked against the first in run order.
            var reps: [(Phased.Entry, Int)] = []
            for x in group where reps.last.map({ $0.0.exA != x.0.exA || $0.0.exB != x.0.exB }) ?? true { reps.append(x) }
            if reps.count < 2 { return }
            if conflicts {
                var byConflict: [UInt64: Int] = [:]
                for r in reps { byConflict[r.0.conflict, default: 0] += 1 }
                reps.removeAll { byConflict[$0.0.conflict]! > 1 }
            }
            if reps.count < 2 { return }
            reps.sort { $0.0.pos < $1.0.pos }
            let first = try row(reps[0].1, reps[0].0.local)
            for x in reps.dropFirst() {
                out.candidatePairs += 1
                let r = try row(x.1, x.0.local)
                if MinHasher.similarity(first.promptSig[...], r.promptSig[...]) >= params.threshold &&
                    (params.responsePerm == 0 || MinHasher.similarity(first.responseSig[...], r.responseSig[...]) >= params.threshold) {
                    out.edges.append((ref(reps[0].0, reps[0].1), ref(x.0, x.1)))
                    out.nearEdges += 1
                }
            }
        }
        while let (e, s) = heap.pop() {
            if let g = group.first, g.0.kind != e.kind || g.0.k0 != e.k0 { try flush() }
            group.append((e, s))
            heads[s] = try streams[s].next(Phased.Entry.size).map(Phased.Entry.init)
            if let h = heads[s] { heap.push(h, s) }
        }
        try flush()
    }
}

/// A binary min-heap of (entry, stream) by the entries' sort order.
struct EntryHeap {
    var items: [(Phased.Entry, Int)] = []
    func less(_ a: Int, _ b: Int) -> Bool {
        let x = items[a], y = items[b]
        if Phased.Entry.less(x.0, y.0) { return true }
        if Phased.Entry.less(y.0, x.0) { return false }
        return x.1 < y.1
    }
    mutating func push(_ e: Phased.Entry, _ s: Int) {
        items.append((e, s))
        var i = items.count - 1
        while i > 0 { let p = (i - 1) / 2; if less(i, p) { items.swapAt(i, p); i = p } else { break } }
    }
    mutating func pop() -> (Phased.Entry, Int)? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count && less(l, m) { m = l }
            if r < items.count && less(r, m) { m = r }
            if m == i { break }
            items.swapAt(i, m); i = m
        }
        return top
    }
}

// MARK: - edge files and the merge

public enum EdgeFile {
    /// Writes the result of a set of buckets.
    public static func write(_ r: BucketResult, header: [(String, JSONValue)], to path: String) throws {
        try PhaseFileWriter.write(to: path) { w in
            try w.segment("conflicts") { w in for c in r.conflicts { try w.put(c) }; return r.conflicts.count }
            try w.segment("edges") { w in for (x, y) in r.edges { try w.put(x); try w.put(y) }; return r.edges.count }
            return .object(header + [("candidate_pairs", .int(Int64(r.candidatePairs))), ("near_edges", .int(Int64(r.nearEdges)))])
        }
    }

    /// Reads an edge file into a result (CRC-checked).
    public static func read(_ path: String, into out: inout BucketResult) throws -> JSONValue {
        let f = try PhaseFileReader(path: path)
        let c = try f.whole("conflicts")[...]
        guard c.count % 8 == 0 else { throw PhaseFileError("\(path): conflicts segment is damaged", damage: true) }
        for k in stride(from: 0, to: c.count, by: 8) { out.conflicts.append(c.le(k)) }
        let s = try f.stream("edges")
        while let e = try s.next(16) { out.edges.append((e.le(0), e.le(8))) }
        out.candidatePairs += Int(f.header["candidate_pairs"]?.intValue ?? 0)
        out.nearEdges += Int(f.header["near_edges"]?.intValue ?? 0)
        return f.header
    }
}

/// Connected components over every record of a sign set (dense indices), conflicts marked.
public struct Components {
    public var uf: UnionFind
    public var conflict: [UInt64]
    public let n: Int

    public init(_ set: SignSet, _ r: BucketResult) throws {
        n = set.total
        uf = UnionFind(n)
        conflict = [UInt64](repeating: 0, count: (n + 63) / 64)
        for c in r.conflicts { let i = try set.dense(c); conflict[i >> 6] |= 1 << UInt64(i & 63) }
        // Edges never touch a conflict but through a 64-bit conflict-key collision (docs/scale-out.md); such edges are dropped.
        for (a, b) in r.edges {
            let x = try set.dense(a), y = try set.dense(b)
            if !isConflict(x) && !isConflict(y) { uf.union(x, y) }
        }
    }
    public func isConflict(_ i: Int) -> Bool { conflict[i >> 6] & (1 << UInt64(i & 63)) != 0 }
}

extension SignSet {
    /// Every row of a shard in order (place, exact key, corpus), streamed; the segment's CRC-32 is
    /// checked at its end.
    public func forEachRow(_ shard: Int, _ body: (UInt64, Hash128, UInt32) throws -> Void) throws {
        let s = try readers[shard].stream("rows")
        while let b = try s.next(params.rowSize) { try body(b.le(0), Hash128((b.le(8), b.le(16))), b.le(40)) }
    }
}

extension SignSet {
    /// Several buckets on `threads` threads; the results joined in bucket order (the same for any thread count).
    public func cluster(buckets ks: [Int], dropConflicts: Bool, threads: Int) throws -> BucketResult {
        final class Slots: @unchecked Sendable {
            // Each slot is written by the one thread that took its bucket; the lock guards `next`.
            var parts: [Result<BucketResult, Error>?]
            var next = 0
            let lock = NSLock()
            init(_ n: Int) { parts = Array(repeating: nil, count: n) }
        }
        let slots = Slots(ks.count)
        nonisolated(unsafe) let me = self   // read only: pread on shared descriptors, a stream per bucket
        DispatchQueue.concurrentPerform(iterations: max(1, min(threads, ks.count))) { _ in
            while true {
                slots.lock.lock(); let k = slots.next; slots.next += 1; slots.lock.unlock()
                if k >= ks.count { return }
                var r = BucketResult()
                let res: Result<BucketResult, Error>
                do { try me.cluster(bucket: ks[k], dropConflicts: dropConflicts, into: &r); res = .success(r) } catch { res = .failure(error) }
                slots.lock.lock(); slots.parts[k] = res; slots.lock.unlock()
            }
        }
        var all = BucketResult()
        for p in slots.parts {
            let r = try p!.get()
            all.conflicts += r.conflicts; all.edges += r.edges; all.candidatePairs += r.candidatePairs; all.nearEdges += r.nearEdges
        }
        return all
    }
}
