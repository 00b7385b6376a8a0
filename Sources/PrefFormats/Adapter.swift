// The adapter interface every corpus implements, and helpers shared by the adapters.
import Foundation
import PrefCore
import PrefIO

public enum AdapterOutcome {
    case pair(Pair)
    /// Not an error in the input, but not a pair either (e.g. a tie); counted as removed.
    case removed(reason: String, message: String)
    /// Several pairs from one record (ranked or rated replies): each with a key unique within the
    /// record (`CHOSEN>REJECTED`, appended to its source), and the candidate pairs left out, by reason.
    case pairs([(key: String, pair: Pair)], skipped: [String: Int])
}

public protocol FormatAdapter: Sendable {
    /// Converts one record. Throws `FormatError` for records that are malformed for this format.
    func convert(_ r: JRef) throws -> AdapterOutcome
}

/// Options that change how particular formats convert.
public struct FormatOptions: Sendable {
    public enum PKUAxis: String, Sendable, CaseIterable { case better, safer }
    public var pkuAxis: PKUAxis = .better
    /// Field mapping for `generic`: target name -> dotted source path.
    public var fieldMap: [String: [String]] = [:]
    public var stackexchange = StackExchangeOptions()
    public var oasst = OASSTOptions()
    /// `--pairs`, `--min-gap`, `--seed`: how ranked and rated replies become pairs.
    public var pairing = PairingOptions()
    /// Raw UltraFeedback: which rating ranks the completions.
    public var ultrafeedbackRating: UltraFeedbackRaw.Rating = .overall
    /// HelpSteer2: the weight of each attribute in a reply's score (`--attribute-weights`).
    public var attributeWeights: [(String, Double)] = HelpSteer.defaultWeights
    /// Generic `label=`: label value (as text) -> which side it picks.
    public var labelValues: [String: LabelSide] = GenericAdapter.defaultLabelValues
    public init() {}

    /// Parses `prompt=question,chosen=good,rejected=bad` (paths may be dotted: `input.text`).
    public static func parseMap(_ spec: String) throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        let allowed: Set<String> = ["prompt", "chosen", "rejected", "system", "score_chosen", "score_rejected", "id", "a", "b", "label"]
        for part in spec.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, !kv[0].isEmpty, !kv[1].isEmpty else {
                throw FormatError("bad_map", "--map entry '\(part)' is not target=field")
            }
            guard allowed.contains(kv[0]) else {
                throw FormatError("bad_map", "--map target '\(kv[0])' is not one of \(allowed.sorted().joined(separator: ", "))")
            }
            out[kv[0]] = kv[1].split(separator: ".").map(String.init)
        }
        if out["label"] != nil || out["a"] != nil || out["b"] != nil {
            guard out["a"] != nil, out["b"] != nil, out["label"] != nil else {
                throw FormatError("bad_map", "--map with a label needs a=, b= and label= (the two replies and the field that picks one)")
            }
            guard out["chosen"] == nil, out["rejected"] == nil else {
                throw FormatError("bad_map", "--map takes either chosen=/rejected= or a=/b=/label=, not both")
            }
        } else if out["chosen"] == nil || out["rejected"] == nil {
            throw FormatError("bad_map", "--map needs chosen= and rejected= (or a=, b= and label=)")
        }
        return out
    }
}


// MARK: - Field helpers

enum Fields {
    static func string(_ r: JRef, _ key: StaticString) throws -> [UInt8] {
        guard let v = r[key] else { throw FormatError("missing_field", "missing field '\(key)'") }
        guard let b = v.bytes else { throw FormatError("bad_type", "field '\(key)' must be a string, not \(v.value.typeName) (\(v.rawText.prefix(40)))") }
        return b
    }

    static func optionalString(_ r: JRef, _ key: StaticString) throws -> [UInt8]? {
        guard let v = r[key], !v.isNull else { return nil }
        guard let b = v.bytes else { throw FormatError("bad_type", "field '\(key)' must be a string") }
        return b
    }

    static func require(_ r: JRef, _ key: StaticString) throws -> JRef {
        guard let v = r[key], !v.isNull else { throw FormatError("missing_field", "missing field '\(key)'") }
        return v
    }

    static func number(_ r: JRef, _ key: StaticString) throws -> Double? {
        guard let v = r[key], !v.isNull else { return nil }
        guard let d = v.double else { throw FormatError("bad_type", "field '\(key)' must be a number") }
        return d
    }

    /// A number, or a string holding one ("8", "N/A" -> nil): ratings are written both ways.
    static func rating(_ v: JRef?) -> Double? {
        guard let v, !v.isNull else { return nil }
        if let d = v.double, d.isFinite { return d }
        if let s = v.string, let d = Double(s.trimmingCharacters(in: .whitespaces)), d.isFinite { return d }
        return nil
    }

    /// A message's content: a string; or a list of parts, whose text parts (`{"type": "text",
    /// "text"|"value": ...}` or bare strings, as OpenAI and LLaMA-Factory v1 write them) are
    /// concatenated. The list itself is kept in `parts`; `Converter.finish` keeps it only where it
    /// matters (a pair with non-text parts or an `images` column), so it is written back as it came.
    static func content(_ c: JRef, where what: String) throws -> (text: [UInt8], parts: JSONValue?) {
        switch c.kind {
        case .string: return (c.bytes!, nil)
        case .null: return ([], nil)
        case .array:
            var out: [UInt8] = []
            var typed = false
            for part in c.elements {
                if let s = part.bytes { out += s; continue }
                guard part.kind == .object else { throw FormatError("bad_message", "\(what): a content part must be a string or an object") }
                if let t = part["type"]?.string, t != "text" { typed = true; continue }
                guard let s = (part["text"] ?? part["value"] ?? part["content"])?.bytes else {
                    throw FormatError("bad_message", "\(what): content part without text")
                }
                out += s
            }
            // Kept as given for now; Converter.finish flattens text-only lists unless the pair is multimodal.
            _ = typed
            return (out, c.value)
        default:
            throw FormatError("bad_type", "\(what): content must be a string or a list of parts")
        }
    }

    /// One message object: `{"role", "content"}` or ShareGPT's `{"from", "value"}`. Its other keys
    /// (`tool_calls`, `tool_call_id`, `name`, `reasoning_content`, ...) are kept in order.
    static func message(_ m: JRef, where what: String) throws -> Message {
        guard m.kind == .object else { throw FormatError("bad_message", "\(what): a message must be an object") }
        guard let roleRef = m["role"] ?? m["from"], let roleName = roleRef.string else {
            throw FormatError("bad_message", "\(what): message without 'role' (or 'from')")
        }
        guard let role = Role(corpusName: roleName) else {
            throw FormatError("unsupported_role", "\(what): role '\(roleName)' has no place in a preference pair (system, user, assistant, tool)")
        }
        let c = m["content"] ?? m["value"]
        guard let c else {
            // An assistant turn that only calls tools may have no content.
            guard m["tool_calls"] != nil else { throw FormatError("bad_message", "\(what): message without 'content' (or 'value')") }
            var msg = Message(role, [])
            for (k, v) in m.members where k != "role" && k != "from" { msg.extra.append((k, v.value)) }
            return msg
        }
        let (text, parts) = try content(c, where: what)
        var msg = Message(role, text)
        msg.parts = parts
        if m.count > 2 {
            let contentKey = m["content"] != nil ? "content" : "value", roleKey = m["role"] != nil ? "role" : "from"
            for (k, v) in m.members where k != roleKey && k != contentKey { msg.extra.append((k, v.value)) }
        }
        return msg
    }

    static func messages(_ a: JRef, where what: String) throws -> [Message] {
        guard a.kind == .array else { throw FormatError("bad_type", "\(what) must be a list of messages") }
        return try a.elements.map { try message($0, where: what) }
    }

    /// A string (one message of `role`) or a list of messages.
    static func turns(_ v: JRef, role: Role, where what: String) throws -> [Message] {
        switch v.kind {
        case .string: return [Message(role, v.bytes!)]
        case .array: return try messages(v, where: what)
        case .object: return [try message(v, where: what)]
        default: throw FormatError("bad_type", "\(what) must be a string or a list of messages")
        }
    }
}

// MARK: - Prompt extraction

enum PromptSplit {
    /// Implicit prompt for conversations: the longest common run of equal leading messages,
    /// shortened until it ends with a user turn. The rest of each side is its response.
    static func conversations(_ c: [Message], _ r: [Message]) throws -> ([Message], [Message], [Message]) {
        var k = 0
        while k < c.count && k < r.count && c[k] == r[k] { k += 1 }
        // If one side is entirely a prefix of the other, the response must start after a user turn.
        while k > 0 && c[k - 1].role != .user { k -= 1 }
        guard k > 0 else {
            throw FormatError("no_common_prompt", "chosen and rejected share no leading user turn, so no prompt can be extracted")
        }
        return (Array(c[..<k]), Array(c[k...]), Array(r[k...]))
    }

    /// Implicit prompt for plain strings: the longest common prefix, cut back to a character
    /// boundary and then to the start of the whitespace before the first differing word, so that
    /// neither response starts mid-word (responses keep their leading whitespace, as in TRL).
    static func strings(_ c: [UInt8], _ r: [UInt8]) throws -> ([UInt8], [UInt8], [UInt8]) {
        var k = 0
        let m = min(c.count, r.count)
        while k < m && c[k] == r[k] { k += 1 }
        if k == c.count && k == r.count {
            // Identical: the last word is the (equal) response.
            k = max(0, k - 1)
        }
        // UTF-8 boundary: do not split a multi-byte character.
        while k > 0 && k < c.count && (c[k] & 0xC0) == 0x80 { k -= 1 }
        // Word boundary: back to the start of the last whitespace run in the prefix, if any.
        var w = k
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x0A || $0 == 0x09 || $0 == 0x0D }
        if !(w < c.count && isSpace(c[w])) || !(w < r.count && isSpace(r[w])) {
            while w > 0 && !isSpace(c[w - 1]) { w -= 1 }
        }
        while w > 0 && isSpace(c[w - 1]) { w -= 1 }
        if w > 0 { k = w }
        let prompt = Array(c[..<k])
        guard prompt.contains(where: { !isSpace($0) }) else {
            throw FormatError("no_common_prompt", "chosen and rejected differ from their first word, so no prompt can be extracted")
        }
        return (prompt, Array(c[k...]), Array(r[k...]))
    }
}
