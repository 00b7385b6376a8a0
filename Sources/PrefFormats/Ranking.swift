// Ranked and rated responses into pairs: the one set of pairing strategies every corpus with
// several replies per prompt uses (UltraFeedback raw, Nectar, HelpSteer2, distilabel,
// FineGrainedRLHF, OpenAssistant). docs/format.md "Ranked and rated responses" is the contract.
import PrefCore
import PrefIO

/// `--pairs`: which pairs a record with several scored replies gives.
public enum PairStrategy: String, Sendable, CaseIterable {
    /// The highest-scored reply against the lowest-scored one.
    case bestWorst = "best-worst"
    /// The highest-scored reply against one lower-scored reply drawn at random (seeded per record).
    case bestRandom = "best-random"
    /// Every ordered pair whose scores differ by at least `--min-gap`.
    case all
}

public struct PairingOptions: Sendable {
    /// nil: the corpus's default (best-worst; `all` for OpenAssistant, as before the flag existed).
    public var strategy: PairStrategy? = nil
    /// The smallest score margin a pair may have; margins must also be positive (equal scores are ties).
    public var minGap: Double = 0
    /// Seeds best-random, mixed with each record's position, so output is the same for any thread count.
    public var seed: UInt64 = 0
    /// `all` gives at most this many pairs per record: those with the largest score gaps (the
    /// other candidates are counted as skipped, `pair_cap`), so one record's output is bounded.
    public var maxPairs = 100
    public init() {}

    func strategy(default d: PairStrategy) -> PairStrategy { strategy ?? d }
}

/// A chosen/rejected choice among a record's replies (indices into its list of replies).
struct RankedPair: Equatable {
    var chosen: Int
    var rejected: Int
}

/// What the pairing of one record decided.
struct Selection {
    var pairs: [RankedPair] = []
    /// Candidate pairs (or replies, for `unrated_response`) left out, by reason.
    var skipped: [String: Int] = [:]
    /// Set when no pair came out: the record is removed for this reason.
    var removal: (reason: String, message: String)? = nil
}

enum Ranking {
    /// Chooses the pairs of one record from its replies' scores (higher is better; nil: unrated,
    /// left out). `votes`, when given, is the direct judgment between two replies (+1: the first
    /// is better, -1: the second, 0: tie, nil: not compared): a pair is then kept only when its
    /// direct vote agrees with the scores. `key` makes best-random's draw depend on the record only.
    static func select(_ scores: [Double?], strategy: PairStrategy, options: PairingOptions, key: UInt64,
                       votes: ((Int, Int) -> Int?)? = nil) -> Selection {
        var sel = Selection()
        var rated: [Int] = []
        for (i, s) in scores.enumerated() {
            if let s, s.isFinite { rated.append(i) } else { sel.skipped["unrated_response", default: 0] += 1 }
        }
        guard rated.count >= 2 else {
            sel.removal = ("too_few_responses", "\(rated.count) rated repl\(rated.count == 1 ? "y" : "ies"); a pair needs two")
            return sel
        }
        let s = scores.map { $0 ?? 0 }
        let minGap = options.minGap
        /// Why (c, r) cannot be a pair, or nil when it can.
        func refuse(_ c: Int, _ r: Int) -> String? {
            let gap = s[c] - s[r]
            if gap == 0 { return "tie" }
            if gap < 0 { return "reversed" }
            if gap < minGap { return "below_min_gap" }
            if let votes {
                guard let v = votes(c, r) else { return "not_compared" }
                if v == 0 { return "tie_vote" }
                if v < 0 { return "vote_disagrees" }
            }
            return nil
        }
        func removal(_ why: String, _ what: String) -> (String, String) {
            switch why {
            case "tie": return ("tie", "\(what): equal scores")
            case "below_min_gap": return ("below_min_gap", "\(what): score margin below --min-gap \(minGap)")
            case "tie_vote": return ("tie", "\(what): the direct vote is a tie")
            default: return (why, "\(what): \(why.replacingOccurrences(of: "_", with: " "))")
            }
        }
        // Best: the first highest score; worst: the first lowest.
        var best = rated[0], worst = rated[0]
        for i in rated { if s[i] > s[best] { best = i }; if s[i] < s[worst] { worst = i } }
        switch strategy {
        case .bestWorst:
            if let why = refuse(best, worst) { sel.removal = removal(why, "best and worst reply") } else { sel.pairs = [RankedPair(chosen: best, rejected: worst)] }
        case .bestRandom:
            var pool: [Int] = []
            var first: String? = nil
            for i in rated where i != best {
                if let why = refuse(best, i) { first = first ?? why } else { pool.append(i) }
            }
            if pool.isEmpty {
                sel.removal = removal(first ?? "tie", "no reply below the best")
            } else {
                var rng = SplitMix64(state: options.seed ^ key ^ 0xB357_4A2D)
                sel.pairs = [RankedPair(chosen: best, rejected: pool[Int(rng.next() % UInt64(pool.count))])]
            }
        case .all:
            var why: [String: Int] = [:]
            let candidates = rated.count * (rated.count - 1) / 2
            if candidates <= options.maxPairs {
                for a in rated.indices {
                    for b in rated.indices where b > a {
                        let (x, y) = (rated[a], rated[b])
                        let (c, r) = s[x] >= s[y] ? (x, y) : (y, x)
                        if let w = refuse(c, r) { why[w, default: 0] += 1 } else { sel.pairs.append(RankedPair(chosen: c, rejected: r)) }
                    }
                }
            } else {
                // Too many candidates to enumerate: the pairs with the largest gaps, found best first.
                let found = Ranking.largestGaps(rated, s, limit: options.maxPairs, refuse: refuse)
                sel.pairs = found.pairs
                for (k, v) in found.refused { why[k, default: 0] += v }
                why["pair_cap", default: 0] += candidates - found.examined
            }
            if sel.pairs.isEmpty {
                // The record goes; its reason is the most common refusal (ties first when equal).
                let top = why.filter { $0.key != "pair_cap" }.sorted { ($0.value, $0.key == "tie" ? 1 : 0, $1.key) > ($1.value, $1.key == "tie" ? 1 : 0, $0.key) }.first
                sel.removal = removal(top?.key ?? "tie", "no pair among \(rated.count) replies")
            } else {
                for (k, v) in why { sel.skipped[k == "tie_vote" ? "tie" : k, default: 0] += v }
            }
        }
        return sel
    }

    /// Up to `limit` acceptable pairs with the largest score gaps, in the order the full enumeration
    /// would give them, without visiting every candidate: replies sorted by score, the pair (best i,
    /// worst j) taken from a max-heap of gaps whose next candidates are (i+1, j) and (i, j-1). At
    /// most 4 x limit candidates are examined, so a record of any size costs O(limit log limit + n log n).
    static func largestGaps(_ rated: [Int], _ s: [Double], limit: Int, refuse: (Int, Int) -> String?) -> (pairs: [RankedPair], refused: [String: Int], examined: Int) {
        // Descending score; equal scores by reply order.
        let order = rated.sorted { s[$0] != s[$1] ? s[$0] > s[$1] : $0 < $1 }
        let n = order.count
        // Largest gap first; equal gaps by place in the order.
        var heap = MaxHeap<(gap: Double, i: Int, j: Int)>(above: { a, b in a.gap != b.gap ? a.gap > b.gap : (a.i, a.j) < (b.i, b.j) })
        heap.push((s[order[0]] - s[order[n - 1]], 0, n - 1))
        var seen: Set<Int> = [n - 1]
        var pairs: [RankedPair] = []
        var refused: [String: Int] = [:]
        var examined = 0
        while pairs.count < limit, examined < 4 * limit, let e = heap.pop() {
            examined += 1
            let (c, r) = (order[e.i], order[e.j])
            if let w = refuse(c, r) { refused[w, default: 0] += 1 } else { pairs.append(RankedPair(chosen: c, rejected: r)) }
            if e.i + 1 < e.j, seen.insert((e.i + 1) * n + e.j).inserted { heap.push((s[order[e.i + 1]] - s[order[e.j]], e.i + 1, e.j)) }
            if e.i < e.j - 1, seen.insert(e.i * n + e.j - 1).inserted { heap.push((s[order[e.i]] - s[order[e.j - 1]], e.i, e.j - 1)) }
        }
        // Written in the order the full enumeration uses (by the replies' places).
        pairs.sort { (min($0.chosen, $0.rejected), max($0.chosen, $0.rejected)) < (min($1.chosen, $1.rejected), max($1.chosen, $1.rejected)) }
        return (pairs, refused, examined)
    }

    /// Copeland scores from pairwise votes: for each reply, wins minus losses.
    static func copeland(count: Int, votes: (Int, Int) -> Int?) -> [Double?] {
        var score = [Double](repeating: 0, count: count)
        var compared = [Bool](repeating: false, count: count)
        for a in 0..<count {
            for b in (a + 1)..<count {
                guard let v = votes(a, b) else { continue }
                compared[a] = true; compared[b] = true
                if v > 0 { score[a] += 1; score[b] -= 1 } else if v < 0 { score[b] += 1; score[a] -= 1 }
            }
        }
        return (0..<count).map { compared[$0] ? score[$0] : nil }
    }
}

/// A record's replies with their scores, turned into pairs by the shared strategies.
struct RankedRecord {
    var prompt: [Message]
    var replies: [[Message]]
    var scores: [Double?]
    /// Scores written as score_chosen/score_rejected (nil for ranks, where a score would mislead).
    var writtenScores: [Double?]
    /// Shared meta, then per-reply meta for the chosen and rejected side (`chosen_` / `rejected_` prefixed).
    var meta: [(String, JSONValue)] = []
    var replyMeta: [[(String, JSONValue)]] = []
    var votes: ((Int, Int) -> Int?)? = nil

    init(prompt: [Message], replies: [[Message]], scores: [Double?], writeScores: Bool = true) {
        self.prompt = prompt; self.replies = replies; self.scores = scores
        writtenScores = writeScores ? scores : scores.map { _ in nil }
        replyMeta = replies.map { _ in [] }
    }

    /// best-random's per-record key: the prompt and the replies' text, so the draw depends on the record alone.
    var key: UInt64 {
        var b: [UInt8] = []
        for m in prompt { b += m.content; b.append(0) }
        for r in replies { for m in r { b += m.content }; b.append(1) }
        return XXH64.hash(b)
    }

    /// The pairs the strategy picks for this record.
    func select(_ options: PairingOptions, default d: PairStrategy = .bestWorst) -> Selection {
        Ranking.select(scores, strategy: options.strategy(default: d), options: options, key: key, votes: votes)
    }

    /// One chosen/rejected choice as a pair, with its key (`C>R`, appended to the record's source).
    func pair(_ rp: RankedPair) -> (key: String, pair: Pair) {
        var p = Pair(prompt: prompt, chosen: replies[rp.chosen], rejected: replies[rp.rejected],
                     scoreChosen: writtenScores[rp.chosen], scoreRejected: writtenScores[rp.rejected], meta: meta)
        p.meta.append(("n_responses", .int(Int64(replies.count))))
        p.meta.append(("chosen_index", .int(Int64(rp.chosen))))
        p.meta.append(("rejected_index", .int(Int64(rp.rejected))))
        for (k, v) in replyMeta[rp.chosen] { p.meta.append(("chosen_" + k, v)) }
        for (k, v) in replyMeta[rp.rejected] { p.meta.append(("rejected_" + k, v)) }
        return ("\(rp.chosen)>\(rp.rejected)", p)
    }

    func outcome(_ options: PairingOptions, default d: PairStrategy = .bestWorst) -> AdapterOutcome {
        let sel = select(options, default: d)
        if let (reason, message) = sel.removal { return .removed(reason: reason, message: message) }
        return .pairs(sel.pairs.map(pair), skipped: sel.skipped)
    }
}
