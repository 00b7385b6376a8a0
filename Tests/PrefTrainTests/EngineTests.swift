import Foundation
import XCTest
import PrefCore
@testable import PrefFormats
@testable import PrefIO
@testable import PrefTrain
import TestSupport

final class EngineTests: XCTestCase {
    func hhPairs(_ n: Int) throws -> [Pair] {
        // 300 real HH-RLHF harmless-base records, bundled (scripts/make_fixtures.py).
        let path = Paths.fixture("hh_engine.jsonl.gz")
        var cfg = ConvertConfig(inputs: [InputFile(path: path, display: "hh.jsonl.gz")])
        cfg.threads = 2
        let dir = Paths.tempDir()
        let sink = try RecordSink(.file(dir + "/hh.jsonl"))
        try Converter(cfg).run(sink: sink); try sink.commit()
        var pairs: [Pair] = []
        for line in try Sources.readAll(dir + "/hh.jsonl").split(separator: 0x0A).prefix(n) {
            try Array(line).withUnsafeBytes { raw in var sc = JSONScanner(); pairs.append(try Pair.parse(try sc.parse(raw).root)) }
        }
        return pairs
    }

    func testPretokenizationFollowsGPT2Pattern() {
        func split(_ s: String) -> [String] { BPETokenizer.pretokenize(s).map { String(decoding: $0, as: UTF8.self) } }
        XCTAssertEqual(split("Hello world's test"), ["Hello", " world", "'s", " test"])
        XCTAssertEqual(split("I'll   go\n\nnow 123abc!!"), ["I", "'ll", "  ", " go", "\n", "\n", "now", " 123", "abc", "!!"])
        XCTAssertEqual(split("x  \n  y"), ["x", "  \n ", " y"])
        XCTAssertEqual(split("end.  "), ["end", ".", "  "])
        XCTAssertEqual(split("café ŝ日本語 ²³"), ["café", " ŝ日本語", " ²³"])
        XCTAssertEqual(split("a 'S"), ["a", " '", "S"], "contractions are lower case only")
    }

    func testTrainingIsDeterministicAndRoundTrips() throws {
        let texts = try hhPairs(300).flatMap { ($0.prompt + $0.chosen).map(\.text) }
        let a = BPETokenizer.train(texts: texts, vocabSize: 800)
        let b = BPETokenizer.train(texts: texts, vocabSize: 800)
        XCTAssertEqual(a.vocabSize, 800)
        XCTAssertEqual(a.vocab, b.vocab)
        XCTAssertEqual(a.merges.map { [$0.0, $0.1] }, b.merges.map { [$0.0, $0.1] })
        for t in texts.prefix(200) { XCTAssertEqual(a.decode(a.encode(t)), t) }
        // Merges compress: well under one token per byte.
        let bytes = texts.prefix(200).reduce(0) { $0 + $1.utf8.count }
        let toks = texts.prefix(200).reduce(0) { $0 + a.encode($1).count }
        XCTAssertLessThan(Double(toks) / Double(bytes), 0.5)
        // tokenizer.json reloads to the same encoder.
        let dir = Paths.tempDir()
        try a.tokenizerJSON().write(to: dir + "/tokenizer.json")
        let c = try BPETokenizer.load(tokenizerJSON: dir + "/tokenizer.json")
        for t in texts.prefix(100) { XCTAssertEqual(c.encode(t), a.encode(t)) }
        XCTAssertEqual(c.special("<|assistant|>"), a.special("<|assistant|>"))
    }

    func testTruncationKeepsPromptEndAndResponseStart() {
        XCTAssertNil(ChatRender.fit([1, 2, 3], [], maxLength: 10, maxPrompt: 5))
        let s = ChatRender.fit(Array(1...10), Array(100...120), maxLength: 12, maxPrompt: 4)!
        XCTAssertEqual(s.prompt, [7, 8, 9, 10])
        XCTAssertEqual(s.response, Array(100...107))
        let b = PackedBatch(sequences: [Sequence2(prompt: [1, 2], response: [3, 4]), Sequence2(prompt: [5], response: [6])], pad: 0)
        XCTAssertEqual(b.T, 3)
        XCTAssertEqual(b.tokens, [1, 2, 3, 5, 0, 0])
        XCTAssertEqual(b.positions, [0, 1, 2, 0, 0, 0])
        XCTAssertEqual(b.rows, [1, 2, 3])
        XCTAssertEqual(b.targets, [3, 4, 6])
        XCTAssertEqual(b.sequence, [0, 0, 1])
        XCTAssertTrue(b.branch.isEmpty)
    }

    func testPackedPairLayout() {
        // Prompt [1, 2], chosen [3, 4, 5], rejected [6, 7]: the prompt once, then each reply's inputs
        // with positions continuing from the prompt; position 1 predicts both first tokens.
        let p = TokenizedPair(id: "x", chosen: Sequence2(prompt: [1, 2], response: [3, 4, 5]), rejected: Sequence2(prompt: [1, 2], response: [6, 7]))
        let b = PackedBatch(pairs: [p], pad: 0)
        XCTAssertEqual(b.B, 1)
        XCTAssertEqual(b.tokens, [1, 2, 3, 4, 6])
        XCTAssertEqual(b.positions, [0, 1, 2, 3, 2])
        XCTAssertEqual(b.branch, [0, 0, 1, 1, 2])
        XCTAssertEqual(b.rows, [1, 2, 3, 1, 4])
        XCTAssertEqual(b.targets, [3, 4, 5, 6, 7])
        XCTAssertEqual(b.sequence, [0, 0, 0, 1, 1])
        XCTAssertEqual(PackedBatch.rowLength(p), b.T)
        // Different prompts (never produced by tokenization, but allowed): two plain rows.
        var q = p
        q.rejected.prompt = [9]
        let c = PackedBatch(pairs: [q], pad: 0)
        XCTAssertEqual(c.B, 2)
        XCTAssertEqual(c.tokens, [1, 2, 3, 4, 9, 6, 0, 0])
        XCTAssertTrue(c.branch.isEmpty)
        XCTAssertEqual(c.rows, [1, 2, 3, 4, 5])
        XCTAssertEqual(c.sequence, [0, 0, 0, 1, 1])
        XCTAssertEqual(PackedBatch.rowLength(q), c.T)
    }

    func tinyModel(_ tok: BPETokenizer, seed: UInt64 = 1, threads: Int = 2) -> GPT<Float> {
        let m = try! GPT<Float>(config: GPTConfig(vocabSize: tok.vocabSize, maxT: 64, nLayer: 2, nHead: 2, nEmbd: 32), maxBatch: 4, threads: threads)
        m.initialize(seed: seed)
        return m
    }

    func sequences(_ pairs: [Pair], _ tok: BPETokenizer) -> [Sequence2] {
        pairs.compactMap { ChatRender.fit(ChatRender.prompt($0.prompt, tok), ChatRender.response($0.chosen, tok), maxLength: 64, maxPrompt: 32) }
    }

    func testSFTLearnsAndIsBitReproducible() throws {
        let pairs = try hhPairs(200)
        let tok = BPETokenizer.train(texts: pairs.flatMap { ($0.prompt + $0.chosen).map(\.text) }, vocabSize: 600)
        let data = sequences(pairs, tok)
        var s = SFTSettings(); s.steps = 30; s.batchSize = 4; s.optimizer.lr = 3e-3; s.optimizer.warmupSteps = 3
        BLAS.setThreads(2)
        let a = tinyModel(tok), b = tinyModel(tok)
        let la = SFT.train(a, data, s, pad: tok.eos), lb = SFT.train(b, data, s, pad: tok.eos)
        XCTAssertEqual(la.map(\.loss), lb.map(\.loss))
        XCTAssertTrue((0..<a.params.count).allSatisfy { a.params[$0] == b.params[$0] }, "same seed and threads: bit-identical weights")
        let first = la.prefix(3).map(\.loss).reduce(0, +) / 3, last = la.suffix(3).map(\.loss).reduce(0, +) / 3
        XCTAssertLessThan(last, first - 0.5, "the loss falls")
    }

    func testGradientAccumulationMatchesOneLargeBatch() throws {
        let pairs = try hhPairs(60)
        let tok = BPETokenizer.train(texts: pairs.flatMap { ($0.prompt + $0.chosen).map(\.text) }, vocabSize: 400)
        let data = Array(sequences(pairs, tok).prefix(8))
        // One step over all 8 sequences (one epoch, same shuffle): batch 8, or 2 micro-batches of 4.
        var s1 = SFTSettings(); s1.steps = 1; s1.batchSize = 8; s1.optimizer.warmupSteps = 0
        var s2 = s1; s2.batchSize = 4; s2.gradAccum = 2
        let cfg = GPTConfig(vocabSize: tok.vocabSize, maxT: 64, nLayer: 2, nHead: 2, nEmbd: 32)
        let b = try GPT<Float>(config: cfg, maxBatch: 8, threads: 2)
        b.initialize(seed: 4)
        let big = try GPT<Float>(config: cfg, maxBatch: 8, threads: 2)
        big.initialize(seed: 4)
        let la = SFT.train(big, data, s1, pad: tok.eos), lb = SFT.train(b, data, s2, pad: tok.eos)
        XCTAssertEqual(la[0].loss, lb[0].loss, accuracy: 1e-5 * abs(la[0].loss))
        XCTAssertEqual(la[0].gradNorm, lb[0].gradNorm, accuracy: 1e-4 * la[0].gradNorm)
        var maxDiff: Float = 0
        for i in 0..<big.grads.count { maxDiff = max(maxDiff, abs(big.grads[i] - b.grads[i])) }
        XCTAssertLessThan(maxDiff, 1e-5)

    }

    func testCheckpointRoundTrip() throws {
        let pairs = try hhPairs(50)
        let tok = BPETokenizer.train(texts: pairs.flatMap { ($0.prompt + $0.chosen).map(\.text) }, vocabSize: 400)
        let m = tinyModel(tok, seed: 7)
        var rng = Normal(seed: 3)
        for i in 0..<m.params.count { m.params[i] += Float(0.01 * rng.next()) }
        let dir = Paths.tempDir() + "/ckpt"
        try Checkpoint.save(m, tokenizer: tok, to: dir)
        for f in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/" + f), f)
        }
        let (back, tok2) = try Checkpoint.load(dir, maxBatch: 4, threads: 2)
        XCTAssertTrue((0..<m.params.count).allSatisfy { m.params[$0] == back.params[$0] })
        XCTAssertEqual(tok2?.vocab, tok.vocab)
        let seqs = sequences(Array(pairs.prefix(6)), tok)
        XCTAssertEqual(m.logps(seqs, batchSize: 4, pad: tok.eos).map(\.logp), back.logps(seqs, batchSize: 4, pad: tok.eos).map(\.logp))
    }

    /// With Python's transformers and tokenizers installed: the checkpoint loads in
    /// GPT2LMHeadModel, the tokenizer gives the same ids, and log-probabilities agree.
    func testHuggingFaceLoadsCheckpointAndAgreesIfAvailable() throws {
        let py = ProcessInfo.processInfo.environment["PREFKIT_PYTHON"] ?? "/root/peers/bin/python"
        guard FileManager.default.isExecutableFile(atPath: py) else { throw XCTSkip("no Python with torch/transformers (set PREFKIT_PYTHON)") }
        let pairs = try hhPairs(40)
        let tok = BPETokenizer.train(texts: pairs.flatMap { ($0.prompt + $0.chosen + $0.rejected).map(\.text) }, vocabSize: 500)
        let m = tinyModel(tok, seed: 5)
        var rng = Normal(seed: 9)
        for i in 0..<m.params.count { m.params[i] += Float(0.05 * rng.next()) }
        let dir = Paths.tempDir()
        try Checkpoint.save(m, tokenizer: tok, to: dir + "/model")
        // Our ids and log-probs for texts and chat-rendered pairs.
        var cases: [JSONValue] = []
        for p in pairs.prefix(12) {
            let text = p.chosen[0].text
            guard let s = ChatRender.fit(ChatRender.prompt(p.prompt, tok), ChatRender.response(p.chosen, tok), maxLength: 64, maxPrompt: 32) else { continue }
            let lp = m.logps([s], batchSize: 1, pad: tok.eos)[0]
            let ids: [JSONValue] = tok.encode(text).map { JSONValue.int(Int64($0)) }
            let seq: [JSONValue] = (s.prompt + s.response).map { JSONValue.int(Int64($0)) }
            let msgs: [JSONValue] = (p.prompt + p.chosen).map { m in JSONValue.object([("role", .string("\(m.role.name)")), ("content", .string(m.text))]) }
            var fields: [(String, JSONValue)] = [("text", .string(text)), ("ids", .array(ids)), ("seq", .array(seq))]
            fields += [("prompt_len", .int(Int64(s.prompt.count))), ("messages", .array(msgs))]
            fields += [("n_prompt_messages", .int(Int64(p.prompt.count))), ("logp", .double(lp.logp))]
            cases.append(.object(fields))
        }
        try JSONValue.array(cases).write(to: dir + "/cases.json")
        let script = """
        import json, sys
        try:
            import torch
            from transformers import GPT2LMHeadModel, AutoTokenizer
            from tokenizers import Tokenizer
        except ImportError:
            sys.exit(77)
        d = sys.argv[1]
        tok = AutoTokenizer.from_pretrained(d + "/model")
        raw = Tokenizer.from_file(d + "/model/tokenizer.json")
        model = GPT2LMHeadModel.from_pretrained(d + "/model").eval()
        worst = 0.0
        for c in json.load(open(d + "/cases.json")):
            assert tok(c["text"], add_special_tokens=False)["input_ids"] == c["ids"], "token ids differ (transformers)"
            assert raw.encode(c["text"], add_special_tokens=False).ids == c["ids"], "token ids differ (tokenizers)"
            msgs = c["messages"]
            prompt = tok.apply_chat_template(msgs[:c["n_prompt_messages"]], tokenize=False, add_generation_prompt=True)
            pids = tok(prompt, add_special_tokens=False)["input_ids"]
            seq = c["seq"]
            if len(pids) <= 32:
                full = tok.apply_chat_template(msgs, tokenize=False)
                ids = tok(full, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
                assert ids[:len(seq)] == seq, "chat template rendering differs"
            x = torch.tensor([seq])
            with torch.no_grad():
                lsm = torch.log_softmax(model(x).logits[0].double(), -1)
            p = c["prompt_len"]
            lp = sum(lsm[t - 1, seq[t]].item() for t in range(p, len(seq)))
            worst = max(worst, abs(lp - c["logp"]))
        print("max_abs_diff", worst)
        assert worst < 1e-3, worst
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: py)
        p.arguments = ["-c", script, dir]
        p.environment = ["HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": dir]
        let o = Pipe(); p.standardOutput = o; p.standardError = o
        try p.run(); p.waitUntilExit()
        let text = String(decoding: o.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        if p.terminationStatus == 77 { throw XCTSkip("torch/transformers not installed for \(py)") }
        XCTAssertEqual(p.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("max_abs_diff"), text)
    }
}


final class RenderTests: XCTestCase {
    /// Pairs with tool turns, tool calls or images cannot be rendered by the plain-text template:
    /// they are dropped with their own reason, and the others are not.
    func testUnrenderablePairsAreDroppedWithAReason() throws {
        let tok = BPETokenizer.train(texts: ["what is the weather", "it is sunny", "call the tool"], vocabSize: 300)
        let plain = Pair(prompt: [Message(.user, "what is the weather")], chosen: [Message(.assistant, "it is sunny")], rejected: [Message(.assistant, "call")])
        var call = plain
        call.chosen[0].extra = [("tool_calls", .array([.object([("type", .string("function"))])]))]
        var tool = plain
        tool.prompt.append(Message(.tool, "22 C"))
        var image = plain
        image.prompt[0].parts = .array([.object([("type", .string("image"))])])
        var reasoning = plain
        reasoning.chosen[0].extra = [("reasoning_content", .string("think"))]
        for (p, renderable) in [(plain, true), (call, false), (tool, false), (image, false), (reasoning, true)] {
            switch ChatRender.tokenize(p, tok, maxLength: 64, maxPrompt: 32) {
            case .success: XCTAssertTrue(renderable)
            case .failure(let e): XCTAssertFalse(renderable); XCTAssertEqual(e.reason, .notRenderable)
            }
        }
        XCTAssertEqual(ChatRender.sequences([plain, call, tool], replies: { [$0.chosen] }, tok, maxLength: 64, maxPrompt: 32).count, 1)
    }
}
