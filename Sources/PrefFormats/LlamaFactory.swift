// LLaMA-Factory ranking data, as a JSON array or JSON Lines:
//  - alpaca: {"instruction", "input", "chosen", "rejected", "system"?, "history"?: [[user, assistant], ...]}
//    and the older {"instruction", "input", "output": [best, second, ...]} (first two compared, as LLaMA-Factory does)
//  - sharegpt: {"conversations"|"messages": [{"from"|"role", "value"|"content"}], "chosen": {...}, "rejected": {...}, "system"?}
//  - v1: {"chosen_messages": [...], "rejected_messages": [...]} with content parts [{"type": "text", "value": ...}]
import PrefCore
import PrefIO

public struct LlamaFactoryAdapter: FormatAdapter {
    public init() {}

    public func convert(_ r: JRef) throws -> AdapterOutcome {
        if let cm = r["chosen_messages"] {
            let c = try Fields.messages(cm, where: "chosen_messages")
            let j = try Fields.messages(try Fields.require(r, "rejected_messages"), where: "rejected_messages")
            let (p, cc, jj) = try PromptSplit.conversations(c, j)
            return .pair(Pair(prompt: p, chosen: cc, rejected: jj))
        }
        if let conv = r["conversations"] ?? r["messages"] {
            var prompt = try Fields.messages(conv, where: "conversations")
            if let sys = try Fields.optionalString(r, "system"), !sys.isEmpty, prompt.first?.role != .system {
                prompt.insert(Message(.system, sys), at: 0)
            }
            let c = try Fields.turns(try Fields.require(r, "chosen"), role: .assistant, where: "chosen")
            let j = try Fields.turns(try Fields.require(r, "rejected"), role: .assistant, where: "rejected")
            return .pair(Pair(prompt: prompt, chosen: c, rejected: j))
        }
        // alpaca
        let instruction = try Fields.string(r, "instruction")
        var query = instruction
        if let input = try Fields.optionalString(r, "input"), !input.isEmpty {
            query = instruction.isEmpty ? input : instruction + [0x0A] + input
        }
        var prompt: [Message] = []
        if let sys = try Fields.optionalString(r, "system"), !sys.isEmpty { prompt.append(Message(.system, sys)) }
        if let h = r["history"], !h.isNull {
            guard h.kind == .array else { throw FormatError("bad_type", "'history' must be a list of [user, assistant] pairs") }
            for turn in h.elements {
                guard turn.kind == .array, turn.count == 2, let u = turn.element(0)?.bytes, let a = turn.element(1)?.bytes else {
                    throw FormatError("bad_type", "'history' must be a list of [user, assistant] string pairs")
                }
                prompt.append(Message(.user, u)); prompt.append(Message(.assistant, a))
            }
        }
        prompt.append(Message(.user, query))
        var meta: [(String, JSONValue)] = []
        let c: [UInt8], j: [UInt8]
        if let out = r["output"], r["chosen"] == nil {
            guard out.kind == .array, out.count >= 2, let o0 = out.element(0)?.bytes, let o1 = out.element(1)?.bytes else {
                throw FormatError("bad_type", "'output' must list at least two ranked responses")
            }
            c = o0; j = o1
            meta.append(("n_ranked", .int(Int64(out.count))))
        } else {
            c = try Fields.string(r, "chosen")
            j = try Fields.string(r, "rejected")
        }
        return .pair(Pair(prompt: prompt, chosen: [Message(.assistant, c)], rejected: [Message(.assistant, j)], meta: meta))
    }
}

extension LlamaFactoryAdapter {
    static let corpus = Corpus(name: "llamafactory", summary: "LLaMA-Factory: v1 chosen_messages, ShareGPT conversations with chosen/rejected objects, alpaca instruction",
                               detect: { r in
                                   func has(_ k: StaticString) -> Bool { r[k] != nil }
                                   if has("chosen_messages") && has("rejected_messages") { return true }
                                   if (has("conversations") || has("messages")) && has("chosen") && has("rejected"), r["chosen"]?.kind == .object { return true }
                                   return has("instruction") && ((has("chosen") && has("rejected")) || r["output"]?.kind == .array)
                               },
                               kind: .records { _ in LlamaFactoryAdapter() })
}
