import CMinHash
import Foundation
import PrefIO
// MinHash signatures over hashed word n-grams, banded LSH with datasketch's choice of bands and
// rows for a Jaccard threshold, and union-find for clusters.

public struct MinHasher: Sendable {
    public let numPerm: Int
    let aLo: [UInt32]
    let aHi: [UInt32]
    let b: [UInt64]

    public init(numPerm: Int, seed: UInt64 = 1) {
        self.numPerm = numPerm
        var rng = SplitMix64(state: seed)
        func next() -> UInt64 { rng.next() }
        let a = (0..<numPerm).map { _ in next() | 1 }
        aLo = a.map { UInt32(truncatingIfNeeded: $0) }
        aHi = a.map { UInt32(truncatingIfNeeded: $0 >> 32) }
        b = (0..<numPerm).map { _ in next() }
    }

    /// Signature: per permutation, the minimum over shingles of the high 32 bits of
    /// (a * x + b) mod 2^64 with random 64-bit a (odd) and b, x the shingle hash folded to 32 bits
    /// (Dietzfelbinger's multiply-add-shift, 2-independent).
    public func signature(_ shingles: [UInt64]) -> [UInt32] {
        var sig = [UInt32](repeating: .max, count: numPerm)
        if shingles.isEmpty { return sig }
        let xs = shingles.map { UInt32(truncatingIfNeeded: $0 ^ ($0 >> 32)) }
        sig.withUnsafeMutableBufferPointer { s in
            aLo.withUnsafeBufferPointer { lp in
                aHi.withUnsafeBufferPointer { hp in
                    b.withUnsafeBufferPointer { bp in
                        xs.withUnsafeBufferPointer { xp in
                            pk_minhash(lp.baseAddress, hp.baseAddress, bp.baseAddress, Int32(numPerm), xp.baseAddress, Int32(xp.count), s.baseAddress)
                        }
                    }
                }
            }
        }
        return sig
    }

    /// Fraction of equal positions: an estimate of the Jaccard similarity.
    public static func similarity(_ x: ArraySlice<UInt32>, _ y: ArraySlice<UInt32>) -> Double {
        var eq = 0
        for (p, q) in zip(x, y) where p == q { eq += 1 }
        return Double(eq) / Double(max(1, x.count))
    }
}

public enum LSHParams {
    /// datasketch's `_optimal_param`: the (bands, rows) with bands * rows <= numPerm minimising the
    /// equally weighted false-positive and false-negative probability areas around the threshold.
    public static func optimal(threshold: Double, numPerm: Int) -> (bands: Int, rows: Int) {
        func integrate(_ f: (Double) -> Double, _ a: Double, _ b: Double) -> Double {
            let n = 1000
            let h = (b - a) / Double(n)
            var s = 0.0
            for i in 0..<n { s += f(a + (Double(i) + 0.5) * h) }
            return s * h
        }
        var best = (bands: 1, rows: numPerm), minErr = Double.infinity
        for b in 1...numPerm {
            for r in 1...(numPerm / b) {
                let fp = integrate({ s in 1 - pow(1 - pow(s, Double(r)), Double(b)) }, 0, threshold)
                let fn = integrate({ s in 1 - (1 - pow(1 - pow(s, Double(r)), Double(b))) }, threshold, 1)
                let err = 0.5 * fp + 0.5 * fn
                if err < minErr { minErr = err; best = (b, r) }
            }
        }
        return best
    }

    static func pow(_ x: Double, _ y: Double) -> Double { exp(y * log(x)) }
}


public struct UnionFind {
    var parent: [Int32]
    public init(_ n: Int) { parent = (0..<n).map { Int32($0) } }
    public mutating func find(_ x: Int) -> Int {
        var r = x
        while Int(parent[r]) != r { r = Int(parent[r]) }
        var c = x
        while Int(parent[c]) != r { let n = Int(parent[c]); parent[c] = Int32(r); c = n }
        return r
    }
    /// Joins two sets; the smaller index becomes the root (deterministic).
    public mutating func union(_ x: Int, _ y: Int) {
        let a = find(x), b = find(y)
        if a == b { return }
        if a < b { parent[b] = Int32(a) } else { parent[a] = Int32(b) }
    }
}

/// Banded LSH over signatures stored flat (`numPerm` values per item): calls `candidate(i, j)`
/// with i < j for every two items sharing a band bucket (each pair at most once per band).
public func lshCandidates(signatures: [UInt32], numPerm: Int, count: Int, bands: Int, rows: Int,
                          threads: Int, _ candidate: (Int, Int) -> Void) {
    // Per band: sort (bucket hash, item) and walk equal runs. Bands run in parallel.
    var perBand = [[(Int32, Int32)]](repeating: [], count: bands)
    perBand.withUnsafeMutableBufferPointer { out in
        // Each band writes only its own slot, and the signatures are only read.
        nonisolated(unsafe) let o = out
        signatures.withUnsafeBufferPointer { sp in
            nonisolated(unsafe) let sigs = sp
            DispatchQueue.concurrentPerform(iterations: bands) { band in
                var keys = [(UInt64, Int32)]()
                keys.reserveCapacity(count)
                for i in 0..<count {
                    let base = sigs.baseAddress! + i * numPerm + band * rows
                    let h = XXH64.hash(UnsafeRawBufferPointer(start: base, count: rows * 4), seed: UInt64(band))
                    keys.append((h, Int32(i)))
                }
                keys.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
                var pairs: [(Int32, Int32)] = []
                var s = 0
                while s < keys.count {
                    var e = s + 1
                    while e < keys.count && keys[e].0 == keys[s].0 { e += 1 }
                    if e - s > 1 {
                        // Link each member to the bucket's first member: enough for clustering,
                        // linear in the bucket size.
                        for k in (s + 1)..<e { pairs.append((keys[s].1, keys[k].1)) }
                    }
                    s = e
                }
                o[band] = pairs
            }
        }
    }
    for band in perBand { for (i, j) in band { candidate(Int(i), Int(j)) } }
}

