// HelpSteer / HelpSteer2 (nvidia/HelpSteer2): one row per reply, {"prompt", "response",
// "helpfulness", "correctness", "coherence", "complexity", "verbosity"} (0-4 each), the replies to a
// prompt on adjacent rows. Each reply is scored by a weighted sum of its attributes
// (`--attribute-weights`), and the replies of a prompt are paired by the shared strategies
// (Ranking.swift). Multi-turn prompts hold earlier turns after "<extra_id_1>User" /
// "<extra_id_1>Assistant" markers, which become messages.
import PrefCore
import PrefIO

public enum HelpSteer {
    /// The default weights: those the Nemotron-4-340B-Reward model card (a HelpSteer2-trained
    /// reward model) recommends for turning its five attributes into one reward; verbosity counts
    /// against a reply.
    public static let defaultWeights: [(String, Double)] = [
        ("helpfulness", 0.3), ("correctness", 0.74), ("coherence", 0.46), ("complexity", 0.47), ("verbosity", -0.33),
    ]

    /// Parses `helpfulness=1,verbosity=-0.5`: attributes not named weigh 0.
    public static func parseWeights(_ spec: String) throws -> [(String, Double)] {
        var out: [(String, Double)] = []
        for part in spec.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, !kv[0].isEmpty, let w = Double(kv[1]), w.isFinite else {
                throw FormatError("bad_weights", "--attribute-weights entry '\(part)' is not attribute=number")
            }
            guard !out.contains(where: { $0.0 == kv[0] }) else { throw FormatError("bad_weights", "--attribute-weights names '\(kv[0])' twice") }
            out.append((kv[0], w))
        }
        guard !out.isEmpty else { throw FormatError("bad_weights", "--attribute-weights names no attribute") }
        return out
    }

    struct Row { var line: Int; var reply: [UInt8]; var score: Double?; var attributes: [(String, JSONValue)] }

    static let marker = Array("<extra_id_1>".utf8)

    /// A prompt string into turns: text before the first marker is the first user turn; each
    /// "<extra_id_1>User\n" or "<extra_id_1>Assistant\n" starts a turn.
    static func turns(_ p: [UInt8]) -> [Message] {
        var out: [Message] = []
        var role = Role.user
        var start = 0, i = 0
        func close(_ end: Int) {
            var s = start, e = end
            while s < e && (p[s] == 0x0A || p[s] == 0x20) { s += 1 }
            while e > s && (p[e - 1] == 0x0A || p[e - 1] == 0x20) { e -= 1 }
            if s < e || out.isEmpty && role == .user && end > 0 { out.append(Message(role, Array(p[s..<e]))) }
        }
        while i + marker.count <= p.count {
            if p[i] == marker[0] && Array(p[i..<(i + marker.count)]) == marker {
                let rest = p[(i + marker.count)...]
                let next: Role? = rest.starts(with: "User".utf8) ? .user : rest.starts(with: "Assistant".utf8) ? .assistant : nil
                if let next {
                    close(i)
                    role = next
                    start = i + marker.count + (next == .user ? 4 : 9)
                    i = start
                    continue
                }
            }
            i += 1
        }
        close(p.count)
        return out.isEmpty ? [Message(.user, p)] : out
    }

    static func convert(reader: RecordReader, options: FormatOptions, emit: JoinEmitter) throws {
        var scanner = JSONScanner()
        var prompt: [UInt8]? = nil
        var group: [Row] = []
        func finish() throws {
            guard let p = prompt, !group.isEmpty else { return }
            defer { group.removeAll() }
            // Rounded to 1e-9 so that sums such as 0.74 * 4 + ... compare and print as the decimals they are.
            let scores = group.map { $0.score.map { ($0 * 1e9).rounded() / 1e9 } }
            var rec = RankedRecord(prompt: turns(p), replies: group.map { [Message(.assistant, $0.reply)] }, scores: scores)
            rec.replyMeta = group.map { $0.attributes }
            rec.meta.append(("prompt_line", .int(Int64(group[0].line))))
            let ref = "\(group[0].line)"
            let sel = rec.select(options.pairing)
            if let (reason, _) = sel.removal { emit.removed(reason, ref: ref, n: group.count); return }
            var used = Set<Int>()
            for rp in sel.pairs {
                let (key, pair) = rec.pair(rp)
                try emit.pair(pair, key: "\(ref):\(key)")
                used.insert(rp.chosen); used.insert(rp.rejected)
            }
            emit.used(used.count)
            for i in group.indices where !used.contains(i) { emit.removed("unpaired_response", ref: "\(group[i].line)") }
            for (k, v) in sel.skipped { emit.tally.skipped[k, default: 0] += v }
        }
        while let batch = reader.nextBatch() {
            for f in batch.failures { emit.reject(line: f.line, offset: f.offset, reason: f.reason, message: f.message, raw: f.raw) }
            for i in 0..<batch.count {
                let line = batch.lines[i], offset = batch.offsets[i]
                do {
                    try batch.withRecord(i) { buf in
                        let r = try scanner.parseRecord(buf, streamOffset: offset).root
                        let p = try Fields.string(r, "prompt"), reply = try Fields.string(r, "response")
                        var score: Double? = 0
                        var attributes: [(String, JSONValue)] = []
                        for (name, w) in options.attributeWeights {
                            let field = r.member(name)
                            guard let v = Fields.rating(field) else {
                                if let field, !field.isNull { throw FormatError("bad_type", "attribute '\(name)' must be a number") }
                                score = nil; continue
                            }
                            score = score.map { $0 + w * v }
                            attributes.append((name, v == v.rounded() ? .int(Int64(v)) : .double(v)))
                        }
                        if p != prompt { try finish(); prompt = p }
                        group.append(Row(line: line, reply: reply, score: score, attributes: attributes))
                    }
                } catch let e as FormatError {
                    emit.reject(line: line, offset: offset, reason: e.reason, message: e.message, raw: batch.withRecord(i) { Array($0) })
                }
            }
        }
        try finish()
    }
}

extension HelpSteer {
    static let corpus = Corpus(name: "helpsteer2", summary: "HelpSteer/HelpSteer2: one row per reply with five 0-4 attributes, replies to a prompt on adjacent rows; weighted sum (--attribute-weights), paired by --pairs",
                               detect: { r in r["response"] != nil && r["helpfulness"] != nil && r["correctness"] != nil && r["prompt"] != nil },
                               kind: .join { src, o, maxRecordBytes, emit in
                                   let reader = RecordReader(src, maxRecordBytes: maxRecordBytes)
                                   try HelpSteer.convert(reader: reader, options: o, emit: emit)
                                   return JoinStats(layout: reader.mode.rawValue, spilled: 0, peakBytes: 0)
                               })
}
