// Stack Exchange data dumps (Posts.xml): questions and answers joined into preference pairs with
// the rule of the H4 stack-exchange-preferences set. The join runs through SpillSorter, so a dump
// larger than memory is sorted in runs on disk and merged (same output as the in-memory path).
import Foundation
import PrefIO

public struct StackExchangeOptions: Sendable {
    public var maxPairsPerQuestion = 10
    public var memoryLimit = 1 << 30
    public var tempDir: String? = nil
    public init() {}
}

struct SEPost {
    var id: Int, type: Int, parent: Int, accepted: Int, score: Int, line: Int
    var title: [UInt8], body: [UInt8], tags: [String]

    func payload() -> [UInt8] {
        var w = PayloadWriter()
        w.int(id); w.int(type); w.int(parent); w.int(accepted); w.int(score); w.int(line)
        w.data(title); w.data(body); w.data(Array(tags.joined(separator: "\u{1F}").utf8))
        return w.bytes
    }
    init(id: Int, type: Int, parent: Int, accepted: Int, score: Int, line: Int, title: [UInt8], body: [UInt8], tags: [String]) {
        self.id = id; self.type = type; self.parent = parent; self.accepted = accepted; self.score = score; self.line = line
        self.title = title; self.body = body; self.tags = tags
    }
    init(payload: [UInt8]) {
        var r = PayloadReader(payload)
        id = r.int(); type = r.int(); parent = r.int(); accepted = r.int(); score = r.int(); line = r.int()
        title = r.data(); body = r.data()
        let t = r.data()
        tags = t.isEmpty ? [] : String(decoding: t, as: UTF8.self).split(separator: "\u{1F}").map(String.init)
    }
}

public enum StackExchange {
    static let attributes = ["Id", "PostTypeId", "ParentId", "AcceptedAnswerId", "Score", "Title", "Body", "Tags"]

    /// H4's preference score: round(log2(1 + score)) for score >= 0, -1 for a negative score, +1 if accepted.
    public static func pmScore(score: Int, accepted: Bool) -> Int {
        var s = score >= 0 ? Int((Foundation.log2(Double(1 + score))).rounded()) : -1
        if accepted { s += 1 }
        return s
    }

    /// Tags from either dump format: "<a><b>" or "|a|b|".
    public static func parseTags(_ s: String) -> [String] {
        if s.hasPrefix("<") {
            return s.split(whereSeparator: { $0 == "<" || $0 == ">" }).map(String.init).filter { !$0.isEmpty }
        }
        return s.split(separator: "|").map(String.init).filter { !$0.isEmpty }
    }

    /// Converts one Posts.xml stream. Rows are read and counted; pairs are emitted question by question
    /// in Id order.
    static func convert(source: ByteSource, options: StackExchangeOptions, emit: JoinEmitter) throws -> SpillSorter {
        let sorter = SpillSorter(memoryLimit: options.memoryLimit, tempDir: options.tempDir)
        let reader = XMLRowReader(source, attributes: attributes)
        func num(_ v: [UInt8]?) -> Int? { v.flatMap { Int(String(decoding: $0, as: UTF8.self)) } }
        do {
            while let (line, v) = try reader.next() {
                guard let id = num(v[0]), let type = num(v[1]) else {
                    emit.reject(line: line, offset: 0, reason: "bad_row", message: "row without a numeric Id or PostTypeId", raw: [])
                    continue
                }
                guard type == 1 || type == 2 else {
                    emit.removed("other_post_type", ref: "\(id)")
                    continue
                }
                let parent = num(v[2]) ?? 0
                if type == 2 && parent == 0 {
                    emit.reject(line: line, offset: 0, reason: "bad_row", message: "answer \(id) without ParentId", raw: [])
                    continue
                }
                let post = SEPost(id: id, type: type, parent: parent, accepted: num(v[3]) ?? 0, score: num(v[4]) ?? 0, line: line,
                                  title: v[5].map { HTMLText.decodeEntities($0, 0, $0.count) } ?? [],
                                  body: HTMLText.markdown(v[6] ?? []),
                                  tags: v[7].map { parseTags(String(decoding: $0, as: UTF8.self)) } ?? [])
                let qid = type == 1 ? id : parent
                try sorter.add(key: bigEndianKey([qid, type, id]), payload: post.payload())
            }
        } catch let e as XMLRowError {
            emit.reject(line: e.line, offset: 0, reason: "malformed_xml", message: "\(e); rows after it are not read", raw: [])
        } catch let e as StreamError {
            let reason = e.kind == .truncated ? "truncated_input" : (e.kind == .corrupt ? "corrupt_input" : "read_error")
            emit.reject(line: reader.line, offset: e.fileOffset, reason: reason, message: "\(e.message) at file byte \(e.fileOffset); rows after it are not read", raw: [])
        }

        // Join: records arrive grouped by question id, the question first, answers by Id.
        var group: [SEPost] = []
        var groupQ = -1
        func finish() throws {
            guard !group.isEmpty else { return }
            try pairsFor(group, options: options, emit: emit)
            group.removeAll()
        }
        try sorter.drain { key, payload in
            let qid = keyInt(key, 0)
            if qid != groupQ { try finish(); groupQ = qid }
            group.append(SEPost(payload: payload))
        }
        try finish()
        return sorter
    }

    static func pairsFor(_ group: [SEPost], options: StackExchangeOptions, emit: JoinEmitter) throws {
        guard let q = group.first, q.type == 1 else {
            for a in group { emit.removed("orphan_answer", ref: "\(a.id)") }
            return
        }
        let answers = Array(group.dropFirst())
        if answers.count < 2 {
            emit.removed("too_few_answers", ref: "\(q.id)", n: 1 + answers.count)
            return
        }
        struct Cand { var c: Int; var r: Int; var gap: Int }
        let pm = answers.map { pmScore(score: $0.score, accepted: $0.id == q.accepted) }
        var cands: [Cand] = []
        for i in 0..<answers.count {
            for j in 0..<answers.count where i != j && pm[i] > pm[j] {
                cands.append(Cand(c: i, r: j, gap: pm[i] - pm[j]))
            }
        }
        if cands.isEmpty {
            emit.removed("no_preference", ref: "\(q.id)", n: 1 + answers.count)
            return
        }
        cands.sort { a, b in
            if a.gap != b.gap { return a.gap > b.gap }
            if answers[a.c].id != answers[b.c].id { return answers[a.c].id < answers[b.c].id }
            return answers[a.r].id < answers[b.r].id
        }
        let kept = cands.prefix(max(0, options.maxPairsPerQuestion))
        var usedAnswers = Set<Int>()
        var prompt = q.title
        if !prompt.isEmpty && !q.body.isEmpty { prompt += [0x0A, 0x0A] }
        prompt += q.body
        for k in kept {
            let c = answers[k.c], r = answers[k.r]
            usedAnswers.insert(k.c); usedAnswers.insert(k.r)
            let meta: [(String, JSONValue)] = [
                ("question_id", .int(Int64(q.id))), ("chosen_answer_id", .int(Int64(c.id))), ("rejected_answer_id", .int(Int64(r.id))),
                ("tags", .array(q.tags.map { .string($0) })),
                ("chosen_accepted", .bool(c.id == q.accepted)), ("rejected_accepted", .bool(r.id == q.accepted)),
                ("chosen_score_raw", .int(Int64(c.score))), ("rejected_score_raw", .int(Int64(r.score))),
            ]
            try emit.pair(Pair(prompt: [Message(.user, prompt)], chosen: [Message(.assistant, c.body)], rejected: [Message(.assistant, r.body)],
                               scoreChosen: Double(pm[k.c]), scoreRejected: Double(pm[k.r]), meta: meta),
                          key: "\(q.id):\(c.id):\(r.id)")
        }
        emit.used(1 + usedAnswers.count)
        for (i, a) in answers.enumerated() where !usedAnswers.contains(i) {
            emit.removed("unpaired_answer", ref: "\(a.id)")
        }
    }
}
