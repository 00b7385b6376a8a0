// The corpus registry. A corpus prefkit converts is one `Corpus` value, declared in its own file
// next to its adapter, and listed once in `Corpora.all`: `--from`, auto-detection, `convert --help`
// and the converter's dispatch all come from that list.
import PrefCore
import PrefIO

/// What a join-based conversion reports back: the input's layout and its spill statistics.
struct JoinStats {
    var layout: String
    var spilled: Int
    var peakBytes: Int
}

public struct Corpus: Sendable {
    /// How records become pairs.
    enum Kind: Sendable {
        /// One record gives at most one pair: an adapter, built once per run from the options.
        case records(@Sendable (FormatOptions) -> FormatAdapter)
        /// Pairs are joined from many records of one input (its decoded bytes).
        case join(@Sendable (_ source: ByteSource, _ options: FormatOptions, _ maxRecordBytes: Int, _ emit: JoinEmitter) throws -> JoinStats)
    }

    /// The `--from` value, the prefix of every pair's `source`, the name in reports.
    public let name: String
    /// One line for `convert --help` and docs/format.md.
    public let summary: String
    /// Recognizes the corpus from the fields of one record (nil: never detected from a record).
    let detect: (@Sendable (JRef) -> Bool)?
    /// Recognizes the corpus from an input's first decoded bytes (before any record is parsed).
    let sniff: (@Sendable ([UInt8]) -> Bool)?
    let kind: Kind

    init(name: String, summary: String, detect: (@Sendable (JRef) -> Bool)? = nil, sniff: (@Sendable ([UInt8]) -> Bool)? = nil, kind: Kind) {
        self.name = name; self.summary = summary; self.detect = detect; self.sniff = sniff; self.kind = kind
    }

    public var isJoin: Bool { if case .join = kind { return true } else { return false } }
    public var autoDetected: Bool { detect != nil || sniff != nil }
}

public enum Corpora {
    /// Every corpus. Auto-detection tries them in this order and the first match wins, so a
    /// corpus with a more specific signature comes before one with a looser one (`trl`, which
    /// takes any record with `chosen` and `rejected`, is last among the detected ones).
    public static let all: [Corpus] = [
        OpenAssistant.corpus,
        OpenAIAdapter.corpus,
        SHPAdapter.corpus,
        ArenaAdapter.corpus,
        PKUAdapter.corpus,
        LlamaFactoryAdapter.corpus,
        HHAdapter.corpus,
        UltraFeedbackAdapter.corpus,
        UltraFeedbackRaw.corpus,
        NectarAdapter.corpus,
        HelpSteer.corpus,
        DistilabelAdapter.corpus,
        PandaLMAdapter.corpus,
        FineGrainedAdapter.corpus,
        TRLAdapter.corpus,
        StackExchange.corpus,
        GenericAdapter.corpus,
    ]

    public static func named(_ name: String) -> Corpus? { all.first { $0.name == name } }

    /// `auto` and every corpus name, for `--from`.
    public static var fromValues: [String] { ["auto"] + all.map(\.name) }

    /// The adapter of every record corpus, built from the options (by corpus name).
    public static func recordAdapters(_ options: FormatOptions) -> [(name: String, adapter: FormatAdapter)] {
        all.compactMap { c in if case .records(let make) = c.kind { return (c.name, make(options)) } else { return nil } }
    }

    /// The first corpus whose record signature matches.
    public static func detect(_ r: JRef) -> Corpus? {
        guard r.kind == .object else { return nil }
        return all.first { $0.detect?(r) ?? false }
    }

    /// The first corpus whose byte signature matches an input's first bytes.
    static func sniff(_ bytes: [UInt8]) -> Corpus? { all.first { $0.sniff?(bytes) ?? false } }
}
