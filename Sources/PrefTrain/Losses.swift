// SFT and DPO-family losses over per-sequence summed log-probabilities, with their gradients
// with respect to those log-probabilities (the model's backward takes it from there).
import Foundation

public enum DPOLossType: String, CaseIterable, Sendable {
    case sigmoid, ipo, hinge, robust
}

public struct DPOSettings: Sendable {
    public var beta = 0.1
    public var loss: DPOLossType = .sigmoid
    public var labelSmoothing = 0.0
    public var referenceFree = false
    /// Weight of an SFT term (mean token NLL of the chosen reply), as in RPO.
    public var rpoAlpha = 0.0
    public init() {}
}

/// One batch of pairs: policy and reference log-probs and response token counts.
public struct PairLogps: Sendable {
    public var chosen: [Double], rejected: [Double]
    public var refChosen: [Double], refRejected: [Double]
    public var nChosen: [Int], nRejected: [Int]
    public init(chosen: [Double], rejected: [Double], refChosen: [Double], refRejected: [Double], nChosen: [Int], nRejected: [Int]) {
        self.chosen = chosen; self.rejected = rejected; self.refChosen = refChosen; self.refRejected = refRejected
        self.nChosen = nChosen; self.nRejected = nRejected
    }
}

public struct DPOOutput: Sendable {
    public var loss: Double
    /// d(loss)/d(policy logp), per pair.
    public var dChosen: [Double], dRejected: [Double]
    public var rewardsChosen: [Double], rewardsRejected: [Double]
}

@inline(__always) func logSigmoid(_ x: Double) -> Double { x >= 0 ? -Foundation.log1p(Foundation.exp(-x)) : x - Foundation.log1p(Foundation.exp(x)) }
@inline(__always) func sigmoid(_ x: Double) -> Double { x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x)) }

public enum Losses {
    /// Mean token negative log-likelihood: -sum(logp) / sum(tokens).
    public static func sft(logp: [Double], count: [Int]) -> (loss: Double, dlogp: [Double]) {
        let n = Double(max(1, count.reduce(0, +)))
        return (-logp.reduce(0, +) / n, logp.map { _ in -1 / n })
    }

    /// Mean over pairs of the DPO-family loss on h = (pi_c - pi_r) - (ref_c - ref_r).
    public static func dpo(_ x: PairLogps, _ s: DPOSettings) -> DPOOutput {
        let n = x.chosen.count
        let beta = s.beta, eps = s.labelSmoothing
        var loss = 0.0
        var dc = [Double](repeating: 0, count: n), dr = [Double](repeating: 0, count: n)
        var rc = [Double](repeating: 0, count: n), rr = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let refC = s.referenceFree ? 0 : x.refChosen[i], refR = s.referenceFree ? 0 : x.refRejected[i]
            rc[i] = beta * (x.chosen[i] - refC)
            rr[i] = beta * (x.rejected[i] - refR)
            let h = (x.chosen[i] - x.rejected[i]) - (refC - refR)
            var l = 0.0, dh = 0.0
            switch s.loss {
            case .sigmoid:
                l = -(1 - eps) * logSigmoid(beta * h) - eps * logSigmoid(-beta * h)
                dh = -(1 - eps) * beta * sigmoid(-beta * h) + eps * beta * sigmoid(beta * h)
            case .robust:
                // Unbiased under label noise eps (Chowdhury et al. 2024).
                l = (-(1 - eps) * logSigmoid(beta * h) + eps * logSigmoid(-beta * h)) / (1 - 2 * eps)
                dh = (-(1 - eps) * beta * sigmoid(-beta * h) - eps * beta * sigmoid(beta * h)) / (1 - 2 * eps)
            case .hinge:
                let m = 1 - beta * h
                l = max(0, m)
                dh = m > 0 ? -beta : 0
            case .ipo:
                // Per-token averaged log-probs.
                let nc = Double(max(1, x.nChosen[i])), nr = Double(max(1, x.nRejected[i]))
                let hb = (x.chosen[i] / nc - x.rejected[i] / nr) - (refC / nc - refR / nr)
                let d = hb - 1 / (2 * beta)
                l = d * d
                dc[i] = 2 * d / nc
                dr[i] = -2 * d / nr
            }
            if s.loss != .ipo { dc[i] = dh; dr[i] = -dh }
            if s.rpoAlpha != 0 {
                let nc = Double(max(1, x.nChosen[i]))
                l += s.rpoAlpha * (-x.chosen[i] / nc)
                dc[i] += -s.rpoAlpha / nc
            }
            loss += l
        }
        let inv = 1 / Double(max(1, n))
        return DPOOutput(loss: loss * inv, dChosen: dc.map { $0 * inv }, dRejected: dr.map { $0 * inv }, rewardsChosen: rc, rewardsRejected: rr)
    }
}
