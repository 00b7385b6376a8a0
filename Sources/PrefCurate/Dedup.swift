// `prefkit dedup`: exact duplicates (hash of the normalized prompt, chosen and rejected), near
// duplicates (MinHash LSH over prompt word n-grams, verified by estimated Jaccard, with responses
// that must match too), conflicting labels, clusters by union-find, one survivor per cluster.
import Foundation
import PrefFormats
import PrefIO

public struct DedupOptions: Sendable {
    public enum Keep: String, Sendable { case first, largestMargin = "largest-margin", longest, sourcePriority = "source-priority" }
    public var ngram = 5
    public var numPerm = 128
    public var threshold = 0.8
    public var bands: Int?
    public var rows: Int?
    public var responsePerm = 32
    public var near = true
    public var keep: Keep = .first
    public var sourcePriority: [String] = []
    public var dropConflicts = true
    public var seed: UInt64 = 1
    public init() {}
}

public struct DedupFeature: Sendable {
    var exact: Hash128
    var conflict: Hash128
    var promptSig: [UInt32]
    var responseSig: [UInt32]
    var margin: Double
    var length: Int
    var format: String
    var id: String
}

public struct DedupResult {
    public var decisions: [Decision]
    public var clusters: [(kept: Int, members: [(index: Int, exact: Bool, promptSim: Double, responseSim: Double)])]
    public var ids: [String]
    public var bands: Int
    public var rows: Int
    public var conflicts: Int
    public var candidatePairs: Int
}

public enum Dedup {
    public static func feature(_ p: Pair, _ o: DedupOptions, _ prompt: MinHasher, _ response: MinHasher) -> DedupFeature {
        let np = TextNorm.normalize(TextNorm.text(p.prompt))
        let nc = TextNorm.normalize(TextNorm.text(p.chosen))
        let nr = TextNorm.normalize(TextNorm.text(p.rejected))
        let exact = Hash128(Measure.hash128([np, nc, nr]))
        let (lo, hi) = nc.lexicographicallyPrecedes(nr) ? (nc, nr) : (nr, nc)
        let conflict = Hash128(Measure.hash128([np, lo, hi]))
        var ps: [UInt32] = [], rs: [UInt32] = []
        if o.near {
            ps = prompt.signature(TextNorm.ngramHashes(np, n: o.ngram))
            rs = response.signature(TextNorm.ngramHashes(nc, n: o.ngram) + TextNorm.ngramHashes(nr, n: o.ngram, seed: 1))
        }
        return DedupFeature(exact: exact, conflict: conflict, promptSig: ps, responseSig: rs, margin: Measure.margin(p) ?? 0,
                            length: Measure.chars(p.chosen) + Measure.chars(p.rejected), format: Measure.sourceFormat(p), id: p.id)
    }

    public static func run(_ scanned: [Scanned<DedupFeature>], _ o: DedupOptions, threads: Int) -> DedupResult {
        let n = scanned.count
        var decisions = [Decision](repeating: .keep(output: 0), count: n)
        var feats: [DedupFeature?] = scanned.map { if case .pair(let f) = $0 { return f }; return nil }
        for (i, s) in scanned.enumerated() { if case .rejected(let r, let m) = s { decisions[i] = .reject(reason: r, message: m) } }

        // Conflicts: same prompt and responses, opposite labels. Both sides are dropped (by default).
        // Per conflict key: the first orientation seen, and whether another one exists.
        var orientation: [Hash128: (first: Hash128, mixed: Bool)] = [:]
        orientation.reserveCapacity(n)
        for i in 0..<n {
            guard let f = feats[i] else { continue }
            if let o = orientation[f.conflict] {
                if !o.mixed && o.first != f.exact { orientation[f.conflict] = (o.first, true) }
            } else { orientation[f.conflict] = (f.exact, false) }
        }
        var conflicts = 0
        if o.dropConflicts {
            for i in 0..<n {
                guard let f = feats[i], orientation[f.conflict]!.mixed else { continue }
                decisions[i] = .remove(reason: "conflict", extra: [])
                feats[i] = nil
                conflicts += 1
            }
        }

        var uf = UnionFind(n)
        var firstOf: [Hash128: Int] = [:]
        firstOf.reserveCapacity(n)
        for i in 0..<n {
            guard let f = feats[i] else { continue }
            if let j = firstOf[f.exact] { uf.union(j, i) } else { firstOf[f.exact] = i }
        }
        var bands = 0, rows = 0, candidates = 0
        if o.near {
            if let b = o.bands, let r = o.rows { bands = b; rows = r } else {
                (bands, rows) = LSHParams.optimal(threshold: o.threshold, numPerm: o.numPerm)
            }
            // Only one representative per exact group takes part.
            let reps = (0..<n).filter { i in feats[i] != nil && firstOf[feats[i]!.exact] == i }
            var flat = [UInt32]()
            flat.reserveCapacity(reps.count * o.numPerm)
            for i in reps { flat += feats[i]!.promptSig }
            lshCandidates(signatures: flat, numPerm: o.numPerm, count: reps.count, bands: bands, rows: rows, threads: threads) { a, b in
                candidates += 1
                let i = reps[a], j = reps[b]
                if uf.find(i) == uf.find(j) { return }
                let fi = feats[i]!, fj = feats[j]!
                if MinHasher.similarity(fi.promptSig[...], fj.promptSig[...]) >= o.threshold &&
                    MinHasher.similarity(fi.responseSig[...], fj.responseSig[...]) >= o.threshold {
                    uf.union(i, j)
                }
            }
        }

        // Clusters and survivors (only roots with more than one member are gathered).
        var size = [Int32](repeating: 0, count: n)
        var rootOf = [Int32](repeating: -1, count: n)
        for i in 0..<n where feats[i] != nil { let r = uf.find(i); rootOf[i] = Int32(r); size[r] += 1 }
        var members: [Int: [Int]] = [:]
        for i in 0..<n where rootOf[i] >= 0 && size[Int(rootOf[i])] > 1 { members[Int(rootOf[i]), default: []].append(i) }
        var clusters: [(kept: Int, members: [(index: Int, exact: Bool, promptSim: Double, responseSim: Double)])] = []
        let priority = Dictionary(uniqueKeysWithValues: o.sourcePriority.enumerated().map { ($1, $0) })
        for root in members.keys.sorted() {
            let m = members[root]!
            guard m.count > 1 else { continue }
            let kept = m.min { a, b in better(feats[a]!, a, feats[b]!, b, o, priority) }!
            let fk = feats[kept]!
            var list: [(Int, Bool, Double, Double)] = []
            for i in m where i != kept {
                let f = feats[i]!
                let exact = f.exact == fk.exact
                let ps = o.near ? MinHasher.similarity(f.promptSig[...], fk.promptSig[...]) : 1
                let rs = o.near ? MinHasher.similarity(f.responseSig[...], fk.responseSig[...]) : 1
                decisions[i] = .remove(reason: exact ? "exact_duplicate" : "near_duplicate",
                                       extra: [("duplicate_of", .string(fk.id)), ("prompt_similarity", .double(ps))])
                list.append((i, exact, ps, rs))
            }
            clusters.append((kept, list.map { (index: $0.0, exact: $0.1, promptSim: $0.2, responseSim: $0.3) }))
        }
        return DedupResult(decisions: decisions, clusters: clusters, ids: feats.map { $0?.id ?? "" }, bands: bands, rows: rows,
                           conflicts: conflicts, candidatePairs: candidates)
    }

    /// Survivor order: the policy, then id, then position (so the choice never depends on threads).
    static func better(_ a: DedupFeature, _ ia: Int, _ b: DedupFeature, _ ib: Int, _ o: DedupOptions, _ pr: [String: Int]) -> Bool {
        switch o.keep {
        case .first: return ia < ib
        case .largestMargin: if a.margin != b.margin { return a.margin > b.margin }
        case .longest: if a.length != b.length { return a.length > b.length }
        case .sourcePriority:
            let x = pr[a.format] ?? Int.max, y = pr[b.format] ?? Int.max
            if x != y { return x < y }
        }
        return a.id != b.id ? a.id < b.id : ia < ib
    }
}
