import Foundation
import XCTest
import PrefCore
import PrefIO
@testable import PrefTrain

/// Backward passes against central finite differences, in Float64.
final class GradientTests: XCTestCase {
    let config = GPTConfig(vocabSize: 13, maxT: 6, nLayer: 2, nHead: 2, nEmbd: 8)
    let B = 2, T = 5

    func batch(seed: UInt64) -> ([Int32], [Int32], [Double]) {
        var rng = Normal(seed: seed)
        let tokens = (0..<(B * T)).map { _ in Int32(rng.u64() % 13) }
        let targets = (0..<(B * T)).map { _ in Int32(rng.u64() % 13) }
        var mask = (0..<(B * T)).map { i in i % T >= 2 ? 1.0 : 0.0 }   // "response" positions only
        mask[B * T - 1] = 0
        return (tokens, targets, mask)
    }

    func model(threads: Int = 1) -> GPT<Double> {
        let m = try! GPT<Double>(config: config, maxBatch: 2 * B, threads: threads)
        m.initialize(seed: 3)
        // Larger weights than GPT-2's init so every path carries signal.
        var rng = Normal(seed: 11)
        for i in 0..<m.params.count { m.params[i] += 0.3 * rng.next() }
        return m
    }

    /// Checks d(loss)/d(param) for a sample of entries of every tensor (every layer's slice).
    func check(_ m: GPT<Double>, loss: () -> Double, backward: () -> Void, file: StaticString = #filePath, line: UInt = #line) {
        m.zeroGrad()
        _ = loss()
        backward()
        var rng = Normal(seed: 99)
        var worst = 0.0
        for t in ParamTensor.allCases {
            let size = t.size(config), off = m.offsets[t.rawValue]
            let perLayer = [.lnfw, .lnfb, .wte, .wpe].contains(t) ? size : size / config.nLayer
            for layer in 0..<(size / perLayer) {
                for _ in 0..<6 {
                    let i = off + layer * perLayer + Int(rng.u64() % UInt64(perLayer))
                    let old = m.params[i], h = 1e-5
                    m.params[i] = old + h; let lp = loss()
                    m.params[i] = old - h; let lm = loss()
                    m.params[i] = old
                    let fd = (lp - lm) / (2 * h), an = m.grads[i]
                    // Exact zeros (the key bias: softmax ignores a shift shared by all scores) leave
                    // only rounding noise in the finite difference; everything else is compared relatively.
                    let err = (abs(an) < 1e-12 && abs(fd) < 1e-9) ? 0 : abs(fd - an) / max(1e-8, abs(fd) + abs(an))
                    worst = max(worst, err)
                    XCTAssertLessThan(err, 1e-5, "\(t) layer \(layer) index \(i): finite difference \(fd), backward \(an)", file: file, line: line)
                }
            }
        }
        XCTAssertLessThan(worst, 1e-5, file: file, line: line)
    }

    func testSFTGradientOfEveryTensorAndLayer() {
        let m = model()
        let (tok, tgt, mask) = batch(seed: 1)
        check(m, loss: {
            let r = m.forward(tokens: tok, targets: tgt, mask: mask, B: B, T: T)
            return Losses.sft(logp: r.logp, count: r.count).loss
        }, backward: {
            let r = m.forward(tokens: tok, targets: tgt, mask: mask, B: B, T: T)
            m.backward(dlogp: Losses.sft(logp: r.logp, count: r.count).dlogp)
        })
    }

    func testEveryDPOLossThroughTheModel() {
        // Sequences 0 and 1 are the chosen and rejected continuations of one pair.
        for (kind, smoothing, rpo, refFree) in [(DPOLossType.sigmoid, 0.0, 0.0, false), (.sigmoid, 0.1, 0.0, false), (.ipo, 0.0, 0.0, false),
                                                 (.hinge, 0.0, 0.0, false), (.robust, 0.1, 0.0, false), (.sigmoid, 0.0, 0.5, false),
                                                 (.sigmoid, 0.0, 0.0, true)] {
            let m = model()
            let (tok, tgt, mask) = batch(seed: 2)
            var s = DPOSettings(); s.loss = kind; s.labelSmoothing = smoothing; s.rpoAlpha = rpo; s.referenceFree = refFree
            s.beta = 0.5
            let ref = (c: -20.0, r: -19.0)
            func lossOf(_ r: (logp: [Double], count: [Int])) -> DPOOutput {
                Losses.dpo(PairLogps(chosen: [r.logp[0]], rejected: [r.logp[1]], refChosen: [ref.c], refRejected: [ref.r],
                                     nChosen: [r.count[0]], nRejected: [r.count[1]]), s)
            }
            check(m, loss: { lossOf(m.forward(tokens: tok, targets: tgt, mask: mask, B: B, T: T)).loss }, backward: {
                let o = lossOf(m.forward(tokens: tok, targets: tgt, mask: mask, B: B, T: T))
                m.backward(dlogp: [o.dChosen[0], o.dRejected[0]])
            })
        }
    }

    func testLossGradientsWithRespectToLogps() {
        for kind in DPOLossType.allCases {
            var s = DPOSettings(); s.loss = kind; s.beta = 0.3; s.labelSmoothing = kind == .robust || kind == .sigmoid ? 0.2 : 0; s.rpoAlpha = 0.3
            let base = PairLogps(chosen: [-10, -7], rejected: [-12, -6.5], refChosen: [-11, -7.2], refRejected: [-11.5, -6.9], nChosen: [4, 3], nRejected: [5, 2])
            let o = Losses.dpo(base, s)
            for i in 0..<2 {
                for side in 0..<2 {
                    var p = base, q = base
                    let h = 1e-6
                    if side == 0 { p.chosen[i] += h; q.chosen[i] -= h } else { p.rejected[i] += h; q.rejected[i] -= h }
                    let fd = (Losses.dpo(p, s).loss - Losses.dpo(q, s).loss) / (2 * h)
                    XCTAssertEqual(fd, side == 0 ? o.dChosen[i] : o.dRejected[i], accuracy: 1e-6, "\(kind)")
                }
            }
        }
        // Known values: sigmoid loss at h = 0 is log 2; hinge is 1.
        let zero = PairLogps(chosen: [-5], rejected: [-5], refChosen: [-5], refRejected: [-5], nChosen: [1], nRejected: [1])
        XCTAssertEqual(Losses.dpo(zero, DPOSettings()).loss, log(2), accuracy: 1e-12)
        var hs = DPOSettings(); hs.loss = .hinge
        XCTAssertEqual(Losses.dpo(zero, hs).loss, 1, accuracy: 1e-12)
    }

    /// Random pairs sharing a prompt, within maxT.
    func pairs(seed: UInt64, count: Int) -> [TokenizedPair] {
        var rng = Normal(seed: seed)
        func toks(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(rng.u64() % 13) } }
        return (0..<count).map { k in
            let prompt = toks(1 + Int(rng.u64() % 3))
            let room = config.maxT - prompt.count
            return TokenizedPair(id: "\(k)", chosen: Sequence2(prompt: prompt, response: toks(1 + Int(rng.u64() % UInt64(room)))),
                                 rejected: Sequence2(prompt: prompt, response: toks(1 + Int(rng.u64() % UInt64(room)))))
        }
    }

    func testPackedPairsEqualSeparateSequences() {
        // A pair as one row (prompt once, each reply attending to the prompt and itself) gives the
        // log-probabilities and gradients of the two sequences run separately.
        for seed: UInt64 in [1, 2, 3] {
            let ps = pairs(seed: seed, count: 2)
            let packed = model(), plain = model()
            let dl: [Double] = [0.7, -1.3, -0.4, 0.9]
            let rp = packed.forward(PackedBatch(pairs: ps, pad: 0))
            let rs = plain.forward(PackedBatch(sequences: ps.map(\.chosen) + ps.map(\.rejected), pad: 0))
            XCTAssertEqual(rp.count, rs.count)
            for i in 0..<4 { XCTAssertEqual(rp.logp[i], rs.logp[i], accuracy: 1e-10) }
            packed.zeroGrad(); plain.zeroGrad()
            packed.backward(dlogp: dl); plain.backward(dlogp: dl)
            for i in 0..<packed.grads.count { XCTAssertEqual(packed.grads[i], plain.grads[i], accuracy: 1e-9, "gradient \(i)") }
        }
    }

    func testDPOGradientThroughPackedPairs() {
        let m = model()
        let ps = pairs(seed: 7, count: 2)
        let s = DPOSettings()
        func lossOf(_ r: (logp: [Double], count: [Int])) -> DPOOutput {
            Losses.dpo(PairLogps(chosen: Array(r.logp[0..<2]), rejected: Array(r.logp[2..<4]), refChosen: [-9, -8], refRejected: [-8.5, -9],
                                 nChosen: Array(r.count[0..<2]), nRejected: Array(r.count[2..<4])), s)
        }
        let pb = PackedBatch(pairs: ps, pad: 0)
        check(m, loss: { lossOf(m.forward(pb)).loss }, backward: {
            let o = lossOf(m.forward(pb))
            m.backward(dlogp: o.dChosen + o.dRejected)
        })
    }

    func testThreadedForwardAndBackwardAreBitIdentical() {
        let (tok, tgt, mask) = batch(seed: 4)
        let m1 = model(threads: 1), m2 = model(threads: 2)
        let r1 = m1.forward(tokens: tok, targets: tgt, mask: mask, B: B, T: T)
        let r2 = m2.forward(tokens: tok, targets: tgt, mask: mask, B: B, T: T)
        XCTAssertEqual(r1.logp, r2.logp)
        m1.zeroGrad(); m2.zeroGrad()
        m1.backward(dlogp: [1, -1]); m2.backward(dlogp: [1, -1])
        XCTAssertTrue((0..<m1.grads.count).allSatisfy { m1.grads[$0] == m2.grads[$0] })
    }

    func testFloatAndDoubleForwardAgree() {
        let (tok, tgt, mask) = batch(seed: 5)
        let d = model()
        let f = try! GPT<Float>(config: config, maxBatch: B)
        for i in 0..<d.params.count { f.params[i] = Float(d.params[i]) }
        let rd = d.forward(tokens: tok, targets: tgt, mask: mask, B: B, T: T)
        let rf = f.forward(tokens: tok, targets: tgt, mask: mask.map(Float.init), B: B, T: T)
        for b in 0..<B { XCTAssertEqual(rd.logp[b], rf.logp[b], accuracy: 1e-3 * max(1, abs(rd.logp[b]))) }
        XCTAssertEqual(rd.count, [3, 2])
    }
}

/// The pretrained decoder's backward pass against central finite differences, in Float64, for every
/// variation of the graph: sampled entries of every tensor of every layer, through the packed
/// prompt-and-replies pass and the output head.
final class DecoderGradientTests: XCTestCase {
    func variants() -> [(String, DecoderConfig, DecoderLayout.Presence)] {
        var llama = DecoderConfig(architecture: "llama", vocab: 11, dim: 16, layers: 2, heads: 4, kvHeads: 2, headDim: 6, ffn: 12, context: 64,
                                  ropeTheta: 10_000, rotaryDim: 6, eps: 1e-5)
        llama.ropeScaling = .llama3(factor: 8, low: 1, high: 4, original: 8)
        var adjacent = DecoderConfig(architecture: "llama", vocab: 9, dim: 8, layers: 2, heads: 2, kvHeads: 1, headDim: 4, ffn: 10, context: 64,
                                     ropeTheta: 500, rotaryDim: 4, eps: 1e-6)
        adjacent.ropeLayout = .adjacent
        var neox = DecoderConfig(architecture: "neox", vocab: 10, dim: 12, layers: 2, heads: 3, kvHeads: 3, headDim: 4, ffn: 20, context: 64,
                                 ropeTheta: 10_000, rotaryDim: 2, eps: 1e-5)
        neox.norm = .layer; neox.mlp = .gelu; neox.parallelResidual = true
        var serial = neox
        serial.parallelResidual = false; serial.mlp = .geluTanh; serial.rotaryDim = 4
        return [("llama: GQA, head size 6, biases, untied, llama3 scaling", llama, .init(qkvBias: true, oBias: true, mlpBias: true, tied: false)),
                ("llama: adjacent rope, tied, no biases", adjacent, .init()),
                ("neox: LayerNorm, GELU, parallel, partial rotary", neox, .init(qkvBias: true, oBias: true, mlpBias: true, normBias: true, tied: false)),
                ("neox: serial, tanh GELU", serial, .init(qkvBias: true, oBias: true, mlpBias: true, normBias: true, tied: false))]
    }

    func testEveryTensorsGradientMatchesFiniteDifferences() throws {
        let prompt: [Int32] = [1, 4, 2, 7, 3], replies: [[Int32]] = [[5, 0, 6], [2, 8, 1, 1]]
        let weights = [0.7, -1.3]
        for (name, config, presence) in variants() {
            let m = try DecoderModel<Double>(config: config, presence: presence, seed: 5, scale: 1.5)
            func loss() -> Double { zip(m.replyLogprobs(prompt: prompt, replies: replies), weights).map { $0 * $1 }.reduce(0, +) }
            m.enableGradients()
            m.zeroGrad()
            let sums = m.replyLogprobsBackward(prompt: prompt, replies: replies) { _ in weights }
            XCTAssertEqual(zip(sums, weights).map { $0 * $1 }.reduce(0, +), loss(), accuracy: 1e-12, "\(name): the backward pass's forward is the forward")
            var rng = SplitMix64(state: 17)
            var worst = 0.0, checked = 0
            for (tensor, slot) in m.layout.named {
                for _ in 0..<min(4, slot.count) {
                    let i = slot.at + Int(rng.next() % UInt64(slot.count))
                    let keep = m.params[i], eps = 1e-5
                    m.params[i] = keep + eps; let up = loss()
                    m.params[i] = keep - eps; let down = loss()
                    m.params[i] = keep
                    let numeric = (up - down) / (2 * eps), analytic = m.grads![i]
                    let err = abs(numeric - analytic) / max(1e-4, abs(numeric) + abs(analytic))
                    worst = max(worst, err)
                    checked += 1
                    XCTAssertLessThan(err, 1e-5, "\(name) \(tensor)[\(i - slot.at)]: analytic \(analytic), numeric \(numeric)")
                }
            }
            print("decoder gradients, \(name): \(checked) entries, largest relative error \(worst)")
        }
    }

    /// The Float engine's gradients are the Double engine's (same weights), to Float accuracy.
    func testFloatGradientsFollowDouble() throws {
        let (_, config, presence) = variants()[0]
        let md = try DecoderModel<Double>(config: config, presence: presence, seed: 9)
        let mf = try DecoderModel<Float>(config: config, layout: md.layout) { p in for i in 0..<md.layout.total { p[i] = Float(md.params[i]) } }
        md.enableGradients(); mf.enableGradients()
        _ = md.replyLogprobsBackward(prompt: [1, 2, 3], replies: [[4, 5], [6]]) { _ in [1, -1] }
        _ = mf.replyLogprobsBackward(prompt: [1, 2, 3], replies: [[4, 5], [6]]) { _ in [1, -1] }
        var num = 0.0, den = 0.0
        for i in 0..<md.layout.total { num += pow(Double(mf.grads![i]) - md.grads![i], 2); den += pow(md.grads![i], 2) }
        XCTAssertLessThan((num / den).squareRoot(), 1e-5)
    }
}
