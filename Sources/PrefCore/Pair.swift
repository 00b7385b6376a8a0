// The normalized preference pair (docs/format.md) and its JSON Lines serialization.
#if canImport(Glibc)
import Glibc
#endif
import PrefIO

public enum Role: UInt8, Sendable {
    case system, user, assistant, tool

    public var name: StaticString {
        switch self {
        case .system: return "system"; case .user: return "user"; case .assistant: return "assistant"; case .tool: return "tool"
        }
    }

    /// Maps the role names used across corpora; nil for roles with no place in a pair.
    public init?(corpusName s: String) {
        switch s.lowercased() {
        case "system", "developer": self = .system
        case "user", "human", "prompter", "question": self = .user
        case "assistant", "gpt", "bot", "model", "chatbot", "answer": self = .assistant
        case "tool", "function", "observation", "ipython": self = .tool
        default: return nil
        }
    }
}

extension Role {
    /// The three role names of the normalized format, matched on the raw bytes (no allocation).
    init?(normalized r: JRef) {
        guard r.kind == .string, !r.node.flag else {
            guard let s = r.string, let x = Role(corpusName: s) else { return nil }
            self = x; return
        }
        let p = r.doc.base + Int(r.node.start), n = Int(r.node.end - r.node.start)
        func eq(_ w: StaticString) -> Bool {
            n == w.utf8CodeUnitCount && memcmp(p, w.utf8Start, n) == 0
        }
        if eq("user") { self = .user } else if eq("assistant") { self = .assistant } else if eq("system") { self = .system }
        else {
            guard let s = r.string, let x = Role(corpusName: s) else { return nil }
            self = x
        }
    }
}

public struct Message: Equatable, Sendable {
    public var role: Role
    /// UTF-8 bytes of the content's text (the text parts, concatenated, when the content is a list).
    public var content: [UInt8]
    /// The content as given, when it is a list of typed parts in a multimodal pair
    /// (`[{"type": "text", "text": ...}, {"type": "image"}]`); written back in place of `content`.
    public var parts: JSONValue? = nil
    /// The message's other keys, in their order: `tool_calls`, `tool_call_id`, `name`,
    /// `reasoning_content`, `thinking`, ... carried through unchanged.
    public var extra: [(String, JSONValue)] = []

    public init(_ role: Role, _ content: [UInt8]) { self.role = role; self.content = content }
    public init(_ role: Role, _ text: String) { self.role = role; self.content = Array(text.utf8) }
    public var text: String { String(decoding: content, as: UTF8.self) }

    /// True for a message a plain-text chat template renders whole: no tool role, no tool calls,
    /// no non-text parts.
    public var isPlainText: Bool {
        role != .tool && parts == nil && toolCalls == nil
    }

    /// The tool calls an assistant turn made (`tool_calls`, or the older `function_call`), if any.
    public var toolCalls: JSONValue? {
        extra.last { $0.0 == "tool_calls" || $0.0 == "function_call" }?.1
    }

    /// True when `parts` holds a part that is not text (an image, audio, ...).
    public var hasNonTextParts: Bool {
        guard case .array(let a)? = parts else { return false }
        return a.contains { part in
            guard case .object = part else { return false }
            if let t = part["type"]?.stringValue { return t != "text" }
            return false
        }
    }

    public static func == (a: Message, b: Message) -> Bool {
        a.role == b.role && a.content == b.content && a.parts == b.parts
            && a.extra.count == b.extra.count && zip(a.extra, b.extra).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }
}

public struct Pair: Sendable {
    public var id: String = ""
    public var source: String = ""
    public var prompt: [Message]
    public var chosen: [Message]
    public var rejected: [Message]
    public var scoreChosen: Double?
    public var scoreRejected: Double?
    public var meta: [(String, JSONValue)] = []
    /// TRL's `tools` column: the tool (function) schemas the conversation may call.
    public var tools: JSONValue? = nil
    /// TRL's `images` column: the images the `{"type": "image"}` parts refer to, in order.
    public var images: JSONValue? = nil

    /// True when every message renders as plain text and no images or tools come with the pair.
    public var isPlainText: Bool {
        tools == nil && images == nil && (prompt + chosen + rejected).allSatisfy(\.isPlainText)
    }

    public init(prompt: [Message], chosen: [Message], rejected: [Message],
                scoreChosen: Double? = nil, scoreRejected: Double? = nil, meta: [(String, JSONValue)] = []) {
        self.prompt = prompt; self.chosen = chosen; self.rejected = rejected
        self.scoreChosen = scoreChosen; self.scoreRejected = scoreRejected; self.meta = meta
    }

    /// Checks the shape every pair must have; returns a (reason, message) on failure.
    public func validate() -> (String, String)? {
        if prompt.isEmpty { return ("no_prompt", "the pair has no prompt") }
        // A tool result may end the prompt too: the replies then answer it.
        if prompt.last!.role != .user && prompt.last!.role != .tool {
            return ("prompt_not_ending_in_user", "the prompt must end with a user (or tool) turn, it ends with \(prompt.last!.role.name)")
        }
        if chosen.isEmpty || rejected.isEmpty { return ("no_response", "chosen and rejected must each hold at least one message") }
        if chosen[0].role != .assistant || rejected[0].role != .assistant {
            return ("response_not_assistant", "chosen and rejected must start with an assistant turn")
        }
        if let s = scoreChosen, !s.isFinite { return ("bad_score", "score_chosen is not finite") }
        if let s = scoreRejected, !s.isFinite { return ("bad_score", "score_rejected is not finite") }
        return nil
    }

    /// Appends the pair as one JSON line (with trailing newline).
    public func write(to b: inout ByteBuffer) {
        b.append("{\"id\": "); b.appendJSONString(id)
        b.append(", \"source\": "); b.appendJSONString(source)
        b.append(", \"prompt\": "); Pair.writeMessages(prompt, &b)
        b.append(", \"chosen\": "); Pair.writeMessages(chosen, &b)
        b.append(", \"rejected\": "); Pair.writeMessages(rejected, &b)
        if let t = tools { b.append(", \"tools\": "); b.appendJSONValue(t) }
        if let i = images { b.append(", \"images\": "); b.appendJSONValue(i) }
        if let s = scoreChosen { b.append(", \"score_chosen\": "); b.appendJSONNumber(s) }
        if let s = scoreRejected { b.append(", \"score_rejected\": "); b.appendJSONNumber(s) }
        if !meta.isEmpty { b.append(", \"meta\": "); b.appendJSONValue(.object(meta)) }
        b.append("}\n")
    }

    static func writeMessages(_ ms: [Message], _ b: inout ByteBuffer) {
        b.append(UInt8(ascii: "["))
        for (i, m) in ms.enumerated() {
            if i > 0 { b.append(", ") }
            b.append("{\"role\": \""); b.append(m.role.name); b.append("\", \"content\": ")
            if let parts = m.parts { b.appendJSONValue(parts) } else { b.appendJSONString(m.content) }
            for (k, v) in m.extra { b.append(", "); b.appendJSONString(k); b.append(": "); b.appendJSONValue(v) }
            b.append(UInt8(ascii: "}"))
        }
        b.append(UInt8(ascii: "]"))
    }

    /// Reads a pair back from its normalized JSON form.
    public static func parse(_ r: JRef) throws -> Pair {
        func msgs(_ key: StaticString) throws -> [Message] {
            guard let a = r[key], a.kind == .array else { throw FormatError("missing_field", "'\(key)' must be a list of messages") }
            return try a.elements.map { e in
                guard let rr = e["role"].flatMap(Role.init(normalized:)) else { throw FormatError("bad_message", "message without a known role") }
                guard let c = e["content"] else { throw FormatError("bad_message", "message without content") }
                var m: Message
                if let text = c.bytes {
                    m = Message(rr, text)
                } else if c.kind == .array {
                    m = Message(rr, c.textOfParts)
                    m.parts = c.value
                } else { throw FormatError("bad_message", "message content must be a string or a list of parts") }
                if e.count > 2 {
                    for (k, v) in e.members where k != "role" && k != "content" { m.extra.append((k, v.value)) }
                }
                return m
            }
        }
        var p = Pair(prompt: try msgs("prompt"), chosen: try msgs("chosen"), rejected: try msgs("rejected"),
                     scoreChosen: r["score_chosen"]?.double, scoreRejected: r["score_rejected"]?.double)
        p.id = r["id"]?.string ?? ""
        p.source = r["source"]?.string ?? ""
        if let m = r["meta"], case .object(let o) = m.value { p.meta = o }
        if let t = r["tools"], !t.isNull { p.tools = t.value }
        if let i = r["images"], !i.isNull { p.images = i.value }
        return p
    }
}

extension JSONScanner {
    /// One input record as a JSON object: valid UTF-8, well-formed, an object. Failures are
    /// FormatErrors giving the byte in the record (and in the decoded stream, when known).
    public mutating func parseRecord(_ buf: UnsafeRawBufferPointer, streamOffset: Int64? = nil) throws -> JSONDoc {
        if let bad = UTF8Check.firstInvalid(buf) {
            throw FormatError("invalid_utf8", "invalid UTF-8 at byte \(bad) of the record" + (streamOffset.map { " (decoded byte \($0 + Int64(bad)))" } ?? ""))
        }
        let doc: JSONDoc
        do { doc = try parse(buf) } catch let e as JSONError {
            throw FormatError("malformed_json", "malformed JSON: \(e.message) at byte \(e.offset) of the record")
        }
        guard doc.root.kind == .object else { throw FormatError("not_an_object", "the record is not a JSON object") }
        return doc
    }
}

/// A record-level problem: `reason` is a short snake_case code used in summaries.
public struct FormatError: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public var message: String
    public init(_ reason: String, _ message: String) { self.reason = reason; self.message = message }
    public var description: String { message }
}
