// `prefkit filter`: small named filters, each deciding keep or remove for one pair, applied in the
// order given; the first filter that removes a pair is its reason. `max-pairs-per-prompt` looks at
// all pairs of a prompt, so it runs after the others, over the survivors.
import Foundation
import PrefFormats
import PrefIO

public enum Script: String, CaseIterable, Sendable {
    case latin, cyrillic, greek, arabic, hebrew, devanagari, thai, hangul, kana, han

    static func of(_ v: UInt32) -> Script? {
        switch v {
        case 0x41...0x5A, 0x61...0x7A, 0xC0...0x24F, 0x1E00...0x1EFF: return .latin
        case 0x370...0x3FF: return .greek
        case 0x400...0x52F: return .cyrillic
        case 0x590...0x5FF: return .hebrew
        case 0x600...0x6FF, 0x750...0x77F: return .arabic
        case 0x900...0x97F: return .devanagari
        case 0xE00...0xE7F: return .thai
        case 0x1100...0x11FF, 0x3130...0x318F, 0xAC00...0xD7AF: return .hangul
        case 0x3040...0x30FF: return .kana
        case 0x3400...0x4DBF, 0x4E00...0x9FFF: return .han
        default: return nil
        }
    }

    /// Languages this heuristic can tell apart by script.
    public static func forLanguage(_ code: String) -> Script? {
        switch code.lowercased() {
        case "en", "de", "fr", "es", "it", "pt", "nl", "sv", "da", "no", "nb", "fi", "pl", "cs", "sk", "tr", "vi", "id", "ro", "hu", "ca", "hr", "sl", "et", "lv", "lt", "ms", "eu", "gl", "latin": return .latin
        case "ru", "uk", "bg", "sr", "be", "kk", "mk", "cyrillic": return .cyrillic
        case "el", "greek": return .greek
        case "ar", "fa", "ur", "arabic": return .arabic
        case "he", "yi", "hebrew": return .hebrew
        case "hi", "mr", "ne", "devanagari": return .devanagari
        case "th", "thai": return .thai
        case "ko", "hangul": return .hangul
        case "ja", "kana": return .kana
        case "zh", "han": return .han
        default: return nil
        }
    }

    /// The script with the most letters; Japanese text (kana among Han) counts as kana.
    public static func dominant(_ text: [UInt8]) -> Script? {
        var counts = [Int](repeating: 0, count: Script.allCases.count)
        for u in String(decoding: text, as: UTF8.self).unicodeScalars {
            if let s = of(u.value) { counts[Script.allCases.firstIndex(of: s)!] += 1 }
        }
        let kana = counts[Script.allCases.firstIndex(of: .kana)!], han = counts[Script.allCases.firstIndex(of: .han)!]
        if kana > 0 && kana * 10 >= han { counts[Script.allCases.firstIndex(of: .kana)!] += han }
        guard let m = counts.max(), m > 0 else { return nil }
        return Script.allCases[counts.firstIndex(of: m)!]
    }
}

public enum FilterSpec: Sendable {
    case empty, identical, tie
    case minMargin(Double)
    case minRatio(Double)
    case promptChars(Int?, Int?), responseChars(Int?, Int?), promptWords(Int?, Int?), responseWords(Int?, Int?)
    case maxTurns(Int)
    case lengthRatio(Double, Double)
    case regex(patterns: [String], fields: Set<String>)
    case lang(Set<Script>)
    case maxPairsPerPrompt(Int)

    public var name: String {
        switch self {
        case .empty: return "empty"
        case .identical: return "identical"
        case .tie: return "tie"
        case .minMargin: return "min-margin"
        case .minRatio: return "min-ratio"
        case .promptChars: return "prompt-chars"
        case .responseChars: return "response-chars"
        case .promptWords: return "prompt-words"
        case .responseWords: return "response-words"
        case .maxTurns: return "max-turns"
        case .lengthRatio: return "length-ratio"
        case .regex: return "regex"
        case .lang: return "lang"
        case .maxPairsPerPrompt: return "max-pairs-per-prompt"
        }
    }
}

/// A compiled per-pair filter.
struct CompiledFilter: Sendable {
    let name: String
    let keep: @Sendable (Pair) -> Bool
}

public struct FilterPlan: Sendable {
    let filters: [CompiledFilter]
    let maxPerPrompt: Int?
    public let names: [String]

    public init(_ specs: [FilterSpec]) throws {
        var fs: [CompiledFilter] = []
        var maxPer: Int?
        for s in specs {
            if case .maxPairsPerPrompt(let n) = s { maxPer = n; continue }
            fs.append(CompiledFilter(name: s.name, keep: try FilterPlan.compile(s)))
        }
        filters = fs
        maxPerPrompt = maxPer
        names = specs.map(\.name)
    }

    static func blank(_ ms: [Message]) -> Bool { ms.allSatisfy { TextNorm.collapseSpace($0.content).isEmpty } }
    static func within(_ v: Int, _ lo: Int?, _ hi: Int?) -> Bool { (lo.map { v >= $0 } ?? true) && (hi.map { v <= $0 } ?? true) }

    static func compile(_ s: FilterSpec) throws -> @Sendable (Pair) -> Bool {
        switch s {
        case .empty: return { p in !blank(p.prompt) && !blank(p.chosen) && !blank(p.rejected) }
        case .identical:
            return { p in p.chosen.map { TextNorm.collapseSpace($0.content) } != p.rejected.map { TextNorm.collapseSpace($0.content) } }
        case .tie: return { p in Measure.margin(p).map { $0 != 0 } ?? true }
        case .minMargin(let t): return { p in Measure.margin(p).map { $0 >= t } ?? true }
        case .minRatio(let r):
            return { p in
                guard let c = p.scoreChosen, let j = p.scoreRejected else { return true }
                if j <= 0 { return c > j }
                return c / j >= r
            }
        case .promptChars(let lo, let hi): return { p in within(Measure.chars(p.prompt), lo, hi) }
        case .promptWords(let lo, let hi): return { p in within(Measure.words(p.prompt), lo, hi) }
        case .responseChars(let lo, let hi): return { p in within(Measure.chars(p.chosen), lo, hi) && within(Measure.chars(p.rejected), lo, hi) }
        case .responseWords(let lo, let hi): return { p in within(Measure.words(p.chosen), lo, hi) && within(Measure.words(p.rejected), lo, hi) }
        case .maxTurns(let n): return { p in p.prompt.filter { $0.role != .system }.count <= n }
        case .lengthRatio(let lo, let hi):
            return { p in
                let c = Double(Measure.chars(p.chosen)), r = Double(Measure.chars(p.rejected))
                if r == 0 { return c == 0 }
                let x = c / r
                return x >= lo && x <= hi
            }
        case .regex(let patterns, let fields):
            let res = try patterns.map { pat -> NSRegularExpression in
                do { return try NSRegularExpression(pattern: pat, options: []) } catch {
                    throw FormatError("bad_pattern", "invalid regular expression '\(pat)'")
                }
            }
            return { p in
                var texts: [String] = []
                if fields.contains("prompt") { texts += p.prompt.map(\.text) }
                if fields.contains("chosen") { texts += p.chosen.map(\.text) }
                if fields.contains("rejected") { texts += p.rejected.map(\.text) }
                for t in texts {
                    let r = NSRange(t.startIndex..., in: t)
                    for re in res where re.firstMatch(in: t, range: r) != nil { return false }
                }
                return true
            }
        case .lang(let scripts):
            return { p in
                guard let d = Script.dominant(TextNorm.text(p.prompt) + [0x0A] + TextNorm.text(p.chosen)) else { return false }
                return scripts.contains(d)
            }
        case .maxPairsPerPrompt: return { _ in true }
        }
    }

    /// The name of the first filter that removes `p`, or nil to keep it.
    public func reason(_ p: Pair) -> String? {
        for f in filters where !f.keep(p) { return f.name }
        return nil
    }

    /// Group stage: among kept pairs with the same normalized prompt, keep the `maxPerPrompt` with
    /// the largest margin (no score counts as 0), ties broken by id.
    public func limitPerPrompt(_ items: [(index: Int, prompt: UInt64, margin: Double, id: String)]) -> Set<Int> {
        guard let n = maxPerPrompt else { return [] }
        var groups: [UInt64: [(Int, Double, String)]] = [:]
        for it in items { groups[it.prompt, default: []].append((it.index, it.margin, it.id)) }
        var removed = Set<Int>()
        for (_, g) in groups where g.count > n {
            let sorted = g.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : ($0.2 != $1.2 ? $0.2 < $1.2 : $0.0 < $1.0) }
            for x in sorted[n...] { removed.insert(x.0) }
        }
        return removed
    }
}
