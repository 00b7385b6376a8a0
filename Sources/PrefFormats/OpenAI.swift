// OpenAI preference fine-tuning JSONL: {"input": {"messages": [...]}, "preferred_output": [...],
// "non_preferred_output": [...]}.
import PrefCore
import PrefIO

public struct OpenAIAdapter: FormatAdapter {
    public init() {}

    public func convert(_ r: JRef) throws -> AdapterOutcome {
        let input = try Fields.require(r, "input")
        guard let ms = input["messages"] else { throw FormatError("missing_field", "missing field 'input.messages'") }
        let prompt = try Fields.messages(ms, where: "input.messages")
        let c = try Fields.messages(try Fields.require(r, "preferred_output"), where: "preferred_output")
        let j = try Fields.messages(try Fields.require(r, "non_preferred_output"), where: "non_preferred_output")
        var pair = Pair(prompt: prompt, chosen: c, rejected: j)
        if let t = input["tools"], !t.isNull { pair.tools = t.value }
        return .pair(pair)
    }
}

extension OpenAIAdapter {
    static let corpus = Corpus(name: "openai", summary: "OpenAI preference fine-tuning: input.messages, preferred_output, non_preferred_output",
                               detect: { $0["preferred_output"] != nil && $0["non_preferred_output"] != nil },
                               kind: .records { _ in OpenAIAdapter() })
}
