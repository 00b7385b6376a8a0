// `prefkit decontaminate`: removes pairs sharing a normalized word n-gram (default 13) with any
// prompt or response of the evaluation sets, and says which set and n-gram matched. Texts shorter
// than n words have no n-gram: they are matched on their whole normalized text instead.
import PrefCore
import PrefIO

public struct DecontamFeature: Sendable {
    /// The eval set, the field, and the matching text: an n-gram, or a whole short text.
    public var match: (eval: Int, field: String, gram: String)?
    public var whole = false
}

/// Sendable because it is built on one thread and only read (concurrently) after that.
public final class EvalIndex: @unchecked Sendable {
    public let n: Int
    var grams: [UInt64: Int] = [:]
    /// Whole normalized texts shorter than n words (a field, or one message of it), by hash.
    var wholes: [UInt64: Int] = [:]
    public private(set) var names: [String] = []
    public private(set) var textsIndexed = 0

    /// Short texts with fewer words than this are not matched at all ("yes", "Paris" say nothing about contamination).
    public let minWholeWords: Int
    public init(n: Int, minWholeWords: Int = 3) { self.n = n; self.minWholeWords = minWholeWords }
    public var count: Int { grams.count }

    /// Adds an eval file: normalized pairs (prompt and responses), or any JSON records (every string value).
    public func add(path: String, name: String) throws {
        let idx = names.count
        names.append(name)
        let (src, _) = try Sources.open(path)
        let reader = RecordReader(src)
        var scanner = JSONScanner()
        while let b = reader.nextBatch() {
            for i in 0..<b.count {
                let texts: [[UInt8]] = b.withRecord(i) { buf in
                    guard let doc = try? scanner.parse(buf) else { return [] }
                    if let p = try? Pair.parse(doc.root) {
                        // Each field, and each message on its own (a question inside a longer prompt).
                        return [p.prompt, p.chosen, p.rejected].flatMap { ms in [TextNorm.text(ms)] + (ms.count > 1 ? ms.map { TextNorm.text([$0]) } : []) }
                    }
                    var out: [[UInt8]] = []
                    func walk(_ v: JSONValue) {
                        switch v {
                        case .string(let s): out.append(Array(s.utf8))
                        case .array(let a): a.forEach(walk)
                        case .object(let o): o.forEach { walk($0.1) }
                        default: break
                        }
                    }
                    walk(doc.root.value)
                    return out
                }
                for t in texts {
                    textsIndexed += 1
                    let norm = TextNorm.normalize(t)
                    let count = TextNorm.words(norm).count
                    if count >= n {
                        for h in TextNorm.ngramHashes(norm, n: n) where grams[h] == nil { grams[h] = idx }
                    } else if count >= max(1, minWholeWords) {
                        let h = XXH64.hash(norm)
                        if wholes[h] == nil { wholes[h] = idx }
                    }
                }
            }
        }
    }

    /// Number of short eval texts indexed whole.
    public var wholeCount: Int { wholes.count }

    public func feature(_ p: Pair) -> DecontamFeature {
        for (field, ms) in [("prompt", p.prompt), ("chosen", p.chosen), ("rejected", p.rejected)] {
            let norm = TextNorm.normalize(TextNorm.text(ms))
            let ws = TextNorm.words(norm)
            // A short eval text matches a field, or one message of it, that is the same text.
            if !wholes.isEmpty {
                for t in [norm] + (ms.count > 1 ? ms.map { TextNorm.normalize(TextNorm.text([$0])) } : []) where !t.isEmpty {
                    if let e = wholes[XXH64.hash(t)], case let w = TextNorm.words(t).count, w < n && w >= minWholeWords {
                        return DecontamFeature(match: (e, field, String(decoding: t, as: UTF8.self)), whole: true)
                    }
                }
            }
            guard ws.count >= n else { continue }
            let hs = TextNorm.ngramHashes(norm, n: n)
            for (k, h) in hs.enumerated() {
                if let e = grams[h] {
                    let gram = ws[k..<(k + n)].map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
                    return DecontamFeature(match: (e, field, gram))
                }
            }
        }
        return DecontamFeature(match: nil)
    }
}

extension EvalIndex {
    /// Pass 1's decisions: a pair sharing an n-gram with an evaluation set is removed
    /// (`contaminated`, with the eval set, field and n-gram as details); the count of matches per
    /// eval set goes in the summary.
    public func decide(_ scanned: [Scanned<DecontamFeature>]) -> (decisions: [Decision], matchedBySet: [String: Int]) {
        var matched: [String: Int] = [:]
        let decisions: [Decision] = scanned.map { s in
            switch s {
            case .rejected(let r, let m): return .reject(reason: r, message: m)
            case .pair(let f):
                guard let m = f.match else { return .keep(output: 0) }
                let name = names[m.eval]
                matched[name, default: 0] += 1
                return .remove(reason: "contaminated", extra: [("eval_set", .string(name)), ("field", .string(m.field)),
                                                               (f.whole ? "whole_text" : "ngram", .string(m.gram))])
            }
        }
        return (decisions, matched)
    }
}
