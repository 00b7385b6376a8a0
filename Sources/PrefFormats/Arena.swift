// Chatbot Arena conversations: {"conversation_a", "conversation_b", "winner": "model_a"|"model_b"|"tie"|"tie (bothbad)", ...}.
// Ties are not pairs: they are counted as removed with reason "tie".
import PrefCore
import PrefIO

public struct ArenaAdapter: FormatAdapter {
    public init() {}

    public func convert(_ r: JRef) throws -> AdapterOutcome {
        guard let winner = try Fields.require(r, "winner").string else { throw FormatError("bad_type", "'winner' must be a string") }
        let aWins: Bool
        switch winner {
        case "model_a": aWins = true
        case "model_b": aWins = false
        case let w where w.hasPrefix("tie"): return .removed(reason: "tie", message: "winner is '\(w)'")
        default: throw FormatError("bad_label", "unknown winner '\(winner)'")
        }
        let a = try Fields.messages(try Fields.require(r, "conversation_a"), where: "conversation_a")
        let b = try Fields.messages(try Fields.require(r, "conversation_b"), where: "conversation_b")
        let (p, ca, cb) = try PromptSplit.conversations(a, b)
        var meta: [(String, JSONValue)] = []
        if let q = r["question_id"], !q.isNull { meta.append(("question_id", q.value)) }
        let ma = r["model_a"]?.string, mb = r["model_b"]?.string
        if let ma, let mb {
            meta.append(("chosen_model", .string(aWins ? ma : mb)))
            meta.append(("rejected_model", .string(aWins ? mb : ma)))
        }
        for key in ["language", "turn", "judge"] {
            if let v = r.member(key), !v.isNull { meta.append((key, v.value)) }
        }
        return .pair(Pair(prompt: p, chosen: aWins ? ca : cb, rejected: aWins ? cb : ca, meta: meta))
    }
}

extension ArenaAdapter {
    static let corpus = Corpus(name: "arena", summary: "Chatbot Arena: conversation_a, conversation_b, winner (ties removed)",
                               detect: { $0["conversation_a"] != nil && $0["conversation_b"] != nil && $0["winner"] != nil },
                               kind: .records { _ in ArenaAdapter() })
}
