#!/usr/bin/env bash
# Does -Ounchecked pay? Times two release builds of prefkit, one with the flag on the libraries and
# one without, on the same inputs in the same run, alternating A/B (best of 3 each): convert of an
# HH-style file (PrefIO + PrefCore + PrefFormats), convert of a Stack Exchange dump (the XML path),
# dedup and filter of the converted pairs (PrefCurate), and DPO pairs/s of a quick score on real
# HH harmless-base (PrefTrain).
# Usage: bench/ounchecked.sh WITH_BINARY WITHOUT_BINARY HH.jsonl.zst POSTS.xml
set -uo pipefail
cd "$(dirname "$0")/.."
A=${1:?prefkit built with -Ounchecked}; B=${2:?prefkit built without}; HH=${3:?}; POSTS=${4:?}
W=$(mktemp -d)
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
best3() {  # best3 BIN ARGS...: best of three
  local bin=$1; shift; local b=""
  for _ in 1 2 3; do t=$(secs "$bin" "$@"); if [ -z "$b" ] || (( $(echo "$t < $b" | bc -l) )); then b=$t; fi; done; echo "$b"
}
"$A" convert "$HH" --from hh -o "$W/pairs.jsonl" -q
row() {  # row NAME ARGS... (with @OUT@ for an output path)
  local name=$1; shift
  local a b
  a=$(best3 "$A" "${@//@OUT@/$W/a.out}")
  b=$(best3 "$B" "${@//@OUT@/$W/b.out}")
  printf "%-28s %8.2f s %8.2f s   %+.1f%%\n" "$name" "$a" "$b" "$(echo "($b - $a) / $a * 100" | bc -l)"
}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%Y-%m-%d)"
printf "%-28s %10s %10s   %s\n" "" "unchecked" "checked" "checked vs unchecked"
row "convert hh" convert "$HH" --from hh -o @OUT@.jsonl -q --threads 2
row "convert stackexchange" convert "$POSTS" -o @OUT@.jsonl -q --threads 2
row "dedup (near)" dedup "$W/pairs.jsonl" -o @OUT@.jsonl -q --threads 2
row "filter" filter "$W/pairs.jsonl" -o @OUT@.jsonl -q --threads 2 --empty --identical --response-chars 2:20000 --length-ratio 0.1:10
REAL=../shared/realdata/hh-rlhf_harmless-base_test.jsonl.gz
if [ -f "$REAL" ]; then
  "$A" convert "$REAL" -o "$W/harm.jsonl" -q
  "$A" score "$W/harm.jsonl" -o "$W/score-unchecked" --dpo-steps 150 --evaluations 1 -q >/dev/null 2>&1
  "$B" score "$W/harm.jsonl" -o "$W/score-checked" --dpo-steps 150 --evaluations 1 -q >/dev/null 2>&1
  for d in "$W"/score-*; do
    python3 -c "import json,sys; d=json.load(open(sys.argv[1]+'/score.json')); print('%-28s DPO %.1f pairs/s, SFT %d tokens/s (%s)' % ('score ' + sys.argv[1].split('score-')[1], d['throughput']['dpo_pairs_per_s'], d['throughput']['sft_tokens_per_s'], d['throughput']['blas_kernels']))" "$d"
  done
fi
rm -rf "$W"
