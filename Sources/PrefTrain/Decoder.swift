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

/// Where each tensor lies in the model's one flat parameter buffer (PyTorch order, rows first).
public struct DecoderLayout: Sendable {
    public struct Slot: Sendable { public let at: Int; public let count: Int }
    public struct Layer: Sendable {
        var norm1: Slot, norm1Bias: Slot?
        var wq: Slot, wk: Slot, wv: Slot, wo: Slot
        var bq: Slot?, bk: Slot?, bv: Slot?, bo: Slot?
        var norm2: Slot, norm2Bias: Slot?
        /// The gate (SwiGLU only), up and down projections.
        var wg: Slot?, wu: Slot, wd: Slot
        var bg: Slot?, bu: Slot?, bd: Slot?
    }
    public var embed: Slot
    var layers: [Layer]
    var outNorm: Slot, outNormBias: Slot?
    /// The untied output head (nil: the embedding).
    var head: Slot?
    public var total: Int

    /// Which optional tensors a model has (the same in every layer).
    public struct Presence: Sendable {
        public var qkvBias = false, oBias = false, mlpBias = false, normBias = false, tied = true
        public init(qkvBias: Bool = false, oBias: Bool = false, mlpBias: Bool = false, normBias: Bool = false, tied: Bool = true) {
            self.qkvBias = qkvBias; self.oBias = oBias; self.mlpBias = mlpBias; self.normBias = normBias; self.tied = tied
        }
    }

    public init(_ c: DecoderConfig, _ has: Presence) {
        var at = 0
        func slot(_ n: Int) -> Slot { defer { at += n }; return Slot(at: at, count: n) }
        func opt(_ b: Bool, _ n: Int) -> Slot? { b ? slot(n) : nil }
        embed = slot(c.vocab * c.dim)
        layers = (0..<c.layers).map { _ in
            Layer(norm1: slot(c.dim), norm1Bias: opt(has.normBias, c.dim),
                  wq: slot(c.qDim * c.dim), wk: slot(c.kvDim * c.dim), wv: slot(c.kvDim * c.dim), wo: slot(c.dim * c.qDim),
                  bq: opt(has.qkvBias, c.qDim), bk: opt(has.qkvBias, c.kvDim), bv: opt(has.qkvBias, c.kvDim), bo: opt(has.oBias, c.dim),
                  norm2: slot(c.dim), norm2Bias: opt(has.normBias, c.dim),
                  wg: opt(c.mlp == .swiglu, c.ffn * c.dim), wu: slot(c.ffn * c.dim), wd: slot(c.dim * c.ffn),
                  bg: opt(has.mlpBias && c.mlp == .swiglu, c.ffn), bu: opt(has.mlpBias, c.ffn), bd: opt(has.mlpBias, c.dim))
        }
        outNorm = slot(c.dim)
        outNormBias = opt(has.normBias, c.dim)
        head = opt(!has.tied, c.vocab * c.dim)
        total = at
    }

    /// Every slot with a name, for gradient checks and initialization.
    public var named: [(String, Slot)] {
        var out: [(String, Slot)] = [("embed", embed), ("out_norm", outNorm)]
        if let b = outNormBias { out.append(("out_norm_bias", b)) }
        if let h = head { out.append(("head", h)) }
        for (l, L) in layers.enumerated() {
            let all: [(String, Slot?)] = [("norm1", L.norm1), ("norm1_bias", L.norm1Bias), ("wq", L.wq), ("wk", L.wk), ("wv", L.wv), ("wo", L.wo),
                                          ("bq", L.bq), ("bk", L.bk), ("bv", L.bv), ("bo", L.bo), ("norm2", L.norm2), ("norm2_bias", L.norm2Bias),
                                          ("wg", L.wg), ("wu", L.wu), ("wd", L.wd), ("bg", L.bg), ("bu", L.bu), ("bd", L.bd)]
            for (n, s) in all { if let s { out.append(("layer\(l).\(n)", s)) } }
        }
        return out
    }
}

/// The decoder over one flat parameter buffer of Float (inference, training) or Double (gradient
/// checks). Forward keeps, when asked, what the backward pass needs (`DecoderCache`); the backward
/// pass accumulates into `grads`, each layer a forward and a backward over flat buffers.
public final class DecoderModel<S: GPTScalar>: @unchecked Sendable {
    public let config: DecoderConfig
    public let layout: DecoderLayout
    public let params: Buffer<S>
    /// Gradients, once `enableGradients()` has allocated them.
    public private(set) var grads: Buffer<S>?
    let invFreq: [S]
    var head: DecoderLayout.Slot? { layout.head }

    /// A model whose parameters `fill` writes (in `layout`'s order) before it is used.
    init(config: DecoderConfig, layout: DecoderLayout, fill: (UnsafeMutablePointer<S>) throws -> Void) throws {
        self.config = config
        self.layout = layout
        params = Buffer<S>(layout.total)
        try fill(params.p)
        invFreq = config.inverseFrequencies().map { S($0) }
    }

    /// A model with random weights (tests, gradient checks): matrices ~ N(0, scale / sqrt(in)),
    /// norm weights around 1, biases small.
    public convenience init(config: DecoderConfig, presence: DecoderLayout.Presence, seed: UInt64, scale: Double = 1) throws {
        try config.validate("random model")
        let layout = DecoderLayout(config, presence)
        try self.init(config: config, layout: layout) { p in
            var rng = Normal(seed: seed)
            for (name, s) in layout.named {
                let isNorm = name.hasSuffix("norm1") || name.hasSuffix("norm2") || name == "out_norm"
                let isBias = name.contains("bias") || name.hasSuffix(".bq") || name.hasSuffix(".bk") || name.hasSuffix(".bv") || name.hasSuffix(".bo")
                    || name.hasSuffix(".bg") || name.hasSuffix(".bu") || name.hasSuffix(".bd")
                let fanIn = name == "embed" || name == "head" ? 1.0 : Double(name.hasSuffix(".wo") ? config.qDim : name.hasSuffix(".wd") ? config.ffn : config.dim)
                for i in 0..<s.count {
                    let z = rng.next()
                    p[s.at + i] = S(isNorm ? 1 + 0.2 * z : isBias ? 0.1 * z : z * scale / fanIn.squareRoot())
                }
            }
        }
    }

    /// Allocates (zeroed) gradients, once.
    public func enableGradients() { if grads == nil { grads = Buffer<S>(layout.total) } }
    public func zeroGrad() { grads?.zero() }

    @inline(__always) func w(_ s: DecoderLayout.Slot) -> UnsafeMutablePointer<S> { params.p + s.at }

    /// y (rows x out) = x (rows x inDim) times W^T, W row-major (out x inDim); y += when accumulating.
    @inline(__always) func matmul(_ x: UnsafePointer<S>, _ w: DecoderLayout.Slot, rows: Int, inDim: Int, out: Int, _ y: UnsafeMutablePointer<S>, accumulate: Bool = false) {
        S.gemm(transA: false, transB: true, m: rows, n: out, k: inDim, alpha: 1, a: x, lda: inDim, b: params.p + w.at, ldb: inDim,
               beta: accumulate ? 1 : 0, c: y, ldc: out)
    }

    /// Backward of y = x W^T (+ b): dx (+)= dy W, dW += dy^T x, db += column sums of dy.
    func matmulBackward(_ x: UnsafePointer<S>, _ w: DecoderLayout.Slot, _ b: DecoderLayout.Slot?, rows: Int, inDim: Int, out: Int,
                        dy: UnsafePointer<S>, dx: UnsafeMutablePointer<S>?, accumulate: Bool) {
        let g = grads!.p
        if let dx {
            S.gemm(transA: false, transB: false, m: rows, n: inDim, k: out, alpha: 1, a: dy, lda: out, b: params.p + w.at, ldb: inDim,
                   beta: accumulate ? 1 : 0, c: dx, ldc: inDim)
        }
        S.gemm(transA: true, transB: false, m: out, n: inDim, k: rows, alpha: 1, a: dy, lda: out, b: x, ldb: inDim, beta: 1, c: g + w.at, ldc: inDim)
        if let b { for r in 0..<rows { for i in 0..<out { g[b.at + i] += dy[r * out + i] } } }
    }

    /// The normalization of each row of x into y: RMSNorm times the weight, or LayerNorm times the
    /// weight plus the bias.
    func normalize(_ x: UnsafePointer<S>, _ w: DecoderLayout.Slot, _ bias: DecoderLayout.Slot?, rows: Int, _ y: UnsafeMutablePointer<S>) {
        let d = config.dim, eps = S(config.eps), wp = params.p + w.at, bp = bias.map { params.p + $0.at }
        for r in 0..<rows {
            let xr = x + r * d, yr = y + r * d
            switch config.norm {
            case .rms:
                var ss: S = 0
                for i in 0..<d { ss += xr[i] * xr[i] }
                let inv = 1 / S.sqrt(ss / S(d) + eps)
                for i in 0..<d { yr[i] = wp[i] * (xr[i] * inv) }
            case .layer:
                var mean: S = 0
                for i in 0..<d { mean += xr[i] }
                mean /= S(d)
                var v: S = 0
                for i in 0..<d { let c = xr[i] - mean; v += c * c }
                let inv = 1 / S.sqrt(v / S(d) + eps)
                for i in 0..<d { yr[i] = (xr[i] - mean) * inv * wp[i] + (bp?[i] ?? 0) }
            }
        }
    }

    /// Backward of `normalize`: dx (+)= d(norm)/dx dy, and the weight's (and bias's) gradients.
    func normalizeBackward(_ x: UnsafePointer<S>, _ w: DecoderLayout.Slot, _ bias: DecoderLayout.Slot?, rows: Int, dy: UnsafePointer<S>,
                           dx: UnsafeMutablePointer<S>, accumulate: Bool) {
        let d = config.dim, eps = S(config.eps), wp = params.p + w.at, g = grads!.p
        for r in 0..<rows {
            let xr = x + r * d, dyr = dy + r * d, dxr = dx + r * d
            var mean: S = 0
            if config.norm == .layer { for i in 0..<d { mean += xr[i] }; mean /= S(d) }
            var v: S = 0
            for i in 0..<d { let c = xr[i] - mean; v += c * c }
            let inv = 1 / S.sqrt(v / S(d) + eps)
            // xhat = (x - mean) * inv; dxhat = dy * w.
            var sumD: S = 0, sumDX: S = 0
            for i in 0..<d {
                let xh = (xr[i] - mean) * inv, dxh = dyr[i] * wp[i]
                g[w.at + i] += dyr[i] * xh
                if let b = bias { g[b.at + i] += dyr[i] }
                sumD += dxh
                sumDX += dxh * xh
            }
            let mD = config.norm == .layer ? sumD / S(d) : 0, mDX = sumDX / S(d)
            for i in 0..<d {
                let xh = (xr[i] - mean) * inv, dxh = dyr[i] * wp[i]
                let v = inv * (dxh - mD - xh * mDX)
                dxr[i] = accumulate ? dxr[i] + v : v
            }
        }
    }

    /// Adds a bias to each row.
    func addBias(_ y: UnsafeMutablePointer<S>, _ b: DecoderLayout.Slot?, rows: Int) {
        guard let b else { return }
        let n = b.count, bp = params.p + b.at
        for r in 0..<rows { let yr = y + r * n; for i in 0..<n { yr[i] += bp[i] } }
    }

    /// cos and sin of every row's rotary angles (rows x rotaryDim / 2 each), computed once per pass.
    func ropeTables(_ positions: [Int]) -> (cos: [S], sin: [S]) {
        let half = config.rotaryDim / 2
        var c = [S](repeating: 0, count: positions.count * half), s = c
        for (r, p) in positions.enumerated() {
            for k in 0..<half {
                // The angle in Float as transformers computes it (position times frequency, fp32).
                let a = Float(p) * Float(invFreq[k])
                c[r * half + k] = S(cos(a)); s[r * half + k] = S(sin(a))
            }
        }
        return (c, s)
    }

    /// Rotary embedding in place on the first rotaryDim dimensions of `n` heads of each row
    /// (`inverse`: the transposed rotation, for the backward pass).
    func rope(_ x: UnsafeMutablePointer<S>, rows: Int, heads n: Int, tables t: (cos: [S], sin: [S]), inverse: Bool = false) {
        let hd = config.headDim, half = config.rotaryDim / 2
        // The partner of dimension i is i + 1 (adjacent) or i + half (halves).
        let (stride, partner) = config.ropeLayout == .adjacent ? (2, 1) : (1, half)
        for r in 0..<rows {
            for k in 0..<half {
                let c = t.cos[r * half + k], s = inverse ? -t.sin[r * half + k] : t.sin[r * half + k]
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
        let x = forward(tokens, positions: Array(0..<tokens.count), segments: nil, cache: nil)
        return head(x, rows: targets.map { $0 - 1 }, tokens: targets.map { tokens[$0] }, upstream: nil).logps
    }

    /// The packed sequence of one prompt and its replies: tokens, positions, segments, and the row
    /// predicting each reply token.
    static func pack(prompt: [Int32], replies: [[Int32]]) -> (tokens: [Int32], positions: [Int], segments: [Int], rows: [[Int]]) {
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
        return (tokens, positions, segments, rows)
    }

    /// The summed log-probabilities of several replies to one prompt, in one pass: the prompt once,
    /// then each reply after it with positions continuing from the prompt and attention to the
    /// prompt and to itself only (the packing TRL's padding-free collators use).
    public func replyLogprobs(prompt: [Int32], replies: [[Int32]]) -> [Double] {
        precondition(!prompt.isEmpty)
        let pk = DecoderModel.pack(prompt: prompt, replies: replies)
        let x = forward(pk.tokens, positions: pk.positions, segments: pk.segments, cache: nil)
        let all = head(x, rows: pk.rows.flatMap { $0 }, tokens: replies.flatMap { $0 }, upstream: nil).logps
        var out: [Double] = [], at = 0
        for r in replies { out.append(all[at..<(at + r.count)].reduce(0, +)); at += r.count }
        return out
    }

    /// The summed log-probabilities of the replies and, per reply, its pooled representation: the
    /// mean over the reply's own tokens of the last hidden states after the final norm (one packed
    /// pass, the prompt once).
    public func replyFeatures(prompt: [Int32], replies: [[Int32]]) -> (logps: [Double], pooled: [[S]]) {
        precondition(!prompt.isEmpty)
        let pk = DecoderModel.pack(prompt: prompt, replies: replies)
        let x = forward(pk.tokens, positions: pk.positions, segments: pk.segments, cache: nil)
        let all = head(x, rows: pk.rows.flatMap { $0 }, tokens: replies.flatMap { $0 }, upstream: nil).logps
        let d = config.dim
        var logps: [Double] = [], pooled: [[S]] = [], at = 0, start = prompt.count
        for r in replies {
            logps.append(all[at..<(at + r.count)].reduce(0, +))
            at += r.count
            var mean = [S](repeating: 0, count: d)
            if !r.isEmpty {
                var hn = [S](repeating: 0, count: r.count * d)
                x.withUnsafeBufferPointer { xp in normalize(xp.baseAddress! + start * d, layout.outNorm, layout.outNormBias, rows: r.count, &hn) }
                for t in 0..<r.count { for i in 0..<d { mean[i] += hn[t * d + i] } }
                for i in 0..<d { mean[i] /= S(r.count) }
            }
            pooled.append(mean)
            start += r.count
        }
        return (logps, pooled)
    }

    /// The same, and the gradients of a loss of those sums: `upstream` gives d(loss)/d(sum) per
    /// reply from the sums; the parameter gradients are accumulated into `grads`.
    public func replyLogprobsBackward(prompt: [Int32], replies: [[Int32]], upstream: ([Double]) -> [Double]) -> [Double] {
        precondition(!prompt.isEmpty && grads != nil)
        let pk = DecoderModel.pack(prompt: prompt, replies: replies)
        let cache = DecoderCache<S>()
        let x = forward(pk.tokens, positions: pk.positions, segments: pk.segments, cache: cache)
        let rows = pk.rows.flatMap { $0 }, targets = replies.flatMap { $0 }
        // Forward of the head for the sums, then its backward with each reply's gradient on its rows.
        let all = head(x, rows: rows, tokens: targets, upstream: nil).logps
        var sums: [Double] = [], at = 0
        for r in replies { sums.append(all[at..<(at + r.count)].reduce(0, +)); at += r.count }
        let g = upstream(sums)
        var perRow: [Double] = []
        for (k, r) in replies.enumerated() { perRow += [Double](repeating: g[k], count: r.count) }
        let dx = head(x, rows: rows, tokens: targets, upstream: perRow).dx!
        backward(cache, dx: dx, tokens: pk.tokens)
        return sums
    }

    /// The hidden states after the last layer (T x dim). `segments` (nil: one causal sequence):
    /// 0 for the shared prompt, k for reply k; a token sees the prompt and the earlier tokens of its
    /// own segment. With a cache, what the backward pass needs is kept in it.
    func forward(_ tokens: [Int32], positions: [Int], segments: [Int]?, cache: DecoderCache<S>?) -> [S] {
        let c = config, T = tokens.count, d = c.dim, qd = c.qDim, kv = c.kvDim
        precondition(T <= c.context && positions.count == T)
        var x = [S](repeating: 0, count: T * d)
        let E = w(layout.embed)
        for t in 0..<T {
            let id = Int(tokens[t])
            precondition(id >= 0 && id < c.vocab)
            for i in 0..<d { x[t * d + i] = E[id * d + i] }
        }
        var xn = [S](repeating: 0, count: T * d), q = [S](repeating: 0, count: T * qd)
        var k = [S](repeating: 0, count: T * kv), v = [S](repeating: 0, count: T * kv)
        var att = [S](repeating: 0, count: T * qd), scores = [S](repeating: 0, count: T * T)
        var g = [S](repeating: 0, count: c.mlp == .swiglu ? T * c.ffn : 0), u = [S](repeating: 0, count: T * c.ffn)
        // The parallel residual's MLP input: the layer's input normalized, before attention adds to it.
        var xn2 = [S](repeating: 0, count: c.parallelResidual ? T * d : 0)
        let mask = AttentionMask(T: T, segments: segments)
        let rot = ropeTables(positions)
        cache?.begin(mask: mask, rot: rot)
        for L in layout.layers {
            let xIn = cache == nil ? [] : x
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
            attention(q, k, v, mask, &scores, &att)
            let xn1 = cache == nil ? [] : xn
            matmul(att, L.wo, rows: T, inDim: qd, out: d, &x, accumulate: true)
            addBias(&x, L.bo, rows: T)
            let xMid = cache == nil || c.parallelResidual ? [] : x
            if !c.parallelResidual { normalize(x, L.norm2, L.norm2Bias, rows: T, &xn) }
            let mlpIn = c.parallelResidual ? xn2 : xn
            mlp(mlpIn, L, rows: T, &g, &u, into: &x, keep: cache)
            cache?.layers.append(LayerCache(xIn: xIn, xn1: xn1, q: q, k: k, v: v, att: att, xMid: xMid, xn2: mlpIn,
                                            g: cache?.pendingG ?? [], u: cache?.pendingU ?? [], act: u))
        }
        return x
    }

    /// One row's visible keys: [0, a) and [b, t].
    struct AttentionMask {
        let T: Int
        let promptLen: Int
        let segStart: [Int]?
        init(T: Int, segments: [Int]?) {
            self.T = T
            promptLen = segments?.firstIndex { $0 != 0 } ?? T
            segStart = segments.map { seg in
                var st = [Int](repeating: 0, count: T)
                for t in 0..<T where seg[t] != 0 { st[t] = t > 0 && seg[t - 1] == seg[t] ? st[t - 1] : t }
                return st
            }
        }
        @inline(__always) func visible(_ t: Int) -> (Int, Int) { segStart.map { st in st[t] == 0 ? (0, 0) : (promptLen, st[t]) } ?? (0, 0) }
    }

    /// Scaled, masked softmax of S = q_h k_h^T for head h into `scores` (T x T, zero where masked).
    func probabilities(_ q: UnsafePointer<S>, _ k: UnsafePointer<S>, head h: Int, _ mask: AttentionMask, _ S_: UnsafeMutablePointer<S>) {
        let c = config, T = mask.T, hd = c.headDim, kh = h / (c.heads / c.kvHeads)
        let scale = 1 / S.sqrt(S(hd))
        S.gemm(transA: false, transB: true, m: T, n: T, k: hd, alpha: scale, a: q + h * hd, lda: c.qDim, b: k + kh * hd, ldb: c.kvDim, beta: 0, c: S_, ldc: T)
        for t in 0..<T {
            let row = S_ + t * T
            let (a, b) = mask.visible(t)
            var mx = -S.infinity
            for s in 0..<a { mx = max(mx, row[s]) }
            for s in b...t { mx = max(mx, row[s]) }
            var sum: S = 0
            for s in 0..<a { row[s] = S.exp(row[s] - mx); sum += row[s] }
            for s in b...t { row[s] = S.exp(row[s] - mx); sum += row[s] }
            let inv = 1 / sum
            for s in 0..<a { row[s] *= inv }
            for s in a..<b { row[s] = 0 }
            for s in b...t { row[s] *= inv }
            for s in (t + 1)..<T { row[s] = 0 }
        }
    }

    /// Causal grouped-query attention of every head into `att` (T x qDim).
    func attention(_ q: [S], _ k: [S], _ v: [S], _ mask: AttentionMask, _ scores: inout [S], _ att: inout [S]) {
        let c = config, T = mask.T, hd = c.headDim, group = c.heads / c.kvHeads
        q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in
            scores.withUnsafeMutableBufferPointer { sp in att.withUnsafeMutableBufferPointer { ap in
                for h in 0..<c.heads {
                    probabilities(qp.baseAddress!, kp.baseAddress!, head: h, mask, sp.baseAddress!)
                    S.gemm(transA: false, transB: false, m: T, n: hd, k: T, alpha: 1, a: sp.baseAddress!, lda: T, b: vp.baseAddress! + (h / group) * hd,
                           ldb: c.kvDim, beta: 0, c: ap.baseAddress! + h * hd, ldc: c.qDim)
                }
            } }
        } } }
    }

    /// x += the layer's MLP of xn (SwiGLU, or GELU of one projection); `u` ends as the activation
    /// (the down projection's input). With a cache, the pre-activations are kept in it.
    func mlp(_ xn: [S], _ L: DecoderLayout.Layer, rows T: Int, _ g: inout [S], _ u: inout [S], into x: inout [S], keep cache: DecoderCache<S>?) {
        let c = config, d = c.dim
        matmul(xn, L.wu, rows: T, inDim: d, out: c.ffn, &u)
        addBias(&u, L.bu, rows: T)
        switch c.mlp {
        case .swiglu:
            matmul(xn, L.wg!, rows: T, inDim: d, out: c.ffn, &g)
            addBias(&g, L.bg, rows: T)
            if let cache { cache.pendingG = g; cache.pendingU = u }
            for i in 0..<(T * c.ffn) { let a = g[i]; u[i] = a / (1 + S.exp(-a)) * u[i] }
        case .gelu:
            if let cache { cache.pendingU = u }
            for i in 0..<(T * c.ffn) { let a = u[i]; u[i] = S(0.5) * a * (1 + S(erf(Double(a) * 0.70710678118654752))) }
        case .geluTanh:
            if let cache { cache.pendingU = u }
            for i in 0..<(T * c.ffn) { let a = u[i]; u[i] = S(0.5) * a * (1 + S.tanh(S(0.79788456080286536) * (a + S(0.044715) * a * a * a))) }
        }
        matmul(u, L.wd, rows: T, inDim: c.ffn, out: d, &x, accumulate: true)
        addBias(&x, L.bd, rows: T)
    }

    /// log p(tokens[k] | hidden row rows[k]): the output head on the rows asked for only. With
    /// `upstream` (d(loss)/d(log p) per row), also the gradient of the hidden states (T x dim) and
    /// of the head, final norm and (tied) embedding.
    func head(_ x: [S], rows sel: [Int], tokens: [Int32], upstream: [Double]?) -> (logps: [Double], dx: [S]?) {
        let c = config, d = c.dim, rows = sel.count, V = c.vocab
        guard rows > 0 else { return ([], upstream == nil ? nil : [S](repeating: 0, count: x.count)) }
        var hsel = [S](repeating: 0, count: rows * d)
        for (r, t) in sel.enumerated() { for i in 0..<d { hsel[r * d + i] = x[t * d + i] } }
        var hn = [S](repeating: 0, count: rows * d)
        normalize(hsel, layout.outNorm, layout.outNormBias, rows: rows, &hn)
        var logits = [S](repeating: 0, count: rows * V)
        let H = layout.head ?? layout.embed
        matmul(hn, H, rows: rows, inDim: d, out: V, &logits)
        var logps = [Double](repeating: 0, count: rows)
        logits.withUnsafeMutableBufferPointer { lp in
            for r in 0..<rows {
                let row = lp.baseAddress! + r * V
                var mx = -S.infinity
                for i in 0..<V { mx = max(mx, row[i]) }
                // Exponentials summed in Double (a Float sum over the whole vocabulary costs about
                // 1e-5 of relative accuracy in a reply's summed log-probability).
                var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
                var i = 0
                while i + 4 <= V {
                    s0 += Double(S.exp(row[i] - mx)); s1 += Double(S.exp(row[i + 1] - mx))
                    s2 += Double(S.exp(row[i + 2] - mx)); s3 += Double(S.exp(row[i + 3] - mx))
                    i += 4
                }
                while i < V { s0 += Double(S.exp(row[i] - mx)); i += 1 }
                let lse = log(s0 + s1 + s2 + s3)
                logps[r] = Double(row[Int(tokens[r])] - mx) - lse
                guard let up = upstream else { continue }
                // d log p / d logits = onehot - softmax, times the row's upstream gradient.
                let gr = up[r]
                for i in 0..<V { row[i] = S(-gr * exp(Double(row[i] - mx) - lse)) }
                row[Int(tokens[r])] += S(gr)
            }
        }
        guard upstream != nil else { return (logps, nil) }
        var dhn = [S](repeating: 0, count: rows * d)
        matmulBackward(hn, H, nil, rows: rows, inDim: d, out: V, dy: logits, dx: &dhn, accumulate: false)
        var dsel = [S](repeating: 0, count: rows * d)
        normalizeBackward(hsel, layout.outNorm, layout.outNormBias, rows: rows, dy: dhn, dx: &dsel, accumulate: false)
        var dx = [S](repeating: 0, count: x.count)
        for (r, t) in sel.enumerated() { for i in 0..<d { dx[t * d + i] += dsel[r * d + i] } }
        return (logps, dx)
    }

    /// Backward through every layer and the embedding, from d(loss)/d(last hidden states).
    func backward(_ cache: DecoderCache<S>, dx dOut: [S], tokens: [Int32]) {
        let c = config, T = tokens.count, d = c.dim, qd = c.qDim, kv = c.kvDim, ffn = c.ffn, hd = c.headDim, group = c.heads / c.kvHeads
        let gp = grads!.p
        var dx = dOut
        var dact = [S](repeating: 0, count: T * ffn), dg = [S](repeating: 0, count: c.mlp == .swiglu ? T * ffn : 0), du = [S](repeating: 0, count: T * ffn)
        var dxn2 = [S](repeating: 0, count: T * d), dxn1 = [S](repeating: 0, count: T * d), datt = [S](repeating: 0, count: T * qd)
        var dq = [S](repeating: 0, count: T * qd), dk = [S](repeating: 0, count: T * kv), dv = [S](repeating: 0, count: T * kv)
        var P = [S](repeating: 0, count: T * T), dP = [S](repeating: 0, count: T * T)
        let scale = 1 / S.sqrt(S(hd))
        for (l, L) in layout.layers.enumerated().reversed() {
            let lc = cache.layers[l]
            // MLP: out = in + down(act(...)); its upstream is dx (the layer's output gradient).
            matmulBackward(lc.act, L.wd, L.bd, rows: T, inDim: ffn, out: d, dy: dx, dx: &dact, accumulate: false)
            switch c.mlp {
            case .swiglu:
                for i in 0..<(T * ffn) {
                    let a = lc.g[i], sg = 1 / (1 + S.exp(-a)), silu = a * sg
                    du[i] = dact[i] * silu
                    dg[i] = dact[i] * lc.u[i] * sg * (1 + a * (1 - sg))
                }
                matmulBackward(lc.xn2, L.wg!, L.bg, rows: T, inDim: d, out: ffn, dy: dg, dx: &dxn2, accumulate: false)
                matmulBackward(lc.xn2, L.wu, L.bu, rows: T, inDim: d, out: ffn, dy: du, dx: &dxn2, accumulate: true)
            case .gelu:
                for i in 0..<(T * ffn) {
                    let a = Double(lc.u[i])
                    let cdf = 0.5 * (1 + erf(a * 0.70710678118654752)), pdf = exp(-0.5 * a * a) * 0.3989422804014327
                    du[i] = dact[i] * S(cdf + a * pdf)
                }
                matmulBackward(lc.xn2, L.wu, L.bu, rows: T, inDim: d, out: ffn, dy: du, dx: &dxn2, accumulate: false)
            case .geluTanh:
                for i in 0..<(T * ffn) {
                    let a = lc.u[i], k = S(0.79788456080286536), t = S.tanh(k * (a + S(0.044715) * a * a * a))
                    du[i] = dact[i] * (S(0.5) * (1 + t) + S(0.5) * a * (1 - t * t) * k * (1 + 3 * S(0.044715) * a * a))
                }
                matmulBackward(lc.xn2, L.wu, L.bu, rows: T, inDim: d, out: ffn, dy: du, dx: &dxn2, accumulate: false)
            }
            // Serial: the MLP's input is norm2(xMid), xMid = xIn + attention; the attention's upstream
            // is dx plus what flows back through norm2. Parallel: both branches read norm(xIn).
            var dMid = dx
            if !c.parallelResidual { normalizeBackward(lc.xMid, L.norm2, L.norm2Bias, rows: T, dy: dxn2, dx: &dMid, accumulate: true) }
            // Attention output projection.
            matmulBackward(lc.att, L.wo, L.bo, rows: T, inDim: qd, out: d, dy: dMid, dx: &datt, accumulate: false)
            for i in 0..<dk.count { dk[i] = 0; dv[i] = 0 }
            lc.q.withUnsafeBufferPointer { qp in lc.k.withUnsafeBufferPointer { kp in lc.v.withUnsafeBufferPointer { vp in
                P.withUnsafeMutableBufferPointer { Pp in dP.withUnsafeMutableBufferPointer { dPp in
                    for h in 0..<c.heads {
                        let kh = h / group
                        probabilities(qp.baseAddress!, kp.baseAddress!, head: h, cache.mask!, Pp.baseAddress!)
                        datt.withUnsafeBufferPointer { dap in
                            // dP = datt_h v^T; dv += P^T datt_h.
                            S.gemm(transA: false, transB: true, m: T, n: T, k: hd, alpha: 1, a: dap.baseAddress! + h * hd, lda: qd,
                                   b: vp.baseAddress! + kh * hd, ldb: kv, beta: 0, c: dPp.baseAddress!, ldc: T)
                            dv.withUnsafeMutableBufferPointer { dvp in
                                S.gemm(transA: true, transB: false, m: T, n: hd, k: T, alpha: 1, a: Pp.baseAddress!, lda: T,
                                       b: dap.baseAddress! + h * hd, ldb: qd, beta: 1, c: dvp.baseAddress! + kh * hd, ldc: kv)
                            }
                        }
                        // dS = P * (dP - rowsum(dP * P)), in place in dP.
                        for t in 0..<T {
                            let pr = Pp.baseAddress! + t * T, dr = dPp.baseAddress! + t * T
                            var dot: S = 0
                            for s in 0...t { dot += pr[s] * dr[s] }
                            for s in 0..<T { dr[s] = pr[s] * (dr[s] - dot) }
                        }
                        dq.withUnsafeMutableBufferPointer { dqp in
                            S.gemm(transA: false, transB: false, m: T, n: hd, k: T, alpha: scale, a: dPp.baseAddress!, lda: T,
                                   b: kp.baseAddress! + kh * hd, ldb: kv, beta: 0, c: dqp.baseAddress! + h * hd, ldc: qd)
                        }
                        dk.withUnsafeMutableBufferPointer { dkp in
                            S.gemm(transA: true, transB: false, m: T, n: hd, k: T, alpha: scale, a: dPp.baseAddress!, lda: T,
                                   b: qp.baseAddress! + h * hd, ldb: qd, beta: 1, c: dkp.baseAddress! + kh * hd, ldc: kv)
                        }
                    }
                } }
            } } }
            if c.rotaryDim > 0 {
                rope(&dq, rows: T, heads: c.heads, tables: cache.rot!, inverse: true)
                rope(&dk, rows: T, heads: c.kvHeads, tables: cache.rot!, inverse: true)
            }
            matmulBackward(lc.xn1, L.wq, L.bq, rows: T, inDim: d, out: qd, dy: dq, dx: &dxn1, accumulate: false)
            matmulBackward(lc.xn1, L.wk, L.bk, rows: T, inDim: d, out: kv, dy: dk, dx: &dxn1, accumulate: true)
            matmulBackward(lc.xn1, L.wv, L.bv, rows: T, inDim: d, out: kv, dy: dv, dx: &dxn1, accumulate: true)
            // The layer's input gradient: the residual (dMid), norm1's path, and in parallel norm2's.
            dx = dMid
            normalizeBackward(lc.xIn, L.norm1, L.norm1Bias, rows: T, dy: dxn1, dx: &dx, accumulate: true)
            if c.parallelResidual { normalizeBackward(lc.xIn, L.norm2, L.norm2Bias, rows: T, dy: dxn2, dx: &dx, accumulate: true) }
        }
        let e = layout.embed.at
        for t in 0..<T { let id = Int(tokens[t]); for i in 0..<d { gp[e + id * d + i] += dx[t * d + i] } }
    }
}

/// What one layer's forward keeps for its backward pass.
struct LayerCache<S: GPTScalar> {
    var xIn: [S], xn1: [S], q: [S], k: [S], v: [S], att: [S], xMid: [S], xn2: [S], g: [S], u: [S], act: [S]
}

/// A forward pass's saved activations (attention probabilities are recomputed in the backward pass).
final class DecoderCache<S: GPTScalar> {
    var layers: [LayerCache<S>] = []
    var mask: DecoderModel<S>.AttentionMask?
    var rot: (cos: [S], sin: [S])?
    var pendingG: [S] = [], pendingU: [S] = []
    func begin(mask: DecoderModel<S>.AttentionMask, rot: (cos: [S], sin: [S])) { self.mask = mask; self.rot = rot; layers = [] }
}
