// The decoder-only transformer of the pretrained models prefkit reads, forward only, over flat
// Float buffers with OpenBLAS for every matrix product. One graph with the variations of its
// families: the Llama graph (SmolLM2, TinyLlama, Llama 3.x, Mistral: RMSNorm, rotary embeddings,
// grouped-query attention, SwiGLU, tied or untied head), Qwen2 (the same with q/k/v biases) and
// GPT-NeoX (Pythia: LayerNorm with bias, partial rotary, biases everywhere, GELU, parallel
// residual, untied head). Weights come from a GGUF file or a Hugging Face directory
// (DecoderLoad.swift), as Float once at load. Log-probabilities of chosen tokens are computed with
// the output head applied to the positions asked for only.
import CBLAS
import Foundation
import PrefIO

public struct DecoderConfig: Sendable, Equatable {
    public enum Norm: String, Sendable { case rms, layer }
    public enum MLP: String, Sendable { case swiglu, gelu, geluTanh }
    /// Which dimensions of a head rotate together: (2k, 2k + 1) (GGUF's llama layout) or
    /// (k, k + rotary / 2) (Hugging Face's rotate_half, GGUF's NeoX layout).
    public enum RopeLayout: String, Sendable { case adjacent, halves }
    public enum RopeScaling: Sendable, Equatable {
        case none
        /// Positions divided by the factor.
        case linear(Double)
        /// Llama 3.1's frequency-dependent scaling.
        case llama3(factor: Double, low: Double, high: Double, original: Double)
        /// A divisor per frequency (GGUF's rope_freqs tensor, which is how Llama 3.1 files carry it).
        case divisors([Float])
    }

    public var architecture: String
    public var vocab: Int
    public var dim: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var ffn: Int
    public var context: Int
    public var ropeTheta: Double
    /// Rotated dimensions of each head (all of them but in GPT-NeoX).
    public var rotaryDim: Int
    public var ropeLayout: RopeLayout = .halves
    public var ropeScaling: RopeScaling = .none
    public var eps: Double
    public var norm: Norm = .rms
    public var mlp: MLP = .swiglu
    public var parallelResidual = false

    public var qDim: Int { heads * headDim }
    public var kvDim: Int { kvHeads * headDim }

    /// Checks every size (they come from a file) before anything is allocated.
    public func validate(_ origin: String) throws {
        func range(_ v: Int, _ name: String, _ r: ClosedRange<Int>) throws { try checkSize(v, name, r, origin) }
        try range(vocab, "vocabulary size", 1...(1 << 21))
        try range(dim, "embedding length", 1...(1 << 16))
        try range(layers, "block count", 1...1024)
        try range(heads, "head count", 1...1024)
        try range(kvHeads, "key-value head count", 1...heads)
        try range(headDim, "head size", 2...4096)
        try range(ffn, "feed-forward length", 1...(1 << 18))
        try range(context, "context length", 1...(1 << 22))
        try range(rotaryDim, "rotary dimensions", 0...headDim)
        guard heads % kvHeads == 0, rotaryDim % 2 == 0, qDim <= 1 << 17 else {
            throw TrainError("\(origin): \(heads) heads of \(headDim) with \(kvHeads) key-value heads and \(rotaryDim) rotary dimensions do not divide evenly")
        }
        guard ropeTheta.isFinite, ropeTheta > 1, eps.isFinite, eps > 0, eps < 1 else { throw TrainError("\(origin): rope base \(ropeTheta) or norm epsilon \(eps) out of range") }
        switch ropeScaling {
        case .none: break
        case .linear(let f): guard f.isFinite, f >= 1, f <= 1024 else { throw TrainError("\(origin): rope scaling factor \(f) out of range") }
        case .llama3(let f, let lo, let hi, let orig):
            guard [f, lo, hi, orig].allSatisfy({ $0.isFinite && $0 > 0 }), f <= 1024, hi > lo else {
                throw TrainError("\(origin): llama3 rope scaling (factor \(f), low \(lo), high \(hi), original context \(orig)) out of range")
            }
        case .divisors(let d):
            guard d.count == rotaryDim / 2, d.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                throw TrainError("\(origin): \(d.count) rope frequency factors for \(rotaryDim / 2) frequencies, or one not positive")
            }
        }
    }

    /// The rotary frequencies, rotaryDim / 2 of them, scaled as the config says.
    func inverseFrequencies() -> [Float] {
        let half = rotaryDim / 2
        return (0..<half).map { k in
            let f = 1 / pow(ropeTheta, Double(2 * k) / Double(rotaryDim))
            switch ropeScaling {
            case .none: return Float(f)
            case .linear(let s): return Float(f / s)
            case .divisors(let d): return Float(f) / d[k]
            case .llama3(let factor, let low, let high, let original):
                let wavelen = 2 * Double.pi / f
                let lowWavelen = original / low, highWavelen = original / high
                if wavelen < highWavelen { return Float(f) }
                if wavelen > lowWavelen { return Float(f / factor) }
                let smooth = (original / wavelen - low) / (high - low)
                return Float((1 - smooth) * f / factor + smooth * f)
            }
        }
    }
}

public final class DecoderModel: @unchecked Sendable {
    public let config: DecoderConfig
    struct Layer {
        var norm1: [Float], norm1Bias: [Float]?
        var wq: [Float], wk: [Float], wv: [Float], wo: [Float]
        var bq: [Float]?, bk: [Float]?, bv: [Float]?, bo: [Float]?
        var norm2: [Float], norm2Bias: [Float]?
        /// The gate (SwiGLU only), up and down projections.
        var wg: [Float]?, wu: [Float], wd: [Float]
        var bg: [Float]?, bu: [Float]?, bd: [Float]?
    }
    let embed: [Float]
    let layers: [Layer]
    let outNorm: [Float]
    let outNormBias: [Float]?
    /// The output head: the embedding itself when tied (nil).
    let head: [Float]?
    /// Rotary frequencies, rotaryDim / 2 of them.
    let invFreq: [Float]

    init(config: DecoderConfig, embed: [Float], layers: [Layer], outNorm: [Float], outNormBias: [Float]?, head: [Float]?) {
        self.config = config
        self.embed = embed
        self.layers = layers
        self.outNorm = outNorm
        self.outNormBias = outNormBias
        self.head = head
        invFreq = config.inverseFrequencies()
    }

    /// y (rows x out) = x (rows x inDim) times W^T, W row-major (out x inDim).
    @inline(__always) func matmul(_ x: UnsafePointer<Float>, _ w: [Float], rows: Int, inDim: Int, out: Int, _ y: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        w.withUnsafeBufferPointer { wp in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(out), Int32(inDim), 1, x, Int32(inDim),
                        wp.baseAddress, Int32(inDim), accumulate ? 1 : 0, y, Int32(out))
        }
    }

    /// The normalization of each row of x into y: RMSNorm times the weight, or LayerNorm times the
    /// weight plus the bias.
    func normalize(_ x: UnsafePointer<Float>, _ w: [Float], _ bias: [Float]?, rows: Int, _ y: UnsafeMutablePointer<Float>) {
        let d = config.dim, eps = Float(config.eps)
        for r in 0..<rows {
            let xr = x + r * d, yr = y + r * d
            switch config.norm {
            case .rms:
                var ss: Float = 0
                for i in 0..<d { ss += xr[i] * xr[i] }
                let inv = 1 / (ss / Float(d) + eps).squareRoot()
                for i in 0..<d { yr[i] = w[i] * (xr[i] * inv) }
            case .layer:
                var mean: Float = 0
                for i in 0..<d { mean += xr[i] }
                mean /= Float(d)
                var v: Float = 0
                for i in 0..<d { let c = xr[i] - mean; v += c * c }
                let inv = 1 / (v / Float(d) + eps).squareRoot()
                for i in 0..<d { yr[i] = (xr[i] - mean) * inv * w[i] + (bias?[i] ?? 0) }
            }
        }
    }

    /// Adds a bias to each row.
    func addBias(_ y: UnsafeMutablePointer<Float>, _ b: [Float]?, rows: Int) {
        guard let b else { return }
        let n = b.count
        for r in 0..<rows { let yr = y + r * n; for i in 0..<n { yr[i] += b[i] } }
    }

    /// cos and sin of every row's rotary angles (rows x rotaryDim / 2 each), computed once per pass.
    func ropeTables(_ positions: [Int]) -> (cos: [Float], sin: [Float]) {
        let half = config.rotaryDim / 2
        var c = [Float](repeating: 0, count: positions.count * half), s = c
        for (r, p) in positions.enumerated() {
            for k in 0..<half { let a = Float(p) * invFreq[k]; c[r * half + k] = cos(a); s[r * half + k] = sin(a) }
        }
        return (c, s)
    }

    /// Rotary embedding in place on the first rotaryDim dimensions of `n` heads of each row.
    func rope(_ x: UnsafeMutablePointer<Float>, rows: Int, heads n: Int, tables t: (cos: [Float], sin: [Float])) {
        let hd = config.headDim, half = config.rotaryDim / 2
        // The partner of dimension i is i + 1 (adjacent) or i + half (halves).
        let (stride, partner) = config.ropeLayout == .adjacent ? (2, 1) : (1, half)
        for r in 0..<rows {
            for k in 0..<half {
                let c = t.cos[r * half + k], s = t.sin[r * half + k]
                for h in 0..<n {
                    let p = x + (r * n + h) * hd + stride * k
                    let x0 = p[0], x1 = p[partner]
                    p[0] = x0 * c - x1 * s
                    p[partner] = x0 * s + x1 * c
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
        let c = config, T = tokens.count, d = c.dim, hd = c.headDim, qd = c.qDim, kv = c.kvDim
        precondition(T <= c.context && positions.count == T)
        var x = [Float](repeating: 0, count: T * d)
        for t in 0..<T {
            let id = Int(tokens[t])
            precondition(id >= 0 && id < c.vocab)
            for i in 0..<d { x[t * d + i] = embed[id * d + i] }
        }
        var xn = [Float](repeating: 0, count: T * d), q = [Float](repeating: 0, count: T * qd)
        var k = [Float](repeating: 0, count: T * kv), v = [Float](repeating: 0, count: T * kv)
        var att = [Float](repeating: 0, count: T * qd), scores = [Float](repeating: 0, count: T * T)
        var g = [Float](repeating: 0, count: c.mlp == .swiglu ? T * c.ffn : 0), u = [Float](repeating: 0, count: T * c.ffn)
        // The parallel residual's MLP input: the layer's input normalized, before attention adds to it.
        var xn2 = [Float](repeating: 0, count: c.parallelResidual ? T * d : 0)
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
            normalize(x, L.norm1, L.norm1Bias, rows: T, &xn)
            if c.parallelResidual { normalize(x, L.norm2, L.norm2Bias, rows: T, &xn2) }
            matmul(xn, L.wq, rows: T, inDim: d, out: qd, &q)
            matmul(xn, L.wk, rows: T, inDim: d, out: kv, &k)
            matmul(xn, L.wv, rows: T, inDim: d, out: kv, &v)
            addBias(&q, L.bq, rows: T)
            addBias(&k, L.bk, rows: T)
            addBias(&v, L.bv, rows: T)
            if c.rotaryDim > 0 {
                rope(&q, rows: T, heads: c.heads, tables: rot)
                rope(&k, rows: T, heads: c.kvHeads, tables: rot)
            }
            for h in 0..<c.heads {
                let kh = h / group
                q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in
                    scores.withUnsafeMutableBufferPointer { sp in att.withUnsafeMutableBufferPointer { ap in
                        let S = sp.baseAddress!
                        // Scores of every query row against every key row: (T x hd)(hd x T), scaled.
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(T), Int32(hd), scale, qp.baseAddress! + h * hd, Int32(qd),
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
                                    vp.baseAddress! + kh * hd, Int32(kv), 0, ap.baseAddress! + h * hd, Int32(qd))
                    } }
                } } }
            }
            matmul(att, L.wo, rows: T, inDim: qd, out: d, &x, accumulate: true)
            addBias(&x, L.bo, rows: T)
            if !c.parallelResidual { normalize(x, L.norm2, L.norm2Bias, rows: T, &xn) }
            mlp(c.parallelResidual ? xn2 : xn, L, rows: T, &g, &u, into: &x)
        }
        return x
    }

    /// x += the layer's MLP of xn (SwiGLU, or GELU of one projection).
    func mlp(_ xn: [Float], _ L: Layer, rows T: Int, _ g: inout [Float], _ u: inout [Float], into x: inout [Float]) {
        let c = config, d = c.dim
        matmul(xn, L.wu, rows: T, inDim: d, out: c.ffn, &u)
        addBias(&u, L.bu, rows: T)
        switch c.mlp {
        case .swiglu:
            matmul(xn, L.wg!, rows: T, inDim: d, out: c.ffn, &g)
            addBias(&g, L.bg, rows: T)
            for i in 0..<(T * c.ffn) { let a = g[i]; u[i] = a / (1 + exp(-a)) * u[i] }
        case .gelu:
            for i in 0..<(T * c.ffn) { let a = u[i]; u[i] = 0.5 * a * (1 + erf(a * 0.70710678118654752)) }
        case .geluTanh:
            for i in 0..<(T * c.ffn) { let a = u[i]; u[i] = 0.5 * a * (1 + tanh(0.79788456080286536 * (a + 0.044715 * a * a * a))) }
        }
        matmul(u, L.wd, rows: T, inDim: c.ffn, out: d, &x, accumulate: true)
        addBias(&x, L.bd, rows: T)
    }

    /// log p(tokens[k] | hidden row rows[k]): the output head on the rows asked for only.
    func head(_ x: [Float], rows sel: [Int], tokens: [Int32]) -> [Double] {
        let c = config, d = c.dim, rows = sel.count
        guard rows > 0 else { return [] }
        var hsel = [Float](repeating: 0, count: rows * d)
        for (r, t) in sel.enumerated() { for i in 0..<d { hsel[r * d + i] = x[t * d + i] } }
        var hn = [Float](repeating: 0, count: rows * d)
        normalize(hsel, outNorm, outNormBias, rows: rows, &hn)
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
