// PKU-SafeRLHF: {"prompt", "response_0", "response_1", "better_response_id", "safer_response_id",
// "is_response_0_safe", "is_response_1_safe", ...}; --pku-axis picks which preference to use.
import PrefCore
import PrefIO

public struct PKUAdapter: FormatAdapter {
    let axis: FormatOptions.PKUAxis
    public init(axis: FormatOptions.PKUAxis) { self.axis = axis }

    public func convert(_ r: JRef) throws -> AdapterOutcome {
        let prompt = try Fields.string(r, "prompt")
        let r0 = try Fields.string(r, "response_0"), r1 = try Fields.string(r, "response_1")
        let field: StaticString = axis == .better ? "better_response_id" : "safer_response_id"
        guard let id = try Fields.require(r, field).int, id == 0 || id == 1 else {
            throw FormatError("bad_label", "'\(field)' must be 0 or 1")
        }
        var meta: [(String, JSONValue)] = [("axis", .string(axis.rawValue))]
        let s0 = r["is_response_0_safe"]?.bool, s1 = r["is_response_1_safe"]?.bool
        if let s0, let s1 {
            meta.append(("chosen_is_safe", .bool(id == 0 ? s0 : s1)))
            meta.append(("rejected_is_safe", .bool(id == 0 ? s1 : s0)))
        }
        return .pair(Pair(prompt: [Message(.user, prompt)],
                          chosen: [Message(.assistant, id == 0 ? r0 : r1)],
                          rejected: [Message(.assistant, id == 0 ? r1 : r0)], meta: meta))
    }
}

extension PKUAdapter {
    static let corpus = Corpus(name: "pku", summary: "PKU-SafeRLHF: response_0, response_1, better_response_id / safer_response_id (--pku-axis)",
                               detect: { r in r["response_0"] != nil && r["response_1"] != nil && (r["better_response_id"] != nil || r["safer_response_id"] != nil) },
                               kind: .records { o in PKUAdapter(axis: o.pkuAxis) })
}
