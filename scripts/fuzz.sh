#!/usr/bin/env bash
# Runs each libFuzzer target (Fuzz/) for a bounded time, seeded from the repo's fixtures and, when
# present, the real samples. Prints one line per target: executions, corpus size, findings.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (make fuzz builds the targets first)
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${1:-60}
BIN=${FUZZ_BIN:-Fuzz/.build/debug}
REAL=../shared/realdata
mkdir -p Fuzz/corpus Fuzz/artifacts

seed() {  # seed TARGET FILES... : copies small seeds (first 64 KB of each) into the target's corpus
  local t=$1; shift
  mkdir -p "Fuzz/corpus/$t"
  for f in "$@"; do [ -f "$f" ] && head -c 65536 "$f" > "Fuzz/corpus/$t/seed-$(basename "$f")"; done
}
seed FuzzJSON fixtures/*.jsonl fixtures/*.json fixtures/bad/*.jsonl fixtures/bad/*.json
seed FuzzAdapters fixtures/*.jsonl fixtures/*.json fixtures/bad/*.jsonl
seed FuzzXML fixtures/bad/*.xml $REAL/se_coffee_Posts.xml $REAL/se_tpxml_Posts.xml
seed FuzzHTML fixtures/bad/xml_invalid_utf8.xml
seed FuzzDecode fixtures/*.gz fixtures/*.zst $REAL/dolma_formats_test.jsonl.zst
printf '<p>a &amp; b</p><pre><code>x &lt; 1</code></pre><ul><li>one</li></ul><a href="u">l</a>' > Fuzz/corpus/FuzzHTML/seed-html

# Whole files (a Parquet file cut at 64 KB loses its footer): the small fixtures and the hostile ones.
mkdir -p Fuzz/corpus/FuzzParquet Fuzz/corpus/FuzzThrift Fuzz/corpus/FuzzPhase Fuzz/corpus/FuzzModel Fuzz/corpus/FuzzConfig
# (not the bombs: they decode to the budget on every run and slow the fuzzer to a few inputs a second)
for f in fixtures/parquet/*.parquet fixtures/bad/parquet_no_columns.parquet fixtures/bad/parquet_page_claims_1gib.parquet \
         fixtures/bad/parquet_deep_list.parquet; do
  [ "$(stat -c %s "$f")" -le 262144 ] && cp "$f" "Fuzz/corpus/FuzzParquet/seed-$(basename "$f")"
done
# FuzzThrift takes a footer alone: cut out of each Parquet fixture.
python3 - <<'PY'
import glob, os, struct
for f in glob.glob("fixtures/parquet/*.parquet"):
    b = open(f, "rb").read()
    n = struct.unpack("<I", b[-8:-4])[0]
    if 0 < n <= len(b) - 12:
        open("Fuzz/corpus/FuzzThrift/seed-" + os.path.basename(f), "wb").write(b[-8 - n:-8])
PY
seed FuzzConfig demo/*.yaml
# Phase files and a model directory, made by the debug build of prefkit when there is one.
P=.build/debug/prefkit
if [ -x "$P" ]; then
  w=$(mktemp -d)
  "$P" convert fixtures/hh_small.jsonl -o "$w/pairs.jsonl" -q
  "$P" dedup sign "$w/pairs.jsonl" -o "$w/sig/" -q && cp "$w"/sig/sign-*.bin Fuzz/corpus/FuzzPhase/seed-sign.bin
  "$P" dedup cluster "$w/sig" -o "$w/cl/" --shard-index 0 --shard-count 1 -q && cp "$w"/cl/*.bin Fuzz/corpus/FuzzPhase/ 2>/dev/null
  "$P" stats "$w/pairs.jsonl" -o "$w/st/" --shard-index 0 --shard-count 1 >/dev/null 2>&1 && cp "$w"/st/stats-*.bin Fuzz/corpus/FuzzPhase/seed-stats.bin
  "$P" sft "$w/pairs.jsonl" -o "$w/m" --n-layer 1 --n-head 2 --n-embd 8 --vocab-size 280 --max-length 16 --steps 1 -q >/dev/null 2>&1 && {
    k=0; for f in config.json model.safetensors tokenizer.json; do
      { printf "\\$(printf '%03o' $k)"; cat "$w/m/$f"; } > "Fuzz/corpus/FuzzModel/seed-$f"; k=$((k + 1)); done; }
  rm -rf "$w"
fi

status=0
printf "%-14s %12s %10s %8s\n" target executions corpus crashes
TARGETS=${FUZZ_TARGETS:-FuzzJSON FuzzAdapters FuzzXML FuzzHTML FuzzDecode FuzzParquet FuzzThrift FuzzPhase FuzzModel FuzzConfig}
for t in $TARGETS; do
  log=Fuzz/artifacts/$t.log
  max_len=65536; [ "$t" = FuzzParquet ] || [ "$t" = FuzzThrift ] || [ "$t" = FuzzModel ] && max_len=262144
  "$BIN/$t" "Fuzz/corpus/$t" -max_total_time="$SECONDS_PER" -max_len=$max_len -rss_limit_mb=4096 -timeout=10 \
      -print_final_stats=1 -artifact_prefix="Fuzz/artifacts/$t-" > "$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  corpus=$(ls "Fuzz/corpus/$t" | wc -l)
  crashes=$(ls Fuzz/artifacts/ | grep -c "^$t-" || true)
  printf "%-14s %12s %10s %8s\n" "$t" "${execs:-?}" "$corpus" "$crashes"
  if [ $rc -ne 0 ]; then status=1; echo "  $t stopped with status $rc; see $log and Fuzz/artifacts/$t-*"; fi
done
exit $status
