// Token lengths of pairs as a model's trainer sees them: the prompt rendered with the model's chat
// template (generation prompt included) and each reply as what the template adds after it, each
// tokenized with the model's tokenizer. PrefTrain provides the counter (`ModelText`); the filters
// and the statistics here take one.
import PrefCore

public protocol PairTokenCounter: Sendable {
    /// Where the tokenizer came from, for reports.
    var origin: String { get }
    /// Tokens of the rendered prompt and of each reply; throws when the pair cannot be rendered
    /// (a template that refuses its messages, content that is not plain text).
    func count(_ p: Pair) throws -> TokenCounts
}

public struct TokenCounts: Sendable, Equatable {
    public var prompt: Int
    public var chosen: Int
    public var rejected: Int
    public init(prompt: Int, chosen: Int, rejected: Int) { self.prompt = prompt; self.chosen = chosen; self.rejected = rejected }
    /// The longer of the two training sequences (prompt + reply): what a trainer's max_length bounds.
    public var sequence: Int { prompt + max(chosen, rejected) }
}
