// OpenAssistant (oasst1/oasst2) exports: the tree export (one tree per line, nested "replies", either
// wrapped as {"message_tree_id", "prompt": root} or the root message itself) and the flat message
// export (one message per line, any order, assembled by message_tree_id within a memory budget).
// The ranked assistant replies of each prompter message are paired by the shared strategies
// (Ranking.swift; rank 0 is best); the default, `all`, gives a pair for each two replies of different rank.
import PrefCore
import PrefIO

public struct OASSTOptions: Sendable {
    public var languages: Set<String> = []          // empty: all
    public var includeSynthetic = false
    public var includeFailedReview = false
    public var memoryLimit = 1 << 30
    public var tempDir: String? = nil
    /// Copied from FormatOptions.pairing by the join; OpenAssistant's default strategy is `all`.
    var pairing = PairingOptions()
    public init() {}
}

struct OANode {
    var id: String
    var parent: String?
    var prompter: Bool
    var text: [UInt8]
    var lang: String
    var rank: Int?
    var deleted: Bool
    var synthetic: Bool
    var reviewFailed: Bool
    var children: [Int] = []
}

public enum OpenAssistant {
    static func node(_ m: JRef) throws -> OANode {
        guard let id = m["message_id"]?.string else { throw FormatError("missing_field", "message without 'message_id'") }
        guard let role = m["role"]?.string, role == "prompter" || role == "assistant" else {
            throw FormatError("bad_message", "message \(id): role must be 'prompter' or 'assistant'")
        }
        guard let text = m["text"]?.bytes else { throw FormatError("missing_field", "message \(id) without 'text'") }
        let parent = m["parent_id"].flatMap { $0.isNull ? nil : $0.string }
        return OANode(id: id, parent: parent, prompter: role == "prompter", text: text, lang: m["lang"]?.string ?? "",
                      rank: m["rank"].flatMap { $0.isNull ? nil : $0.int }, deleted: m["deleted"]?.bool ?? false,
                      synthetic: m["synthetic"]?.bool ?? false, reviewFailed: m["review_result"]?.bool == false)
    }

    /// Flattens a nested tree (root message with "replies") into nodes, root first.
    static func flatten(_ root: JRef) throws -> [OANode] {
        var nodes: [OANode] = []
        func walk(_ m: JRef, _ parent: String?) throws -> Int {
            var n = try node(m)
            if n.parent == nil { n.parent = parent }
            let me = nodes.count
            nodes.append(n)
            if let reps = m["replies"], reps.kind == .array {
                for r in reps.elements { let c = try walk(r, n.id); nodes[me].children.append(c) }
            }
            return me
        }
        _ = try walk(root, nil)
        return nodes
    }

    /// The excluded-reason of one message, if any.
    static func exclusion(_ n: OANode, _ o: OASSTOptions) -> String? {
        if n.deleted { return "deleted" }
        if n.synthetic && !o.includeSynthetic { return "synthetic" }
        if n.reviewFailed && !o.includeFailedReview { return "review_failed" }
        if !o.languages.isEmpty && !o.languages.contains(n.lang) { return "lang" }
        return nil
    }

    /// Pairs of one tree. `nodes[root]` is the root; children lists are complete. Each message is
    /// counted once: used (a prompter message that produced pairs, or a reply compared in one),
    /// or removed with its reason.
    static func pairs(tree: String, nodes: [OANode], root: Int, options: OASSTOptions, emit: JoinEmitter) throws {
        var nodes = nodes
        let ids = nodes.map(\.id)
        for i in nodes.indices { nodes[i].children.sort { ids[$0] < ids[$1] } }
        var path: [Message] = []
        var paired = Set<Int>()     // replies compared in a pair, decided when their parent is visited
        // Depth first without recursion (a reply chain can be as deep as the export is long): an
        // entry either visits a node or, once its subtree is done, takes it off the path.
        var stack: [(node: Int, leave: Bool)] = [(root, false)]
        while let (i, leave) = stack.popLast() {
            if leave { path.removeLast(); continue }
            let n = nodes[i]
            if let why = exclusion(n, options) {
                emit.removed(why, ref: "\(tree):\(n.id)")
                var below = n.children
                while let c = below.popLast() { emit.removed("excluded_ancestor", ref: "\(tree):\(nodes[c].id)"); below += nodes[c].children }
                continue
            }
            path.append(Message(n.prompter ? .user : .assistant, n.text))
            stack.append((i, true))
            var produced = false
            if n.prompter && path.count > OpenAssistant.maxPromptTurns {
                // Every pair repeats its whole conversation: past this depth a tree's output would
                // grow with the square of its length. Its replies are counted, not paired.
                emit.removed("too_deep", ref: "\(tree):\(n.id)")
                for c in n.children.reversed() { stack.append((c, false)) }
                continue
            }
            if n.prompter {
                let ranked = n.children.filter { c in !nodes[c].prompter && nodes[c].rank != nil && exclusion(nodes[c], options) == nil }
                    .sorted { (nodes[$0].rank!, nodes[$0].id) < (nodes[$1].rank!, nodes[$1].id) }
                if ranked.count >= 2 {
                    // Rank 0 is best: the shared strategies see the negated rank as the score.
                    let sel = Ranking.select(ranked.map { -Double(nodes[$0].rank!) }, strategy: options.pairing.strategy(default: .all),
                                             options: options.pairing, key: XXH64.hash(n.id))
                    for (k, v) in sel.skipped { emit.tally.skipped[k, default: 0] += v }
                    for rp in sel.pairs {
                        let c = nodes[ranked[rp.chosen]], r = nodes[ranked[rp.rejected]]
                        let meta: [(String, JSONValue)] = [
                            ("message_tree_id", .string(tree)), ("prompt_message_id", .string(n.id)),
                            ("chosen_message_id", .string(c.id)), ("rejected_message_id", .string(r.id)),
                            ("chosen_rank", .int(Int64(c.rank!))), ("rejected_rank", .int(Int64(r.rank!))), ("lang", .string(n.lang)),
                        ]
                        try emit.pair(Pair(prompt: path, chosen: [Message(.assistant, c.text)], rejected: [Message(.assistant, r.text)], meta: meta),
                                      key: "\(tree):\(c.id):\(r.id)")
                        produced = true
                        paired.insert(ranked[rp.chosen]); paired.insert(ranked[rp.rejected])
                    }
                }
            }
            if produced || paired.contains(i) { emit.used() } else { emit.removed("unpaired", ref: "\(tree):\(n.id)") }
            // Children in order: pushed last to first.
            for c in n.children.reversed() { stack.append((c, false)) }
        }
    }

    /// The longest conversation (in messages, the prompter's last turn included) a pair's prompt
    /// may hold; deeper prompter messages give no pairs (removed as `too_deep`).
    static let maxPromptTurns = 64

    /// Tree export: one tree per record.
    static func convertTree(_ r: JRef, emit: JoinEmitter) throws -> (String, [OANode]) {
        let root: JRef
        if let p = r["prompt"], p.kind == .object { root = p } else { root = r }
        let nodes = try flatten(root)
        let tree = r["message_tree_id"]?.string ?? nodes[0].id
        return (tree, nodes)
    }

    /// Flat export: assembles one tree from its messages (any order). Messages whose parent is
    /// missing (and everything below them) are removed as orphans.
    static func assemble(tree: String, messages: [OANode], emit: JoinEmitter) -> (nodes: [OANode], root: Int)? {
        var nodes = messages
        var index: [String: Int] = [:]
        for (i, n) in nodes.enumerated() { index[n.id] = i }
        var roots: [Int] = []
        for i in nodes.indices {
            if let p = nodes[i].parent {
                if let pi = index[p] { nodes[pi].children.append(i) }
            } else { roots.append(i) }
        }
        // Reachable from the (single) root.
        var reach = Set<Int>()
        if roots.count == 1 {
            var stack = [roots[0]]
            while let x = stack.popLast() { reach.insert(x); stack += nodes[x].children }
        }
        for i in nodes.indices where !reach.contains(i) {
            emit.removed(roots.count > 1 && roots.contains(i) ? "multiple_roots" : "orphan", ref: "\(tree):\(nodes[i].id)")
        }
        guard roots.count == 1 else { return nil }
        return (nodes, roots[0])
    }

    /// Converts one OpenAssistant input: tree records at once, flat messages through the sorter
    /// (grouped by message_tree_id) at the end of the input.
    static func convert(reader: RecordReader, options: OASSTOptions, emit: JoinEmitter) throws -> SpillSorter {
        let sorter = SpillSorter(memoryLimit: options.memoryLimit, tempDir: options.tempDir)
        var scanner = JSONScanner()
        while let batch = reader.nextBatch() {
            emit.taken += batch.failures.count
            for f in batch.failures { try emit.rejectRow(line: f.line, offset: f.offset, reason: f.reason, message: f.message, raw: f.raw) }
            for i in 0..<batch.count {
                emit.taken += 1
                let line = batch.lines[i], offset = batch.offsets[i]
                let raw = batch.withRecord(i) { Array($0) }
                do {
                    try batch.withRecord(i) { buf in
                        let r = try scanner.parseRecord(buf).root
                        if r["replies"] != nil || r["prompt"]?.kind == .object {
                            let (tree, nodes) = try convertTree(r, emit: emit)
                            try pairs(tree: tree, nodes: nodes, root: 0, options: options, emit: emit)
                        } else {
                            let n = try node(r)
                            guard let tree = r["message_tree_id"]?.string ?? (n.parent == nil ? n.id : nil) else {
                                throw FormatError("no_tree_id", "message \(n.id) has a parent but no message_tree_id")
                            }
                            var key = Array(tree.utf8); key.append(0); key += Array(n.id.utf8)
                            var payload = PayloadWriter()
                            payload.int(line); payload.data(raw)
                            try sorter.add(key: key, payload: payload.bytes)
                        }
                    }
                } catch let e as FormatError {
                    try emit.rejectRow(line: line, offset: offset, reason: e.reason, message: e.message, raw: raw)
                }
            }
        }
        // Flat messages: one tree at a time, in tree id order.
        var currentTree: [UInt8]? = nil
        var messages: [OANode] = []
        func finishTree() throws {
            guard let t = currentTree, !messages.isEmpty else { return }
            let tree = String(decoding: t, as: UTF8.self)
            if let (nodes, root) = assemble(tree: tree, messages: messages, emit: emit) {
                // Only the reachable part takes part in pairing; unreachable nodes were counted as orphans.
                var keep = Set<Int>()
                var stack = [root]
                while let x = stack.popLast() { keep.insert(x); stack += nodes[x].children }
                var remap: [Int: Int] = [:]
                var sub: [OANode] = []
                for i in nodes.indices where keep.contains(i) { remap[i] = sub.count; sub.append(nodes[i]) }
                for k in sub.indices { sub[k].children = sub[k].children.compactMap { remap[$0] } }
                try pairs(tree: tree, nodes: sub, root: remap[root]!, options: options, emit: emit)
            }
            messages.removeAll()
        }
        var scanner2 = JSONScanner()
        try sorter.drain { key, payload in
            let tree = Array(key[..<(key.firstIndex(of: 0) ?? key.count)])
            if tree != currentTree { try finishTree(); currentTree = tree }
            var r = PayloadReader(payload)
            _ = r.int()
            let raw = r.data()
            try raw.withUnsafeBytes { buf in
                let doc = try scanner2.parse(buf)
                messages.append(try node(doc.root))
            }
        }
        try finishTree()
        return sorter
    }
}

extension OpenAssistant {
    static let corpus = Corpus(
        name: "oasst", summary: "OpenAssistant message trees or flat message exports: ranked sibling replies",
        detect: { r in
            if r["message_tree_id"] != nil && r["prompt"]?.kind == .object { return true }
            return r["message_id"] != nil && (r["replies"] != nil || r["parent_id"] != nil) && r["role"] != nil
        },
        kind: .join { src, o, maxRecordBytes, emit in
            let reader = RecordReader(src, maxRecordBytes: maxRecordBytes)
            var options = o.oasst
            options.pairing = o.pairing
            let sorter = try OpenAssistant.convert(reader: reader, options: options, emit: emit)
            return JoinStats(layout: reader.mode.rawValue, spilled: sorter.spilledRecords, peakBytes: sorter.peakBufferedBytes)
        })
}
