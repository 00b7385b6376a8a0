// Loading a DecoderModel: from a GGUF file (llama architecture) or a Hugging Face directory
// (config.json with model.safetensors or its sharded index; F32, F16 or BF16 weights) of
// LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM or GPTNeoXForCausalLM. The config is
// read and checked, every tensor's presence and shape is checked against it, and the memory the
// weights need is compared with the budget, all before any weight is read.
import Foundation
import PrefIO

/// Where weights come from: shapes in PyTorch order (rows first), values as Float.
protocol TensorSource {
    var origin: String { get }
    func shape(_ name: String) -> [Int]?
    func floats(_ name: String) throws -> [Float]
}

extension GGUFFile: TensorSource {
    var origin: String { path }
    func shape(_ name: String) -> [Int]? { tensors[name].map { Array($0.dims.reversed()) } }
}

/// The safetensors files of a Hugging Face directory, one or sharded.
final class HFWeights: TensorSource {
    let origin: String
    let files: [SafetensorsFile]
    let fileOf: [String: Int]

    init(directory dir: String) throws {
        origin = dir
        let fm = FileManager.default
        let index = dir + "/model.safetensors.index.json"
        if fm.fileExists(atPath: dir + "/model.safetensors") {
            let f = try SafetensorsFile(path: dir + "/model.safetensors")
            files = [f]
            fileOf = f.tensors.mapValues { _ in 0 }
        } else if fm.fileExists(atPath: index) {
            guard case .object(let map)? = try JSONValue.parse(bytes: Sources.readAll(index))["weight_map"] else {
                throw TrainError("\(index): no weight_map object")
            }
            var shardIndex: [String: Int] = [:], files: [SafetensorsFile] = [], fileOf: [String: Int] = [:]
            for (name, v) in map {
                // A shard is a file of this directory, named plainly (no path, nothing hidden).
                guard let shard = v.stringValue, !shard.isEmpty, !shard.contains("/"), !shard.hasPrefix(".") else {
                    throw TrainError("\(index): tensor \(name) is mapped to \(v.serialized()), not a file name in the directory")
                }
                if shardIndex[shard] == nil {
                    shardIndex[shard] = files.count
                    files.append(try SafetensorsFile(path: dir + "/" + shard))
                }
                let k = shardIndex[shard]!
                guard files[k].tensors[name] != nil else { throw TrainError("\(index): tensor \(name) is mapped to \(shard), which does not hold it") }
                fileOf[name] = k
            }
            self.files = files
            self.fileOf = fileOf
        } else if fm.fileExists(atPath: dir + "/pytorch_model.bin") || fm.fileExists(atPath: dir + "/pytorch_model.bin.index.json") {
            throw TrainError("\(dir) holds PyTorch pickle weights (pytorch_model.bin), which prefkit does not read: save the model with safetensors (save_pretrained's default)")
        } else {
            throw TrainError("\(dir) has no model.safetensors nor model.safetensors.index.json")
        }
    }

    func shape(_ name: String) -> [Int]? { fileOf[name].flatMap { files[$0].tensors[name]?.shape } }
    func floats(_ name: String) throws -> [Float] {
        guard let k = fileOf[name] else { throw TrainError("\(origin): no tensor \(name)") }
        return try files[k].floats(name)
    }
}

extension DecoderModel where S == Float {
    /// The tensors of one graph, by role: the name in the source, nil where the architecture or
    /// its config has none.
    enum Role: CaseIterable {
        case norm1, norm1Bias, q, k, v, qkv, qBias, kBias, vBias, qkvBias, o, oBias
        case norm2, norm2Bias, gate, up, down, gateBias, upBias, downBias
    }
    struct Names {
        var embed: String
        var outNorm: String
        var outNormBias: String?
        /// The untied head's name (absent from the source: tied when `tiedAllowed`).
        var head: String
        var tiedAllowed: Bool
        var layer: (Int, Role) -> String?
    }

    /// Shapes (PyTorch order) each role must have.
    static func expectedShape(_ r: Role, _ c: DecoderConfig) -> [Int] {
        switch r {
        case .norm1, .norm1Bias, .norm2, .norm2Bias, .oBias, .downBias: return [c.dim]
        case .q: return [c.qDim, c.dim]
        case .k, .v: return [c.kvDim, c.dim]
        case .qkv: return [c.qDim + 2 * c.kvDim, c.dim]
        case .qBias: return [c.qDim]
        case .kBias, .vBias: return [c.kvDim]
        case .qkvBias: return [c.qDim + 2 * c.kvDim]
        case .o: return [c.dim, c.qDim]
        case .gate, .up: return [c.ffn, c.dim]
        case .gateBias, .upBias: return [c.ffn]
        case .down: return [c.dim, c.ffn]
        }
    }

    /// Checks every tensor against the config and the budget, then reads them into the model's
    /// parameter buffer (the weights are held once; one tensor at a time passes through as Float).
    static func prepare(_ c: DecoderConfig, from s: TensorSource, names n: Names) throws -> (DecoderLayout, (UnsafeMutablePointer<Float>) throws -> Void) {
        try c.validate(s.origin)
        var expected: [(String, [Int])] = [(n.embed, [c.vocab, c.dim]), (n.outNorm, [c.dim])]
        if let b = n.outNormBias { expected.append((b, [c.dim])) }
        let tied = s.shape(n.head) == nil
        if tied {
            guard n.tiedAllowed else { throw TrainError("\(s.origin): tensor \(n.head) (the output head) is missing and the config does not tie it to the embedding") }
        } else {
            expected.append((n.head, [c.vocab, c.dim]))
        }
        for l in 0..<c.layers {
            for r in Role.allCases { if let name = n.layer(l, r) { expected.append((name, expectedShape(r, c))) } }
        }
        for (name, shape) in expected {
            guard let got = s.shape(name) else { throw TrainError("\(s.origin): tensor \(name) is missing") }
            // A vector may be stored as [1, n]; a matrix must be exactly the config's.
            guard got == shape || (shape.count == 1 && got == [1] + shape) else {
                throw TrainError("\(s.origin): tensor \(name) has shape \(got), the config implies \(shape)")
            }
        }
        try ModelBudget.check(expected.map { $0.1.reduce(1, *) }, elementBytes: 4, what: "the weights of \(s.origin)")
        let has = DecoderLayout.Presence(qkvBias: n.layer(0, .qBias) != nil || n.layer(0, .qkvBias) != nil, oBias: n.layer(0, .oBias) != nil,
                                         mlpBias: n.layer(0, .upBias) != nil, normBias: n.outNormBias != nil, tied: tied)
        let layout = DecoderLayout(c, has)
        return (layout, { p in
            func put(_ values: [Float], _ slot: DecoderLayout.Slot?) {
                guard let slot else { return }
                precondition(values.count == slot.count)
                values.withUnsafeBufferPointer { (p + slot.at).update(from: $0.baseAddress!, count: slot.count) }
            }
            func read(_ name: String?, _ slot: DecoderLayout.Slot?) throws { if let name, slot != nil { put(try s.floats(name), slot) } }
            try read(n.embed, layout.embed)
            try read(n.outNorm, layout.outNorm)
            try read(n.outNormBias, layout.outNormBias)
            if !tied { try read(n.head, layout.head) }
            for (l, L) in layout.layers.enumerated() {
                func r(_ role: Role, _ slot: DecoderLayout.Slot?) throws { try read(n.layer(l, role), slot) }
                if let fused = n.layer(l, .qkv) {
                    let (q, k, v) = splitFused(try s.floats(fused), c, width: c.dim)
                    put(q, L.wq); put(k, L.wk); put(v, L.wv)
                    if let b = n.layer(l, .qkvBias) {
                        let (bq, bk, bv) = splitFused(try s.floats(b), c, width: 1)
                        put(bq, L.bq); put(bk, L.bk); put(bv, L.bv)
                    }
                } else {
                    try r(.q, L.wq); try r(.k, L.wk); try r(.v, L.wv)
                    try r(.qBias, L.bq); try r(.kBias, L.bk); try r(.vBias, L.bv)
                }
                try r(.norm1, L.norm1); try r(.norm1Bias, L.norm1Bias); try r(.o, L.wo); try r(.oBias, L.bo)
                try r(.norm2, L.norm2); try r(.norm2Bias, L.norm2Bias)
                try r(.gate, L.wg); try r(.up, L.wu); try r(.down, L.wd)
                try r(.gateBias, L.bg); try r(.upBias, L.bu); try r(.downBias, L.bd)
            }
        })
    }

    /// GPT-NeoX's fused query_key_value rows, head by head [q | k | v], into q, k and v
    /// (`width`: the row length, 1 for the bias).
    static func splitFused(_ w: [Float], _ c: DecoderConfig, width: Int) -> ([Float], [Float], [Float]) {
        let hd = c.headDim
        var q: [Float] = [], k: [Float] = [], v: [Float] = []
        q.reserveCapacity(c.qDim * width); k.reserveCapacity(c.qDim * width); v.reserveCapacity(c.qDim * width)
        for h in 0..<c.heads {
            let base = h * 3 * hd * width
            q += w[base..<(base + hd * width)]
            k += w[(base + hd * width)..<(base + 2 * hd * width)]
            v += w[(base + 2 * hd * width)..<(base + 3 * hd * width)]
        }
        return (q, k, v)
    }

    // MARK: GGUF

    /// A GGUF file of the llama architecture (`general.architecture` llama).
    public convenience init(gguf f: GGUFFile) throws {
        let arch = f.metadata["general.architecture"]?.string ?? "(none)"
        guard arch == "llama" else { throw TrainError("\(f.path): architecture '\(arch)' is not supported in GGUF files (llama is; Qwen2 and GPT-NeoX are read from Hugging Face directories)") }
        func int(_ k: String) throws -> Int {
            guard let v = f.metadata["llama." + k]?.int else { throw TrainError("\(f.path): metadata llama.\(k) is missing") }
            return v
        }
        let vocab = f.tensors["token_embd.weight"]?.dims.last ?? 0
        let heads = try int("attention.head_count"), dim = try int("embedding_length")
        let headDim = f.metadata["llama.attention.key_length"]?.int ?? (heads > 0 ? dim / heads : 0)
        var c = DecoderConfig(architecture: "llama", vocab: f.metadata["llama.vocab_size"]?.int ?? vocab, dim: dim, layers: try int("block_count"),
                              heads: heads, kvHeads: f.metadata["llama.attention.head_count_kv"]?.int ?? heads, headDim: headDim,
                              ffn: try int("feed_forward_length"), context: try int("context_length"),
                              ropeTheta: f.metadata["llama.rope.freq_base"]?.double ?? 10_000, rotaryDim: headDim, ropeLayout: .adjacent,
                              eps: f.metadata["llama.attention.layer_norm_rms_epsilon"]?.double ?? 1e-5)
        if let rd = f.metadata["llama.rope.dimension_count"]?.int, rd != c.headDim {
            throw TrainError("\(f.path): partial rotary (\(rd) of \(c.headDim)) is not supported for llama")
        }
        switch f.metadata["llama.rope.scaling.type"]?.string {
        case nil, "none"?: break
        case "linear"?:
            guard let factor = f.metadata["llama.rope.scaling.factor"]?.double else { throw TrainError("\(f.path): linear rope scaling without a factor") }
            c.ropeScaling = .linear(factor)
        case let other?: throw TrainError("\(f.path): rope scaling '\(other)' is not supported (linear is, and Llama 3's frequency factors)")
        }
        if let t = f.tensors["rope_freqs.weight"] {
            guard t.count == c.headDim / 2, t.count <= 1 << 16 else { throw TrainError("\(f.path): rope_freqs.weight has \(t.count) values for \(c.headDim / 2) frequencies") }
            c.ropeScaling = .divisors(try f.floats("rope_freqs.weight"))
        }
        let roles: [Role: String] = [.norm1: "attn_norm", .q: "attn_q", .k: "attn_k", .v: "attn_v", .o: "attn_output",
                                     .norm2: "ffn_norm", .gate: "ffn_gate", .up: "ffn_up", .down: "ffn_down"]
        let names = Names(embed: "token_embd.weight", outNorm: "output_norm.weight", outNormBias: nil, head: "output.weight", tiedAllowed: true) { l, r in
            roles[r].map { "blk.\(l).\($0).weight" }
        }
        let (layout, fill) = try DecoderModel.prepare(c, from: f, names: names)
        try self.init(config: c, layout: layout, fill: fill)
    }

    // MARK: Hugging Face

    /// The architectures a Hugging Face directory may hold.
    public static let hfArchitectures = ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "GPTNeoXForCausalLM"]

    /// A Hugging Face model directory: config.json and safetensors weights.
    public convenience init(hfDirectory dir: String) throws {
        let cfgPath = dir + "/config.json"
        guard FileManager.default.isReadableFile(atPath: cfgPath) else { throw TrainError("\(dir) is not a model directory: config.json is missing or unreadable") }
        let cfg = try JSONValue.parse(bytes: Sources.readAll(cfgPath))
        let (c, names) = try DecoderModel.hfConfig(cfg, origin: cfgPath)
        // The sizes are checked before the weights are opened.
        try c.validate(cfgPath)
        let (layout, fill) = try DecoderModel.prepare(c, from: try HFWeights(directory: dir), names: names)
        try self.init(config: c, layout: layout, fill: fill)
    }

    /// The graph and tensor names a config.json describes (the current `rope_parameters` form and
    /// the older `rope_theta` / `rope_scaling` / `rotary_pct` keys).
    static func hfConfig(_ cfg: JSONValue, origin: String) throws -> (DecoderConfig, Names) {
        let arch = cfg["architectures"]?.arrayValue?.first?.stringValue ?? cfg["model_type"]?.stringValue ?? "(none)"
        let known: [String: String] = ["llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM", "gpt_neox": "GPTNeoXForCausalLM"]
        let a = known[arch] ?? arch
        guard hfArchitectures.contains(a) else {
            throw TrainError("\(origin): architecture '\(arch)' is not supported (\(hfArchitectures.joined(separator: ", ")) are)")
        }
        func int(_ k: String, _ d: Int? = nil) throws -> Int {
            if let v = cfg[k], !v.isNull {
                guard let i = v.intValue else { throw TrainError("\(origin): \(k) is \(v.serialized()), not an integer") }
                guard i >= 0, i <= Int64(Int32.max) else { throw TrainError("\(origin): \(k) is \(i)") }
                return Int(i)
            }
            guard let d else { throw TrainError("\(origin): \(k) is missing") }
            return d
        }
        func double(_ v: JSONValue?, _ k: String, _ d: Double) throws -> Double {
            guard let v, !v.isNull else { return d }
            guard let x = v.doubleValue else { throw TrainError("\(origin): \(k) is \(v.serialized()), not a number") }
            return x
        }
        func bool(_ k: String, _ d: Bool) -> Bool { if case .bool(let b)? = cfg[k] { return b }; return d }
        let neox = a == "GPTNeoXForCausalLM"
        let dim = try int("hidden_size"), heads = try int("num_attention_heads")
        guard heads > 0, dim % heads == 0 || cfg["head_dim"] != nil else { throw TrainError("\(origin): \(heads) heads do not divide hidden_size \(dim)") }
        let headDim = neox ? dim / heads : try int("head_dim", dim / max(heads, 1))
        // Rotary settings: rope_parameters (transformers 5), else the older keys.
        let rp = cfg["rope_parameters"].flatMap { $0.isNull ? nil : $0 } ?? cfg["rope_scaling"].flatMap { $0.isNull ? nil : $0 }
        let theta = try double(cfg["rope_parameters"]?["rope_theta"] ?? cfg["rope_theta"] ?? cfg["rotary_emb_base"], "rope_theta", 10_000)
        let partial = try double(rp?["partial_rotary_factor"] ?? cfg["rotary_pct"] ?? cfg["partial_rotary_factor"], "partial_rotary_factor", 1)
        guard partial > 0, partial <= 1 else { throw TrainError("\(origin): partial rotary factor \(partial) out of range") }
        var c = DecoderConfig(architecture: a, vocab: try int("vocab_size"), dim: dim, layers: try int("num_hidden_layers"), heads: heads,
                              kvHeads: neox ? heads : try int("num_key_value_heads", heads), headDim: headDim, ffn: try int("intermediate_size"),
                              context: try int("max_position_embeddings"), ropeTheta: theta, rotaryDim: Int(Double(headDim) * partial),
                              eps: try double(cfg[neox ? "layer_norm_eps" : "rms_norm_eps"], "eps", neox ? 1e-5 : 1e-6))
        c.rotaryDim -= c.rotaryDim % 2
        let ropeType = rp?["rope_type"]?.stringValue ?? rp?["type"]?.stringValue ?? "default"
        switch ropeType {
        case "default": break
        case "linear": c.ropeScaling = .linear(try double(rp?["factor"], "rope factor", 1))
        case "llama3":
            c.ropeScaling = .llama3(factor: try double(rp?["factor"], "rope factor", 8), low: try double(rp?["low_freq_factor"], "low_freq_factor", 1),
                                    high: try double(rp?["high_freq_factor"], "high_freq_factor", 4),
                                    original: try double(rp?["original_max_position_embeddings"], "original_max_position_embeddings", 8192))
        default: throw TrainError("\(origin): rope type '\(ropeType)' is not supported (default, linear and llama3 are)")
        }
        // A sliding window longer than a sequence changes nothing: sequences are kept within it.
        if a == "MistralForCausalLM" || bool("use_sliding_window", false), let w = cfg["sliding_window"]?.intValue, w > 0 {
            c.context = min(c.context, Int(w))
        }
        let act = cfg["hidden_act"]?.stringValue ?? cfg["hidden_activation"]?.stringValue ?? (neox ? "gelu" : "silu")
        if neox {
            c.norm = .layer
            c.parallelResidual = bool("use_parallel_residual", true)
            switch act {
            case "gelu": c.mlp = .gelu
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": c.mlp = .geluTanh
            default: throw TrainError("\(origin): activation '\(act)' is not supported for GPT-NeoX (gelu and its tanh approximations are)")
            }
            let bias = bool("attention_bias", true)
            let roles: [Role: String] = [.norm1: "input_layernorm.weight", .norm1Bias: "input_layernorm.bias", .norm2: "post_attention_layernorm.weight",
                                         .norm2Bias: "post_attention_layernorm.bias", .qkv: "attention.query_key_value.weight", .o: "attention.dense.weight",
                                         .up: "mlp.dense_h_to_4h.weight", .upBias: "mlp.dense_h_to_4h.bias", .down: "mlp.dense_4h_to_h.weight",
                                         .downBias: "mlp.dense_4h_to_h.bias"]
            let biasRoles: [Role: String] = [.qkvBias: "attention.query_key_value.bias", .oBias: "attention.dense.bias"]
            return (c, Names(embed: "gpt_neox.embed_in.weight", outNorm: "gpt_neox.final_layer_norm.weight", outNormBias: "gpt_neox.final_layer_norm.bias",
                             head: "embed_out.weight", tiedAllowed: bool("tie_word_embeddings", false)) { l, r in
                (roles[r] ?? (bias ? biasRoles[r] : nil)).map { "gpt_neox.layers.\(l).\($0)" }
            })
        }
        guard act == "silu" else { throw TrainError("\(origin): activation '\(act)' is not supported for \(a) (silu is)") }
        // Qwen2 has q/k/v biases; Llama may have attention and MLP biases by config.
        let qkvBias = a == "Qwen2ForCausalLM" || bool("attention_bias", false), oBias = a != "Qwen2ForCausalLM" && bool("attention_bias", false)
        let mlpBias = bool("mlp_bias", false)
        var roles: [Role: String] = [.norm1: "input_layernorm.weight", .q: "self_attn.q_proj.weight", .k: "self_attn.k_proj.weight",
                                     .v: "self_attn.v_proj.weight", .o: "self_attn.o_proj.weight", .norm2: "post_attention_layernorm.weight",
                                     .gate: "mlp.gate_proj.weight", .up: "mlp.up_proj.weight", .down: "mlp.down_proj.weight"]
        if qkvBias { roles[.qBias] = "self_attn.q_proj.bias"; roles[.kBias] = "self_attn.k_proj.bias"; roles[.vBias] = "self_attn.v_proj.bias" }
        if oBias { roles[.oBias] = "self_attn.o_proj.bias" }
        if mlpBias { roles[.gateBias] = "mlp.gate_proj.bias"; roles[.upBias] = "mlp.up_proj.bias"; roles[.downBias] = "mlp.down_proj.bias" }
        return (c, Names(embed: "model.embed_tokens.weight", outNorm: "model.norm.weight", outNormBias: nil, head: "lm_head.weight",
                         tiedAllowed: bool("tie_word_embeddings", false)) { l, r in roles[r].map { "model.layers.\(l).\($0)" } })
    }
}
