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

/// Hugging Face directories whose files lie: each refused with one sentence naming the file and
/// the lie, before the weights are read (safetensors headers, sharded indexes, config.json sizes).
final class HostileCheckpointTests: XCTestCase {
    /// A safetensors file from (name, dtype, shape, data bytes) entries, with an optional header override.
    static func safetensors(_ tensors: [(String, String, [Int], Int)], header override: String? = nil) -> [UInt8] {
        var entries: [String] = [], off = 0
        for (name, dt, shape, n) in tensors {
            entries.append("\"\(name)\": {\"dtype\": \"\(dt)\", \"shape\": \(shape), \"data_offsets\": [\(off), \(off + n)]}")
            off += n
        }
        let h = Array((override ?? "{" + entries.joined(separator: ", ") + "}").utf8)
        var out: [UInt8] = []
        for k in 0..<8 { out.append(UInt8((UInt64(h.count) >> (8 * UInt64(k))) & 0xFF)) }
        return out + h + [UInt8](repeating: 0, count: off)
    }

    /// A tiny Llama's config and tensors (F32 zeros).
    static let config = "{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 16, \"hidden_size\": 8, \"intermediate_size\": 12, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"num_key_value_heads\": 1, \"max_position_embeddings\": 32, \"tie_word_embeddings\": true}"
    static var tensors: [(String, String, [Int], Int)] {
        let p = "model.layers.0."
        let shapes: [(String, [Int])] = [("model.embed_tokens.weight", [16, 8]), ("model.norm.weight", [8]), (p + "input_layernorm.weight", [8]),
                                         (p + "self_attn.q_proj.weight", [8, 8]), (p + "self_attn.k_proj.weight", [4, 8]), (p + "self_attn.v_proj.weight", [4, 8]),
                                         (p + "self_attn.o_proj.weight", [8, 8]), (p + "post_attention_layernorm.weight", [8]),
                                         (p + "mlp.gate_proj.weight", [12, 8]), (p + "mlp.up_proj.weight", [12, 8]), (p + "mlp.down_proj.weight", [8, 12])]
        return shapes.map { ($0.0, "F32", $0.1, 4 * $0.1.reduce(1, *)) }
    }

    func directory(config: String = config, weights: [UInt8]? = nil, extra: [String: String] = [:]) throws -> String {
        let d = Paths.tempDir()
        try config.write(toFile: d + "/config.json", atomically: false, encoding: .utf8)
        if let w = weights ?? Optional(HostileCheckpointTests.safetensors(HostileCheckpointTests.tensors)) {
            try Data(w).write(to: URL(fileURLWithPath: d + "/model.safetensors"))
        }
        for (name, text) in extra { try text.write(toFile: d + "/" + name, atomically: false, encoding: .utf8) }
        return d
    }

    func refused(_ d: String, _ want: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try DecoderModel(hfDirectory: d), file: file, line: line) { e in
            XCTAssertTrue("\(e)".contains(want), "expected '\(want)': \(e)", file: file, line: line)
            XCTAssertTrue("\(e)".contains(d), "names the file: \(e)", file: file, line: line)
        }
    }

    func testTheValidDirectoryLoads() throws {
        let m = try DecoderModel(hfDirectory: try directory())
        XCTAssertEqual(m.config.kvHeads, 1)
        XCTAssertEqual(m.replyLogprobs(prompt: [1, 2], replies: [[3], [4, 5]]).count, 2)
    }

    func testLyingCheckpointsAreRefusedBeforeAllocating() throws {
        let t = HostileCheckpointTests.tensors
        // A header length of 2^62.
        var w = HostileCheckpointTests.safetensors(t)
        w.replaceSubrange(0..<8, with: [0, 0, 0, 0, 0, 0, 0, 0x40])
        refused(try directory(weights: w), "header length")
        // Offsets past the end of the file.
        w = HostileCheckpointTests.safetensors(t)
        w.removeLast(100)
        refused(try directory(weights: w), "lies outside the file")
        // Two tensors over the same bytes.
        let overlap = "{\"model.embed_tokens.weight\": {\"dtype\": \"F32\", \"shape\": [16, 8], \"data_offsets\": [0, 512]}, \"model.norm.weight\": {\"dtype\": \"F32\", \"shape\": [8], \"data_offsets\": [480, 512]}}"
        refused(try directory(weights: HostileCheckpointTests.safetensors([("x", "F32", [128], 512)], header: overlap)), "overlap")
        // A shape whose element count overflows, and one larger than the file.
        let huge = "{\"model.embed_tokens.weight\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 16], \"data_offsets\": [0, 512]}}"
        refused(try directory(weights: HostileCheckpointTests.safetensors([("x", "F32", [128], 512)], header: huge)), "model.embed_tokens.weight")
        // A config whose sizes do not match the tensors.
        refused(try directory(config: HostileCheckpointTests.config.replacingOccurrences(of: "\"intermediate_size\": 12", with: "\"intermediate_size\": 16")),
                "the config implies")
        // A config with sizes beyond any model, and heads that do not divide.
        refused(try directory(config: HostileCheckpointTests.config.replacingOccurrences(of: "\"num_hidden_layers\": 1", with: "\"num_hidden_layers\": 99999999")),
                "block count")
        refused(try directory(config: HostileCheckpointTests.config.replacingOccurrences(of: "\"num_key_value_heads\": 1", with: "\"num_key_value_heads\": 3")),
                "key-value head count")
        // A tensor of an integer type, and an architecture not read.
        var ints = t
        ints[1] = ("model.norm.weight", "I32", [8], 32)
        refused(try directory(weights: HostileCheckpointTests.safetensors(ints)), "I32")
        refused(try directory(config: HostileCheckpointTests.config.replacingOccurrences(of: "LlamaForCausalLM", with: "FalconForCausalLM")), "FalconForCausalLM")
        // A sharded index that points outside the directory, or at a shard without the tensor.
        let idx = "{\"weight_map\": {\"model.norm.weight\": \"../model.safetensors\"}}"
        let d = try directory(extra: ["model.safetensors.index.json": idx])
        try FileManager.default.removeItem(atPath: d + "/model.safetensors")
        refused(d, "not a file name in the directory")
        // PyTorch pickles are not read.
        let p = try directory(extra: ["pytorch_model.bin": "x"])
        try FileManager.default.removeItem(atPath: p + "/model.safetensors")
        refused(p, "pytorch_model.bin")
    }

    func testAModelLargerThanTheMemoryLimitIsRefused() throws {
        let d = try directory()
        ModelBudget.limit = 1000
        defer { ModelBudget.limit = nil }
        refused(d, "would need")
    }
}
