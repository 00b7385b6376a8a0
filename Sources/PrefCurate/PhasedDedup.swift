// The end of phased dedup: survivors of the merged clusters chosen by the keep policy, a decision
// for every removed record (by its place in the run), and `apply`'s lookup of those decisions.
import Foundation
import PrefCore
import PrefIO

public struct PhasedDecision: Sendable {
    public var pos: UInt64
    public var status: DedupStatus
    public var similarity: Float
    public var survivor: String
}

public struct PhasedCluster {
    public var kept: String
    public var members: [(id: String, exact: Bool, promptSim: Double, responseSim: Double)]
    public init(kept: String, members: [(id: String, exact: Bool, promptSim: Double, responseSim: Double)]) { self.kept = kept; self.members = members }
}

extension Dedup {
    /// Survivors and decisions of a merged run. `clusters`: also return every cluster (for the
    /// clusters file), in the one-process order (by first member), members in run order.
    public static func finalize(_ set: SignSet, _ comps: inout Components, keep: DedupOptions.Keep, sourcePriority: [String],
                                clusters wantClusters: Bool) throws -> (decisions: [PhasedDecision], clusters: [PhasedCluster], count: Int, conflicts: Int) {
        let n = comps.n, p = set.params
        var size = [Int32](repeating: 0, count: n)
        for i in 0..<n where !comps.isConflict(i) { size[comps.uf.find(i)] += 1 }
        var members: [(root: Int32, i: Int32)] = []
        for i in 0..<n where !comps.isConflict(i) {
            let r = comps.uf.find(i)
            if size[r] > 1 { members.append((Int32(r), Int32(i))) }
        }
        size = []
        members.sort { ($0.root, $0.i) < ($1.root, $1.i) }
        let priority = priorities(sourcePriority)
        var decisions: [PhasedDecision] = []
        var out: [(first: UInt64, cluster: PhasedCluster)] = []
        var conflicts = 0
        for i in 0..<n where comps.isConflict(i) {
            decisions.append(PhasedDecision(pos: try set.row(dense: i).pos, status: .conflict, similarity: 1, survivor: ""))
            conflicts += 1
        }
        var s = 0, count = 0
        while s < members.count {
            var e = s + 1
            while e < members.count && members[e].root == members[s].root { e += 1 }
            let rows = try members[s..<e].map { try set.row(dense: Int($0.i)) }.sorted { $0.pos < $1.pos }
            func key(_ r: SignSet.Row) -> SurvivorKey {
                SurvivorKey(margin: r.margin, length: r.length, format: r.format, id: keep == .first ? nil : r.id, order: r.pos)
            }
            let kept = rows.indices.min { better(key(rows[$0]), key(rows[$1]), keep, priority) }!
            let k = rows[kept]
            var list: [(id: String, exact: Bool, promptSim: Double, responseSim: Double)] = []
            for (j, r) in rows.enumerated() where j != kept {
                let exact = r.exact == k.exact
                let ps = p.near && !exact ? MinHasher.similarity(r.promptSig[...], k.promptSig[...]) : 1
                let rs = p.near && !exact && p.responsePerm > 0 ? MinHasher.similarity(r.responseSig[...], k.responseSig[...]) : 1
                decisions.append(PhasedDecision(pos: r.pos, status: exact ? .exactDuplicate : .nearDuplicate, similarity: Float(ps), survivor: k.id))
                if wantClusters { list.append((r.id, exact, ps, rs)) }
            }
            if wantClusters { out.append((rows[0].pos, PhasedCluster(kept: k.id, members: list))) }
            count += 1
            s = e
        }
        decisions.sort { $0.pos < $1.pos }
        return (decisions, out.sorted { $0.first < $1.first }.map(\.cluster), count, conflicts)
    }

    /// The decisions file of a cluster run.
    public static func writeDecisions(_ d: [PhasedDecision], header: [(String, JSONValue)], to path: String) throws {
        try PhaseFileWriter.write(to: path) { w in
            try w.segment("decisions") { w in
                for x in d {
                    let id = Array(x.survivor.utf8)
                    try w.put(x.pos); try w.put(x.status.rawValue); try w.put(x.similarity.bitPattern); try w.put(UInt32(id.count)); try w.write(id)
                }
                return d.count
            }
            return .object(header)
        }
    }

    /// The decisions for records of the given inputs (by their place in the run's input list):
    /// streamed, CRC-checked, only those kept.
    public static func readDecisions(_ path: String, inputs ranks: Set<Int>) throws -> (header: JSONValue, decisions: [UInt64: PhasedDecision]) {
        let f = try PhaseFileReader(path: path)
        let s = try f.stream("decisions")
        var out: [UInt64: PhasedDecision] = [:]
        while let h = try s.next(17) {
            let pos: UInt64 = h.le(0)
            guard let status = DedupStatus(rawValue: h[h.startIndex + 8]) else { throw PhaseFileError("\(path): a decision is damaged", damage: true) }
            let sim = Float(bitPattern: h.le(9)), n = Int(h.le(13, as: UInt32.self))
            let id = n == 0 ? "" : String(decoding: try s.next(n) ?? [], as: UTF8.self)
            if ranks.contains(Int(pos >> 40)) { out[pos] = PhasedDecision(pos: pos, status: status, similarity: sim, survivor: id) }
        }
        return (f.header, out)
    }

    /// What `apply` does with a record, from its decision read back (none: kept).
    public static func decision(_ d: PhasedDecision?, byPrompt: Bool) -> Decision {
        guard let d else { return .keep(output: 0) }
        return removal(d.status, survivor: d.survivor, similarity: d.similarity, byPrompt: byPrompt)
    }

    /// A dedup decision as written: kept, or removed with its reason and the survivor it duplicates.
    static func removal(_ status: DedupStatus, survivor: String, similarity: Float, byPrompt: Bool) -> Decision {
        switch status {
        case .exactDuplicate, .nearDuplicate:
            let what = byPrompt ? "duplicate_prompt" : "duplicate"
            return .remove(reason: (status == .exactDuplicate ? "exact_" : "near_") + what,
                           extra: [("duplicate_of", .string(survivor)), ("prompt_similarity", .double(Double(similarity)))])
        case .conflict: return .remove(reason: "conflict", extra: [])
        case .kept, .rejected: return .keep(output: 0)
        }
    }
}
