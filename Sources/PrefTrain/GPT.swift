// GPT-2 with hand-written forward and backward passes over flat buffers (the layout of llm.c's
// train_gpt2.c): parameters in one allocation, gradients in another, one forward and one backward
// function per layer. A forward pass takes a `PackedBatch` (rows of tokens with position ids and,
// for preference pairs, a shared prompt with one branch per reply) and returns the summed
// log-probability of each sequence's target tokens; backward takes d(loss)/d(logp) per sequence.
import Foundation
import PrefIO

public struct GPTConfig: Codable, Equatable, Sendable {
    public var vocabSize: Int
    public var maxT: Int
    public var nLayer: Int
    public var nHead: Int
    public var nEmbd: Int
    public init(vocabSize: Int, maxT: Int, nLayer: Int, nHead: Int, nEmbd: Int) {
        self.vocabSize = vocabSize; self.maxT = maxT; self.nLayer = nLayer; self.nHead = nHead; self.nEmbd = nEmbd
    }

    /// Checks every size (they may come from a file) before anything is allocated: each within its
    /// range, the heads dividing the width, and no product overflowing.
    public func validate(_ origin: String) throws {
        func range(_ v: Int, _ name: String, _ r: ClosedRange<Int>) throws { try checkSize(v, name, r, origin) }
        try range(vocabSize, "vocab_size", 1...(1 << 21))
        try range(maxT, "n_positions", 1...(1 << 17))
        try range(nLayer, "n_layer", 1...1024)
        try range(nHead, "n_head", 1...1024)
        try range(nEmbd, "n_embd", 1...(1 << 16))
        guard nEmbd % nHead == 0 else { throw TrainError("\(origin): n_embd (\(nEmbd)) is not a multiple of n_head (\(nHead))") }
    }
}

/// A size read from a model file within its range, or one sentence naming the file, the size and the range.
func checkSize(_ v: Int, _ name: String, _ r: ClosedRange<Int>, _ origin: String) throws {
    guard r.contains(v) else { throw TrainError("\(origin): \(name) is \(v); it must be from \(r.lowerBound) to \(r.upperBound)") }
}

/// How much memory a model may take: the machine's memory, or less where the process is limited
/// (`ulimit -v`) or a command's `--memory-limit` says so.
public enum ModelBudget {
    nonisolated(unsafe) public static var limit: Int? = nil

    public static var bytes: Int { min(SystemMemory.available, limit ?? .max) }

    /// Sums element counts times the element size, or nil on overflow.
    static func total(_ counts: [Int], elementBytes: Int) -> Int? {
        var t = 0
        for c in counts {
            let (m, o1) = c.multipliedReportingOverflow(by: elementBytes)
            let (s, o2) = t.addingReportingOverflow(m)
            if o1 || o2 || c < 0 { return nil }
            t = s
        }
        return t
    }

    public static func check(_ counts: [Int], elementBytes: Int, what: String) throws {
        let budget = bytes
        guard let need = total(counts, elementBytes: elementBytes), need <= budget else {
            let need = total(counts, elementBytes: elementBytes).map { String(format: "%.1f GB", Double($0) / 1e9) } ?? "more than can be counted"
            throw TrainError("\(what) would need \(need) of memory; \(String(format: "%.1f GB", Double(budget) / 1e9)) is available (use smaller sizes)")
        }
    }
}

/// Names and sizes of the parameter tensors, in storage order.
public enum ParamTensor: Int, CaseIterable, Sendable {
    case wte, wpe, ln1w, ln1b, qkvw, qkvb, attprojw, attprojb, ln2w, ln2b, fcw, fcb, fcprojw, fcprojb, lnfw, lnfb

    func size(_ c: GPTConfig) -> Int {
        let C = c.nEmbd, L = c.nLayer
        switch self {
        case .wte: return c.vocabSize * C
        case .wpe: return c.maxT * C
        case .ln1w, .ln1b, .ln2w, .ln2b, .attprojb, .fcprojb: return L * C
        case .qkvw: return L * 3 * C * C
        case .qkvb: return L * 3 * C
        case .attprojw: return L * C * C
        case .fcw, .fcprojw: return L * 4 * C * C
        case .fcb: return L * 4 * C
        case .lnfw, .lnfb: return C
        }
    }

    /// Weight decay applies to matrices (embeddings and linear weights), not biases or LayerNorm.
    var decays: Bool {
        switch self {
        case .wte, .wpe, .qkvw, .attprojw, .fcw, .fcprojw: return true
        default: return false
        }
    }
}

public final class GPT<S: GPTScalar> {
    public let config: GPTConfig
    public let params: Buffer<S>
    public let grads: Buffer<S>
    public let offsets: [Int]
    public var threads: Int
    // Activations, sized for (maxB, maxT).
    let maxB: Int
    var acts: [String: Buffer<S>] = [:]
    /// Longest row a forward pass takes (a packed pair holds a prompt and two replies).
    public let maxSequence: Int
    var B = 0, T = 0
    var batch = PackedBatch.empty

    /// Room for `maxBatch` sequences of `config.maxT` tokens; a row may be up to `maxSequence`
    /// tokens long (default 2 * maxT, for packed pairs) as long as the batch holds at most
    /// maxBatch * maxT tokens.
    /// Sizes are checked first (`GPTConfig.validate`) and the memory the model and its activations
    /// need is compared with `ModelBudget` before anything is allocated.
    public init(config: GPTConfig, maxBatch: Int, threads: Int = 1, maxSequence: Int? = nil) throws {
        _ = BLAS.core
        try config.validate("model")
        guard (1...(1 << 20)).contains(maxBatch) else { throw TrainError("batch of \(maxBatch) sequences is out of range") }
        let maxSequence = maxSequence ?? 2 * config.maxT
        // Every count below in checked arithmetic: no product of sizes may overflow.
        func mul(_ xs: Int...) -> Int {
            var r = 1
            for x in xs { let (m, o) = r.multipliedReportingOverflow(by: x); r = o ? Int.max : m }
            return r
        }
        let C = config.nEmbd, L = config.nLayer, BT = mul(maxBatch, config.maxT), NH = config.nHead
        // Attention scores: B * T * T <= (tokens) * (longest row).
        let attCap = mul(NH, BT, maxSequence)
        let paramCounts = ParamTensor.allCases.map { t -> Int in
            switch t {
            case .wte: return mul(config.vocabSize, C)
            case .wpe: return mul(config.maxT, C)
            case .qkvw: return mul(L, 3, C, C)
            case .attprojw: return mul(L, C, C)
            case .fcw, .fcprojw: return mul(L, 4, C, C)
            default: return t.size(config)
            }
        }
        let sizes: [(String, Int)] = [
            ("encoded", mul(BT, C)), ("ln1", mul(L, BT, C)), ("ln1mean", mul(L, BT)), ("ln1rstd", mul(L, BT)), ("qkv", mul(L, BT, 3, C)),
            ("atty", mul(L, BT, C)), ("att", mul(L, attCap)), ("attproj", mul(L, BT, C)), ("residual2", mul(L, BT, C)),
            ("ln2", mul(L, BT, C)), ("ln2mean", mul(L, BT)), ("ln2rstd", mul(L, BT)), ("fch", mul(L, BT, 4, C)), ("fchgelu", mul(L, BT, 4, C)),
            ("fcproj", mul(L, BT, C)), ("residual3", mul(L, BT, C)), ("lnf", mul(BT, C)), ("lnfmean", BT), ("lnfrstd", BT), ("lnfrows", mul(BT, C)),
            ("logits", mul(BT, config.vocabSize)),
            // Gradient scratch, reused layer by layer.
            ("dres", mul(BT, C)), ("dres2", mul(BT, C)), ("dln", mul(BT, C)), ("datty", mul(BT, C)), ("dqkv", mul(BT, 3, C)),
            ("dfch", mul(BT, 4, C)), ("dfchgelu", mul(BT, 4, C)), ("datt", attCap), ("dtmp", mul(BT, C)),
        
        ]
        try ModelBudget.check(paramCounts + paramCounts + sizes.map(\.1), elementBytes: MemoryLayout<S>.size,
                              what: "a model of \(L) layers, width \(C), vocabulary \(config.vocabSize) and \(maxBatch) x \(config.maxT) tokens per batch")
        self.config = config
        self.maxB = maxBatch
        self.maxSequence = maxSequence
        self.threads = max(1, threads)
        var off: [Int] = [], total = 0
        for t in ParamTensor.allCases { off.append(total); total += t.size(config) }
        offsets = off
        params = Buffer(total)
        grads = Buffer(total)
        for (n, s) in sizes { acts[n] = Buffer(s) }
    }

    public var parameterCount: Int { params.count }

    @inline(__always) public func param(_ t: ParamTensor) -> UnsafeMutablePointer<S> { params.p + offsets[t.rawValue] }
    @inline(__always) public func grad(_ t: ParamTensor) -> UnsafeMutablePointer<S> { grads.p + offsets[t.rawValue] }
    @inline(__always) func a(_ n: String) -> UnsafeMutablePointer<S> { acts[n]!.p }

    /// GPT-2 initialization: N(0, 0.02) weights, residual projections scaled by 1/sqrt(2 L),
    /// zero biases, unit LayerNorm gains. Deterministic for a seed.
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func initialize(seed: UInt64) {
        var rng = Normal(seed: seed)
        params.zero()
        let residualScale = 1 / Double(2 * config.nLayer).squareRoot()
        for t in ParamTensor.allCases {
            let p = param(t), n = t.size(config)
            switch t {
            case .ln1w, .ln2w, .lnfw: for i in 0..<n { p[i] = 1 }
            case .wte, .wpe, .qkvw, .fcw: for i in 0..<n { p[i] = S(rng.next() * 0.02) }
            case .attprojw, .fcprojw: for i in 0..<n { p[i] = S(rng.next() * 0.02 * residualScale) }
            default: break
            }
        }
    }

    // MARK: - Forward

    /// Runs the model on B sequences of length T (row-major [B][T]); returns per-sequence summed
    /// log-probabilities of `targets` where `mask` is 1, and the masked token counts.
    @discardableResult
    public func forward(tokens: [Int32], targets: [Int32], mask: [S], B: Int, T: Int) -> (logp: [Double], count: [Int]) {
        precondition(tokens.count == B * T && targets.count == B * T && mask.count == B * T)
        var pb = PackedBatch(B: B, T: T, tokens: tokens, positions: (0..<(B * T)).map { Int32($0 % T) })
        for r in 0..<(B * T) where mask[r] != 0 { pb.add(row: r, target: targets[r], sequence: r / T) }
        pb.sequences = B
        return forward(pb)
    }

    /// Runs the model on a packed batch; returns per-sequence summed log-probabilities of the
    /// batch's targets, and their counts.
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    @discardableResult
    public func forward(_ pb: PackedBatch) -> (logp: [Double], count: [Int]) {
        let B = pb.B, T = pb.T
        precondition(B * T <= maxB * config.maxT && T <= maxSequence, "batch of \(B) x \(T) exceeds the model's buffers")
        precondition(pb.positions.allSatisfy { $0 >= 0 && Int($0) < config.maxT }, "position beyond max_t")
        self.B = B; self.T = T
        self.batch = pb
        let C = config.nEmbd, L = config.nLayer, BT = B * T, V = config.vocabSize
        encoderForward()
        for l in 0..<L {
            let residual = l == 0 ? a("encoded") : a("residual3") + (l - 1) * BT * C
            let ln1 = a("ln1") + l * BT * C, qkv = a("qkv") + l * BT * 3 * C, atty = a("atty") + l * BT * C
            let att = a("att") + l * B * config.nHead * T * T, attproj = a("attproj") + l * BT * C
            let res2 = a("residual2") + l * BT * C, ln2 = a("ln2") + l * BT * C
            let fch = a("fch") + l * BT * 4 * C, fchg = a("fchgelu") + l * BT * 4 * C
            let fcproj = a("fcproj") + l * BT * C, res3 = a("residual3") + l * BT * C
            layernormForward(ln1, a("ln1mean") + l * BT, a("ln1rstd") + l * BT, residual, param(.ln1w) + l * C, param(.ln1b) + l * C, BT)
            matmulForward(qkv, ln1, param(.qkvw) + l * 3 * C * C, param(.qkvb) + l * 3 * C, BT, C, 3 * C)
            attentionForward(atty, att, qkv)
            matmulForward(attproj, atty, param(.attprojw) + l * C * C, param(.attprojb) + l * C, BT, C, C)
            residualForward(res2, residual, attproj, BT * C)
            layernormForward(ln2, a("ln2mean") + l * BT, a("ln2rstd") + l * BT, res2, param(.ln2w) + l * C, param(.ln2b) + l * C, BT)
            matmulForward(fch, ln2, param(.fcw) + l * 4 * C * C, param(.fcb) + l * 4 * C, BT, C, 4 * C)
            geluForward(fchg, fch, BT * 4 * C)
            matmulForward(fcproj, fchg, param(.fcprojw) + l * 4 * C * C, param(.fcprojb) + l * C, BT, 4 * C, C)
            residualForward(res3, res2, fcproj, BT * C)
        }
        let last = a("residual3") + (L - 1) * BT * C
        layernormForward(a("lnf"), a("lnfmean"), a("lnfrstd"), last, param(.lnfw), param(.lnfb), BT)
        // Tied LM head on the rows whose targets count (response tokens): logits = lnf[rows] @ wte^T.
        // Prompt positions need no logits, and they are most of a preference pair's tokens. In a
        // packed pair the prompt's last position predicts the first token of both replies, so a row
        // can appear twice (with two targets).
        let M = pb.rows.count
        var logp = [Double](repeating: 0, count: pb.sequences), count = [Int](repeating: 0, count: pb.sequences)
        guard M > 0 else { return (logp, count) }
        precondition(M <= maxB * config.maxT, "more targets than the model's buffers hold")
        let lnf = a("lnf"), sel = a("lnfrows")
        for (k, r) in pb.rows.enumerated() { (sel + k * C).update(from: lnf + Int(r) * C, count: C) }
        S.gemm(transA: false, transB: true, m: M, n: V, k: C, alpha: 1, a: sel, lda: C, b: param(.wte), ldb: C, beta: 0, c: a("logits"), ldc: V)
        // Log-softmax of each of those rows; keep the probabilities for backward.
        var tokLogp = [Double](repeating: 0, count: M)
        let logits = a("logits")
        let tg = pb.targets
        tokLogp.withUnsafeMutableBufferPointer { tl in
            let tlp = tl
            parallelRows(M) { k in
                let row = logits + k * V
                var mx = row[0]
                for v in 1..<V where row[v] > mx { mx = row[v] }
                var sum: S = 0
                for v in 0..<V { let e = S.exp(row[v] - mx); row[v] = e; sum += e }
                let inv = 1 / sum
                for v in 0..<V { row[v] *= inv }
                tlp[k] = Double(S.log(max(row[Int(tg[k])], S.leastNormalMagnitude)))
            }
        }
        for k in 0..<M {
            let q = Int(pb.sequence[k])
            logp[q] += tokLogp[k]
            count[q] += 1
        }
        return (logp, count)
    }

    /// Runs `body` over 0..<n in contiguous blocks spread over the threads. Every caller writes
    /// only the rows (or elements) of its own index, which is what makes sharing `body` safe.
    func parallelRows(_ n: Int, _ body: (Int) -> Void) {
        if threads <= 1 || n < 64 { for r in 0..<n { body(r) }; return }
        let chunks = threads * 4
        withoutActuallyEscaping(body) { work in
            nonisolated(unsafe) let work = work
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = n * c / chunks, hi = n * (c + 1) / chunks
                for r in lo..<hi { work(r) }
            }
        }
    }

    func encoderForward() {
        let C = config.nEmbd
        let out = a("encoded"), wte = param(.wte), wpe = param(.wpe)
        let tokens = batch.tokens, positions = batch.positions
        for r in 0..<(B * T) {
            let o = out + r * C, e = wte + Int(tokens[r]) * C, p = wpe + Int(positions[r]) * C
            for i in 0..<C { o[i] = e[i] + p[i] }
        }
    }

    func layernormForward(_ out: UnsafeMutablePointer<S>, _ mean: UnsafeMutablePointer<S>, _ rstd: UnsafeMutablePointer<S>,
                          _ inp: UnsafeMutablePointer<S>, _ w: UnsafeMutablePointer<S>, _ bias: UnsafeMutablePointer<S>, _ rows: Int) {
        let C = config.nEmbd
        parallelRows(rows) { r in
            let x = inp + r * C, o = out + r * C
            var m: S = 0
            for i in 0..<C { m += x[i] }
            m /= S(C)
            var v: S = 0
            for i in 0..<C { let d = x[i] - m; v += d * d }
            v /= S(C)
            let s = 1 / S.sqrt(v + S(1e-5))
            for i in 0..<C { o[i] = (x[i] - m) * s * w[i] + bias[i] }
            mean[r] = m; rstd[r] = s
        }
    }

    /// out (rows x OC) = inp (rows x IC) @ W^T (W is OC x IC) + bias.
    func matmulForward(_ out: UnsafeMutablePointer<S>, _ inp: UnsafeMutablePointer<S>, _ w: UnsafeMutablePointer<S>,
                       _ bias: UnsafeMutablePointer<S>, _ rows: Int, _ IC: Int, _ OC: Int) {
        for r in 0..<rows { (out + r * OC).update(from: bias, count: OC) }
        S.gemm(transA: false, transB: true, m: rows, n: OC, k: IC, alpha: 1, a: inp, lda: IC, b: w, ldb: IC, beta: 1, c: out, ldc: OC)
    }

    /// Causal self-attention per (batch, head) with matrix products: scores = Q K^T / sqrt(hs),
    /// row-wise causal softmax, out = att V. Q, K, V are strided views into qkv. In a packed row a
    /// reply's tokens see the shared prompt and their own reply, not the other reply: the masked
    /// weights are exactly 0, so the backward pass needs no mask of its own.
    func attentionForward(_ out: UnsafeMutablePointer<S>, _ att: UnsafeMutablePointer<S>, _ qkv: UnsafeMutablePointer<S>) {
        let C = config.nEmbd, NH = config.nHead, hs = C / NH, T = self.T, B = self.B
        let scale = 1 / S.sqrt(S(hs))
        for bh in 0..<(B * NH) {
            let b = bh / NH, h = bh % NH
            let q = qkv + b * T * 3 * C + h * hs, k = q + C, v = q + 2 * C
            let a = att + bh * T * T
            S.gemm(transA: false, transB: true, m: T, n: T, k: hs, alpha: scale, a: q, lda: 3 * C, b: k, ldb: 3 * C, beta: 0, c: a, ldc: T)
            let branch = batch.branch
            for t in 0..<T {
                let row = a + t * T
                if branch.isEmpty || branch[b * T + t] == 0 {
                    var mx = row[0]
                    for t2 in 1...max(1, t) where t2 <= t && row[t2] > mx { mx = row[t2] }
                    var sum: S = 0
                    for t2 in 0...t { let e = S.exp(row[t2] - mx); row[t2] = e; sum += e }
                    let inv = 1 / sum
                    for t2 in 0...t { row[t2] *= inv }
                } else {
                    let mine = branch[b * T + t], br = b * T
                    var mx = -S.greatestFiniteMagnitude
                    for t2 in 0...t where branch[br + t2] == 0 || branch[br + t2] == mine { mx = max(mx, row[t2]) }
                    var sum: S = 0
                    for t2 in 0...t {
                        if branch[br + t2] == 0 || branch[br + t2] == mine { let e = S.exp(row[t2] - mx); row[t2] = e; sum += e } else { row[t2] = 0 }
                    }
                    let inv = 1 / sum
                    for t2 in 0...t { row[t2] *= inv }
                }
                for t2 in (t + 1)..<T { row[t2] = 0 }
            }
            S.gemm(transA: false, transB: false, m: T, n: hs, k: T, alpha: 1, a: a, lda: T, b: v, ldb: 3 * C, beta: 0, c: out + b * T * C + h * hs, ldc: C)
        }
    }

    func residualForward(_ out: UnsafeMutablePointer<S>, _ x: UnsafeMutablePointer<S>, _ y: UnsafeMutablePointer<S>, _ n: Int) {
        for i in 0..<n { out[i] = x[i] + y[i] }
    }

    static var geluScale: S { S(0.7978845608028654) }   // sqrt(2 / pi)

    /// tanh through one exp: 1 - 2 / (e^(2u) + 1); saturates correctly at both ends, and costs a
    /// third of libm's tanhf. The same function serves forward and backward.
    @inline(__always) static func fastTanh(_ u: S) -> S { 1 - 2 / (S.exp(2 * u) + 1) }

    /// Runs `body` over 0..<n in blocks of 1,024 elements spread over the threads.
    func parallelElements(_ n: Int, _ body: (Int) -> Void) {
        parallelRows(n / 1024 + 1) { c in
            var i = c * 1024
            let hi = min(n, i + 1024)
            while i < hi { body(i); i += 1 }
        }
    }

    func geluForward(_ out: UnsafeMutablePointer<S>, _ inp: UnsafeMutablePointer<S>, _ n: Int) {
        let k = GPT.geluScale
        parallelElements(n) { i in
            let x = inp[i]
            out[i] = S(0.5) * x * (1 + GPT.fastTanh(k * (x + S(0.044715) * x * x * x)))
        }
    }

    // MARK: - Backward

    public func zeroGrad() { grads.zero() }

    /// Accumulates into `grads` the gradient of a loss whose derivative with respect to each
    /// sequence's summed log-probability is `dlogp[b]`.
    @_specialize(exported: true, where S == Float)
    @_specialize(exported: true, where S == Double)
    public func backward(dlogp: [Double]) {
        let C = config.nEmbd, L = config.nLayer, BT = B * T, V = config.vocabSize
        // dlogits = dlogp * mask * (onehot(target) - probs), in place of the probabilities, for the
        // rows the forward pass computed (every other row's gradient is zero).
        let logits = a("logits")
        let pb = batch
        let M = pb.rows.count
        precondition(dlogp.count == pb.sequences)
        parallelRows(M) { k in
            let row = logits + k * V
            let g = S(dlogp[Int(pb.sequence[k])])
            if g == 0 { for v in 0..<V { row[v] = 0 }; return }
            for v in 0..<V { row[v] = -g * row[v] }
            row[Int(pb.targets[k])] += g
        }
        let dres = a("dres")
        dres.update(repeating: 0, count: BT * C)
        let dln = a("dln")
        dln.update(repeating: 0, count: BT * C)
        if M > 0 {
            // LM head (tied): dwte += dlogits^T @ lnf[rows]; dlnf[rows] = dlogits @ wte.
            let sel = a("lnfrows")
            S.gemm(transA: true, transB: false, m: V, n: C, k: M, alpha: 1, a: logits, lda: V, b: sel, ldb: C, beta: 1, c: grad(.wte), ldc: C)
            S.gemm(transA: false, transB: false, m: M, n: C, k: V, alpha: 1, a: logits, lda: V, b: param(.wte), ldb: C, beta: 0, c: sel, ldc: C)
            // A row listed twice (a packed pair's last prompt position) gets both gradients.
            for (k, r) in pb.rows.enumerated() {
                let d = dln + Int(r) * C, g = sel + k * C
                for i in 0..<C { d[i] += g[i] }
            }
        }
        layernormBackward(dres, grad(.lnfw), grad(.lnfb), dln, a("residual3") + (L - 1) * BT * C, param(.lnfw), a("lnfmean"), a("lnfrstd"), BT)

        for l in stride(from: L - 1, through: 0, by: -1) {
            let residual = l == 0 ? a("encoded") : a("residual3") + (l - 1) * BT * C
            let ln1 = a("ln1") + l * BT * C, qkv = a("qkv") + l * BT * 3 * C, atty = a("atty") + l * BT * C
            let att = a("att") + l * B * config.nHead * T * T
            let res2 = a("residual2") + l * BT * C, ln2 = a("ln2") + l * BT * C
            let fch = a("fch") + l * BT * 4 * C, fchg = a("fchgelu") + l * BT * 4 * C
            // dres holds d(residual3[l]). The residual branch passes it to residual2 unchanged.
            let dres2 = a("dres2")
            dres2.update(from: dres, count: BT * C)
            let dfchg = a("dfchgelu"), dfch = a("dfch")
            dfchg.update(repeating: 0, count: BT * 4 * C)
            matmulBackward(dfchg, grad(.fcprojw) + l * 4 * C * C, grad(.fcprojb) + l * C, dres, fchg, param(.fcprojw) + l * 4 * C * C, BT, 4 * C, C)
            geluBackward(dfch, fch, dfchg, BT * 4 * C)
            dln.update(repeating: 0, count: BT * C)
            matmulBackward(dln, grad(.fcw) + l * 4 * C * C, grad(.fcb) + l * 4 * C, dfch, ln2, param(.fcw) + l * 4 * C * C, BT, C, 4 * C)
            layernormBackward(dres2, grad(.ln2w) + l * C, grad(.ln2b) + l * C, dln, res2, param(.ln2w) + l * C, a("ln2mean") + l * BT, a("ln2rstd") + l * BT, BT)
            // dres2 = d(residual2[l]); it flows to the layer input and into the attention branch.
            dres.update(from: dres2, count: BT * C)
            let datty = a("datty"), dqkv = a("dqkv")
            datty.update(repeating: 0, count: BT * C)
            matmulBackward(datty, grad(.attprojw) + l * C * C, grad(.attprojb) + l * C, dres2, atty, param(.attprojw) + l * C * C, BT, C, C)
            dqkv.update(repeating: 0, count: BT * 3 * C)
            attentionBackward(dqkv, datty, qkv, att)
            dln.update(repeating: 0, count: BT * C)
            matmulBackward(dln, grad(.qkvw) + l * 3 * C * C, grad(.qkvb) + l * 3 * C, dqkv, ln1, param(.qkvw) + l * 3 * C * C, BT, C, 3 * C)
            layernormBackward(dres, grad(.ln1w) + l * C, grad(.ln1b) + l * C, dln, residual, param(.ln1w) + l * C, a("ln1mean") + l * BT, a("ln1rstd") + l * BT, BT)
        }
        // Embeddings.
        let dwte = grad(.wte), dwpe = grad(.wpe)
        for r in 0..<BT {
            let d = dres + r * C, e = dwte + Int(pb.tokens[r]) * C, p = dwpe + Int(pb.positions[r]) * C
            for i in 0..<C { e[i] += d[i]; p[i] += d[i] }
        }
    }

    /// dinp += dout @ W; dW += dout^T @ inp; dbias += column sums of dout.
    func matmulBackward(_ dinp: UnsafeMutablePointer<S>, _ dw: UnsafeMutablePointer<S>, _ dbias: UnsafeMutablePointer<S>,
                        _ dout: UnsafeMutablePointer<S>, _ inp: UnsafeMutablePointer<S>, _ w: UnsafeMutablePointer<S>,
                        _ rows: Int, _ IC: Int, _ OC: Int) {
        S.gemm(transA: false, transB: false, m: rows, n: IC, k: OC, alpha: 1, a: dout, lda: OC, b: w, ldb: IC, beta: 1, c: dinp, ldc: IC)
        S.gemm(transA: true, transB: false, m: OC, n: IC, k: rows, alpha: 1, a: dout, lda: OC, b: inp, ldb: IC, beta: 1, c: dw, ldc: IC)
        for r in 0..<rows {
            let d = dout + r * OC
            for o in 0..<OC { dbias[o] += d[o] }
        }
    }

    func layernormBackward(_ dinp: UnsafeMutablePointer<S>, _ dw: UnsafeMutablePointer<S>, _ db: UnsafeMutablePointer<S>,
                           _ dout: UnsafeMutablePointer<S>, _ inp: UnsafeMutablePointer<S>, _ w: UnsafeMutablePointer<S>,
                           _ mean: UnsafeMutablePointer<S>, _ rstd: UnsafeMutablePointer<S>, _ rows: Int) {
        let C = config.nEmbd
        // Parameter gradients are summed over rows serially (a fixed order keeps results reproducible).
        for r in 0..<rows {
            let x = inp + r * C, d = dout + r * C
            let m = mean[r], s = rstd[r]
            for i in 0..<C { let n = (x[i] - m) * s; dw[i] += n * d[i]; db[i] += d[i] }
        }
        parallelRows(rows) { r in
            let x = inp + r * C, d = dout + r * C, dx = dinp + r * C
            let m = mean[r], s = rstd[r]
            var dnMean: S = 0, dnNorm: S = 0
            for i in 0..<C { let n = (x[i] - m) * s; let dn = w[i] * d[i]; dnMean += dn; dnNorm += dn * n }
            dnMean /= S(C); dnNorm /= S(C)
            for i in 0..<C {
                let n = (x[i] - m) * s
                dx[i] += (w[i] * d[i] - dnMean - n * dnNorm) * s
            }
        }
    }

    func geluBackward(_ dinp: UnsafeMutablePointer<S>, _ inp: UnsafeMutablePointer<S>, _ dout: UnsafeMutablePointer<S>, _ n: Int) {
        let k = GPT.geluScale
        parallelElements(n) { i in
            let x = inp[i]
            let u = k * (x + S(0.044715) * x * x * x)
            let th = GPT.fastTanh(u)
            let sech2 = 1 - th * th
            let grad = S(0.5) * (1 + th) + S(0.5) * x * sech2 * k * (1 + 3 * S(0.044715) * x * x)
            dinp[i] = grad * dout[i]
        }
    }

    func attentionBackward(_ dqkv: UnsafeMutablePointer<S>, _ dout: UnsafeMutablePointer<S>, _ qkv: UnsafeMutablePointer<S>, _ att: UnsafeMutablePointer<S>) {
        let C = config.nEmbd, NH = config.nHead, hs = C / NH, T = self.T, B = self.B
        let scale = 1 / S.sqrt(S(hs))
        let datt = a("datt")
        for bh in 0..<(B * NH) {
            let b = bh / NH, h = bh % NH
            let q = qkv + b * T * 3 * C + h * hs, k = q + C, v = q + 2 * C
            let dq = dqkv + b * T * 3 * C + h * hs, dk = dq + C, dv = dq + 2 * C
            let a = att + bh * T * T, d = datt + bh * T * T
            let dO = dout + b * T * C + h * hs
            // datt = dout V^T; dV += att^T dout.
            S.gemm(transA: false, transB: true, m: T, n: T, k: hs, alpha: 1, a: dO, lda: C, b: v, ldb: 3 * C, beta: 0, c: d, ldc: T)
            S.gemm(transA: true, transB: false, m: T, n: hs, k: T, alpha: 1, a: a, lda: T, b: dO, ldb: C, beta: 1, c: dv, ldc: 3 * C)
            // Softmax backward (causal rows), scaled: dscores.
            for t in 0..<T {
                let ar = a + t * T, dr = d + t * T
                var dot: S = 0
                for t2 in 0...t { dot += ar[t2] * dr[t2] }
                for t2 in 0...t { dr[t2] = ar[t2] * (dr[t2] - dot) * scale }
                for t2 in (t + 1)..<T { dr[t2] = 0 }
            }
            // dQ += dscores K; dK += dscores^T Q.
            S.gemm(transA: false, transB: false, m: T, n: hs, k: T, alpha: 1, a: d, lda: T, b: k, ldb: 3 * C, beta: 1, c: dq, ldc: 3 * C)
            S.gemm(transA: true, transB: false, m: T, n: hs, k: T, alpha: 1, a: d, lda: T, b: q, ldb: 3 * C, beta: 1, c: dk, ldc: 3 * C)
        }
    }
}

/// Standard normal numbers from a seeded splitmix64 stream (Box-Muller), reproducible everywhere.
public struct Normal {
    var rng: SplitMix64
    var spare: Double?
    public init(seed: UInt64) { rng = SplitMix64(state: seed &+ 0x9E37_79B9_7F4A_7C15) }
    mutating func u64() -> UInt64 { rng.next() }
    public mutating func uniform() -> Double { Double(u64() >> 11) / Double(1 << 53) }
    public mutating func next() -> Double {
        if let s = spare { spare = nil; return s }
        let u1 = max(uniform(), 1e-300), u2 = uniform()
        let r = (-2 * Foundation.log(u1)).squareRoot()
        spare = r * Foundation.sin(2 * .pi * u2)
        return r * Foundation.cos(2 * .pi * u2)
    }
}
