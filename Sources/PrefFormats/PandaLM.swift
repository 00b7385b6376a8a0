// PandaLM human test set (WeOpenML/PandaLM): {"instruction", "input", "response1", "response2",
// "annotator1".."annotatorN"} with each vote 1 (response1 better), 2 (response2 better) or 0 (tie).
// The majority of the non-tie votes picks the chosen reply; equal counts are a tie (removed). The
// votes and the agreement (the winner's share of all votes) go into meta.
import PrefCore
import PrefIO

public struct PandaLMAdapter: FormatAdapter {
    public func convert(_ r: JRef) throws -> AdapterOutcome {
        let instruction = try Fields.string(r, "instruction")
        var query = instruction
        if let input = try Fields.optionalString(r, "input"), !input.isEmpty { query = instruction.isEmpty ? input : instruction + [0x0A] + input }
        let a = try Fields.string(r, "response1"), b = try Fields.string(r, "response2")
        // annotator1, annotator2, ... in numeric order.
        let annotators = r.members.compactMap { m -> (Int, JRef)? in
            guard m.key.hasPrefix("annotator"), let n = Int(m.key.dropFirst("annotator".count)) else { return nil }
            return (n, m.value)
        }.sorted { $0.0 < $1.0 }
        guard !annotators.isEmpty else { throw FormatError("missing_field", "no annotator1..N votes") }
        var votes = [0, 0, 0]          // tie, response1, response2
        for (n, v) in annotators {
            guard let x = v.int, (0...2).contains(x) else { throw FormatError("bad_label", "annotator\(n) must be 0 (tie), 1 or 2") }
            votes[x] += 1
        }
        let tally: JSONValue = .object([("response1", .int(Int64(votes[1]))), ("response2", .int(Int64(votes[2]))), ("tie", .int(Int64(votes[0])))])
        guard votes[1] != votes[2] else {
            return .removed(reason: "tie", message: "votes \(votes[1]) for response1, \(votes[2]) for response2, \(votes[0]) ties")
        }
        let firstWins = votes[1] > votes[2]
        var meta: [(String, JSONValue)] = [("votes", tally),
                                           ("agreement", .double(Double(max(votes[1], votes[2])) / Double(annotators.count))),
                                           ("chosen_response", .int(firstWins ? 1 : 2))]
        for key in ["idx", "cmp_key", "motivation_app"] { if let v = r.member(key), !v.isNull { meta.append((key, v.value)) } }
        return .pair(Pair(prompt: [Message(.user, query)], chosen: [Message(.assistant, firstWins ? a : b)],
                          rejected: [Message(.assistant, firstWins ? b : a)], meta: meta))
    }
}

extension PandaLMAdapter {
    static let corpus = Corpus(name: "pandalm", summary: "PandaLM: instruction, input, response1/response2 and annotator1..N votes (majority; 0 = tie)",
                               detect: { r in r["response1"] != nil && r["response2"] != nil && r["annotator1"] != nil },
                               kind: .records { _ in PandaLMAdapter() })
}
