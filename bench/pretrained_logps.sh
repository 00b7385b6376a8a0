#!/usr/bin/env bash
# Summed reply log-probs of N real HH-RLHF pairs under SmolLM2-135M-Instruct (GGUF), prefkit's
# engine against PyTorch eager fp32 (transformers), both on 2 threads, in the same run. Both render
# the pairs with the model's chat template as TRL does; PyTorch runs each reply after its prompt with
# the head on reply positions only (logits_to_keep); prefkit runs the prompt once per pair (packed).
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
t0=$(date +%s.%N)
"$P" logps "$W/pairs.jsonl" --model "$GGUF" -o "$W/prefkit.jsonl" --threads 2 --max-length 1024
t1=$(date +%s.%N)
"$PY" - "$GGUF" "$W/pairs.jsonl" "$W/torch.jsonl" <<'PY'
import json, os, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
torch.set_num_threads(2)
d, f = os.path.dirname(sys.argv[1]), os.path.basename(sys.argv[1])
tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
m = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32).eval()
out = open(sys.argv[3], "w")
import time
start = time.time()
with torch.no_grad():
    for line in open(sys.argv[2]):
        x = json.loads(line)
        prompt = tok.apply_chat_template(x["prompt"], tokenize=False, add_generation_prompt=True)
        p = tok(prompt, add_special_tokens=False)["input_ids"][-512:]
        row = {"id": x["id"]}
        for side in ["chosen", "rejected"]:
            full = tok.apply_chat_template(x["prompt"] + x[side], tokenize=False)
            c = tok(full[len(prompt):], add_special_tokens=False)["input_ids"][:1024 - len(p)]
            logits = m(torch.tensor([p + c]), logits_to_keep=len(c) + 1).logits[0, :-1]
            lp = torch.log_softmax(logits.float(), -1)
            row["logp_" + side] = float(lp[torch.arange(len(c)), torch.tensor(c)].double().sum())
        out.write(json.dumps(row) + "\n")
open(sys.argv[3] + ".secs", "w").write(str(time.time() - start))
PY
t2=$(date +%s.%N)
"$PY" - "$W/prefkit.jsonl" "$W/torch.jsonl" "$t0" "$t1" "$t2" "$N" "$l0" "$l1" "$(cat "$W/torch.jsonl.secs")" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]; b = {json.loads(l)["id"]: json.loads(l) for l in open(sys.argv[2])}
t0, t1, t2, n, l0, l1, tc = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8]), float(sys.argv[9])
worst = max(abs(x["logp_" + s] - b[x["id"]]["logp_" + s]) / abs(b[x["id"]]["logp_" + s]) for x in a for s in ["chosen", "rejected"])
pc = (t1 - t0) - (l1 - l0)
print(f"pairs: {n} (prefkit wrote {len(a)})")
print(f"prefkit logps: {t1 - t0:.1f} s in all ({n / (t1 - t0):.2f} pairs/s); load and one pair {l1 - l0:.1f} s; compute about {pc:.1f} s ({n / pc:.2f} pairs/s)")
print(f"PyTorch eager fp32: {t2 - t1:.1f} s in all ({n / (t2 - t1):.2f} pairs/s); compute {tc:.1f} s ({n / tc:.2f} pairs/s)")
print(f"speed-up: {(t2 - t1) / (t1 - t0):.2f}x in all, {tc / pc:.2f}x compute; largest relative difference of summed log-probs: {worst:.2e}")
PY
rm -rf "$W"
