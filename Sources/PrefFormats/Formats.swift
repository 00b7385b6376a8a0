// The format registry and auto-detection from a record's fields.
import PrefIO

public enum FormatName: String, CaseIterable, Sendable {
    case auto, hh, shp, ultrafeedback, trl, openai, llamafactory, arena, pku, generic, stackexchange, oasst

    public static var names: String { allCases.map(\.rawValue).joined(separator: "|") }

    /// Formats whose pairs come from joining many records (not one record per pair).
    public var isJoin: Bool { self == .stackexchange || self == .oasst }
}

public enum Formats {
    public static func adapter(_ f: FormatName, _ o: FormatOptions) -> FormatAdapter? {
        switch f {
        case .auto: return nil
        case .hh: return HHAdapter()
        case .shp: return SHPAdapter()
        case .ultrafeedback: return UltraFeedbackAdapter()
        case .trl: return TRLAdapter()
        case .openai: return OpenAIAdapter()
        case .llamafactory: return LlamaFactoryAdapter()
        case .arena: return ArenaAdapter()
        case .pku: return PKUAdapter(axis: o.pkuAxis)
        case .generic: return GenericAdapter(map: o.fieldMap)
        case .stackexchange, .oasst: return nil
        }
    }

    /// Recognizes a corpus from the fields of one record.
    public static func detect(_ r: JRef) -> FormatName? {
        guard r.kind == .object else { return nil }
        func has(_ k: StaticString) -> Bool { r[k] != nil }
        if has("message_tree_id") && r["prompt"]?.kind == .object { return .oasst }
        if has("message_id") && (has("replies") || has("parent_id")) && has("role") { return .oasst }
        if has("preferred_output") && has("non_preferred_output") { return .openai }
        if has("history") && has("human_ref_A") && has("human_ref_B") { return .shp }
        if has("conversation_a") && has("conversation_b") && has("winner") { return .arena }
        if has("response_0") && has("response_1") && (has("better_response_id") || has("safer_response_id")) { return .pku }
        if has("chosen_messages") && has("rejected_messages") { return .llamafactory }
        if (has("conversations") || has("messages")) && has("chosen") && has("rejected"),
           let c = r["chosen"], c.kind == .object { return .llamafactory }
        if has("instruction") && ((has("chosen") && has("rejected")) || r["output"]?.kind == .array) { return .llamafactory }
        if let c = r["chosen"], let j = r["rejected"] {
            if !has("prompt"), let cb = c.bytes, j.kind == .string {
                let h = Array("\n\nHuman:".utf8), h2 = Array("Human:".utf8)
                if cb.starts(with: h) || cb.starts(with: h2) { return .hh }
            }
            if c.kind == .array && (has("prompt_id") || has("score_chosen")) && r["prompt"]?.kind == .string { return .ultrafeedback }
            return .trl
        }
        return nil
    }
}
