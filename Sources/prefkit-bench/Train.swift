import ArgumentParser
import Foundation
import PrefIO
import PrefCore
import PrefTrain

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Measure training throughput (forward + backward tokens/s) and OpenBLAS sgemm GFLOP/s."
    )
    @Option var nLayer = 4
    @Option var nHead = 4
    @Option var nEmbd = 128
    @Option var vocabSize = 4096
    @Option var seqLen = 256
    @Option var batchSize = 8
    @Option var steps = 10
    @Option var threads = 2

    func run() throws {
        BLAS.setThreads(threads)
        // sgemm peak at the sizes of this model's largest products.
        let (m, n, k) = (batchSize * seqLen, 4 * nEmbd, nEmbd)
        var a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: n * k), c = [Float](repeating: 0, count: m * n)
        var best = 0.0
        for _ in 0..<20 {
            let t0 = Date()
            for _ in 0..<10 { Float.gemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: &a, lda: k, b: &b, ldb: k, beta: 0, c: &c, ldc: n) }
            best = max(best, 10 * 2 * Double(m * n * k) / Date().timeIntervalSince(t0) / 1e9)
        }
        let (m2, n2, k2) = (batchSize * seqLen, vocabSize, nEmbd)
        var a2 = [Float](repeating: 0.5, count: m2 * k2), b2 = [Float](repeating: 0.25, count: n2 * k2), c2 = [Float](repeating: 0, count: m2 * n2)
        var bestHead = 0.0
        for _ in 0..<5 {
            let t0 = Date()
            Float.gemm(transA: false, transB: true, m: m2, n: n2, k: k2, alpha: 1, a: &a2, lda: k2, b: &b2, ldb: k2, beta: 0, c: &c2, ldc: n2)
            bestHead = max(bestHead, 2 * Double(m2 * n2 * k2) / Date().timeIntervalSince(t0) / 1e9)
        }
        let config = GPTConfig(vocabSize: vocabSize, maxT: seqLen, nLayer: nLayer, nHead: nHead, nEmbd: nEmbd)
        let gpt = try GPT<Float>(config: config, maxBatch: batchSize, threads: threads, maxSequence: seqLen)
        gpt.initialize(seed: 1)
        var rng = Normal(seed: 2)
        let BT = batchSize * seqLen
        let tokens = (0..<BT).map { _ in Int32(rng.uniform() * Double(vocabSize - 1)) }
        let targets = (0..<BT).map { _ in Int32(rng.uniform() * Double(vocabSize - 1)) }
        let mask = [Float](repeating: 1, count: BT)
        var times: [Double] = []
        for s in 0..<(steps + 2) {
            let t0 = Date()
            let r = gpt.forward(tokens: tokens, targets: targets, mask: mask, B: batchSize, T: seqLen)
            gpt.zeroGrad()
            gpt.backward(dlogp: Losses.sft(logp: r.logp, count: r.count).dlogp)
            if s >= 2 { times.append(Date().timeIntervalSince(t0)) }   // two warm-up steps
        }
        times.sort()
        let median = times[times.count / 2]
        let C = Double(nEmbd), L = Double(nLayer), T = Double(seqLen), V = Double(vocabSize)
        // FLOPs per token, forward + backward: 6 x (matmul parameters + LM head) + attention.
        let matmulParams = L * 12 * C * C + V * C
        let flopsPerToken = 6 * matmulParams + 6 * L * T * C
        let tps = Double(BT) / median
        let achieved = tps * flopsPerToken / 1e9
        let cfgText = "n_layer \(nLayer), n_embd \(nEmbd), n_head \(nHead), vocab \(vocabSize), seq \(seqLen), batch \(batchSize), threads \(threads)"
        var fields: [(String, JSONValue)] = [("config", .string(cfgText)), ("parameters", .int(Int64(gpt.parameterCount)))]
        fields.append(("step_seconds_median", .double(median)))
        fields.append(("tokens_per_second", .double(tps.rounded())))
        fields.append(("model_gflops", .double((achieved * 10).rounded() / 10)))
        fields.append(("sgemm_gflops_mlp_shape", .double((best * 10).rounded() / 10)))
        fields.append(("sgemm_gflops_lm_head_shape", .double((bestHead * 10).rounded() / 10)))
        fields.append(("fraction_of_sgemm", .double((achieved / max(best, bestHead) * 1000).rounded() / 1000)))
        let out = JSONValue.object(fields)
        print(out.serialized())
    }
}
