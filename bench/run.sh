#!/usr/bin/env bash
# prefkit benchmarks: prints throughput, and ratios against the Python peer when it is installed.
#   PEER_PYTHON  a Python with orjson and zstandard (default: /root/peers/bin/python, else python3)
#   BENCH_MB     size of the generated HH-style file in MB, uncompressed (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out; mkdir -p "$OUT"
MB=${BENCH_MB:-200}
PY=${PEER_PYTHON:-/root/peers/bin/python}; [ -x "$PY" ] || PY=python3
BIN=.build/release/prefkit
[ -x "$BIN" ] || swift build -c release >/dev/null

secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
best() { local b=""; for _ in 1 2 3; do t=$(secs "$@"); if [ -z "$b" ] || (( $(echo "$t < $b" | bc -l) )); then b=$t; fi; done; echo "$b"; }

SRC=$OUT/hh_${MB}mb.jsonl
if [ ! -f "$SRC.zst" ]; then
  echo "generating ${MB} MB HH-style JSONL ..."
  python3 bench/gen_hh.py --mb "$MB" -o "$SRC"
  zstd -q -3 -f "$SRC" -o "$SRC.zst"
  rm -f "$SRC"
fi
ZB=$(stat -c %s "$SRC.zst"); UB=$(zstd -dc "$SRC.zst" | wc -c); ROWS=$(zstd -dc "$SRC.zst" | wc -l)
echo "input: $SRC.zst  ${ZB} bytes compressed, ${UB} bytes of JSONL, ${ROWS} rows"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

T_ZSTD=$(best sh -c "zstd -dc '$SRC.zst' > /dev/null")
T_PK=$(best $BIN convert "$SRC.zst" --from hh -o $OUT/prefkit_out.jsonl -q)
T_PK1=$(best $BIN convert "$SRC.zst" --from hh -o $OUT/prefkit_out.jsonl -q --threads 1)
mbps() { echo "scale=1; $UB / $1 / 1000000" | bc -l; }
printf "%-38s %7.2f s  %7s MB/s (uncompressed JSONL)\n" "zstd -d (to /dev/null)" "$T_ZSTD" "$(mbps $T_ZSTD)"
printf "%-38s %7.2f s  %7s MB/s  %5.2f pairs/s(M)\n" "prefkit convert --from hh (2 threads)" "$T_PK" "$(mbps $T_PK)" "$(echo "$ROWS / $T_PK / 1000000" | bc -l)"
printf "%-38s %7.2f s  %7s MB/s\n" "prefkit convert --from hh (1 thread)" "$T_PK1" "$(mbps $T_PK1)"
echo "prefkit / zstd -d throughput: $(echo "scale=3; $T_ZSTD / $T_PK" | bc -l)"
if "$PY" -c "import orjson, zstandard" 2>/dev/null; then
  T_PY=$(secs "$PY" bench/hh_convert.py "$SRC.zst" $OUT/python_out.jsonl)
  printf "%-38s %7.2f s  %7s MB/s\n" "python orjson+zstandard" "$T_PY" "$(mbps $T_PY)"
  echo "prefkit speed-up over python: $(echo "scale=2; $T_PY / $T_PK" | bc -l)x"
  # Same conversion? Compare the messages (ids differ by design: xxh64 vs blake2b).
  "$PY" - "$OUT/prefkit_out.jsonl" "$OUT/python_out.jsonl" <<'PYEOF'
import sys, orjson
a = open(sys.argv[1], "rb"); b = open(sys.argv[2], "rb"); n = 0
for la, lb in zip(a, b):
    x, y = orjson.loads(la), orjson.loads(lb)
    assert (x["prompt"], x["chosen"], x["rejected"], x["source"]) == (y["prompt"], y["chosen"], y["rejected"], y["source"]), n
    n += 1
print("outputs agree on", n, "pairs")
PYEOF
else
  echo "python peer not installed (pip install orjson zstandard into \$PEER_PYTHON): ratio skipped"
fi

# --- Stack Exchange Posts.xml: prefkit (spilling under a memory budget) against lxml iterparse ---
SE_MB=${BENCH_SE_MB:-500}
POSTS=$OUT/posts_${SE_MB}mb.xml
[ -f "$POSTS" ] || { echo "generating ${SE_MB} MB Posts.xml ..."; python3 bench/gen_posts.py --mb "$SE_MB" -o "$POSTS"; }
PB=$(stat -c %s "$POSTS")
echo
echo "input: $POSTS  ${PB} bytes, $(grep -c '<row ' "$POSTS") rows"
for LIMIT in 1G 64M; do
  /usr/bin/time -f "%e %M" -o $OUT/time.txt $BIN convert "$POSTS" --from stackexchange --memory-limit $LIMIT -o $OUT/se_prefkit_$LIMIT.jsonl -q --summary-json $OUT/se_summary_$LIMIT.json || true
  read T RSS < $OUT/time.txt
  printf "%-44s %7.2f s  %7.1f MB/s  peak RSS %5d MB\n" "prefkit convert --from stackexchange ($LIMIT)" "$T" "$(echo "$PB / $T / 1000000" | bc -l)" "$((RSS / 1024))"
done
cmp -s $OUT/se_prefkit_1G.jsonl $OUT/se_prefkit_64M.jsonl && echo "spilled (64M) output == in-memory (1G) output" || echo "WARNING: spilled output differs"
if "$PY" -c "import lxml, orjson" 2>/dev/null; then
  /usr/bin/time -f "%e %M" -o $OUT/time.txt "$PY" bench/se_pairs.py "$POSTS" $OUT/se_python.jsonl 2>/dev/null || true
  read TP RSSP < $OUT/time.txt
  printf "%-44s %7.2f s  %7.1f MB/s  peak RSS %5d MB\n" "python lxml iterparse (in memory)" "$TP" "$(echo "$PB / $TP / 1000000" | bc -l)" "$((RSSP / 1024))"
  echo "prefkit (64M budget) speed-up over lxml: $(echo "scale=2; $TP / $T" | bc -l)x;  pairs: prefkit $(wc -l < $OUT/se_prefkit_64M.jsonl), python $(wc -l < $OUT/se_python.jsonl)"
fi

# --- dedup: exact + near (MinHash LSH, 128 permutations, threshold 0.8, word 5-grams) on 1M pairs ---
N=${BENCH_PAIRS:-1000000}
PAIRS=$OUT/pairs_$N.jsonl
[ -f "$PAIRS" ] || { echo "generating $N pairs ..."; python3 bench/gen_pairs.py -n "$N" -o "$PAIRS"; }
echo
echo "input: $PAIRS  $(stat -c %s "$PAIRS") bytes, $N pairs"
/usr/bin/time -f "%e %M" -o $OUT/time.txt $BIN dedup "$PAIRS" -o $OUT/dedup_out.jsonl --summary-json $OUT/dedup_summary.json -q || true
read TD RSSD < $OUT/time.txt
printf "%-44s %7.2f s  peak RSS %5d MB  %s\n" "prefkit dedup (2 threads)" "$TD" "$((RSSD / 1024))" "$(python3 -c "import json;s=json.load(open('$OUT/dedup_summary.json'));print('removed', s['removed'])")"
if "$PY" -c "import datasketch, orjson" 2>/dev/null; then
  /usr/bin/time -f "%e %M" -o $OUT/time.txt "$PY" bench/dedup_datasketch.py "$PAIRS" 2> $OUT/ds.txt || true
  read TDS RSSDS < $OUT/time.txt
  printf "%-44s %7.2f s  peak RSS %5d MB  %s\n" "python datasketch MinHashLSH" "$TDS" "$((RSSDS / 1024))" "$(head -1 $OUT/ds.txt)"
  echo "prefkit dedup speed-up over datasketch: $(echo "scale=1; $TDS / $TD" | bc -l)x"
fi
