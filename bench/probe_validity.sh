#!/usr/bin/env bash
# Validity of `prefkit score --model PRETRAINED --method probe` (issue 24): for HH-RLHF harmless-base
# and helpful-base, a trusted eval set of 400 pairs is held out once (`prefkit-bench validity
# --write-variants`), and the training pairs are scored clean, with 40% of labels flipped, and
# relabelled so that the longer reply always wins. The model reads each pair once: the feature cache
# is shared by the variants (it is blind to which reply is chosen). Prints one row per run.
# Usage: bench/probe_validity.sh [MODEL=SmolLM2 GGUF] (needs scripts/model-env.sh; release build)
set -euo pipefail
cd "$(dirname "$0")/.."
REAL=../shared/realdata
OUT=bench/out/probe
MODEL=${1:-$(bash scripts/model-env.sh)}
[ -n "$MODEL" ] || { echo "no model"; exit 1; }
mkdir -p "$OUT"
[ -x .build/release/prefkit ] && [ -x .build/release/prefkit-bench ] || swift build -c release
P=.build/release/prefkit
B=.build/release/prefkit-bench
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%Y-%m-%d); model $MODEL"
printf "%-12s %-12s %8s %8s %9s %22s %8s %14s %8s %7s\n" set variant accuracy balanced best_base bits_beyond_baseline disagree noise_rate suspects secs
for pair in "hh-harmless:hh-rlhf_harmless-base_test.jsonl.gz" "hh-helpful:hh-rlhf_helpful-base_test_EasyRLHF.jsonl.gz"; do
  name=${pair%%:*}; src=${pair#*:}
  [ -f "$REAL/$src" ] || { echo "$name: absent"; continue; }
  $P convert "$REAL/$src" -o "$OUT/$name.jsonl" -q
  V="$OUT/$name-variants"
  rm -rf "$V"
  $B validity "$OUT/$name.jsonl" --eval-size 400 --noise 0,0.4 --seeds 0 --budget quick --write-variants "$V" > /dev/null
  # Relabelled: the longer reply (in characters) is chosen.
  python3 - "$V/train-0.jsonl" "$V/train-longer.jsonl" <<'PY'
import json, sys
def chars(ms): return sum(len(m["content"]) if isinstance(m.get("content"), str) else 0 for m in ms)
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        x = json.loads(line)
        if chars(x["rejected"]) > chars(x["chosen"]):
            x["chosen"], x["rejected"] = x["rejected"], x["chosen"]
        out.write(json.dumps(x, ensure_ascii=False) + "\n")
PY
  cache=""
  for variant in 0 40 longer; do
    run="$OUT/$name-$variant"
    rm -rf "$run"; mkdir -p "$run"
    [ -n "$cache" ] && cp "$cache" "$run/"
    s=$(date +%s.%N)
    $P score "$V/train-$variant.jsonl" --eval "$V/eval.jsonl" --model "$MODEL" -o "$run" --threads 2 -q > "$run/stdout.txt"
    e=$(date +%s.%N)
    cache=$(ls "$run"/features-*.bin | head -1)
    python3 - "$run/score.json" "$name" "$variant" "$(echo "$e - $s" | bc)" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
ci = lambda k: "%.3f..%.3f" % tuple(j[k]) if j.get(k) else "n/a"
nr = "%.3f (%s)" % (j["noise_rate"], ci("noise_rate_ci95")) if j.get("noise_rate") is not None else "n/a"
bb = max(j["baselines"].values())
print("%-12s %-12s %8.3f %8s %9.3f %8.3f [%s] %8.3f %14s %8d %7.0f" % (sys.argv[2], sys.argv[3], j["accuracy"],
      "%.3f" % j["balanced_accuracy"] if j.get("balanced_accuracy") is not None else "n/a", bb, j["bits_beyond_baseline"],
      ci("bits_beyond_baseline_ci95"), j["disagreement"], nr, j["suspects"]["count"], float(sys.argv[4])))
PY
  done
done
