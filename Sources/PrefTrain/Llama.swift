// The Llama graph (SmolLM2, TinyLlama, Llama 3.x; Mistral where it is the same graph), forward
// only, over flat Float buffers with OpenBLAS for every matrix product: RMSNorm, rotary position
// embeddings, grouped-query causal attention, SwiGLU, tied or untied output head. Weights come
// from a GGUF file, dequantized once at load. The log-probabilities of chosen tokens are computed
// with the output head applied to the positions asked for only.
import CBLAS
import Foundation
import PrefIO

public struct LlamaConfig: Sendable, Equatable {
    public var vocab: Int
    public var dim: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var ffn: Int
    public var ropeTheta: Double
    public var eps: Double
    public var context: Int
    public var headDim: Int { dim / heads }

    /// Checks every size (they come from a file) before anything is allocated.
    public func validate(_ origin: String) throws {
        func range(_ v: Int, _ name: String, _ r: ClosedRange<Int>) throws { try checkSize(v, name, r, origin) }
        try range(vocab, "vocabulary size", 1...(1 << 21))
        try range(dim, "embedding length", 1...(1 << 16))
        try range(layers, "block count", 1...1024)
        try range(heads, "head count", 1...1024)
        try range(kvHeads, "key-value head count", 1...heads)
        try range(ffn, "feed-forward length", 1...(1 << 18))
        try range(context, "context length", 1...(1 << 22))
        guard dim % heads == 0, heads % kvHeads == 0, headDim % 2 == 0 else {
            throw TrainError("\(origin): \(heads) heads of \(dim) with \(kvHeads) key-value heads do not divide evenly")
        }
        guard ropeTheta.isFinite, ropeTheta > 1, eps.isFinite, eps > 0, eps < 1 else { throw TrainError("\(origin): rope base \(ropeTheta) or norm epsilon \(eps) out of range") }
    }
}

public final class LlamaModel: @unchecked Sendable {
    public let config: LlamaConfig
    struct Layer {
        var attnNorm: [Float], wq: [Float], wk: [Float], wv: [Float], wo: [Float]
        var ffnNorm: [Float], wg: [Float], wu: [Float], wd: [Float]
    }
    let embed: [Float]
    let layers: [Layer]
    let outNorm: [Float]
    /// The output head: the embedding itself when tied (nil).
    let head: [Float]?
    /// Rotary frequencies, headDim / 2 of them.
    let invFreq: [Float]

    /// A Llama-architecture GGUF (`general.architecture` llama).
    public init(gguf f: GGUFFile) throws {
        let arch = f.metadata["general.architecture"]?.string ?? "(none)"
        guard arch == "llama" else { throw TrainError("\(f.path): architecture '\(arch)' is not supported here (llama is)") }
        func int(_ k: String) throws -> Int {
            guard let v = f.metadata["llama." + k]?.int else { throw TrainError("\(f.path): metadata llama.\(k) is missing") }
            return v
        }
        let vocab = f.tensors["token_embd.weight"]?.dims.last ?? 0
        let heads = try int("attention.head_count")
        let c = LlamaConfig(vocab: f.metadata["llama.vocab_size"]?.int ?? vocab, dim: try int("embedding_length"), layers: try int("block_count"),
                            heads: heads, kvHeads: f.metadata["llama.attention.head_count_kv"]?.int ?? heads,
                            ffn: try int("feed_forward_length"), ropeTheta: f.metadata["llama.rope.freq_base"]?.double ?? 10_000,
                            eps: f.metadata["llama.attention.layer_norm_rms_epsilon"]?.double ?? 1e-5, context: try int("context_length"))
        try c.validate(f.path)
        if let rd = f.metadata["llama.rope.dimension_count"]?.int, rd != c.headDim {
            throw TrainError("\(f.path): partial rotary (\(rd) of \(c.headDim)) is not supported for llama")
        }
        if f.metadata["llama.rope.scaling.type"] != nil || f.tensors["rope_freqs.weight"] != nil {
            throw TrainError("\(f.path): rope scaling is not supported yet")
        }
        let kv = c.kvHeads * c.headDim
        // Every tensor with the shape the config implies, before anything is dequantized.
        var expected: [(String, [Int])] = [("token_embd.weight", [c.dim, c.vocab]), ("output_norm.weight", [c.dim])]
        for l in 0..<c.layers {
            let p = "blk.\(l)."
            expected += [(p + "attn_norm.weight", [c.dim]), (p + "attn_q.weight", [c.dim, c.dim]), (p + "attn_k.weight", [c.dim, kv]),
                         (p + "attn_v.weight", [c.dim, kv]), (p + "attn_output.weight", [c.dim, c.dim]), (p + "ffn_norm.weight", [c.dim]),
                         (p + "ffn_gate.weight", [c.dim, c.ffn]), (p + "ffn_up.weight", [c.dim, c.ffn]), (p + "ffn_down.weight", [c.ffn, c.dim])]
        }
        let tied = f.tensors["output.weight"] == nil
        if !tied { expected.append(("output.weight", [c.dim, c.vocab])) }
        for (name, dims) in expected {
            guard let t = f.tensors[name] else { throw TrainError("\(f.path): tensor \(name) is missing") }
            guard t.dims == dims else { throw TrainError("\(f.path): tensor \(name) has shape \(t.dims), the config implies \(dims)") }
        }
        try ModelBudget.check(expected.map { $0.1.reduce(1, *) }, elementBytes: 4, what: "the weights of \(f.path)")
        config = c
        embed = try f.floats("token_embd.weight")
        outNorm = try f.floats("output_norm.weight")
        head = tied ? nil : try f.floats("output.weight")
        layers = try (0..<c.layers).map { l in
            let p = "blk.\(l)."
            return Layer(attnNorm: try f.floats(p + "attn_norm.weight"), wq: try f.floats(p + "attn_q.weight"), wk: try f.floats(p + "attn_k.weight"),
                         wv: try f.floats(p + "attn_v.weight"), wo: try f.floats(p + "attn_output.weight"), ffnNorm: try f.floats(p + "ffn_norm.weight"),
                         wg: try f.floats(p + "ffn_gate.weight"), wu: try f.floats(p + "ffn_up.weight"), wd: try f.floats(p + "ffn_down.weight"))
        }
        invFreq = (0..<(c.headDim / 2)).map { Float(1 / pow(c.ropeTheta, Double(2 * $0) / Double(c.headDim))) }
    }

    /// y (rows x out) = x (rows x inDim) times W^T, W row-major (out x inDim).
    @inline(__always) func matmul(_ x: UnsafePointer<Float>, _ w: [Float], rows: Int, inDim: Int, out: Int, _ y: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        w.withUnsafeBufferPointer { wp in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(out), Int32(inDim), 1, x, Int32(inDim),
                        wp.baseAddress, Int32(inDim), accumulate ? 1 : 0, y, Int32(out))
        }
    }

    /// RMSNorm of each row of x into y, times the weight.
    func rmsnorm(_ x: UnsafePointer<Float>, _ w: [Float], rows: Int, _ y: UnsafeMutablePointer<Float>) {
        let d = config.dim
        for r in 0..<rows {
            let xr = x + r * d, yr = y + r * d
            var ss: Float = 0
            for i in 0..<d { ss += xr[i] * xr[i] }
            let inv = 1 / (ss / Float(d) + Float(config.eps)).squareRoot()
            for i in 0..<d { yr[i] = w[i] * (xr[i] * inv) }
        }
    }

    /// cos and sin of every row's rotary angles (rows x headDim / 2 each), computed once per pass.
    func ropeTables(_ positions: [Int]) -> (cos: [Float], sin: [Float]) {
        let half = config.headDim / 2
        var c = [Float](repeating: 0, count: positions.count * half), s = c
        for (r, p) in positions.enumerated() {
            for k in 0..<half { let a = Float(p) * invFreq[k]; c[r * half + k] = cos(a); s[r * half + k] = sin(a) }
        }
        return (c, s)
    }

    /// Rotary embedding in place on `n` heads of each row (adjacent pairs: GGUF's llama layout).
    func rope(_ x: UnsafeMutablePointer<Float>, rows: Int, heads n: Int, tables t: (cos: [Float], sin: [Float])) {
        let hd = config.headDim, half = hd / 2
        for r in 0..<rows {
            for k in 0..<half {
                let c = t.cos[r * half + k], s = t.sin[r * half + k]
                for h in 0..<n {
                    let p = x + (r * n + h) * hd + 2 * k
                    let x0 = p[0], x1 = p[1]
                    p[0] = x0 * c - x1 * s
                    p[1] = x0 * s + x1 * c
                }
            }
        }
    }

    /// log p(tokens[t] | tokens[..<t]) for every t in `targets` (1 <= t < tokens.count).
    public func logprobs(_ tokens: [Int32], targets: Range<Int>) -> [Double] {
        let x = forward(tokens, positions: Array(0..<tokens.count), segments: nil)
        return head(x, rows: targets.map { $0 - 1 }, tokens: targets.map { tokens[$0] })
    }

    /// The summed log-probabilities of several replies to one prompt, in one pass: the prompt once,
    /// then each reply after it with positions continuing from the prompt and attention to the
    /// prompt and to itself only (the packing TRL's padding-free collators use).
    public func replyLogprobs(prompt: [Int32], replies: [[Int32]]) -> [Double] {
        precondition(!prompt.isEmpty)
        var tokens = prompt, positions = Array(0..<prompt.count), segments = [Int](repeating: 0, count: prompt.count)
        var rows: [[Int]] = []
        for (i, r) in replies.enumerated() {
            let start = tokens.count
            tokens += r
            positions += (0..<r.count).map { prompt.count + $0 }
            segments += [Int](repeating: i + 1, count: r.count)
            // Reply token j is predicted by the last prompt row (j = 0) or by the reply's row j - 1.
            rows.append(r.isEmpty ? [] : [prompt.count - 1] + (0..<(r.count - 1)).map { start + $0 })
        }
        let x = forward(tokens, positions: positions, segments: segments)
        let all = head(x, rows: rows.flatMap { $0 }, tokens: replies.flatMap { $0 })
        var out: [Double] = [], at = 0
        for r in replies { out.append(all[at..<(at + r.count)].reduce(0, +)); at += r.count }
        return out
    }

    /// The hidden states after the last layer (T x dim). `segments` (nil: one causal sequence):
    /// 0 for the shared prompt, k for reply k; a token sees the prompt and the earlier tokens of its
    /// own segment.
    func forward(_ tokens: [Int32], positions: [Int], segments: [Int]?) -> [Float] {
        let c = config, T = tokens.count, d = c.dim, hd = c.headDim, kv = c.kvHeads * hd
        precondition(T <= c.context && positions.count == T)
        var x = [Float](repeating: 0, count: T * d)
        for t in 0..<T {
            let id = Int(tokens[t])
            precondition(id >= 0 && id < c.vocab)
            for i in 0..<d { x[t * d + i] = embed[id * d + i] }
        }
        var xn = [Float](repeating: 0, count: T * d), q = [Float](repeating: 0, count: T * d)
        var k = [Float](repeating: 0, count: T * kv), v = [Float](repeating: 0, count: T * kv)
        var att = [Float](repeating: 0, count: T * d), scores = [Float](repeating: 0, count: T * T)
        var g = [Float](repeating: 0, count: T * c.ffn), u = [Float](repeating: 0, count: T * c.ffn)
        // Per row, where its own segment starts (packed replies), and the prompt's length.
        let promptLen = segments?.firstIndex { $0 != 0 } ?? T
        let segStart: [Int]? = segments.map { seg in
            var st = [Int](repeating: 0, count: T)
            for t in 0..<T where seg[t] != 0 { st[t] = t > 0 && seg[t - 1] == seg[t] ? st[t - 1] : t }
            return st
        }
        let scale = 1 / Float(hd).squareRoot(), group = c.heads / c.kvHeads
        let rot = ropeTables(positions)
        for L in layers {
            rmsnorm(x, L.attnNorm, rows: T, &xn)
            matmul(xn, L.wq, rows: T, inDim: d, out: d, &q)
            matmul(xn, L.wk, rows: T, inDim: d, out: kv, &k)
            matmul(xn, L.wv, rows: T, inDim: d, out: kv, &v)
            rope(&q, rows: T, heads: c.heads, tables: rot)
            rope(&k, rows: T, heads: c.kvHeads, tables: rot)
            for h in 0..<c.heads {
                let kh = h / group
                q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in
                    scores.withUnsafeMutableBufferPointer { sp in att.withUnsafeMutableBufferPointer { ap in
                        let S = sp.baseAddress!
                        // Scores of every query row against every key row: (T x hd)(hd x T), scaled.
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(T), Int32(hd), scale, qp.baseAddress! + h * hd, Int32(d),
                                    kp.baseAddress! + kh * hd, Int32(kv), 0, S, Int32(T))
                        // Causal softmax per row over what the row sees; the rest is zero for the product below.
                        for t in 0..<T {
                            let row = S + t * T
                            // Visible: [0, a) and [b, t] (a = 0 for one sequence; the prompt's end and the segment's start when packed).
                            let (a, b) = segStart.map { st in st[t] == 0 ? (0, 0) : (promptLen, st[t]) } ?? (0, 0)
                            var mx = -Float.infinity
                            for s in 0..<a { mx = max(mx, row[s]) }
                            for s in b...t { mx = max(mx, row[s]) }
                            var sum: Float = 0
                            for s in 0..<a { row[s] = exp(row[s] - mx); sum += row[s] }
                            for s in b...t { row[s] = exp(row[s] - mx); sum += row[s] }
                            let inv = 1 / sum
                            for s in 0..<a { row[s] *= inv }
                            for s in a..<b { row[s] = 0 }
                            for s in b...t { row[s] *= inv }
                            for s in (t + 1)..<T { row[s] = 0 }
                        }
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(hd), Int32(T), 1, S, Int32(T),
                                    vp.baseAddress! + kh * hd, Int32(kv), 0, ap.baseAddress! + h * hd, Int32(d))
                    } }
                } } }
            }
            matmul(att, L.wo, rows: T, inDim: d, out: d, &x, accumulate: true)
            rmsnorm(x, L.ffnNorm, rows: T, &xn)
            matmul(xn, L.wg, rows: T, inDim: d, out: c.ffn, &g)
            matmul(xn, L.wu, rows: T, inDim: d, out: c.ffn, &u)
            for i in 0..<(T * c.ffn) { let a = g[i]; g[i] = a / (1 + exp(-a)) * u[i] }
            matmul(g, L.wd, rows: T, inDim: c.ffn, out: d, &x, accumulate: true)
        }
        return x
    }

    /// log p(tokens[k] | hidden row rows[k]): the output head on the rows asked for only.
    func head(_ x: [Float], rows sel: [Int], tokens: [Int32]) -> [Double] {
        let c = config, d = c.dim, rows = sel.count
        guard rows > 0 else { return [] }
        var hsel = [Float](repeating: 0, count: rows * d)
        for (r, t) in sel.enumerated() { for i in 0..<d { hsel[r * d + i] = x[t * d + i] } }
        var hn = [Float](repeating: 0, count: rows * d)
        rmsnorm(hsel, outNorm, rows: rows, &hn)
        var logits = [Float](repeating: 0, count: rows * c.vocab)
        matmul(hn, head ?? embed, rows: rows, inDim: d, out: c.vocab, &logits)
        return logits.withUnsafeBufferPointer { lp in
            (0..<rows).map { r in
                let row = lp.baseAddress! + r * c.vocab
                var mx = -Float.infinity
                for i in 0..<c.vocab { mx = max(mx, row[i]) }
                // Float exponentials summed in Double (a Float sum over the whole vocabulary costs
                // about 1e-5 of relative accuracy in a reply's summed log-probability).
                var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
                var i = 0
                while i + 4 <= c.vocab {
                    s0 += Double(expf(row[i] - mx)); s1 += Double(expf(row[i + 1] - mx))
                    s2 += Double(expf(row[i + 2] - mx)); s3 += Double(expf(row[i + 3] - mx))
                    i += 4
                }
                while i < c.vocab { s0 += Double(expf(row[i] - mx)); i += 1 }
                return Double(row[Int(tokens[r])] - mx) - log(s0 + s1 + s2 + s3)
            }
        }
    }
}
