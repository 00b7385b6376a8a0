// FineGrainedRLHF QA feedback (allenai/FineGrainedRLHF): {"question", "passages": [[title, sentence,
// ...]], "prediction 1".."prediction N", "preference": [votes]} with one human vote per pair of
// predictions in the order (1,2), (1,3), ..., (1,N), (2,3), ...: 0 tie, 1 the first better, 2 the
// second. Each prediction is scored by its Copeland number (wins minus losses) and paired by the
// shared strategies (Ranking.swift); a pair is kept only when its own vote agrees.
import PrefCore
import PrefIO

public struct FineGrainedAdapter: FormatAdapter {
    let pairing: PairingOptions

    public func convert(_ r: JRef) throws -> AdapterOutcome {
        let question = try Fields.string(r, "question")
        var replies: [[Message]] = []
        var n = 1
        while let p = r.member("prediction \(n)") {
            guard let text = p.bytes else { throw FormatError("bad_type", "'prediction \(n)' must be a string") }
            replies.append([Message(.assistant, text)])
            n += 1
        }
        guard replies.count >= 2 else { throw FormatError("missing_field", "fewer than two 'prediction N' fields") }
        let k = replies.count
        guard let pref = r["preference"], pref.kind == .array, pref.count == k * (k - 1) / 2 else {
            throw FormatError("bad_label", "'preference' must hold \(k * (k - 1) / 2) votes for \(k) predictions")
        }
        // votes[a][b] for a < b, in the order (1,2), (1,3), ..., (2,3), ...
        var table = [[Int?]](repeating: [Int?](repeating: nil, count: k), count: k)
        var at = 0
        for a in 0..<k {
            for b in (a + 1)..<k {
                guard let v = pref.element(at)?.int, (0...2).contains(v) else { throw FormatError("bad_label", "preference[\(at)] must be 0, 1 or 2") }
                let signed = v == 0 ? 0 : (v == 1 ? 1 : -1)
                table[a][b] = signed; table[b][a] = -signed
                at += 1
            }
        }
        let votes: (Int, Int) -> Int? = { a, b in table[a][b] }
        // The prompt: the question, then the passages the predictions were written from.
        var text = question
        if let ps = r["passages"], ps.kind == .array, ps.count > 0 {
            text += Array("\n\n".utf8)
            for (i, p) in ps.elements.enumerated() {
                guard p.kind == .array, let title = p.element(0)?.bytes else { throw FormatError("bad_type", "passages[\(i)] must be [title, sentence, ...]") }
                if i > 0 { text += Array("\n\n".utf8) }
                let sentences = p.elements.dropFirst().compactMap(\.bytes)
                // A passage's first sentence usually repeats the title; the title is added when it does not.
                if !(sentences.first?.starts(with: title) ?? false) { text += title; text.append(0x0A) }
                text += sentences.joined(separator: [0x20])
            }
        }
        var rec = RankedRecord(prompt: [Message(.user, text)], replies: replies, scores: Ranking.copeland(count: k, votes: votes))
        rec.votes = votes
        return rec.outcome(pairing)
    }
}

extension FineGrainedAdapter {
    static let corpus = Corpus(name: "finegrained", summary: "FineGrainedRLHF QA feedback: question, passages, prediction 1..N and pairwise preference votes",
                               detect: { r in r.member("prediction 1") != nil && r["preference"]?.kind == .array },
                               kind: .records { o in FineGrainedAdapter(pairing: o.pairing) })
}
