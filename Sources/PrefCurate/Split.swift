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
        // Groups, each with a seeded random key; per stratum, fill test then valid in key order.
        var groups: [Int: [Int]] = [:]
        for i in 0..<n where feats[i] != nil { groups[uf.find(i), default: []].append(i) }
        var strata: [String: [(key: UInt64, members: [Int])]] = [:]
        for (_, m) in groups {
            let minPrompt = m.map { feats[$0]!.prompt }.min()!
            var k = minPrompt ^ o.seed
            let key = XXH64.hash(withUnsafeBytes(of: &k) { Array($0) }, seed: o.seed)
            let stratum = o.stratifySource ? feats[m[0]]!.format : ""
            strata[stratum, default: []].append((key, m))
        }
        for (_, gs) in strata {
            let sorted = gs.sorted { $0.key != $1.key ? $0.key < $1.key : $0.members[0] < $1.members[0] }
            let total = sorted.reduce(0) { $0 + $1.members.count }
            let testQuota = Int((Double(total) * o.test).rounded()), validQuota = Int((Double(total) * o.valid).rounded())
            var inTest = 0, inValid = 0
            for g in sorted {
                let out: Int
                if inTest < testQuota { out = 1; inTest += g.members.count }
                else if inValid < validQuota { out = 2; inValid += g.members.count }
                else { out = 0 }
                for i in g.members { decisions[i] = .keep(output: out) }
            }
        }
        return (decisions, groups.count)
    }
}
