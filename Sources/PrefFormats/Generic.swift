// Any JSON record, by field mapping: --map prompt=question,chosen=good,rejected=bad[,system=sys]
// [,score_chosen=a,score_rejected=b][,id=uid]. Fields may be strings or message lists; paths may be dotted.
import PrefCore
import PrefIO

public struct GenericAdapter: FormatAdapter {
    let map: [String: [String]]
    public init(map: [String: [String]]) { self.map = map }

    func field(_ r: JRef, _ name: String) -> JRef? {
        guard let path = map[name], let v = r.path(path), !v.isNull else { return nil }
        return v
    }

    public func convert(_ r: JRef) throws -> AdapterOutcome {
        guard let cRef = field(r, "chosen") else { throw FormatError("missing_field", "missing mapped field '\(map["chosen"]!.joined(separator: "."))' (chosen)") }
        guard let jRef = field(r, "rejected") else { throw FormatError("missing_field", "missing mapped field '\(map["rejected"]!.joined(separator: "."))' (rejected)") }
        var pair: Pair
        if let pRef = field(r, "prompt") {
            pair = Pair(prompt: try Fields.turns(pRef, role: .user, where: "prompt"),
                        chosen: try Fields.turns(cRef, role: .assistant, where: "chosen"),
                        rejected: try Fields.turns(jRef, role: .assistant, where: "rejected"))
        } else if map["prompt"] != nil {
            throw FormatError("missing_field", "missing mapped field '\(map["prompt"]!.joined(separator: "."))' (prompt)")
        } else if cRef.kind == .string && jRef.kind == .string {
            let (p, c, j) = try PromptSplit.strings(cRef.bytes!, jRef.bytes!)
            pair = Pair(prompt: [Message(.user, p)], chosen: [Message(.assistant, c)], rejected: [Message(.assistant, j)])
        } else {
            let (p, c, j) = try PromptSplit.conversations(try Fields.turns(cRef, role: .assistant, where: "chosen"),
                                                          try Fields.turns(jRef, role: .assistant, where: "rejected"))
            pair = Pair(prompt: p, chosen: c, rejected: j)
        }
        if let s = field(r, "system") {
            guard let b = s.bytes else { throw FormatError("bad_type", "mapped system field must be a string") }
            if !b.isEmpty { pair.prompt.insert(Message(.system, b), at: 0) }
        }
        for (name, keyPath) in [("score_chosen", \Pair.scoreChosen), ("score_rejected", \Pair.scoreRejected)] {
            if let v = field(r, name) {
                guard let d = v.double else { throw FormatError("bad_type", "mapped \(name) must be a number") }
                pair[keyPath: keyPath] = d
            }
        }
        if let v = field(r, "id") { pair.meta.append(("original_id", v.kind == .string ? .string(v.string!) : .string(v.rawText))) }
        return .pair(pair)
    }
}

extension GenericAdapter {
    static let corpus = Corpus(name: "generic", summary: "any JSON records, fields named with --map (never auto-detected)",
                               kind: .records { o in GenericAdapter(map: o.fieldMap) })
}
