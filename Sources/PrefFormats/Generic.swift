// Any JSON record, by field mapping: --map prompt=question,chosen=good,rejected=bad[,system=sys]
// [,score_chosen=a,score_rejected=b][,id=uid]. Fields may be strings or message lists; paths may be dotted.
// Judge and label data name two replies and the field that picks one instead:
// --map prompt=input,a=output_1,b=output_2,label=label --label-values 1:a,2:b,0:tie.
import PrefCore
import PrefIO

/// What a label value picks: reply a, reply b, or neither (a tie, removed).
public enum LabelSide: String, Sendable { case a, b, tie }

public struct GenericAdapter: FormatAdapter {
    let map: [String: [String]]
    let labels: [String: LabelSide]
    public init(map: [String: [String]], labels: [String: LabelSide] = GenericAdapter.defaultLabelValues) { self.map = map; self.labels = labels }

    /// 1/2 as LLMBar and AlpacaEval write them, a/b as Auto-J and most judges, 0 or "tie" for a tie.
    public static let defaultLabelValues: [String: LabelSide] = ["1": .a, "2": .b, "0": .tie, "a": .a, "b": .b, "tie": .tie]

    /// Parses `--label-values 1:a,2:b,0:tie` (values compared as text, case-insensitively; 1.0 reads as 1).
    public static func parseLabelValues(_ spec: String) throws -> [String: LabelSide] {
        var out: [String: LabelSide] = [:]
        for part in spec.split(separator: ",") {
            let kv = part.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, !kv[0].isEmpty, let side = LabelSide(rawValue: kv[1].lowercased()) else {
                throw FormatError("bad_map", "--label-values entry '\(part)' is not VALUE:a, VALUE:b or VALUE:tie")
            }
            out[kv[0].lowercased()] = side
        }
        guard !out.isEmpty else { throw FormatError("bad_map", "--label-values names no value") }
        return out
    }

    /// A label as text: integral numbers without a fraction, strings trimmed and lowercased.
    static func labelText(_ v: JRef) -> String? {
        switch v.kind {
        case .number:
            guard let d = v.double else { return nil }
            return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : v.rawText
        case .string: return v.string!.trimmingCharacters(in: .whitespaces).lowercased()
        case .bool: return v.bool! ? "true" : "false"
        default: return nil
        }
    }

    /// Which reply the label picks. A list of labels (several annotators) is a majority vote of the
    /// non-tie labels; equal counts are a tie. Returns the side and, for votes, their tally.
    func decide(_ label: JRef) throws -> (LabelSide, [(String, JSONValue)]) {
        func side(_ v: JRef) throws -> LabelSide {
            guard let t = GenericAdapter.labelText(v), let s = labels[t] else {
                throw FormatError("bad_label", "label \(v.kind == .string ? "'\(v.string!)'" : v.rawText) is not one of --label-values (\(labels.keys.sorted().joined(separator: ", ")))")
            }
            return s
        }
        guard label.kind == .array else { return (try side(label), []) }
        var n: [LabelSide: Int] = [:]
        for v in label.elements { n[try side(v), default: 0] += 1 }
        guard label.count > 0 else { throw FormatError("bad_label", "the label list is empty") }
        let a = n[.a] ?? 0, b = n[.b] ?? 0
        let meta: [(String, JSONValue)] = [("votes", .object([("a", .int(Int64(a))), ("b", .int(Int64(b))), ("tie", .int(Int64(n[.tie] ?? 0)))])),
                                           ("agreement", .double(Double(max(a, b)) / Double(label.count)))]
        return (a == b ? .tie : (a > b ? .a : .b), meta)
    }

    func field(_ r: JRef, _ name: String) -> JRef? {
        guard let path = map[name], let v = r.path(path), !v.isNull else { return nil }
        return v
    }

    public func convert(_ r: JRef) throws -> AdapterOutcome {
        var labelMeta: [(String, JSONValue)] = []
        let cRef: JRef?, jRef: JRef?
        if map["label"] != nil {
            guard let label = field(r, "label") else { throw FormatError("missing_field", "missing mapped field '\(map["label"]!.joined(separator: "."))' (label)") }
            let (s, m) = try decide(label)
            if s == .tie { return .removed(reason: "tie", message: "the label \(label.rawText) is a tie") }
            labelMeta = m + [("label", label.value)]
            (cRef, jRef) = s == .a ? (field(r, "a"), field(r, "b")) : (field(r, "b"), field(r, "a"))
            guard cRef != nil, jRef != nil else {
                let missing = field(r, "a") == nil ? "a" : "b"
                throw FormatError("missing_field", "missing mapped field '\(map[missing]!.joined(separator: "."))' (\(missing))")
            }
        } else {
            cRef = field(r, "chosen"); jRef = field(r, "rejected")
        }
        var pair = try convert(r, cRef, jRef)
        pair.meta += labelMeta
        return .pair(pair)
    }

    func convert(_ r: JRef, _ cRef: JRef?, _ jRef: JRef?) throws -> Pair {
        guard let cRef else { throw FormatError("missing_field", "missing mapped field '\(map["chosen"]!.joined(separator: "."))' (chosen)") }
        guard let jRef else { throw FormatError("missing_field", "missing mapped field '\(map["rejected"]!.joined(separator: "."))' (rejected)") }
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
        return pair
    }
}

extension GenericAdapter {
    static let corpus = Corpus(name: "generic", summary: "any JSON records, fields named with --map (never auto-detected)",
                               kind: .records { o in GenericAdapter(map: o.fieldMap, labels: o.labelValues) })
}
