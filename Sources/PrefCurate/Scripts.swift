// Writing systems, for the `lang` filter: which script most of a text's letters belong to.
import Foundation
import PrefCore
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
