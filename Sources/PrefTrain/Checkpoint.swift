// Hugging Face GPT-2 checkpoints: config.json (model_type gpt2) and model.safetensors with the
// `transformers` names and layouts (Conv1D weights stored [in, out], so prefkit's [out, in]
// matrices are transposed), plus the tokenizer files. Loads such a directory back.
import Foundation
import PrefIO

public enum Checkpoint {
    /// (name, shape, tensor, layer, transposed) for every stored tensor.
    static func layout(_ c: GPTConfig) -> [(String, [Int], ParamTensor, Int?, Bool)] {
        let C = c.nEmbd
        var out: [(String, [Int], ParamTensor, Int?, Bool)] = [
            ("transformer.wte.weight", [c.vocabSize, C], .wte, nil, false),
            ("transformer.wpe.weight", [c.maxT, C], .wpe, nil, false),
        ]
        for l in 0..<c.nLayer {
            let p = "transformer.h.\(l)."
            out += [
                (p + "ln_1.weight", [C], .ln1w, l, false), (p + "ln_1.bias", [C], .ln1b, l, false),
                (p + "attn.c_attn.weight", [C, 3 * C], .qkvw, l, true), (p + "attn.c_attn.bias", [3 * C], .qkvb, l, false),
                (p + "attn.c_proj.weight", [C, C], .attprojw, l, true), (p + "attn.c_proj.bias", [C], .attprojb, l, false),
                (p + "ln_2.weight", [C], .ln2w, l, false), (p + "ln_2.bias", [C], .ln2b, l, false),
                (p + "mlp.c_fc.weight", [C, 4 * C], .fcw, l, true), (p + "mlp.c_fc.bias", [4 * C], .fcb, l, false),
                (p + "mlp.c_proj.weight", [4 * C, C], .fcprojw, l, true), (p + "mlp.c_proj.bias", [C], .fcprojb, l, false),
            ]
        }
        out += [("transformer.ln_f.weight", [C], .lnfw, nil, false), ("transformer.ln_f.bias", [C], .lnfb, nil, false)]
        return out
    }

    static func tensorStart(_ m: GPT<Float>, _ t: ParamTensor, _ layer: Int?) -> UnsafeMutablePointer<Float> {
        let per = layer == nil ? 0 : t.size(m.config) / m.config.nLayer
        return m.param(t) + (layer ?? 0) * per
    }

    /// config.json: GPT-2's keys, plus the prompt truncation the model was trained with
    /// (`prefkit_max_prompt_length`, read back by `logps` and `score --model`; other tools ignore it).
    public static func configJSON(_ c: GPTConfig, eos: Int, maxPromptLength: Int? = nil) -> JSONValue {
        .object([
            ("model_type", .string("gpt2")), ("architectures", .array([.string("GPT2LMHeadModel")])),
            ("vocab_size", .int(Int64(c.vocabSize))), ("n_positions", .int(Int64(c.maxT))), ("n_ctx", .int(Int64(c.maxT))),
            ("n_embd", .int(Int64(c.nEmbd))), ("n_layer", .int(Int64(c.nLayer))), ("n_head", .int(Int64(c.nHead))),
            ("n_inner", .null), ("activation_function", .string("gelu_new")), ("resid_pdrop", .double(0)), ("embd_pdrop", .double(0)),
            ("attn_pdrop", .double(0)), ("layer_norm_epsilon", .double(1e-5)), ("initializer_range", .double(0.02)),
            ("scale_attn_weights", .bool(true)), ("tie_word_embeddings", .bool(true)),
            ("bos_token_id", .int(Int64(eos))), ("eos_token_id", .int(Int64(eos))), ("pad_token_id", .int(Int64(eos))),
            ("torch_dtype", .string("float32")),
        ] + (maxPromptLength.map { [("prefkit_max_prompt_length", JSONValue.int(Int64($0)))] } ?? []))
    }

    /// The prompt truncation a prefkit checkpoint was trained with, if it says.
    public static func maxPromptLength(_ dir: String) -> Int? {
        guard let cfg = try? JSONValue.parse(bytes: Sources.readAll(dir + "/config.json")) else { return nil }
        return cfg["prefkit_max_prompt_length"]?.intValue.map { Int($0) }
    }

    /// Writes DIR/config.json, DIR/model.safetensors and, with a tokenizer, its two files.
    public static func save(_ m: GPT<Float>, tokenizer: BPETokenizer?, to dir: String, maxPromptLength: Int? = nil, extra: [(String, JSONValue)] = []) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let entries = layout(m.config)
        var header: [(String, JSONValue)] = [("__metadata__", .object([("format", .string("pt"))] + extra.map { ($0.0, .string($0.1.serialized())) }))]
        var offset = 0
        for (name, shape, _, _, _) in entries {
            let n = shape.reduce(1, *) * 4
            header.append((name, .object([("dtype", .string("F32")), ("shape", .array(shape.map { .int(Int64($0)) })),
                                          ("data_offsets", .array([.int(Int64(offset)), .int(Int64(offset + n))]))])))
            offset += n
        }
        var h = Array(JSONValue.object(header).serialized().utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        let f = try EncodedFile(path: dir + "/model.safetensors", compression: .none, level: 0)
        var len = UInt64(h.count).littleEndian
        try f.write(withUnsafeBytes(of: &len) { Array($0) })
        try f.write(h)
        for (_, shape, t, layer, transposed) in entries {
            let src = tensorStart(m, t, layer)
            let n = shape.reduce(1, *)
            var data = [Float](repeating: 0, count: n)
            if transposed {
                // prefkit stores [out, in]; the file holds [in, out] = shape.
                let rows = shape[0], cols = shape[1]
                for o in 0..<cols { for i in 0..<rows { data[i * cols + o] = src[o * rows + i] } }
            } else {
                for i in 0..<n { data[i] = src[i] }
            }
            try data.withUnsafeBytes { try f.write($0) }
        }
        try f.commit()
        try configJSON(m.config, eos: tokenizer.map { Int($0.eos) } ?? 0, maxPromptLength: maxPromptLength).write(to: dir + "/config.json")
        if let t = tokenizer {
            try t.tokenizerJSON().write(to: dir + "/tokenizer.json")
            try t.tokenizerConfigJSON(maxLength: m.config.maxT).write(to: dir + "/tokenizer_config.json")
            try JSONValue.object([("eos_token", .string("<|endoftext|>")), ("pad_token", .string("<|endoftext|>"))]).write(to: dir + "/special_tokens_map.json")
        }
    }


    /// A model directory holds config.json and model.safetensors: otherwise one sentence saying
    /// which is missing and what a model directory is.
    public static func checkDirectory(_ dir: String) throws {
        var isDir: ObjCBool = false
        let fm = FileManager.default
        guard fm.fileExists(atPath: dir, isDirectory: &isDir) else { throw TrainError("model directory \(dir) does not exist") }
        guard isDir.boolValue else { throw TrainError("\(dir) is a file, not a model directory") }
        for f in ["config.json", "model.safetensors"] where !fm.isReadableFile(atPath: dir + "/" + f) {
            throw TrainError("\(dir) is not a model directory: \(f) is missing or unreadable")
        }
    }

    /// Loads a GPT-2 directory (prefkit's or a compatible Hugging Face one, F32 weights).
    public static func load(_ dir: String, maxBatch: Int, threads: Int) throws -> (GPT<Float>, BPETokenizer?) {
        try checkDirectory(dir)
        let cfg = try JSONValue.parse(bytes: Sources.readAll(dir + "/config.json"))
        func int(_ k: String) throws -> Int {
            guard let v = cfg[k]?.intValue else { throw TrainError("\(dir)/config.json: missing \(k)") }
            return Int(v)
        }
        let config = GPTConfig(vocabSize: try int("vocab_size"), maxT: try int("n_positions"), nLayer: try int("n_layer"),
                               nHead: try int("n_head"), nEmbd: try int("n_embd"))
        try config.validate("\(dir)/config.json")
        // The weights and the tokenizer are checked against the config before the model is built.
        let file = try SafetensorsFile(path: dir + "/model.safetensors")
        let entries = layout(config)
        for (name, shape, _, _, _) in entries {
            guard let e = file.tensors[name], e.dtype == "F32" else {
                throw TrainError("\(dir)/model.safetensors: missing or non-F32 tensor \(name)")
            }
            guard e.shape == shape else { throw TrainError("\(dir)/model.safetensors: \(name) has shape \(e.shape), config.json says \(shape)") }
        }
        let tok = FileManager.default.fileExists(atPath: dir + "/tokenizer.json") ? try BPETokenizer.load(tokenizerJSON: dir + "/tokenizer.json") : nil
        if let tok, tok.vocab.count > config.vocabSize {
            throw TrainError("\(dir): the tokenizer has \(tok.vocab.count) tokens but the model's vocab_size is \(config.vocabSize)")
        }
        let m = try GPT<Float>(config: config, maxBatch: maxBatch, threads: threads)
        for (name, shape, t, layer, transposed) in entries {
            let dst = tensorStart(m, t, layer)
            file.floats(file.tensors[name]!) { src in
                let n = shape.reduce(1, *)
                if transposed {
                    let rows = shape[0], cols = shape[1]
                    for i in 0..<rows { for o in 0..<cols { dst[o * rows + i] = src.loadUnaligned(fromByteOffset: 4 * (i * cols + o), as: Float.self) } }
                } else {
                    for i in 0..<n { dst[i] = src.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
                }
            }
        }
        return (m, tok)
    }
}
