// UltraFeedback-binarized style: {"prompt": str, "prompt_id", "chosen": [messages], "rejected": [messages],
// "score_chosen", "score_rejected"}; the message lists usually repeat the user turn.
import PrefCore
import PrefIO

public struct UltraFeedbackAdapter: FormatAdapter {
    public init() {}

    public func convert(_ r: JRef) throws -> AdapterOutcome {
        let c = try Fields.turns(try Fields.require(r, "chosen"), role: .assistant, where: "chosen")
        let j = try Fields.turns(try Fields.require(r, "rejected"), role: .assistant, where: "rejected")
        let promptField = try Fields.optionalString(r, "prompt")
        var pair: Pair
        if let split = try? PromptSplit.conversations(c, j) {
            pair = Pair(prompt: split.0, chosen: split.1, rejected: split.2)
        } else if let p = promptField {
            // Lists that hold only the replies: the prompt comes from the "prompt" field.
            pair = Pair(prompt: [Message(.user, p)], chosen: c, rejected: j)
        } else {
            throw FormatError("no_common_prompt", "no shared user turn in chosen/rejected and no 'prompt' field")
        }
        pair.scoreChosen = try Fields.number(r, "score_chosen")
        pair.scoreRejected = try Fields.number(r, "score_rejected")
        for key in ["prompt_id", "source"] {
            if let v = r.member(key), !v.isNull { pair.meta.append((key, v.value)) }
        }
        return .pair(pair)
    }
}

extension UltraFeedbackAdapter {
    static let corpus = Corpus(name: "ultrafeedback", summary: "UltraFeedback binarized: prompt, chosen and rejected message lists, score_chosen/score_rejected",
                               detect: { r in
                                   r["chosen"]?.kind == .array && r["rejected"] != nil && (r["prompt_id"] != nil || r["score_chosen"] != nil) && r["prompt"]?.kind == .string
                               },
                               kind: .records { _ in UltraFeedbackAdapter() })
}
