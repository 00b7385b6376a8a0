// Raw UltraFeedback (openbmb/UltraFeedback): {"source", "instruction", "completions": [{"model",
// "response", "overall_score", "fine-grained_score", "annotations": {aspect: {"Rating": "4", ...}}}]}.
// The completions are ranked by one rating and paired by the shared strategies (Ranking.swift).
import PrefCore
import PrefIO

public struct UltraFeedbackRaw: FormatAdapter {
    /// `--rating`: which rating ranks the completions.
    public enum Rating: String, Sendable, CaseIterable {
        /// The critique's overall score (1-10).
        case overall
        /// `fine-grained_score`, the mean of the four aspect ratings (1-5); computed from the
        /// annotations when absent, leaving out aspects rated "N/A".
        case fineGrained = "fine-grained"
    }

    let rating: Rating
    let pairing: PairingOptions

    public func convert(_ r: JRef) throws -> AdapterOutcome {
        let instruction = try Fields.string(r, "instruction")
        guard let comps = r["completions"], comps.kind == .array else { throw FormatError("bad_type", "'completions' must be a list") }
        var replies: [[Message]] = [], scores: [Double?] = [], models: [[(String, JSONValue)]] = []
        for (k, c) in comps.elements.enumerated() {
            guard c.kind == .object else { throw FormatError("bad_type", "completions[\(k)] must be an object") }
            guard let text = c["response"]?.bytes else { throw FormatError("missing_field", "completions[\(k)] has no 'response' string") }
            replies.append([Message(.assistant, text)])
            scores.append(rating == .overall ? Fields.rating(c["overall_score"]) : UltraFeedbackRaw.fineGrained(c))
            models.append(c["model"]?.string.map { [("model", JSONValue.string($0))] } ?? [])
        }
        var rec = RankedRecord(prompt: [Message(.user, instruction)], replies: replies, scores: scores)
        rec.replyMeta = models
        if let s = r["source"]?.string { rec.meta.append(("source", .string(s))) }
        rec.meta.append(("rating", .string(rating.rawValue)))
        return rec.outcome(pairing)
    }

    static func fineGrained(_ c: JRef) -> Double? {
        if let d = Fields.rating(c["fine-grained_score"]) { return d }
        guard let a = c["annotations"], a.kind == .object else { return nil }
        let rs = a.members.compactMap { Fields.rating($0.value["Rating"]) }
        return rs.isEmpty ? nil : rs.reduce(0, +) / Double(rs.count)
    }
}

extension UltraFeedbackRaw {
    static let corpus = Corpus(name: "ultrafeedback-raw", summary: "raw UltraFeedback: instruction and rated completions[] (--rating overall|fine-grained), paired by --pairs",
                               detect: { r in
                                   guard r["instruction"] != nil, let c = r["completions"], c.kind == .array, let first = c.element(0) else { return false }
                                   return first["response"] != nil
                               },
                               kind: .records { o in UltraFeedbackRaw(rating: o.ultrafeedbackRating, pairing: o.pairing) })
}
