#!/usr/bin/env bash
# Validity benchmark of `prefkit score` (issue 10): for each real set in ../shared/realdata with
# enough pairs, a fixed trusted eval set is held out, training variants get 0-50% of their labels
# flipped (nested), and each variant is scored over 3 seeds under shared conditions
# (`prefkit-bench validity`). Prints one table per set; per-run JSON goes to bench/out/validity/.
# Then `prefkit compare` at the standard budget on HH harmless-base, clean against 20% flipped.
# Usage: bench/validity.sh [extra `prefkit-bench validity` flags, e.g. --seeds 0,1 --budget quick]
set -euo pipefail
cd "$(dirname "$0")/.."
REAL=../shared/realdata
OUT=bench/out/validity
mkdir -p "$OUT"
[ -x .build/release/prefkit ] && [ -x .build/release/prefkit-bench ] || swift build -c release
P=.build/release/prefkit
B=.build/release/prefkit-bench
[ -d "$REAL" ] || { echo "validity benchmark skipped: $REAL is absent"; exit 0; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%Y-%m-%d)"
run() {  # run NAME FILE EVAL_SIZE
  local name=$1 src=$2 eval=$3
  [ -f "$REAL/$src" ] || { echo "$name: $REAL/$src absent, skipped"; return; }
  $P convert "$REAL/$src" -o "$OUT/$name.jsonl" -q
  $B validity "$OUT/$name.jsonl" --name "$name" --eval-size "$eval" --json "$OUT/$name.runs.json" "${@:4}"
  echo
}
run hh-harmless hh-rlhf_harmless-base_test.jsonl.gz 400 "$@"
run hh-helpful hh-rlhf_helpful-base_test_EasyRLHF.jsonl.gz 400 "$@"
run ultrafeedback-1k ultrafeedback-binarized_train1k_kkminions-noise-study.jsonl 300 "$@"
# Real sets the issue does not name: Stack Exchange answers paired by votes, OpenAssistant ranked replies.
run se-beer se_beer_Posts.xml 300 "$@"
run oasst-en-100 oasst_en_100_tree.jsonl 200 "$@"

# `prefkit compare` itself, at the standard budget: HH harmless-base clean against 20% flipped,
# on the same trusted eval set (the variants are the benchmark's own, seed 0).
if [ -f "$OUT/hh-harmless.jsonl" ]; then
  $B validity "$OUT/hh-harmless.jsonl" --eval-size 400 --noise 0,0.2 --seeds 0 --budget standard --write-variants "$OUT/hh-harmless-variants"
  V="$OUT/hh-harmless-variants"
  rm -rf "$OUT/compare-standard"
  $P compare "$V/train-0.jsonl" "$V/train-20.jsonl" --names clean,flipped-20 --eval "$V/eval.jsonl" --budget standard -o "$OUT/compare-standard" -q
fi
