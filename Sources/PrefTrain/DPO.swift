// DPO training from a reference model, with TRL's metric names, periodic evaluation and early
// stopping on eval rewards/accuracies (keeping the best weights).
import Foundation

public struct DPOTrainSettings: Sendable {
    public var steps = 200
    public var pairsPerBatch = 4
    public var evalEvery = 25
    /// Evaluations without a lower eval loss before stopping (0: run every step). The kept
    /// checkpoint is the one with the lowest eval DPO loss (a smooth criterion: choosing the best
    /// eval accuracy would favour lucky noise).
    public var patience = 4
    /// Batches are formed from pairs of similar length (within windows of this many batches of a
    /// shuffled epoch), so little of each batch is padding. 1: no bucketing.
    public var bucketWindow = 16
    public var seed: UInt64 = 0
    public var dpo = DPOSettings()
    public var optimizer = AdamWSettings()
    public init() {}
}

/// TRL's DPO metrics for a set of pairs.
public struct DPOMetrics: Sendable {
    public var loss = 0.0
    public var rewardsChosen = 0.0, rewardsRejected = 0.0
    public var accuracy = 0.0, ties = 0.0, margins = 0.0
    public var logpsChosen = 0.0, logpsRejected = 0.0
    public var n = 0
    public var correct = 0

    public func json(prefix: String) -> [(String, Double)] {
        [("\(prefix)loss", loss), ("\(prefix)rewards/chosen", rewardsChosen), ("\(prefix)rewards/rejected", rewardsRejected),
         ("\(prefix)rewards/accuracies", accuracy), ("\(prefix)rewards/ties", ties), ("\(prefix)rewards/margins", margins),
         ("\(prefix)logps/chosen", logpsChosen), ("\(prefix)logps/rejected", logpsRejected)]
    }

    static func of(_ x: PairLogps, _ s: DPOSettings) -> DPOMetrics {
        let o = Losses.dpo(x, s)
        var m = DPOMetrics()
        let n = x.chosen.count
        guard n > 0 else { return m }
        m.n = n
        m.loss = o.loss
        for i in 0..<n {
            m.rewardsChosen += o.rewardsChosen[i]; m.rewardsRejected += o.rewardsRejected[i]
            if o.rewardsChosen[i] > o.rewardsRejected[i] { m.correct += 1 } else if o.rewardsChosen[i] == o.rewardsRejected[i] { m.ties += 1 }
            m.margins += o.rewardsChosen[i] - o.rewardsRejected[i]
            m.logpsChosen += x.chosen[i]; m.logpsRejected += x.rejected[i]
        }
        let d = Double(n)
        m.rewardsChosen /= d; m.rewardsRejected /= d; m.margins /= d; m.logpsChosen /= d; m.logpsRejected /= d
        m.accuracy = Double(m.correct) / d; m.ties /= d
        return m
    }
}

public struct CurvePoint: Sendable {
    public var step: Int
    public var values: [(String, Double)]
}

public struct DPOResult {
    public var curve: [CurvePoint]
    public var bestStep: Int
    public var best: DPOMetrics
    public var bestRewards: (chosen: [Double], rejected: [Double])
    /// Policy log-probs and response token counts of every eval pair at the kept checkpoint.
    public var bestLogps: (c: [Double], r: [Double], nc: [Int], nr: [Int])
    public var steps: Int
    public var stoppedEarly: Bool
    public var pairsPerSecond: Double
}

public enum DPOTrainer {
    /// Log-probs of pairs under a model: each pair one packed row (the prompt once, both replies).
    public static func logps(_ m: GPT<Float>, _ pairs: [TokenizedPair], batchPairs: Int, pad: Int32) -> (c: [Double], r: [Double], nc: [Int], nr: [Int]) {
        var c: [Double] = [], r: [Double] = [], nc: [Int] = [], nr: [Int] = []
        var i = 0
        while i < pairs.count {
            let chunk = Array(pairs[i..<min(pairs.count, i + batchPairs)])
            let out = m.forward(PackedBatch(pairs: chunk, pad: pad))
            let P = chunk.count
            c += out.logp[0..<P]; nc += out.count[0..<P]
            r += out.logp[P..<(2 * P)]; nr += out.count[P..<(2 * P)]
            i += batchPairs
        }
        return (c, r, nc, nr)
    }

    /// Trains `policy` (initialized from the reference) with cached reference log-probs.
    public static func train(policy: GPT<Float>, train: [TokenizedPair], trainRef: (c: [Double], r: [Double]),
                             eval: [TokenizedPair], evalRef: (c: [Double], r: [Double]), settings s: DPOTrainSettings, pad: Int32,
                             progress: ((Int, DPOMetrics?, DPOMetrics?) -> Void)? = nil) -> DPOResult {
        var opt = s.optimizer
        opt.totalSteps = s.steps
        let adam = AdamW(model: policy, settings: opt)
        var rng = Normal(seed: s.seed &+ 77)
        var order = Array(0..<train.count), pos = order.count
        var curve: [CurvePoint] = []
        var best = DPOMetrics(), bestStep = 0, bestParams: [Float]? = nil, bestRewards: ([Double], [Double]) = ([], [])
        var bestLogps: (c: [Double], r: [Double], nc: [Int], nr: [Int]) = ([], [], [], [])
        var sinceBest = 0, stoppedEarly = false
        var running: [DPOMetrics] = []
        let t0 = Date()
        var pairsSeen = 0
        func evaluate(_ step: Int) {
            let e = logps(policy, eval, batchPairs: s.pairsPerBatch, pad: pad)
            let x = PairLogps(chosen: e.c, rejected: e.r, refChosen: evalRef.c, refRejected: evalRef.r, nChosen: e.nc, nRejected: e.nr)
            let m = DPOMetrics.of(x, s.dpo)
            var values = m.json(prefix: "eval/")
            if !running.isEmpty {
                var t = DPOMetrics()
                let k = Double(running.count)
                t.loss = running.map(\.loss).reduce(0, +) / k
                t.rewardsChosen = running.map(\.rewardsChosen).reduce(0, +) / k
                t.rewardsRejected = running.map(\.rewardsRejected).reduce(0, +) / k
                t.accuracy = running.map(\.accuracy).reduce(0, +) / k
                t.ties = running.map(\.ties).reduce(0, +) / k
                t.margins = running.map(\.margins).reduce(0, +) / k
                t.logpsChosen = running.map(\.logpsChosen).reduce(0, +) / k
                t.logpsRejected = running.map(\.logpsRejected).reduce(0, +) / k
                values += t.json(prefix: "train/")
                progress?(step, t, m)
            } else {
                progress?(step, nil, m)
            }
            running.removeAll()
            curve.append(CurvePoint(step: step, values: values))
            // The kept checkpoint: the lowest eval loss among trained ones (step 0 is the reference itself,
            // whose margins are all zero; it is kept only when no step is run).
            if bestParams == nil || bestStep == 0 || m.loss < best.loss {
                best = m; bestStep = step; sinceBest = 0
                bestParams = Array(UnsafeBufferPointer(start: policy.params.p, count: policy.params.count))
                let o = Losses.dpo(x, s.dpo)
                bestRewards = (o.rewardsChosen, o.rewardsRejected)
                bestLogps = e
            } else {
                sinceBest += 1
            }
        }
        // No evaluation at step 0: the reference's margins are all zero, and it is never the kept checkpoint.
        var step = 0
        // Batches of an epoch: shuffle, sort windows of `bucketWindow` batches by length, cut into
        // batches, shuffle the batches. Same seed, same batches.
        let lengths = train.map(PackedBatch.rowLength)
        var batches: [[Int]] = []
        func newEpoch() {
            for k in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(k, Int(rng.u64() % UInt64(k + 1))) }
            let window = max(1, s.bucketWindow) * s.pairsPerBatch
            batches = []
            var w = 0
            while w < order.count {
                let chunk = order[w..<min(order.count, w + window)].sorted { lengths[$0] != lengths[$1] ? lengths[$0] < lengths[$1] : $0 < $1 }
                var b = 0
                while b < chunk.count { batches.append(Array(chunk[b..<min(chunk.count, b + s.pairsPerBatch)])); b += s.pairsPerBatch }
                w += window
            }
            for k in stride(from: batches.count - 1, to: 0, by: -1) { batches.swapAt(k, Int(rng.u64() % UInt64(k + 1))) }
            pos = 0
        }
        newEpoch()
        while step < s.steps {
            if pos >= batches.count { newEpoch() }
            let batch = batches[pos]
            pos += 1
            let r = policy.forward(PackedBatch(pairs: batch.map { train[$0] }, pad: pad))
            let P = batch.count
            let x = PairLogps(chosen: Array(r.logp[0..<P]), rejected: Array(r.logp[P..<(2 * P)]),
                              refChosen: batch.map { trainRef.c[$0] }, refRejected: batch.map { trainRef.r[$0] },
                              nChosen: Array(r.count[0..<P]), nRejected: Array(r.count[P..<(2 * P)]))
            let o = Losses.dpo(x, s.dpo)
            running.append(DPOMetrics.of(x, s.dpo))
            policy.zeroGrad()
            policy.backward(dlogp: o.dChosen + o.dRejected)
            adam.update(policy)
            step += 1
            pairsSeen += P
            if step % s.evalEvery == 0 || step == s.steps {
                evaluate(step)
                if s.patience > 0 && sinceBest >= s.patience { stoppedEarly = step < s.steps; break }
            }
        }
        let secs = Date().timeIntervalSince(t0)
        if let p = bestParams { for i in 0..<p.count { policy.params.p[i] = p[i] } }
        return DPOResult(curve: curve, bestStep: bestStep, best: best, bestRewards: bestRewards, bestLogps: bestLogps, steps: step,
                         stoppedEarly: stoppedEarly, pairsPerSecond: Double(pairsSeen) / max(secs, 1e-9))
    }
}

public enum Wilson {
    /// 95% Wilson score interval for k successes in n trials.
    public static func interval(_ k: Int, _ n: Int, z: Double = 1.959963984540054) -> (low: Double, high: Double) {
        guard n > 0 else { return (0, 1) }
        let p = Double(k) / Double(n), nn = Double(n)
        let denom = 1 + z * z / nn
        let center = (p + z * z / (2 * nn)) / denom
        let half = z * ((p * (1 - p) / nn + z * z / (4 * nn * nn)).squareRoot()) / denom
        return (max(0, center - half), min(1, center + half))
    }
}
