// `prefkit split`: train / test (/ valid) with every group of same or near-duplicate prompts on
// one side; deterministic for a seed; optionally stratified by source corpus.
import PrefCore
import PrefIO

public struct SplitOptions: Sendable {
    public var test = 0.05
    public var valid = 0.0
    public var seed: UInt64 = 0
    public var stratifySource = false
    public var near = true
    public var threshold = 0.8
    public var ngram = 5
    public var numPerm = 128
    public init() {}
}

public struct SplitFeature: Sendable {
    var prompt: UInt64
    var sig: [UInt32]
    var format: String
}

public enum Splitter {
    public static func feature(_ p: Pair, _ o: SplitOptions, _ h: MinHasher) -> SplitFeature {
        let np = TextNorm.normalize(TextNorm.text(p.prompt))
        return SplitFeature(prompt: XXH64.hash(np), sig: o.near ? h.signature(TextNorm.ngramHashes(np, n: o.ngram)) : [], format: Measure.sourceFormat(p))
    }

    /// Output index per record: 0 train, 1 test, 2 valid; rejected records keep their rejection.
    public static func assign(_ scanned: [Scanned<SplitFeature>], _ o: SplitOptions, threads: Int) -> (decisions: [Decision], groups: Int) {
        let n = scanned.count
        var decisions = [Decision](repeating: .keep(output: 0), count: n)
        let feats: [SplitFeature?] = scanned.map { if case .pair(let f) = $0 { return f }; return nil }
        for (i, s) in scanned.enumerated() { if case .rejected(let r, let m) = s { decisions[i] = .reject(reason: r, message: m) } }
        var uf = UnionFind(n)
        var first: [UInt64: Int] = [:]
        for i in 0..<n { if let f = feats[i] { if let j = first[f.prompt] { uf.union(j, i) } else { first[f.prompt] = i } } }
        if o.near {
            let reps = (0..<n).filter { feats[$0] != nil && first[feats[$0]!.prompt] == $0 }
            var flat = [UInt32]()
            for i in reps { flat += feats[i]!.sig }
            let (b, r) = LSHParams.optimal(threshold: o.threshold, numPerm: o.numPerm)
            lshCandidates(signatures: flat, numPerm: o.numPerm, count: reps.count, bands: b, rows: r, threads: threads) { x, y in
                let i = reps[x], j = reps[y]
                if uf.find(i) != uf.find(j) && MinHasher.similarity(feats[i]!.sig[...], feats[j]!.sig[...]) >= o.threshold { uf.union(i, j) }
            }
        }
        var groups: [Int: [Int]] = [:]
        for i in 0..<n where feats[i] != nil { groups[uf.find(i), default: []].append(i) }
        let list = groups.values.map { m in
            SplitGroup(minPrompt: m.map { feats[$0]!.prompt }.min()!, first: UInt64(m[0]), stratum: Dedup.formatKey(feats[m[0]]!.format), size: m.count)
        }
        let placed = place(list, o)
        for (g, m) in groups.values.enumerated() { for i in m { decisions[i] = .keep(output: placed[g]) } }
        return (decisions, groups.count)
    }

    /// A prompt group: the least prompt hash of its pairs (its shuffle key comes from it and the
    /// seed), its first pair's place in the run and corpus, and its size.
    public struct SplitGroup: Sendable {
        public var minPrompt: UInt64, first: UInt64, stratum: UInt32, size: Int
    }

    /// Where each group goes (0 train, 1 test, 2 valid): per stratum (corpus, or one), groups in
    /// seeded random order fill test, then valid, then train.
    public static func place(_ groups: [SplitGroup], _ o: SplitOptions) -> [Int] {
        var out = [Int](repeating: 0, count: groups.count)
        var strata: [UInt32: [(key: UInt64, first: UInt64, index: Int)]] = [:]
        for (g, x) in groups.enumerated() {
            var k = x.minPrompt ^ o.seed
            let key = XXH64.hash(withUnsafeBytes(of: &k) { Array($0) }, seed: o.seed)
            strata[o.stratifySource ? x.stratum : 0, default: []].append((key, x.first, g))
        }
        for (_, gs) in strata {
            let sorted = gs.sorted { ($0.key, $0.first) < ($1.key, $1.first) }
            let total = sorted.reduce(0) { $0 + groups[$1.index].size }
            let testQuota = Int((Double(total) * o.test).rounded()), validQuota = Int((Double(total) * o.valid).rounded())
            var inTest = 0, inValid = 0
            for g in sorted {
                let size = groups[g.index].size
                if inTest < testQuota { out[g.index] = 1; inTest += size }
                else if inValid < validQuota { out[g.index] = 2; inValid += size }
                else { out[g.index] = 0 }
            }
        }
        return out
    }
}

extension Splitter {
    /// The output of every record of a merged phased run, by its place in the run, sorted: the
    /// one-process `assign` from the components.
    public static func finalize(_ set: SignSet, _ comps: inout Components, _ o: SplitOptions) throws -> (placed: [(pos: UInt64, output: UInt8)], groups: Int) {
        let n = comps.n
        var minPrompt = [UInt64](repeating: .max, count: n), first = [UInt64](repeating: .max, count: n)
        var stratum = [UInt32](repeating: 0, count: n), size = [Int32](repeating: 0, count: n)
        var roots = [Int32](repeating: 0, count: n)
        var i = 0
        for shard in set.readers.indices {
            try set.forEachRow(shard) { pos, exact, format in
                let r = comps.uf.find(i)
                roots[i] = Int32(r)
                minPrompt[r] = min(minPrompt[r], exact.a)
                if pos < first[r] { first[r] = pos; stratum[r] = format }
                size[r] += 1
                i += 1
            }
        }
        var groupOf = [Int32](repeating: -1, count: n)
        var groups: [SplitGroup] = []
        for r in 0..<n where size[r] > 0 {
            groupOf[r] = Int32(groups.count)
            groups.append(SplitGroup(minPrompt: minPrompt[r], first: first[r], stratum: stratum[r], size: Int(size[r])))
        }
        minPrompt = []; first = []; stratum = []; size = []
        let placed = place(groups, o)
        var out: [(pos: UInt64, output: UInt8)] = []
        out.reserveCapacity(n)
        i = 0
        for shard in set.readers.indices {
            try set.forEachRow(shard) { pos, _, _ in out.append((pos, UInt8(placed[Int(groupOf[Int(roots[i])])]))); i += 1 }
        }
        out.sort { $0.pos < $1.pos }
        return (out, groups.count)
    }

    public static func writePlacement(_ placed: [(pos: UInt64, output: UInt8)], header: [(String, JSONValue)], to path: String) throws {
        try PhaseFileWriter.write(to: path) { w in
            try w.segment("placement") { w in for x in placed { try w.put(x.pos); try w.put(x.output) }; return placed.count }
            return .object(header)
        }
    }

    /// The outputs of the records of the given inputs (by place in the run's input list).
    public static func readPlacement(_ path: String, inputs ranks: Set<Int>) throws -> (header: JSONValue, placed: [UInt64: UInt8]) {
        let f = try PhaseFileReader(path: path)
        let s = try f.stream("placement")
        var out: [UInt64: UInt8] = [:]
        while let h = try s.next(9) {
            let pos: UInt64 = h.le(0)
            guard h[h.startIndex + 8] <= 2 else { throw PhaseFileError("\(path): a placement is damaged", damage: true) }
            if ranks.contains(Int(pos >> 40)) { out[pos] = h[h.startIndex + 8] }
        }
        return (f.header, out)
    }
}
