// Anthropic HH-RLHF: {"chosen": transcript, "rejected": transcript}, transcripts of
// "\n\nHuman: ..." / "\n\nAssistant: ..." turns that share everything before the compared reply.
#if canImport(Glibc)
import Glibc
#endif
import PrefCore
import PrefIO

public struct HHAdapter: FormatAdapter {
    public init() {}

    static let human = Array("\n\nHuman:".utf8)
    static let assistant = Array("\n\nAssistant:".utf8)

    public func convert(_ r: JRef) throws -> AdapterOutcome {
        let c = try Fields.string(r, "chosen")
        let j = try Fields.string(r, "rejected")
        let (_, cTurns, jTurns) = try HHAdapter.split(c, j)
        return .pair(Pair(prompt: cTurns.prompt, chosen: cTurns.response, rejected: jTurns.response))
    }

    /// Splits both transcripts at the last "\n\nAssistant:" marker that lies wholly inside their
    /// longest common prefix. (A naive last-marker split goes wrong when a reply itself contains
    /// "\n\nAssistant:", or when the two transcripts diverge before the final turn.)
    static func split(_ c: [UInt8], _ j: [UInt8]) throws -> (Int, (prompt: [Message], response: [Message]), (prompt: [Message], response: [Message])) {
        let lcp: Int = c.withUnsafeBufferPointer { cp in
            j.withUnsafeBufferPointer { jp in
                let m = min(cp.count, jp.count)
                var k = 0
                while k + 8 <= m,
                      UnsafeRawPointer(cp.baseAddress! + k).loadUnaligned(as: UInt64.self)
                        == UnsafeRawPointer(jp.baseAddress! + k).loadUnaligned(as: UInt64.self) { k += 8 }
                while k < m && cp[k] == jp[k] { k += 1 }
                return k
            }
        }
        let a = assistant
        var s = lcp - a.count
        var found = -1
        while s >= 0 {
            if c[s] == 0x0A && c[s + 1] == 0x0A && c[s + 2] == UInt8(ascii: "A") && matches(c, s, a) { found = s; break }
            s -= 1
        }
        guard found >= 0 else {
            throw FormatError("no_common_prompt", "chosen and rejected share no prefix ending at an \"\\n\\nAssistant:\" turn")
        }
        let prompt = try turns(c, 0, found, what: "prompt")
        let cr = try turns(c, found, c.count, what: "chosen")
        let jr = try turns(j, found, j.count, what: "rejected")
        return (found, (prompt, cr), (prompt, jr))
    }

    @inline(__always) static func matches(_ b: [UInt8], _ at: Int, _ m: [UInt8]) -> Bool {
        if at + m.count > b.count { return false }
        var i = 0
        while i < m.count { if b[at + i] != m[i] { return false }; i += 1 }
        return true
    }

    /// Parses b[from..<to] into messages. The text must start with a turn marker (the very first
    /// may lack its leading blank line: "Human: ..."). One space after the colon is the separator.
    static func turns(_ b: [UInt8], _ from: Int, _ to: Int, what: String) throws -> [Message] {
        var out: [Message] = []
        var i = from
        var role: Role
        var start: Int
        if matches(b, i, human) { role = .user; start = i + human.count }
        else if matches(b, i, assistant) { role = .assistant; start = i + assistant.count }
        else if i == 0 && matches(b, 0, Array(human[2...])) { role = .user; start = human.count - 2 }
        else if i == 0 && matches(b, 0, Array(assistant[2...])) { role = .assistant; start = assistant.count - 2 }
        else {
            throw FormatError("malformed_transcript", "\(what) does not start with a \"\\n\\nHuman:\" or \"\\n\\nAssistant:\" turn")
        }
        i = start
        b.withUnsafeBufferPointer { bp in
            let base = bp.baseAddress!
            while true {
                // Next "\n\nHuman:" or "\n\nAssistant:" marker, found through memchr on newlines.
                var next = -1
                var nextRole = Role.user
                var k = i
                while k + 1 < to {
                    guard let nl = memchr(base + k, 0x0A, to - k - 1) else { break }
                    k = UnsafeRawPointer(nl).assumingMemoryBound(to: UInt8.self) - base
                    if base[k + 1] == 0x0A {
                        if k + human.count <= to && matches(bp, k, human) { next = k; nextRole = .user; break }
                        if k + assistant.count <= to && matches(bp, k, assistant) { next = k; nextRole = .assistant; break }
                    }
                    k += 1
                }
                let end = next >= 0 ? next : to
                var cs = start
                if cs < end && base[cs] == 0x20 { cs += 1 }
                out.append(Message(role, Array(UnsafeBufferPointer(start: base + cs, count: end - cs))))
                if next < 0 { break }
                role = nextRole
                start = next + (nextRole == .user ? human.count : assistant.count)
                i = start
            }
        }
        return out
    }

    @inline(__always) static func matches(_ b: UnsafeBufferPointer<UInt8>, _ at: Int, _ m: [UInt8]) -> Bool {
        if at + m.count > b.count { return false }
        return m.withUnsafeBufferPointer { mp in memcmp(b.baseAddress! + at, mp.baseAddress!, m.count) == 0 }
    }

    /// Renders messages back into an HH transcript ("\n\nHuman: ..." / "\n\nAssistant: ...").
    public static func render(_ ms: [Message]) -> [UInt8] {
        var out: [UInt8] = []
        for m in ms {
            out += m.role == .user ? human : assistant
            out.append(0x20)
            out += m.content
        }
        return out
    }
}

extension HHAdapter {
    static let corpus = Corpus(name: "hh", summary: "Anthropic HH-RLHF: chosen, rejected transcripts (\\n\\nHuman: ... \\n\\nAssistant: ...)",
                               detect: { r in
                                   guard r["prompt"] == nil, let c = r["chosen"]?.bytes, r["rejected"]?.kind == .string else { return false }
                                   return c.starts(with: Array("\n\nHuman:".utf8)) || c.starts(with: Array("Human:".utf8))
                               },
                               kind: .records { _ in HHAdapter() })
}
