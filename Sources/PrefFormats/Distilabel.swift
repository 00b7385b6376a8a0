// distilabel output (UltraFeedback-style rating pipelines): {"instruction", "generations": [text],
// "ratings": [number|null], "rationales"?: [...], "generation_models" | "model_names"?: [...]}.
// The generations are paired by the shared strategies (Ranking.swift); a null rating leaves its
// generation out (counted as an unrated_response).
import PrefCore
import PrefIO

public struct DistilabelAdapter: FormatAdapter {
    let pairing: PairingOptions

    public func convert(_ r: JRef) throws -> AdapterOutcome {
        let prompt: [Message]
        if let m = r["messages"], m.kind == .array {
            prompt = try Fields.messages(m, where: "messages")
        } else {
            prompt = [Message(.user, try Fields.string(r, "instruction"))]
        }
        guard let gens = r["generations"], gens.kind == .array else { throw FormatError("bad_type", "'generations' must be a list") }
        guard let ratings = r["ratings"], ratings.kind == .array else { throw FormatError("bad_type", "'ratings' must be a list") }
        guard ratings.count == gens.count else {
            throw FormatError("bad_type", "\(gens.count) generations but \(ratings.count) ratings")
        }
        let models = (r["generation_models"] ?? r["model_names"]).flatMap { $0.kind == .array ? $0.elements : nil }
        var replies: [[Message]] = [], per: [[(String, JSONValue)]] = []
        for (k, g) in gens.elements.enumerated() {
            guard let text = g.bytes else { throw FormatError("bad_type", "generations[\(k)] must be a string") }
            replies.append([Message(.assistant, text)])
            var m: [(String, JSONValue)] = []
            if let models, k < models.count, let name = models[k].string { m.append(("model", .string(name))) }
            per.append(m)
        }
        var rec = RankedRecord(prompt: prompt, replies: replies, scores: ratings.elements.map { Fields.rating($0) })
        rec.replyMeta = per
        return rec.outcome(pairing)
    }
}

extension DistilabelAdapter {
    static let corpus = Corpus(name: "distilabel", summary: "distilabel output: instruction (or messages), generations[] and ratings[], paired by --pairs",
                               detect: { r in r["generations"]?.kind == .array && r["ratings"]?.kind == .array },
                               kind: .records { o in DistilabelAdapter(pairing: o.pairing) })
}
