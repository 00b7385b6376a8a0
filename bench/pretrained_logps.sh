#!/usr/bin/env bash
# Summed reply log-probs of N real HH-RLHF pairs under SmolLM2-135M-Instruct (GGUF), prefkit's
# engine against PyTorch eager fp32 (transformers), both on 2 threads, in the same run. Both render
# the pairs with the model's chat template as TRL does; PyTorch runs each reply after its prompt with
# the head on reply positions only (logits_to_keep); prefkit runs the prompt once per pair (packed).
# llama.cpp (llama-cpp-python, when LLAMACPP_PYTHON names a Python that has it) runs the same token
# ids from the same GGUF file, the prompt once per pair (its KV cache kept), as the upper reference
# users know; its log-probs (quantized dot products) are a cross-check of the GGUF path. With
# OLD_PREFKIT=path, that build runs the same pairs in the same run (hot-path changes are measured so).
# Usage: bench/pretrained_logps.sh [N=400]   (needs scripts/model-env.sh and scripts/interop-env.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-400}
GGUF=$(bash scripts/model-env.sh); PY=$(bash scripts/interop-env.sh)
[ -n "$GGUF" ] && [ -n "$PY" ] || { echo "model or Python environment missing"; exit 1; }
P=.build/release/prefkit
[ -x "$P" ] || swift build -c release >/dev/null
W=$(mktemp -d)
"$P" convert ../shared/realdata/hh-rlhf_harmless-base_test.jsonl.gz -o "$W/all.jsonl" -q
head -n "$N" "$W/all.jsonl" > "$W/pairs.jsonl"
# prefkit's load (GGUF read, weights dequantized) measured on one pair, to report compute alone too.
head -n 1 "$W/pairs.jsonl" > "$W/one.jsonl"
l0=$(date +%s.%N); "$P" logps "$W/one.jsonl" --model "$GGUF" -o "$W/one.lp" --threads 2 --max-length 1024; l1=$(date +%s.%N)
if [ -n "${OLD_PREFKIT:-}" ]; then
  o0=$(date +%s.%N); "$OLD_PREFKIT" logps "$W/pairs.jsonl" --model "$GGUF" -o "$W/old.jsonl" --threads 2 --max-length 1024; o1=$(date +%s.%N)
  echo "previous build ($OLD_PREFKIT): $(echo "$o1 - $o0" | bc) s"
fi
t0=$(date +%s.%N)
"$P" logps "$W/pairs.jsonl" --model "$GGUF" -o "$W/prefkit.jsonl" --threads 2 --max-length 1024
t1=$(date +%s.%N)
"$PY" - "$GGUF" "$W/pairs.jsonl" "$W/torch.jsonl" <<'PY'
import json, os, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
torch.set_num_threads(2)
d, f = os.path.dirname(sys.argv[1]), os.path.basename(sys.argv[1])
tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
# transformers' GGUF conversion drops tokenizer.ggml.pre ("smollm"): SmolLM2's digit split put back.
from tokenizers import pre_tokenizers as P
tok.backend_tokenizer.pre_tokenizer = P.Sequence([P.Digits(individual_digits=True), P.ByteLevel(add_prefix_space=False, use_regex=True)])
m = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32).eval()
out = open(sys.argv[3], "w")
import time
start = time.time()
with torch.no_grad():
    for line in open(sys.argv[2]):
        x = json.loads(line)
        prompt = tok.apply_chat_template(x["prompt"], tokenize=False, add_generation_prompt=True)
        p = tok(prompt, add_special_tokens=False)["input_ids"][-512:]
        row = {"id": x["id"], "prompt_ids": p}
        for side in ["chosen", "rejected"]:
            full = tok.apply_chat_template(x["prompt"] + x[side], tokenize=False)
            c = tok(full[len(prompt):], add_special_tokens=False)["input_ids"][:1024 - len(p)]
            row[side + "_ids"] = c
            logits = m(torch.tensor([p + c]), logits_to_keep=len(c) + 1).logits[0, :-1]
            lp = torch.log_softmax(logits.float(), -1)
            row["logp_" + side] = float(lp[torch.arange(len(c)), torch.tensor(c)].double().sum())
        out.write(json.dumps(row) + "\n")
open(sys.argv[3] + ".secs", "w").write(str(time.time() - start))
PY
t2=$(date +%s.%N)
LLAMA=none
if [ -n "${LLAMACPP_PYTHON:-}" ] && "$LLAMACPP_PYTHON" -c "import llama_cpp" 2>/dev/null; then
  "$LLAMACPP_PYTHON" - "$GGUF" "$W/torch.jsonl" "$W/llama.jsonl" <<'PY'
import json, sys, time
import numpy as np
from llama_cpp import Llama
m = Llama(model_path=sys.argv[1], n_ctx=2048, n_threads=2, n_threads_batch=2, n_batch=1024, logits_all=True, verbose=False)
rows = [json.loads(l) for l in open(sys.argv[2])]
out = open(sys.argv[3], "w")
start = time.time()
for r in rows:
    p = r["prompt_ids"]
    m.reset(); m.eval(p)
    res = {"id": r["id"]}
    for side in ["chosen", "rejected"]:
        c = r[side + "_ids"]
        m.n_tokens = len(p)          # the prompt's KV cache is kept; the reply runs after it
        m.eval(c)
        logits = np.asarray(m.scores[len(p) - 1:len(p) + len(c) - 1], dtype=np.float64)
        lse = np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
        res["logp_" + side] = float((logits[np.arange(len(c)), c] - lse).sum())
    out.write(json.dumps(res) + "\n")
open(sys.argv[3] + ".secs", "w").write(str(time.time() - start))
PY
  LLAMA="$W/llama.jsonl"
fi
"$PY" - "$W/prefkit.jsonl" "$W/torch.jsonl" "$t0" "$t1" "$t2" "$N" "$l0" "$l1" "$(cat "$W/torch.jsonl.secs")" "$LLAMA" <<'PY'
import json, os, sys
a = [json.loads(l) for l in open(sys.argv[1])]; b = {json.loads(l)["id"]: json.loads(l) for l in open(sys.argv[2])}
t0, t1, t2, n, l0, l1, tc = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8]), float(sys.argv[9])
worst = max(abs(x["logp_" + s] - b[x["id"]]["logp_" + s]) / abs(b[x["id"]]["logp_" + s]) for x in a for s in ["chosen", "rejected"])
pc = (t1 - t0) - (l1 - l0)
print(f"pairs: {n} (prefkit wrote {len(a)})")
print(f"prefkit logps: {t1 - t0:.1f} s in all ({n / (t1 - t0):.2f} pairs/s); load and one pair {l1 - l0:.1f} s; compute about {pc:.1f} s ({n / pc:.2f} pairs/s)")
print(f"PyTorch eager fp32: {t2 - t1:.1f} s in all ({n / (t2 - t1):.2f} pairs/s); compute {tc:.1f} s ({n / tc:.2f} pairs/s)")
print(f"speed-up: {(t2 - t1) / (t1 - t0):.2f}x in all, {tc / pc:.2f}x compute; largest relative difference of summed log-probs: {worst:.2e}")
if sys.argv[10] != "none":
    c = {json.loads(l)["id"]: json.loads(l) for l in open(sys.argv[10])}
    lc = float(open(sys.argv[10] + ".secs").read())
    diffs = sorted(abs(x["logp_" + s] - c[x["id"]]["logp_" + s]) / abs(c[x["id"]]["logp_" + s]) for x in a for s in ["chosen", "rejected"])
    print(f"llama.cpp (llama-cpp-python, same GGUF, 2 threads, prompt once): compute {lc:.1f} s ({n / lc:.2f} pairs/s); prefkit compute is {lc / pc:.2f}x its speed")
    print(f"llama.cpp vs prefkit summed log-probs (its quantized dot products): median relative difference {diffs[len(diffs) // 2]:.2e}, largest {diffs[-1]:.2e}")
PY
rm -rf "$W"
