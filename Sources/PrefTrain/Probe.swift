// `prefkit score --model PRETRAINED --method probe`: a pretrained model reads every sampled pair
// once (forward only, the prompt once per pair), each reply becomes a pooled representation (the
// mean of its tokens' final hidden states) and the model's summed log-probability; a
// Bradley–Terry logistic model on the representation difference (chosen − rejected) is fitted with
// K-fold cross-fitting, so every training pair also gets an out-of-fold margin. From those:
// held-out accuracy, length-stratified balanced accuracy, bits beyond the label-free baselines
// (cross-fitted log-loss of baseline vs baseline + probe on the eval set, paired bootstrap
// interval), the disagreement of out-of-fold margins with the given labels and, with a trusted eval
// set, a label-noise estimate corrected for the probe's own error, and the suspect pairs.
import Foundation
import PrefCore
import PrefCurate
import PrefIO

public struct ProbeSettings: Sendable {
    public var folds = 5
    /// L2 strengths tried (per standardized feature, times the pair count); chosen by cross-validated log-loss.
    public var lambdas: [Double] = [1e-2, 1e-1, 1, 10, 100]
    public var maxLength = 512, maxPromptLength = 256
    public var maxTrainPairs = 1000
    public var evalFraction = 0.1, minEval = 200
    public var threads = 2
    public var seed: UInt64 = 0
    public var bootstrapReps = 2000
    /// Suspects: training pairs whose out-of-fold probability of the given label is below this.
    public var suspectBelow = 0.2
    public init() {}
}

/// One pair as the probe sees it.
public struct ProbePair: Sendable {
    public var id: String
    public var chosen: [Float], rejected: [Float]
    public var logpChosen: Double, logpRejected: Double
    public var nChosen: Int, nRejected: Int
    public var charsChosen: Int, charsRejected: Int
}

public enum Probe {
    // MARK: Features

    /// The probe view of each pair (nil: no reply token within the length, or not plain text),
    /// reusing and extending the cache file when one is given.
    public static func features(_ pairs: [Pair], model pm: PretrainedModel, s: ProbeSettings, cache: String?, log: Scorer.Log?) throws -> [ProbePair?] {
        var cached = cache.flatMap { try? FeatureCache.read($0, dim: pm.model.config.dim) } ?? [:]
        BLAS.setThreads(1)
        var out = [ProbePair?](repeating: nil, count: pairs.count)
        var todo: [Int] = []
        for (i, p) in pairs.enumerated() {
            let (k, swapped) = FeatureCache.key(p)
            if let c = cached[k] { out[i] = c.oriented(swapped).with(id: p.id) } else { todo.append(i) }
        }
        log?("probe: \(pairs.count - todo.count) pairs from the feature cache, \(todo.count) to run through \(pm.path)")
        let chunk = max(1, s.threads) * 8
        let t0 = Date()
        for start in stride(from: 0, to: todo.count, by: chunk) {
            let part = Array(todo[start..<min(todo.count, start + chunk)])
            let rendered: [(prompt: [Int32], chosen: [Int32], rejected: [Int32])?] = part.map { i in
                pairs[i].isPlainText ? try? pm.render(pairs[i]) : nil
            }
            let results = PretrainedModel.parallel(part.count, threads: s.threads) { k -> ProbePair? in
                let p = pairs[part[k]]
                guard let r = rendered[k],
                      let f = pm.fit(prompt: r.prompt, chosen: r.chosen, rejected: r.rejected, maxLength: s.maxLength, maxPrompt: s.maxPromptLength),
                      !f.chosen.isEmpty, !f.rejected.isEmpty else { return nil }
                let out = pm.model.replyFeatures(prompt: f.prompt, replies: [f.chosen, f.rejected])
                return ProbePair(id: p.id, chosen: out.pooled[0], rejected: out.pooled[1], logpChosen: out.logps[0], logpRejected: out.logps[1],
                                 nChosen: f.chosen.count, nRejected: f.rejected.count,
                                 charsChosen: Measure.chars(p.chosen), charsRejected: Measure.chars(p.rejected))
            }
            for (k, i) in part.enumerated() {
                out[i] = results[k]
                if let f = out[i] { let (k, swapped) = FeatureCache.key(pairs[i]); cached[k] = f.oriented(swapped) }
            }
            log?(String(format: "probe: %d of %d pairs read by the model (%.1f pairs/s)", min(start + chunk, todo.count), todo.count,
                        Double(min(start + chunk, todo.count)) / max(1e-9, Date().timeIntervalSince(t0))))
        }
        if let cache, !todo.isEmpty { try FeatureCache.write(cached, dim: pm.model.config.dim, to: cache) }
        return out
    }

    // MARK: Bradley–Terry logistic regression

    /// Weights of P(first preferred) = sigmoid(w . x) for difference vectors x (rows of `X`, n x d),
    /// L2 penalty lambda * n / 2 * |w|^2, by Newton's method (Cholesky of the d x d Hessian).
    static func fit(_ X: [Double], n: Int, d: Int, lambda: Double) -> [Double] {
        var w = [Double](repeating: 0, count: d)
        let reg = lambda * Double(n)
        for _ in 0..<30 {
            let z = margins(X, n: n, d: d, w)
            var g = w.map { reg * $0 }
            var weighted = [Double](repeating: 0, count: n * d)
            for i in 0..<n {
                let p = 1 / (1 + exp(-z[i]))
                let r = p - 1, wt = p * (1 - p)
                for j in 0..<d { g[j] += r * X[i * d + j]; weighted[i * d + j] = X[i * d + j] * wt }
            }
            var H = [Double](repeating: 0, count: d * d)
            Double.gemm(transA: true, transB: false, m: d, n: d, k: n, alpha: 1, a: weighted, lda: d, b: X, ldb: d, beta: 0, c: &H, ldc: d)
            for j in 0..<d { H[j * d + j] += reg }
            guard let step = choleskySolve(H, g, d) else { break }
            var change = 0.0
            for j in 0..<d { w[j] -= step[j]; change = max(change, abs(step[j])) }
            if change < 1e-8 { break }
        }
        return w
    }

    /// w . x for each row x of `X` (n x d).
    static func margins(_ X: [Double], n: Int, d: Int, _ w: [Double]) -> [Double] {
        (0..<n).map { i in var z = 0.0; for j in 0..<d { z += w[j] * X[i * d + j] }; return z }
    }

    /// Solves H x = g for a symmetric positive definite H.
    static func choleskySolve(_ H: [Double], _ g: [Double], _ d: Int) -> [Double]? {
        var L = H
        for j in 0..<d {
            var s = L[j * d + j]
            for k in 0..<j { s -= L[j * d + k] * L[j * d + k] }
            guard s > 0 else { return nil }
            let ljj = s.squareRoot()
            L[j * d + j] = ljj
            for i in (j + 1)..<max(j + 1, d) {
                var t = L[i * d + j]
                for k in 0..<j { t -= L[i * d + k] * L[j * d + k] }
                L[i * d + j] = t / ljj
            }
        }
        var y = g
        for i in 0..<d { var t = y[i]; for k in 0..<i { t -= L[i * d + k] * y[k] }; y[i] = t / L[i * d + i] }
        var x = y
        for i in stride(from: d - 1, through: 0, by: -1) { var t = x[i]; for k in (i + 1)..<max(i + 1, d) { t -= L[k * d + i] * x[k] }; x[i] = t / L[i * d + i] }
        return x
    }

    /// Out-of-fold margins (w . x of each row from a model fitted without its fold), folds by a seeded shuffle.
    static func crossFit(_ X: [Double], n: Int, d: Int, lambda: Double, folds: Int, seed: UInt64) -> [Double] {
        var order = Array(0..<n)
        var rng = SplitMix64(state: seed ^ 0x5EED_F01D)
        for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        var fold = [Int](repeating: 0, count: n)
        for (k, i) in order.enumerated() { fold[i] = k % folds }
        func rows(_ idx: [Int]) -> [Double] { idx.flatMap { X[($0 * d)..<($0 * d + d)] } }
        var oof = [Double](repeating: 0, count: n)
        for f in 0..<folds {
            let tr = (0..<n).filter { fold[$0] != f }, te = (0..<n).filter { fold[$0] == f }
            guard !tr.isEmpty, !te.isEmpty else { continue }
            let w = fit(rows(tr), n: tr.count, d: d, lambda: lambda)
            for (i, z) in zip(te, margins(rows(te), n: te.count, d: d, w)) { oof[i] = z }
        }
        return oof
    }

    /// Mean log-loss in bits of margins against the "first preferred" label.
    static func bits(_ z: Double) -> Double { (z > 0 ? log1p(exp(-z)) : -z + log1p(exp(z))) / log(2) }

    // MARK: The run

    public static func run(model pm: PretrainedModel, train trainIn: [Pair], eval evalIn: [Pair]?, settings s: ProbeSettings,
                           outDir: String, log: Scorer.Log?, pairsRead: Int? = nil) throws -> JSONValue {
        let t0 = Date()
        var ss = ScoreSettings.preset(.quick)
        ss.evalFraction = s.evalFraction; ss.minEval = s.minEval; ss.seed = s.seed
        let (evalSet, trains) = Scorer.plan(datasets: [trainIn], eval: evalIn, s: ss)
        let trainAll = trains[0]
        let trainSet = Scorer.sample(trainAll, s.maxTrainPairs, seed: s.seed)
        guard trainSet.count >= 2 * s.folds, evalSet.count >= 10 else {
            throw TrainError("the probe needs at least \(2 * s.folds) training and 10 evaluation pairs (got \(trainSet.count) and \(evalSet.count))")
        }
        log?("split: \(trainSet.count) train / \(evalSet.count) eval pairs")
        let cache = outDir + "/features-" + FeatureCache.modelKey(pm, s) + ".bin"
        let trF = try features(trainSet, model: pm, s: s, cache: cache, log: log).compactMap { $0 }
        let evF = try features(evalSet, model: pm, s: s, cache: cache, log: log).compactMap { $0 }
        let tFeatures = Date().timeIntervalSince(t0)
        guard trF.count >= 2 * s.folds, evF.count >= 10 else { throw TrainError("too few pairs fit the model's length (\(trF.count) train, \(evF.count) eval)") }
        let d = pm.model.config.dim
        // Standardized differences: each feature scaled by its spread over the training pairs.
        func diffs(_ ps: [ProbePair]) -> [Double] { ps.flatMap { p in (0..<d).map { Double(p.chosen[$0]) - Double(p.rejected[$0]) } } }
        var Xtr = diffs(trF), Xev = diffs(evF)
        var scale = [Double](repeating: 1, count: d)
        for j in 0..<d {
            var ss2 = 0.0
            for i in 0..<trF.count { ss2 += Xtr[i * d + j] * Xtr[i * d + j] }
            let sd = (ss2 / Double(trF.count)).squareRoot()
            scale[j] = sd > 1e-12 ? 1 / sd : 0
        }
        for i in 0..<trF.count { for j in 0..<d { Xtr[i * d + j] *= scale[j] } }
        for i in 0..<evF.count { for j in 0..<d { Xev[i * d + j] *= scale[j] } }
        // The L2 strength with the lowest cross-validated log-loss on the training pairs.
        var best = (lambda: s.lambdas[0], loss: Double.infinity)
        var lambdaLoss: [(String, JSONValue)] = []
        for l in s.lambdas {
            let m = crossFit(Xtr, n: trF.count, d: d, lambda: l, folds: s.folds, seed: s.seed)
            let loss = m.map(bits).reduce(0, +) / Double(m.count)
            lambdaLoss.append((String(l), .double(PairedStats.round4(loss))))
            if loss < best.loss { best = (l, loss) }
        }
        let oof = crossFit(Xtr, n: trF.count, d: d, lambda: best.lambda, folds: s.folds, seed: s.seed &+ 1)
        let w = fit(Xtr, n: trF.count, d: d, lambda: best.lambda)
        let evMargin = margins(Xev, n: evF.count, d: d, w)
        let stats = statistics(train: trF, oof: oof, eval: evF, evalMargin: evMargin, trustedEval: evalIn != nil, s: s)
        // Suspects: training pairs whose out-of-fold probability of the given label is lowest.
        let byID = Dictionary(trainSet.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var suspects = ByteBuffer()
        var nSuspects = 0
        for i in oof.indices.sorted(by: { oof[$0] != oof[$1] ? oof[$0] < oof[$1] : trF[$0].id < trF[$1].id }) {
            let p = 1 / (1 + exp(-oof[i]))
            guard p < s.suspectBelow, let pair = byID[trF[i].id] else { break }
            var rec = ByteBuffer()
            pair.write(to: &rec)
            rec.bytes.withUnsafeBytes { raw in
                RemovedRecord.append(to: &suspects, reason: "suspect_label", stage: "score", source: pair.source,
                                     details: [("margin", .double(PairedStats.round4(oof[i]))), ("p_given_label", .double(PairedStats.round4(p)))], record: raw)
            }
            nSuspects += 1
        }
        try EncodedFile.writeWhole(suspects.bytes, to: outDir + "/suspects.jsonl")
        let json: JSONValue = .object([
            ("method", .string("probe")), ("model", .string(pm.path)),
        ] + stats + [
            ("suspects", .object([("file", .string("suspects.jsonl")), ("count", .int(Int64(nSuspects))), ("below_probability", .double(s.suspectBelow))])),
            ("probe", .object([("pooling", .string("mean of the reply's final hidden states")), ("features", .int(Int64(d))),
                               ("folds", .int(Int64(s.folds))), ("lambda", .double(best.lambda)), ("cv_bits_by_lambda", .object(lambdaLoss))])),
            ("pairs", .object([("read", .int(Int64(pairsRead ?? trainIn.count))), ("train_available", .int(Int64(trainAll.count))),
                               ("train", .int(Int64(trF.count))), ("eval", .int(Int64(evF.count))),
                               ("dropped_train", .int(Int64(trainSet.count - trF.count))), ("dropped_eval", .int(Int64(evalSet.count - evF.count)))])),
            ("config", .object([("max_length", .int(Int64(s.maxLength))), ("max_prompt_length", .int(Int64(s.maxPromptLength))),
                                ("max_train_pairs", .int(Int64(s.maxTrainPairs))), ("seed", .int(Int64(s.seed))), ("threads", .int(Int64(s.threads)))])),
            ("timings", .object([("features_s", .double((tFeatures * 100).rounded() / 100)), ("total_s", .double((Date().timeIntervalSince(t0) * 100).rounded() / 100))])),
        ])
        try json.write(to: outDir + "/score.json")
        return json
    }

    /// The statistics of a probe run (also the unit tested part).
    static func statistics(train: [ProbePair], oof: [Double], eval: [ProbePair], evalMargin: [Double], trustedEval: Bool, s: ProbeSettings) -> [(String, JSONValue)] {
        let n = eval.count
        let correct = evalMargin.map { $0 > 0 ? 1.0 : ($0 < 0 ? 0 : 0.5) }
        let acc = PairedStats.mean(correct)
        let wil = Wilson.interval(Int(correct.reduce(0, +).rounded()), n)
        // Length-stratified balanced accuracy: chosen longer, chosen shorter (equal lengths left out).
        let longer = eval.indices.filter { eval[$0].charsChosen > eval[$0].charsRejected }
        let shorter = eval.indices.filter { eval[$0].charsChosen < eval[$0].charsRejected }
        func accOn(_ idx: [Int]) -> Double? { idx.isEmpty ? nil : PairedStats.mean(idx.map { correct[$0] }) }
        let balanced: Double? = { guard let a = accOn(longer), let b = accOn(shorter) else { return nil }; return (a + b) / 2 }()
        // Balanced accuracy's interval: bootstrap within each stratum.
        var rng = SplitMix64(state: s.seed ^ 0xBA1A)
        var boots: [Double] = []
        if !longer.isEmpty && !shorter.isEmpty {
            for _ in 0..<s.bootstrapReps {
                func draw(_ idx: [Int]) -> Double { var t = 0.0; for _ in idx { t += correct[idx[Int(rng.next() % UInt64(idx.count))]] }; return t / Double(idx.count) }
                boots.append((draw(longer) + draw(shorter)) / 2)
            }
        }
        boots.sort()
        // Label-free baselines on the eval set: longer wins, the model's summed and per-token likelihood.
        func baseAcc(_ f: (ProbePair) -> Double) -> Double { PairedStats.mean(eval.map { let v = f($0); return v > 0 ? 1 : (v < 0 ? 0 : 0.5) }) }
        let lenDiff: (ProbePair) -> Double = { log(Double($0.charsChosen) + 1) - log(Double($0.charsRejected) + 1) }
        let sumDiff: (ProbePair) -> Double = { $0.logpChosen - $0.logpRejected }
        let tokDiff: (ProbePair) -> Double = { $0.logpChosen / Double(max(1, $0.nChosen)) - $0.logpRejected / Double(max(1, $0.nRejected)) }
        let baselines: [(String, Double)] = [("longer_wins", baseAcc(lenDiff)), ("likelihood_sum", baseAcc(sumDiff)), ("likelihood_per_token", baseAcc(tokDiff))]
        // Bits beyond the baselines: cross-fitted on the eval set, baseline features vs baseline + probe margin.
        let B = eval.map { [lenDiff($0), sumDiff($0) / 100, tokDiff($0)] }
        let folds = min(s.folds, max(2, n / 10))
        let zBase = crossFit(B.flatMap { $0 }, n: n, d: 3, lambda: 1e-3, folds: folds, seed: s.seed &+ 7)
        let zFull = crossFit(zip(B, evalMargin).flatMap { $0.0 + [$0.1] }, n: n, d: 4, lambda: 1e-3, folds: folds, seed: s.seed &+ 7)
        let gainPerPair = (0..<n).map { bits(zBase[$0]) - bits(zFull[$0]) }
        let gain = PairedStats.mean(gainPerPair), gainCI = PairedStats.bootstrapCI(gainPerPair, reps: s.bootstrapReps, seed: s.seed)
        // Disagreement of out-of-fold margins with the given training labels, and the noise rate it implies
        // when the eval labels are trusted: d = eta * a + (1 - eta) * (1 - a) for a probe of accuracy a on
        // true labels (a from the trusted eval set), so eta = (d - (1 - a)) / (2a - 1).
        let disagree = oof.map { $0 < 0 ? 1.0 : ($0 > 0 ? 0 : 0.5) }
        let dMean = PairedStats.mean(disagree), dCI = PairedStats.bootstrapCI(disagree, reps: s.bootstrapReps, seed: s.seed &+ 3)
        var noise: (Double, Interval)? = nil
        if trustedEval && acc > 0.55 {
            func eta(_ d: Double, _ a: Double) -> Double { min(1, max(0, (d - (1 - a)) / (2 * a - 1))) }
            // Interval: bootstrap of both the training disagreements and the eval accuracy.
            var r2 = SplitMix64(state: s.seed ^ 0x401_5E)
            var etas: [Double] = []
            for _ in 0..<s.bootstrapReps {
                var dsum = 0.0, asum = 0.0
                for _ in disagree { dsum += disagree[Int(r2.next() % UInt64(disagree.count))] }
                for _ in correct { asum += correct[Int(r2.next() % UInt64(correct.count))] }
                let a = asum / Double(correct.count)
                if a > 0.5 { etas.append(eta(dsum / Double(disagree.count), a)) } else { etas.append(1) }
            }
            etas.sort()
            noise = (eta(dMean, acc), Interval(PairedStats.percentile(etas, 0.025), PairedStats.percentile(etas, 0.975)))
        }
        let bestBaseline = baselines.max { $0.1 < $1.1 }!
        let verdict: String
        if gainCI.low > 0 {
            verdict = String(format: "beyond baselines: the probe adds %.3f bits per pair over the label-free baselines (95%% CI %.3f to %.3f)", gain, gainCI.low, gainCI.high)
        } else if gainCI.high < 0 {
            verdict = "below baselines: the probe's margins make the baselines' predictions worse"
        } else {
            verdict = String(format: "no signal beyond the label-free baselines (%.3f bits per pair, 95%% CI %.3f to %.3f)", gain, gainCI.low, gainCI.high)
        }
        return [
            ("score", .double(PairedStats.round4(gain))), ("score_is", .string("bits_beyond_baseline")),
            ("accuracy", .double(PairedStats.round4(acc))), ("accuracy_ci95", Interval(wil.low, wil.high).json),
            ("balanced_accuracy", balanced.map { .double(PairedStats.round4($0)) } ?? .null),
            ("balanced_accuracy_ci95", boots.isEmpty ? .null : Interval(PairedStats.percentile(boots, 0.025), PairedStats.percentile(boots, 0.975)).json),
            ("bits_beyond_baseline", .double(PairedStats.round4(gain))), ("bits_beyond_baseline_ci95", gainCI.json),
            ("baselines", .object(baselines.map { ($0.0, .double(PairedStats.round4($0.1))) })), ("best_baseline", .string(bestBaseline.0)),
            ("disagreement", .double(PairedStats.round4(dMean))), ("disagreement_ci95", dCI.json),
            ("noise_rate", noise.map { .double(PairedStats.round4($0.0)) } ?? .null), ("noise_rate_ci95", noise.map { $0.1.json } ?? .null),
            ("noise_rate_note", .string(noise != nil ? "out-of-fold disagreement corrected by the probe's accuracy on the trusted eval set"
                                        : "needs a trusted --eval set (and a probe better than 0.55 on it); the disagreement is reported instead")),
            ("n_eval", .int(Int64(n))), ("n_train", .int(Int64(train.count))),
            ("verdict", .string(verdict)),
        ]
    }
}

/// The per-pair feature cache of a run directory: one file per model and length settings, keyed
/// by each pair's content, so seeds, compare and reruns read each pair through the model once.
enum FeatureCache {
    /// What rendering reads of some messages: each role and content.
    static func hash(_ ms: [Message], seed: UInt64) -> UInt64 {
        var b: [UInt8] = []
        for m in ms { b += Array("\(m.role.name)".utf8); b.append(0x1F); b += m.content; b.append(0x1E) }
        return b.withUnsafeBytes { XXH64.hash($0, seed: seed) }
    }

    /// A pair's key, blind to which reply is chosen (a relabelled or flipped copy of a pair reads
    /// the same entry), and whether the pair's chosen reply is the entry's second.
    static func key(_ p: Pair) -> (key: UInt64, swapped: Bool) {
        let a = hash(p.chosen, seed: 1), b = hash(p.rejected, seed: 1)
        var k: [UInt64] = [hash(p.prompt, seed: 2), min(a, b), max(a, b)]
        return (k.withUnsafeMutableBytes { XXH64.hash(UnsafeRawBufferPointer($0)) }, a > b)
    }

    static func modelKey(_ pm: PretrainedModel, _ s: ProbeSettings) -> String {
        var st = stat()
        let id = stat(pm.path, &st) == 0 ? "\(st.st_size)-\(st.st_mtim.tv_sec)-\(st.st_ino)" : ""
        let text = "\(pm.path)|\(id)|\(s.maxLength)|\(s.maxPromptLength)|\(pm.model.config.dim)"
        return String(Array(text.utf8).withUnsafeBytes { XXH64.hash($0) }, radix: 16)
    }

    static func record(_ dim: Int) -> Int { 8 + 8 * dim + 16 + 16 + 8 }

    static func write(_ entries: [UInt64: ProbePair], dim: Int, to path: String) throws {
        var b: [UInt8] = Array("PKFC".utf8)
        b.putLE(UInt32(dim))
        for k in entries.keys.sorted() {
            let e = entries[k]!
            b.putLE(k)
            for v in e.chosen + e.rejected { b.putLE(v.bitPattern) }
            b.putLE(e.logpChosen.bitPattern); b.putLE(e.logpRejected.bitPattern)
            b.putLE(UInt64(e.nChosen)); b.putLE(UInt64(e.nRejected))
            b.putLE(UInt32(clamping: e.charsChosen)); b.putLE(UInt32(clamping: e.charsRejected))
        }
        try EncodedFile.writeWhole(b, to: path)
    }

    static func read(_ path: String, dim: Int) throws -> [UInt64: ProbePair] {
        let b = try Sources.readAll(path)[...]
        guard b.count >= 8, Array(b[b.startIndex..<(b.startIndex + 4)]) == Array("PKFC".utf8), b.le(4, as: UInt32.self) == UInt32(dim), (b.count - 8) % record(dim) == 0 else { return [:] }
        var out: [UInt64: ProbePair] = [:]
        var at = 8
        while at < b.count {
            let k: UInt64 = b.le(at)
            var f = [Float](repeating: 0, count: 2 * dim)
            for i in 0..<(2 * dim) { f[i] = Float(bitPattern: b.le(at + 8 + 4 * i, as: UInt32.self)) }
            let o = at + 8 + 8 * dim
            out[k] = ProbePair(id: "", chosen: Array(f[0..<dim]), rejected: Array(f[dim...]), logpChosen: Double(bitPattern: b.le(o)),
                               logpRejected: Double(bitPattern: b.le(o + 8)), nChosen: Int(b.le(o + 16, as: UInt64.self)), nRejected: Int(b.le(o + 24, as: UInt64.self)),
                               charsChosen: Int(b.le(o + 32, as: UInt32.self)), charsRejected: Int(b.le(o + 36, as: UInt32.self)))
            at += record(dim)
        }
        return out
    }
}

extension ProbePair {
    func with(id: String) -> ProbePair { var p = self; p.id = id; return p }
    /// The pair with its sides exchanged when `swapped`.
    func oriented(_ swapped: Bool) -> ProbePair {
        guard swapped else { return self }
        return ProbePair(id: id, chosen: rejected, rejected: chosen, logpChosen: logpRejected, logpRejected: logpChosen, nChosen: nRejected, nRejected: nChosen,
                         charsChosen: charsRejected, charsRejected: charsChosen)
    }
}
