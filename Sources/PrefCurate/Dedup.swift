// `prefkit dedup`: exact duplicates (hash of the normalized prompt, chosen and rejected), near
// duplicates (MinHash LSH over prompt word n-grams, verified by estimated Jaccard, with responses
// that must match too), conflicting labels, clusters by union-find, one survivor per cluster.
import Foundation
import PrefCore
import PrefIO

public struct DedupOptions: Sendable {
    public enum Keep: String, Sendable, CaseIterable { case first, largestMargin = "largest-margin", longest, sourcePriority = "source-priority" }
    /// What makes two pairs duplicates: the whole pair (prompt and both replies, the default,
    /// preference-aware) or the prompt alone, whatever the replies (datatrove's and text-dedup's
    /// semantics, for mixtures that reuse one prompt pool).
    public enum By: String, Sendable, CaseIterable { case pair, prompt }
    public var by: By = .pair
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

/// The parts of a pair's features only some runs need: signatures (near dedup), the id, margin,
/// length and corpus (keep policies other than `first`), a rejection. Exact dedup with the default
/// policy needs none of them, so its records hold a nil reference.
public final class DedupExtra: Sendable {
    let promptSig: [UInt32]
    let responseSig: [UInt32]
    let id: String?
    let margin: Float
    let length: Int32
    let format: UInt32                // hash of the source corpus name (for --keep source-priority)
    let rejected: (reason: String, message: String)?
    init(promptSig: [UInt32], responseSig: [UInt32], id: String?, margin: Float, length: Int32, format: UInt32, rejected: (String, String)? = nil) {
        self.promptSig = promptSig; self.responseSig = responseSig; self.id = id
        self.margin = margin; self.length = length; self.format = format; self.rejected = rejected
    }
}

/// What pass 1 keeps of a pair: 40 bytes inline.
public struct DedupFeature: Sendable {
    var exact: Hash128
    var conflict: UInt64
    var isRejected = false            // a malformed record; the reason is in extra
    var extra: DedupExtra?

    var rejected: (reason: String, message: String)? { extra?.rejected }
    var promptSig: [UInt32] { extra?.promptSig ?? [] }
    var responseSig: [UInt32] { extra?.responseSig ?? [] }
    var margin: Float { extra?.margin ?? 0 }
    var length: Int32 { extra?.length ?? 0 }
    var format: UInt32 { extra?.format ?? 0 }
    /// Stored only when a keep policy compares ids; otherwise read from the record in pass 2.
    var id: String? { extra?.id }

    /// The record of a malformed input line (kept so indices line up with the second pass).
    public static func rejected(_ reason: String, _ message: String) -> DedupFeature {
        DedupFeature(exact: Hash128((0, 0)), conflict: 0, isRejected: true,
                     extra: DedupExtra(promptSig: [], responseSig: [], id: nil, margin: 0, length: 0, format: 0, rejected: (reason, message)))
    }
}

/// What dedup decided for one record (one byte each: a run holds one per record).
public enum DedupStatus: UInt8, Sendable {
    case kept, exactDuplicate, nearDuplicate, conflict, rejected
}

public final class DedupResult {
    /// Per record: kept, a duplicate (exact or near), a conflict, or rejected.
    public var status: [DedupStatus]
    /// The survivor of a duplicate's cluster (a survivor points to itself; -1 outside clusters).
    public var survivor: [Int32]
    public var similarity: [Float]
    public var clusters: [(kept: Int, members: [(index: Int, exact: Bool, promptSim: Double, responseSim: Double)])]
    public var bands: Int
    public var rows: Int
    public var conflicts: Int
    public var candidatePairs: Int
    /// Duplicates by prompt alone (`--by prompt`): removed as exact_duplicate_prompt / near_duplicate_prompt.
    public var byPrompt = false
    let storedID: (Int) -> String?
    let rejection: (Int) -> (String, String)
    /// Ids of clustered records read from their lines in pass 2 (when not stored in pass 1).
    var recovered: [Int32: String] = [:]
    var scanner = JSONScanner()

    init(status: [DedupStatus], survivor: [Int32], similarity: [Float], clusters: [(kept: Int, members: [(index: Int, exact: Bool, promptSim: Double, responseSim: Double)])],
         bands: Int, rows: Int, conflicts: Int, candidatePairs: Int, storedID: @escaping (Int) -> String?, rejection: @escaping (Int) -> (String, String)) {
        self.status = status; self.survivor = survivor; self.similarity = similarity; self.clusters = clusters
        self.bands = bands; self.rows = rows; self.conflicts = conflicts; self.candidatePairs = candidatePairs
        self.storedID = storedID; self.rejection = rejection
    }

    /// A record's id: stored, or read in pass 2 (clustered records only).
    public func id(_ i: Int) -> String { storedID(i) ?? recovered[Int32(i)] ?? "" }

    /// The decision for record i, given its line. Pass 2 runs in input order, and with the default
    /// policy a survivor always comes before its duplicates, so its id is known when they are written.
    public func decision(_ i: Int, raw: UnsafeRawBufferPointer) -> Decision {
        if survivor[i] >= 0 && storedID(i) == nil, let doc = try? scanner.parse(raw), let id = doc.root["id"]?.string {
            recovered[Int32(i)] = id
        }
        switch status[i] {
        case .rejected: let r = rejection(i); return .reject(reason: r.0, message: r.1)
        case .exactDuplicate, .nearDuplicate:
            return Dedup.removal(status[i], survivor: id(Int(survivor[i])), similarity: similarity.isEmpty ? 1 : similarity[i], byPrompt: byPrompt)
        case .kept, .conflict: return Dedup.removal(status[i], survivor: "", similarity: 1, byPrompt: byPrompt)
        }
    }
}

public enum Dedup {
    public static func feature(_ p: Pair, _ o: DedupOptions, _ prompt: MinHasher, _ response: MinHasher) -> DedupFeature {
        let np = TextNorm.normalize(TextNorm.text(p.prompt))
        let nc = TextNorm.normalize(TextNorm.text(p.chosen))
        let nr = TextNorm.normalize(TextNorm.text(p.rejected))
        let byPrompt = o.by == .prompt
        // By prompt: the key is the prompt (with the pair's images and tools) and replies play no part.
        let exact = byPrompt ? Hash128(Measure.hash128([np] + Measure.columns(p))) : Measure.exactKey(p, prompt: np, chosen: nc, rejected: nr)
        let (lo, hi) = nc.lexicographicallyPrecedes(nr) ? (nc, nr) : (nr, nc)
        let conflict = Measure.hash128([np, lo, hi] + Measure.columns(p)).0
        var ps: [UInt32] = [], rs: [UInt32] = []
        if o.near {
            ps = prompt.signature(TextNorm.ngramHashes(np, n: o.ngram))
            if !byPrompt { rs = response.signature(TextNorm.ngramHashes(nc, n: o.ngram) + TextNorm.ngramHashes(nr, n: o.ngram, seed: 1)) }
        }
        let policy = o.keep != .first
        guard o.near || policy else { return DedupFeature(exact: exact, conflict: conflict, extra: nil) }
        return DedupFeature(exact: exact, conflict: conflict,
                            extra: DedupExtra(promptSig: ps, responseSig: rs, id: policy ? p.id : nil,
                                              margin: Float(Measure.margin(p) ?? 0), length: Int32(Measure.chars(p.chosen) + Measure.chars(p.rejected)),
                                              format: formatKey(Measure.sourceFormat(p))))
    }

    static func formatKey(_ s: String) -> UInt32 { UInt32(truncatingIfNeeded: XXH64.hash(s)) }

    /// Pass-1 features of every record (malformed ones as `DedupFeature.rejected`).
    public static func scan(_ source: PairSource, _ o: DedupOptions) throws -> [DedupFeature] {
        let ph = MinHasher(numPerm: o.numPerm, seed: o.seed), rh = MinHasher(numPerm: o.responsePerm, seed: o.seed &+ 17)
        return try source.scan { item in
            switch item {
            case .pair(let p): return feature(p, o, ph, rh)
            case .rejected(let r, let m): return .rejected(r, m)
            }
        }
    }

    public static func run(_ scanned: [DedupFeature], _ o: DedupOptions, threads: Int) -> DedupResult {
        let n = scanned.count
        var status = [DedupStatus](repeating: .kept, count: n)
        var survivor = [Int32](repeating: -1, count: n)
        var similarity = o.near ? [Float](repeating: 1, count: n) : []
        func feat(_ i: Int) -> DedupFeature? { scanned[i].isRejected ? nil : scanned[i] }
        for i in 0..<n where feat(i) == nil { status[i] = .rejected }
        var live: [Int32] = []
        live.reserveCapacity(n)
        for i in 0..<n where status[i] == .kept { live.append(Int32(i)) }

        // Conflicts: same prompt and responses, opposite labels. Found by sorting on the
        // unordered key; a run with two different exact keys is a conflict. Both sides are dropped.
        var conflicts = 0
        if o.dropConflicts && o.by == .pair {
            live.sort { (feat(Int($0))!.conflict, $0) < (feat(Int($1))!.conflict, $1) }
            var s = 0
            while s < live.count {
                var e = s + 1
                let key = feat(Int(live[s]))!.conflict
                while e < live.count && feat(Int(live[e]))!.conflict == key { e += 1 }
                if e - s > 1 {
                    let first = feat(Int(live[s]))!.exact
                    if live[s..<e].contains(where: { feat(Int($0))!.exact != first }) {
                        for k in s..<e { status[Int(live[k])] = .conflict; conflicts += 1 }
                    }
                }
                s = e
            }
            live.removeAll { status[Int($0)] != .kept }
        }

        // Exact groups by sorting on the 128-bit key; the first in input order represents the group.
        var uf = UnionFind(n)
        live.sort { let a = feat(Int($0))!.exact, b = feat(Int($1))!.exact; return (a.a, a.b, $0) < (b.a, b.b, $1) }
        var reps: [Int32] = []
        var s = 0
        while s < live.count {
            var e = s + 1
            let key = feat(Int(live[s]))!.exact
            while e < live.count && feat(Int(live[e]))!.exact == key { uf.union(Int(live[s]), Int(live[e])); e += 1 }
            reps.append(live[s])
            s = e
        }
        reps.sort()
        live = []

        var bands = 0, rows = 0, candidates = 0
        if o.near {
            if let b = o.bands, let r = o.rows { bands = b; rows = r } else {
                (bands, rows) = LSHParams.optimal(threshold: o.threshold, numPerm: o.numPerm)
            }
            var flat = [UInt32]()
            flat.reserveCapacity(reps.count * o.numPerm)
            for i in reps { flat += feat(Int(i))!.promptSig }
            lshCandidates(signatures: flat, numPerm: o.numPerm, count: reps.count, bands: bands, rows: rows, threads: threads) { a, b in
                candidates += 1
                let i = Int(reps[a]), j = Int(reps[b])
                if uf.find(i) == uf.find(j) { return }
                let fi = feat(i)!, fj = feat(j)!
                if MinHasher.similarity(fi.promptSig[...], fj.promptSig[...]) >= o.threshold &&
                    (o.by == .prompt || MinHasher.similarity(fi.responseSig[...], fj.responseSig[...]) >= o.threshold) {
                    uf.union(i, j)
                }
            }
        }

        // Clusters (roots with more than one member) and their survivors.
        var size = [Int32](repeating: 0, count: n)
        for i in 0..<n where status[i] == .kept { size[uf.find(i)] += 1 }
        var members: [Int: [Int]] = [:]
        for i in 0..<n where status[i] == .kept { let r = uf.find(i); if size[r] > 1 { members[r, default: []].append(i) } }
        var clusters: [(kept: Int, members: [(index: Int, exact: Bool, promptSim: Double, responseSim: Double)])] = []
        let priority = priorities(o.sourcePriority)
        for root in members.keys.sorted() {
            let m = members[root]!
            let kept = m.min { a, b in better(survivorKey(feat(a)!, a), survivorKey(feat(b)!, b), o.keep, priority) }!
            let fk = feat(kept)!
            var list: [(index: Int, exact: Bool, promptSim: Double, responseSim: Double)] = []
            for i in m where i != kept {
                let f = feat(i)!
                let exact = f.exact == fk.exact
                let ps = o.near && !exact ? MinHasher.similarity(f.promptSig[...], fk.promptSig[...]) : 1
                let rs = o.near && !exact && o.by == .pair ? MinHasher.similarity(f.responseSig[...], fk.responseSig[...]) : 1
                status[i] = exact ? .exactDuplicate : .nearDuplicate
                survivor[i] = Int32(kept)
                if o.near { similarity[i] = Float(ps) }
                list.append((i, exact, ps, rs))
            }
            survivor[kept] = Int32(kept)
            clusters.append((kept, list))
        }
        let result = DedupResult(status: status, survivor: survivor, similarity: similarity, clusters: clusters, bands: bands, rows: rows,
                                 conflicts: conflicts, candidatePairs: candidates, storedID: { scanned[$0].id },
                                 rejection: { scanned[$0].rejected ?? ("error", "") })
        result.byPrompt = o.by == .prompt
        return result
    }

    /// What a keep policy compares: the policy's measure, then the id (stored only for policies
    /// other than `first`), then the record's place in the run.
    struct SurvivorKey {
        var margin: Float, length: Int32, format: UInt32, id: String?, order: UInt64
    }
    static func survivorKey(_ f: DedupFeature, _ i: Int) -> SurvivorKey {
        SurvivorKey(margin: f.margin, length: f.length, format: f.format, id: f.id, order: UInt64(i))
    }

    /// Survivor order: the policy, then id, then position (so the choice never depends on threads).
    static func better(_ a: SurvivorKey, _ b: SurvivorKey, _ keep: DedupOptions.Keep, _ pr: [UInt32: Int]) -> Bool {
        switch keep {
        case .first: return a.order < b.order
        case .largestMargin: if a.margin != b.margin { return a.margin > b.margin }
        case .longest: if a.length != b.length { return a.length > b.length }
        case .sourcePriority:
            let x = pr[a.format] ?? Int.max, y = pr[b.format] ?? Int.max
            if x != y { return x < y }
        }
        if let x = a.id, let y = b.id, x != y { return x < y }
        return a.order < b.order
    }

    static func priorities(_ names: [String]) -> [UInt32: Int] {
        Dictionary(names.enumerated().map { (formatKey($1), $0) }, uniquingKeysWith: { a, _ in a })
    }
}
