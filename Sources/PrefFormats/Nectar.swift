// Nectar (berkeley-nest/Nectar): {"prompt": "\n\nHuman: ...\n\nAssistant:", "answers": [{"answer",
// "model", "rank"}], "source", "good_natured"}. Rank 1 is best; the answers are paired by the shared
// strategies (Ranking.swift) with a rank's negative as its score. Ranks are not ratings, so the
// pairs carry them in meta (chosen_rank, rejected_rank), not as score_chosen/score_rejected.
import PrefCore
import PrefIO

public struct NectarAdapter: FormatAdapter {
    let pairing: PairingOptions

    public func convert(_ r: JRef) throws -> AdapterOutcome {
        let transcript = try Fields.string(r, "prompt")
        var prompt = try HHAdapter.turns(transcript, 0, transcript.count, what: "prompt")
        // The transcript ends with the "\n\nAssistant:" the answers continue.
        if let last = prompt.last, last.role == .assistant, last.content.allSatisfy({ $0 == 0x20 || $0 == 0x0A }) { prompt.removeLast() }
        guard let answers = r["answers"], answers.kind == .array else { throw FormatError("bad_type", "'answers' must be a list") }
        var replies: [[Message]] = [], scores: [Double?] = [], per: [[(String, JSONValue)]] = []
        for (k, a) in answers.elements.enumerated() {
            guard a.kind == .object, let text = a["answer"]?.bytes else { throw FormatError("bad_type", "answers[\(k)] must be an object with an 'answer' string") }
            let rank = Fields.rating(a["rank"])
            replies.append([Message(.assistant, text)])
            scores.append(rank.map { -$0 })
            var m: [(String, JSONValue)] = []
            if let model = a["model"]?.string { m.append(("model", .string(model))) }
            if let rank { m.append(("rank", rank == rank.rounded() ? .int(Int64(rank)) : .double(rank))) }
            per.append(m)
        }
        var rec = RankedRecord(prompt: prompt, replies: replies, scores: scores, writeScores: false)
        rec.replyMeta = per
        for key in ["source", "good_natured"] { if let v = r.member(key), !v.isNull { rec.meta.append((key, v.value)) } }
        return rec.outcome(pairing)
    }
}

extension NectarAdapter {
    static let corpus = Corpus(name: "nectar", summary: "Nectar: an HH-style prompt and ranked answers[] (rank 1 best), paired by --pairs",
                               detect: { r in
                                   guard r["prompt"]?.kind == .string, let a = r["answers"], a.kind == .array, let first = a.element(0) else { return false }
                                   return first["rank"] != nil && first["answer"] != nil
                               },
                               kind: .records { o in NectarAdapter(pairing: o.pairing) })
}
