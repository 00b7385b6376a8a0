#!/bin/bash
# Memory and time of the phased dedup (sign / cluster per bucket shard / merge / apply) on
# generated pairs (bench/gen_pairs.py: ~10% exact and ~10% near duplicates), for the 50M-pair
# figure in docs/scale-out.md. Usage: bench/phased_memory.sh N [WORK] [SIGN_SHARDS] [CLUSTER_SHARDS]
set -euo pipefail
N=${1:?number of pairs}
WORK=${2:-/tmp/prefkit-phased-bench}
S=${3:-8}
B=${4:-4}
BIN=${BIN:-$(dirname "$0")/../.build/release/prefkit}
mkdir -p "$WORK"
IN=$WORK/pairs-$N.jsonl
[ -f "$IN" ] || { echo "generating $N pairs ..."; python3 "$(dirname "$0")/gen_pairs.py" -n "$N" -o "$IN"; }
rm -rf "$WORK/sig" "$WORK/cl" "$WORK/out"
measure() { # label, pairs it covers, command...
  local label=$1 per=$2; shift 2
  /usr/bin/time -f "%e %M" -o "$WORK/t" "$@" || [ $? -eq 1 ]
  read -r secs kb < "$WORK/t"
  printf "%-34s %8.1f s  peak RSS %7.0f MB  %7.1f bytes per pair covered\n" "$label" "$secs" "$((kb / 1024))" "$(echo "$kb * 1024 / $per" | bc -l)"
}
echo "$N pairs, $(du -m "$IN" | cut -f1) MB; $S sign shards, $B cluster shards, 64 buckets; $(nproc) cores"
for k in $(seq 0 $((S - 1))); do measure "dedup sign shard $k/$S" $((N / S)) "$BIN" dedup sign "$IN" -o "$WORK/sig" --shard-index "$k" --shard-count "$S" -q; done
echo "sign files: $(du -sm "$WORK/sig" | cut -f1) MB"
for k in $(seq 0 $((B - 1))); do measure "dedup cluster shard $k/$B" "$N" "$BIN" dedup cluster "$WORK/sig" -o "$WORK/cl" --shard-index "$k" --shard-count "$B" -q; done
measure "dedup cluster --merge" "$N" "$BIN" dedup cluster "$WORK/sig" -o "$WORK/cl" --merge
for k in $(seq 0 $((S - 1))); do measure "dedup apply shard $k/$S" $((N / S)) "$BIN" dedup apply "$IN" --clusters "$WORK/cl" -o "$WORK/out/" --shard-index "$k" --shard-count "$S" -q; done
if [ "${ONE:-1}" = 1 ]; then
  measure "dedup (one process)" "$N" "$BIN" dedup "$IN" -o "$WORK/one.jsonl" -q
  if cmp -s <(zstd -qdc "$WORK"/out/part-*.zst | sort) <(sort "$WORK/one.jsonl"); then echo "phased output equals the one-process output ($(wc -l < "$WORK/one.jsonl") pairs kept)"
  else echo "PHASED OUTPUT DIFFERS from the one-process output"; exit 1; fi
fi
