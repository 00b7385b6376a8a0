// TRL preference data: standard (strings) or conversational (message lists), with an explicit
// "prompt" or an implicit one (the shared beginning of chosen and rejected).
import PrefCore
import PrefIO

public struct TRLAdapter: FormatAdapter {
    public init() {}

    public func convert(_ r: JRef) throws -> AdapterOutcome {
        let cRef = try Fields.require(r, "chosen"), jRef = try Fields.require(r, "rejected")
        var pair: Pair
        if let pRef = r["prompt"], !pRef.isNull {
            let prompt = try Fields.turns(pRef, role: .user, where: "prompt")
            var c = try Fields.turns(cRef, role: .assistant, where: "chosen")
            var j = try Fields.turns(jRef, role: .assistant, where: "rejected")
            // Some files repeat the prompt at the start of each response list.
            if c.count > prompt.count && Array(c[..<prompt.count]) == prompt { c.removeFirst(prompt.count) }
            if j.count > prompt.count && Array(j[..<prompt.count]) == prompt { j.removeFirst(prompt.count) }
            pair = Pair(prompt: prompt, chosen: c, rejected: j)
        } else if cRef.kind == .string && jRef.kind == .string {
            let (p, c, j) = try PromptSplit.strings(cRef.bytes!, jRef.bytes!)
            pair = Pair(prompt: [Message(.user, p)], chosen: [Message(.assistant, c)], rejected: [Message(.assistant, j)])
        } else {
            let c = try Fields.turns(cRef, role: .assistant, where: "chosen")
            let j = try Fields.turns(jRef, role: .assistant, where: "rejected")
            let (p, cc, jj) = try PromptSplit.conversations(c, j)
            pair = Pair(prompt: p, chosen: cc, rejected: jj)
        }
        pair.scoreChosen = try Fields.number(r, "score_chosen")
        pair.scoreRejected = try Fields.number(r, "score_rejected")
        return .pair(pair)
    }
}

extension TRLAdapter {
    static let corpus = Corpus(name: "trl", summary: "TRL preference: chosen, rejected, explicit or implicit prompt (any other record with chosen and rejected)",
                               detect: { $0["chosen"] != nil && $0["rejected"] != nil },
                               kind: .records { _ in TRLAdapter() })
}
