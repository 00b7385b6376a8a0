import Foundation
import XCTest
import PrefIO
@testable import PrefTrain
import TestSupport

/// The decoder against transformers on small random-initialized models of every architecture and
/// loading variation prefkit reads (scripts/tiny_models.py): Llama with Llama 3.1 rope scaling,
/// an untied head, biases and a head size apart from hidden / heads; tied, bf16 and sharded; f16
/// with linear rope scaling; Mistral; Qwen2; GPT-NeoX with partial rotary, parallel and serial.
final class DecoderTests: XCTestCase {
    func testRandomInitModelsEqualTransformers() throws {
        let dir = Paths.tempDir()
        let script = try String(contentsOfFile: Paths.repo + "/scripts/tiny_models.py", encoding: .utf8)
        for seed in [1, 2] {
            let out = dir + "/seed\(seed)"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            guard try runReferencePython(script, [out, "\(seed)"], what: "torch and transformers") else { return }
            guard case .object(let cases) = try JSONValue.parse(bytes: Sources.readAll(out + "/cases.json")) else { return XCTFail("no cases") }
            XCTAssertEqual(cases.count, 7)
            for (name, seqs) in cases {
                let m = try DecoderModel(hfDirectory: out + "/" + name)
                var worst = 0.0
                for s in seqs.arrayValue! {
                    let prompt = s["prompt"]!.arrayValue!.map { Int32($0.intValue!) }
                    let replies = s["replies"]!.arrayValue!.map { $0.arrayValue!.map { Int32($0.intValue!) } }
                    let theirs = s["logps"]!.arrayValue!.map { $0.doubleValue! }
                    // Packed (the prompt once, both replies after it) and one sequence at a time.
                    let packed = m.replyLogprobs(prompt: prompt, replies: replies)
                    for (k, r) in replies.enumerated() {
                        let single = m.logprobs(prompt + r, targets: prompt.count..<(prompt.count + r.count)).reduce(0, +)
                        for ours in [packed[k], single] {
                            worst = max(worst, abs(ours - theirs[k]) / abs(theirs[k]))
                            XCTAssertLessThan(abs(ours - theirs[k]) / abs(theirs[k]), 1e-4, "\(name) seed \(seed): ours \(ours), transformers \(theirs[k])")
                        }
                    }
                }
                print("decoder vs transformers, \(name) seed \(seed): largest relative difference \(worst)")
            }
            // What the variations are made of, so that each is what the name says.
            let llama3 = try DecoderModel(hfDirectory: out + "/llama3").config
            XCTAssertEqual(llama3.headDim, 24)
            XCTAssertEqual(llama3.qDim, 96)
            guard case .llama3 = llama3.ropeScaling else { return XCTFail("llama3 scaling not read") }
            let neox = try DecoderModel(hfDirectory: out + "/neox")
            XCTAssertEqual(neox.config.rotaryDim, 4)
            XCTAssertTrue(neox.config.parallelResidual)
            XCTAssertNotNil(neox.head)
            XCTAssertNil(try DecoderModel(hfDirectory: out + "/qwen2").head, "qwen2 case is tied")
            let sharded = try HFWeights(directory: out + "/llama_tied_bf16_sharded")
            XCTAssertGreaterThan(sharded.files.count, 1)
            XCTAssertEqual(Set(sharded.files.flatMap { $0.tensors.values.map(\.dtype) }), ["BF16"])
            XCTAssertEqual(Set(try HFWeights(directory: out + "/llama_linear_f16").files[0].tensors.values.map(\.dtype)), ["F16"])
        }
    }
}
