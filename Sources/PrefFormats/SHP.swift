// Stanford SHP / SHP-2: {"history", "human_ref_A", "human_ref_B", "labels", "score_A", "score_B", ...}.
// labels == 1 means A is preferred.
import PrefCore
import PrefIO

public struct SHPAdapter: FormatAdapter {
    public init() {}

    public func convert(_ r: JRef) throws -> AdapterOutcome {
        let history = try Fields.string(r, "history")
        let a = try Fields.string(r, "human_ref_A")
        let b = try Fields.string(r, "human_ref_B")
        guard let label = try Fields.require(r, "labels").int, label == 0 || label == 1 else {
            throw FormatError("bad_label", "'labels' must be 0 or 1")
        }
        let sa = try Fields.number(r, "score_A"), sb = try Fields.number(r, "score_B")
        let aWins = label == 1
        var meta: [(String, JSONValue)] = []
        for key in ["post_id", "domain", "upvote_ratio", "score_ratio"] {
            if let v = r.member(key), !v.isNull { meta.append((key, v.value)) }
        }
        let ida = r["c_root_id_A"]?.string, idb = r["c_root_id_B"]?.string
        if let ida, let idb {
            meta.append(("chosen_comment_id", .string(aWins ? ida : idb)))
            meta.append(("rejected_comment_id", .string(aWins ? idb : ida)))
        }
        return .pair(Pair(prompt: [Message(.user, history)],
                          chosen: [Message(.assistant, aWins ? a : b)],
                          rejected: [Message(.assistant, aWins ? b : a)],
                          scoreChosen: aWins ? sa : sb, scoreRejected: aWins ? sb : sa, meta: meta))
    }
}

extension SHPAdapter {
    static let corpus = Corpus(name: "shp", summary: "Stanford SHP: history, human_ref_A, human_ref_B, labels",
                               detect: { $0["history"] != nil && $0["human_ref_A"] != nil && $0["human_ref_B"] != nil },
                               kind: .records { _ in SHPAdapter() })
}
