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

status=0
printf "%-14s %12s %10s %8s\n" target executions corpus crashes
for t in FuzzJSON FuzzAdapters FuzzXML FuzzHTML FuzzDecode; do
  log=Fuzz/artifacts/$t.log
  "$BIN/$t" "Fuzz/corpus/$t" -max_total_time="$SECONDS_PER" -max_len=65536 -rss_limit_mb=4096 -timeout=10 \
      -print_final_stats=1 -artifact_prefix="Fuzz/artifacts/$t-" > "$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  corpus=$(ls "Fuzz/corpus/$t" | wc -l)
  crashes=$(ls Fuzz/artifacts/ | grep -c "^$t-" || true)
  printf "%-14s %12s %10s %8s\n" "$t" "${execs:-?}" "$corpus" "$crashes"
  if [ $rc -ne 0 ]; then status=1; echo "  $t stopped with status $rc; see $log and Fuzz/artifacts/$t-*"; fi
done
exit $status
