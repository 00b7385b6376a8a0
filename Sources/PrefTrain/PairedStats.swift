// Statistics for scores measured on one eval set: bootstrap intervals of a mean, paired
// differences between two runs on the same eval pairs (bootstrap interval, sign-flip p-value,
// McNemar's exact test for 0/1 outcomes), and Spearman's rank correlation. All resampling is
// seeded, so the same inputs give the same intervals.
import Foundation
import PrefIO

public struct Interval: Sendable, Equatable {
    public var low: Double
    public var high: Double
    public init(_ low: Double, _ high: Double) { self.low = low; self.high = high }
    public var json: JSONValue { .array([.double(PairedStats.round4(low)), .double(PairedStats.round4(high))]) }
}

/// A paired comparison of two runs on the same eval pairs: mean difference (a - b), its 95%
/// bootstrap interval and a two-sided p-value.
public struct PairedDifference: Sendable {
    public var mean: Double
    public var ci: Interval
    public var p: Double
    public var n: Int
}

public enum PairedStats {
    static func round4(_ x: Double) -> Double { (x * 10000).rounded() / 10000 }

    public static func mean(_ x: [Double]) -> Double { x.isEmpty ? 0 : x.reduce(0, +) / Double(x.count) }

    public static func sd(_ x: [Double]) -> Double {
        guard x.count > 1 else { return 0 }
        let m = mean(x)
        return (x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count - 1)).squareRoot()
    }

    /// Bootstrap means of `x` (resampling indices with a seeded generator).
    static func bootstrapMeans(_ x: [Double], reps: Int, seed: UInt64) -> [Double] {
        let n = x.count
        guard n > 0 else { return [] }
        var rng = SplitMix64(state: seed &+ 0x5EED)
        var out = [Double](repeating: 0, count: reps)
        x.withUnsafeBufferPointer { xs in
            for r in 0..<reps {
                var s = 0.0
                for _ in 0..<n { s += xs[Int(rng.next() % UInt64(n))] }
                out[r] = s / Double(n)
            }
        }
        return out
    }

    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let pos = q * Double(sorted.count - 1)
        let lo = Int(pos.rounded(.down)), hi = min(sorted.count - 1, lo + 1)
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - Double(lo))
    }

    /// 95% percentile bootstrap interval of the mean of `x`.
    public static func bootstrapCI(_ x: [Double], reps: Int = 2000, seed: UInt64 = 0) -> Interval {
        let m = bootstrapMeans(x, reps: reps, seed: seed).sorted()
        return Interval(percentile(m, 0.025), percentile(m, 0.975))
    }

    /// Paired difference a - b over the same items: bootstrap interval of the mean difference and a
    /// two-sided sign-flip (randomization) p-value for "the mean difference is zero".
    public static func paired(_ a: [Double], _ b: [Double], reps: Int = 4000, seed: UInt64 = 0) -> PairedDifference {
        precondition(a.count == b.count, "paired statistics need the same items")
        let d = zip(a, b).map { $0 - $1 }
        let m = mean(d)
        let ci = bootstrapCI(d, reps: reps, seed: seed)
        // Randomization test: under the null each difference is as likely to have either sign.
        var rng = SplitMix64(state: seed &+ 0xF11B)
        var extreme = 0
        let nonzero = d.filter { $0 != 0 }
        if nonzero.isEmpty { return PairedDifference(mean: 0, ci: ci, p: 1, n: d.count) }
        let observed = abs(nonzero.reduce(0, +))
        for _ in 0..<reps {
            var s = 0.0
            for v in nonzero { s += (rng.next() & 1) == 0 ? v : -v }
            if abs(s) >= observed - 1e-12 { extreme += 1 }
        }
        return PairedDifference(mean: m, ci: ci, p: Double(extreme + 1) / Double(reps + 1), n: d.count)
    }

    /// McNemar's exact test for paired 0/1 outcomes: two-sided p from the binomial distribution of
    /// the discordant pairs (a right and b wrong, or the reverse).
    public static func mcnemar(_ a: [Bool], _ b: [Bool]) -> (onlyA: Int, onlyB: Int, p: Double) {
        var x = 0, y = 0
        for (u, v) in zip(a, b) { if u && !v { x += 1 } else if v && !u { y += 1 } }
        let n = x + y
        guard n > 0 else { return (x, y, 1) }
        let k = min(x, y)
        // P(X <= k) for X ~ Binomial(n, 1/2), in log space.
        var cdf = 0.0
        var logC = 0.0                      // log C(n, 0)
        let logHalfN = Double(n) * Foundation.log(0.5)
        for i in 0...k {
            if i > 0 { logC += Foundation.log(Double(n - i + 1)) - Foundation.log(Double(i)) }
            cdf += Foundation.exp(logC + logHalfN)
        }
        return (x, y, min(1, 2 * cdf))
    }

    /// Spearman's rank correlation (average ranks for ties).
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double {
        func ranks(_ v: [Double]) -> [Double] {
            let order = v.indices.sorted { v[$0] < v[$1] }
            var r = [Double](repeating: 0, count: v.count)
            var i = 0
            while i < order.count {
                var j = i
                while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
                let avg = Double(i + j) / 2 + 1
                for k in i...j { r[order[k]] = avg }
                i = j + 1
            }
            return r
        }
        let rx = ranks(x), ry = ranks(y)
        let mx = mean(rx), my = mean(ry)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in 0..<x.count {
            sxy += (rx[i] - mx) * (ry[i] - my); sxx += (rx[i] - mx) * (rx[i] - mx); syy += (ry[i] - my) * (ry[i] - my)
        }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : 0
    }
}
