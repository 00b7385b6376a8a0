// Stack Exchange data dumps (Posts.xml): questions and answers joined into preference pairs with
// the rule of the H4 stack-exchange-preferences set. The join runs through SpillSorter, so a dump
// larger than memory is sorted in runs on disk and merged (same output as the in-memory path).
import Foundation
import PrefCore
import PrefIO

public struct StackExchangeOptions: Sendable {
    public var maxPairsPerQuestion = 10
    public var memoryLimit = 1 << 30
    public var tempDir: String? = nil
    /// Rows longer than this are rejected (record_too_large) without being buffered whole.
    public var maxRowBytes = 256 << 20
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
        var s = score >= 0 ? Int((Foundation.log2(Double(score) + 1)).rounded()) : -1
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
        let reader = XMLRowReader(source, attributes: attributes, maxRowBytes: options.maxRowBytes)
        func num(_ v: [UInt8]?) -> Int? { v.flatMap { Int(String(decoding: $0, as: UTF8.self)) } }
        do {
            while let item = try reader.next() {
                emit.taken += 1
                guard case .row(let line, let v) = item else {
                    if case .bad(let b) = item { try emit.rejectRow(line: b.line, offset: b.offset, reason: b.reason, message: b.message, raw: b.raw) }
                    continue
                }
                guard let id = num(v[0]), let type = num(v[1]) else {
                    try emit.rejectRow(line: line, offset: 0, reason: "bad_row", message: "row without a numeric Id or PostTypeId", raw: [])
                    continue
                }
                guard type == 1 || type == 2 else {
                    emit.removed("other_post_type", ref: "\(id)")
                    continue
                }
                let parent = num(v[2]) ?? 0
                if type == 2 && parent == 0 {
                    try emit.rejectRow(line: line, offset: 0, reason: "bad_row", message: "answer \(id) without ParentId", raw: [])
                    continue
                }
                let post = SEPost(id: id, type: type, parent: parent, accepted: num(v[3]) ?? 0, score: num(v[4]) ?? 0, line: line,
                                  title: v[5].map { HTMLText.decodeEntities($0, 0, $0.count) } ?? [],
                                  body: HTMLText.markdown(v[6] ?? []),
                                  tags: v[7].map { parseTags(String(decoding: $0, as: UTF8.self)) } ?? [])
                let qid = type == 1 ? id : parent
                try sorter.add(key: bigEndianKey([qid, type, id]), payload: post.payload())
            }
        } catch let e as StreamError {
            let reason = e.kind == .truncated ? "truncated_input" : (e.kind == .corrupt ? "corrupt_input" : "read_error")
            emit.reject(line: reader.line, offset: e.fileOffset, reason: reason, message: "\(e.message) at file byte \(e.fileOffset); rows after it are not read", raw: [])
        }

        // Join: records arrive grouped by question id, the question first, answers by Id.
        let group = GroupStore(budget: max(1 << 20, options.memoryLimit / 4), tempDir: options.tempDir)
        var groupQ = -1
        func finish() throws {
            guard group.count > 0 else { return }
            try pairsFor(group, options: options, emit: emit)
            try group.reset()
        }
        var lastKey: [UInt8] = []
        try sorter.drain { key, payload in
            let qid = keyInt(key, 0)
            // A second post with the same Id (and type) is not part of the thread: rejected, counted.
            if key == lastKey {
                let p = SEPost(payload: payload)
                emit.reject(line: p.line, offset: 0, reason: "duplicate_id",
                            message: "a second \(p.type == 1 ? "question" : "answer") with Id \(p.id); only the first one is read", raw: [])
                return
            }
            lastKey = key
            if qid != groupQ { try finish(); groupQ = qid }
            try group.add(payload)
        }
        try finish()
        return sorter
    }

    /// The pairs of one question: the `maxPairsPerQuestion` candidates with the largest pm-score gap
    /// (ties by chosen id, then rejected id), enumerated in that order without building every
    /// candidate pair, so a question with thousands of answers costs O(answers x distinct gaps).
    static func pairsFor(_ group: GroupStore, options: StackExchangeOptions, emit: JoinEmitter) throws {
        let first = try group.post(0)
        guard first.type == 1 else {
            for i in 0..<group.count { emit.removed("orphan_answer", ref: "\(group.ids[i])") }
            return
        }
        let q = first
        let n = group.count - 1          // answers are group entries 1...n, in Id order
        if n < 2 {
            emit.removed("too_few_answers", ref: "\(q.id)", n: 1 + n)
            return
        }
        let ids = Array(group.ids[1...])
        let pm = (0..<n).map { pmScore(score: group.scores[$0 + 1], accepted: ids[$0] == q.accepted) }
        // Answers by pm level, each list in Id order.
        var byLevel: [Int: [Int]] = [:]
        for i in 0..<n { byLevel[pm[i], default: []].append(i) }
        let levels = byLevel.keys.sorted()
        var gaps = Set<Int>()
        for a in levels { for b in levels where a > b { gaps.insert(a - b) } }
        if gaps.isEmpty {
            emit.removed("no_preference", ref: "\(q.id)", n: 1 + n)
            return
        }
        let limit = max(0, options.maxPairsPerQuestion)
        var kept: [(c: Int, r: Int)] = []
        outer: for gap in gaps.sorted(by: >) {
            for c in 0..<n {
                guard let rs = byLevel[pm[c] - gap] else { continue }
                for r in rs {
                    if kept.count == limit { break outer }
                    kept.append((c, r))
                }
            }
        }
        var usedAnswers = Set<Int>()
        var prompt = q.title
        if !prompt.isEmpty && !q.body.isEmpty { prompt += [0x0A, 0x0A] }
        prompt += q.body
        for k in kept {
            let c = try group.post(k.c + 1), r = try group.post(k.r + 1)
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
        for i in 0..<n where !usedAnswers.contains(i) {
            emit.removed("unpaired_answer", ref: "\(ids[i])")
        }
    }
}

/// The posts of one question while it is joined: ids and scores in memory (16 bytes a post), the
/// payloads in memory up to a budget and in a temporary file past it, so one question with a
/// huge number of answers stays within the memory limit.
final class GroupStore {
    let budget: Int
    let tempDir: String
    private(set) var ids: [Int] = []
    private(set) var scores: [Int] = []
    var payloads: [[UInt8]] = []
    var inMemory = 0
    var spillPath: String?
    var spillFD: Int32 = -1
    var spillOffsets: [(Int64, Int)] = []
    var spillEnd: Int64 = 0

    init(budget: Int, tempDir: String?) {
        self.budget = budget
        self.tempDir = tempDir ?? (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp")
    }
    deinit { try? reset() }

    var count: Int { ids.count }

    func add(_ payload: [UInt8]) throws {
        // The payload starts with id, type, parent, accepted, score (see SEPost.payload).
        var r = PayloadReader(payload)
        let id = r.int(); _ = r.int(); _ = r.int(); _ = r.int()
        ids.append(id); scores.append(r.int())
        if spillFD < 0 && inMemory + payload.count <= budget {
            payloads.append(payload); inMemory += payload.count
            return
        }
        if spillFD < 0 {
            (spillFD, spillPath) = try TempFiles.create(prefix: "prefkit-group", in: tempDir, what: "a spill file")
        }
        try payload.withUnsafeBytes { b in
            var off = 0
            while off < b.count {
                let r = pwrite(spillFD, b.baseAddress! + off, b.count - off, off_t(spillEnd) + off_t(off))
                if r < 0 { if errno == EINTR { continue }; throw OutputError("spill write failed: \(String(cString: strerror(errno)))") }
                off += r
            }
        }
        spillOffsets.append((spillEnd, payload.count))
        spillEnd += Int64(payload.count)
    }

    func post(_ i: Int) throws -> SEPost {
        if i < payloads.count { return SEPost(payload: payloads[i]) }
        let (off, len) = spillOffsets[i - payloads.count]
        var bytes = [UInt8](repeating: 0, count: len)
        let got = bytes.withUnsafeMutableBytes { pread(spillFD, $0.baseAddress!, len, off_t(off)) }
        guard got == len else { throw OutputError("spill file \(spillPath ?? "") could not be read back") }
        return SEPost(payload: bytes)
    }

    func reset() throws {
        ids.removeAll(keepingCapacity: true); scores.removeAll(keepingCapacity: true)
        payloads.removeAll(); inMemory = 0
        if spillFD >= 0 { close(spillFD); spillFD = -1 }
        if let p = spillPath { unlink(p); TempFiles.unregister(p); spillPath = nil }
        spillOffsets.removeAll(); spillEnd = 0
    }
}

extension StackExchange {
    static let corpus = Corpus(
        name: "stackexchange", summary: "Stack Exchange Posts.xml dumps: answers of a question paired by votes (an input starting with '<')",
        sniff: { b in
            // XML, or UTF-16 XML (a byte order mark, then '<'), which the XML reader refuses with a clear reason.
            if b.first == UInt8(ascii: "<") { return true }
            return b.count >= 4 && ((b[0] == 0xFF && b[1] == 0xFE && b[2] == 0x3C) || (b[0] == 0xFE && b[1] == 0xFF && b[3] == 0x3C))
        },
        kind: .join { src, o, maxRecordBytes, emit in
            var options = o.stackexchange
            options.maxRowBytes = maxRecordBytes
            let sorter = try StackExchange.convert(source: src, options: options, emit: emit)
            return JoinStats(layout: "xml", spilled: sorter.spilledRecords, peakBytes: sorter.peakBufferedBytes)
        })
}
