// AdamW with decoupled weight decay (not on biases or LayerNorm), linear warmup then cosine or
// linear decay, global-norm gradient clipping. State in two flat buffers like the parameters.
import Foundation

public struct AdamWSettings: Sendable {
    public var lr = 3e-4
    public var beta1 = 0.9
    public var beta2 = 0.95
    public var eps = 1e-8
    public var weightDecay = 0.1
    public var warmupSteps = 0
    public var totalSteps = 1000
    public enum Schedule: String, Sendable, CaseIterable { case cosine, linear, constant }
    public var schedule: Schedule = .cosine
    public var minLRFraction = 0.1
    public var clipNorm = 1.0
    public init() {}

    public func lr(at step: Int) -> Double {
        if step < warmupSteps { return lr * Double(step + 1) / Double(max(1, warmupSteps)) }
        let span = max(1, totalSteps - warmupSteps)
        let p = min(1, Double(step - warmupSteps) / Double(span))
        switch schedule {
        case .constant: return lr
        case .linear: return lr * (1 - (1 - minLRFraction) * p)
        case .cosine: return lr * (minLRFraction + (1 - minLRFraction) * 0.5 * (1 + cos(.pi * p)))
        }
    }
}

public final class AdamW {
    public let settings: AdamWSettings
    let m: Buffer<Float>, v: Buffer<Float>
    let decayMask: [Bool]   // per parameter tensor
    public private(set) var step = 0

    public init(model: GPT<Float>, settings: AdamWSettings) {
        self.settings = settings
        m = Buffer(model.params.count); v = Buffer(model.params.count)
        decayMask = ParamTensor.allCases.map(\.decays)
    }

    /// Clips the gradients to the global norm, applies one update and returns (grad norm, lr).
    @discardableResult
    public func update(_ model: GPT<Float>) -> (gradNorm: Double, lr: Double) {
        let g = model.grads.p, p = model.params.p, n = model.params.count
        var sq = 0.0
        for i in 0..<n { sq += Double(g[i]) * Double(g[i]) }
        let norm = sq.squareRoot()
        let clip = settings.clipNorm > 0 && norm > settings.clipNorm ? Float(settings.clipNorm / norm) : 1
        let lr = settings.lr(at: step)
        step += 1
        let b1 = Float(settings.beta1), b2 = Float(settings.beta2), eps = Float(settings.eps)
        let c1 = Float(1 / (1 - pow(settings.beta1, Double(step)))), c2 = Float(1 / (1 - pow(settings.beta2, Double(step))))
        let flr = Float(lr), wd = Float(settings.weightDecay)
        for t in ParamTensor.allCases {
            let off = model.offsets[t.rawValue], size = t.size(model.config)
            let decay = decayMask[t.rawValue] ? wd : 0
            for i in off..<(off + size) {
                let gi = g[i] * clip
                m.p[i] = b1 * m.p[i] + (1 - b1) * gi
                v.p[i] = b2 * v.p[i] + (1 - b2) * gi * gi
                let mh = m.p[i] * c1, vh = v.p[i] * c2
                p[i] -= flr * (mh / (vh.squareRoot() + eps) + decay * p[i])
            }
        }
        return (norm, lr)
    }
}
