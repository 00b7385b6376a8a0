#!/usr/bin/env bash
# Byte-identity check for refactors: every real file in ../shared/realdata (and the bundled
# fixtures) goes through convert, then the curation commands (filter, dedup, decontaminate, split,
# stats) and a tiny score run, with two prefkit binaries; every output is compared byte for byte
# (score.json without its timings). Prints one line per difference and exits 1 if there is any.
# Usage: bench/identical.sh OLD_PREFKIT NEW_PREFKIT [WORKDIR]
set -uo pipefail
cd "$(dirname "$0")/.."
OLD=${1:?old prefkit binary}; NEW=${2:?new prefkit binary}
WORK=${3:-$(mktemp -d)}
REAL=../shared/realdata
inputs=()
[ -d "$REAL" ] && for f in "$REAL"/*; do case "$f" in *.md|*.yaml) ;; *) inputs+=("$f") ;; esac; done
for f in fixtures/*.jsonl fixtures/*.json fixtures/*.xml; do [ -f "$f" ] && inputs+=("$f"); done

run_all() {  # run_all BIN DIR
  local P=$1 D=$2
  mkdir -p "$D"
  for f in "${inputs[@]}"; do
    local n; n=$(basename "$f")
    "$P" convert "$f" -o "$D/$n.pairs.jsonl" --rejects "$D/$n.rejects.jsonl" --removed "$D/$n.removed.jsonl" -q --threads 2 >/dev/null 2>&1
    echo "convert exit $?" > "$D/$n.convert.rc"
  done
  cat "$D"/*.pairs.jsonl > "$D/all.jsonl" 2>/dev/null
  "$P" filter "$D/all.jsonl" -o "$D/filtered.jsonl" --removed "$D/filter.removed.jsonl" --empty --identical --tie \
    --min-margin 1 --response-chars 2:20000 --length-ratio 0.1:10 --max-pairs-per-prompt 3 -q --threads 2 >/dev/null 2>&1
  "$P" dedup "$D/all.jsonl" -o "$D/dedup.jsonl" --removed "$D/dedup.removed.jsonl" -q --threads 2 >/dev/null 2>&1
  "$P" decontaminate "$D/dedup.jsonl" --against "$D/filtered.jsonl" -o "$D/decon.jsonl" -q --threads 2 >/dev/null 2>&1
  "$P" split "$D/dedup.jsonl" -o "$D/split" --test 0.1 --valid 0.05 -q --threads 2 >/dev/null 2>&1
  "$P" stats "$D/dedup.jsonl" --json "$D/stats.json" --threads 2 >/dev/null 2>&1
  head -300 "$D/dedup.jsonl" > "$D/small.jsonl"
  "$P" score "$D/small.jsonl" -o "$D/score" --n-layer 1 --n-embd 32 --n-head 2 --vocab-size 300 --sft-steps 5 --dpo-steps 6 \
    --evaluations 2 --threads 2 -q >/dev/null 2>&1
  [ -f "$D/score/score.json" ] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); [d.pop(k,None) for k in ('timings','throughput')]; print(json.dumps(d,sort_keys=True))" \
    "$D/score/score.json" > "$D/score.norm.json" && rm -f "$D/score/score.json" "$D/score/report.html"
}

run_all "$OLD" "$WORK/old"
run_all "$NEW" "$WORK/new"
diffs=0
while IFS= read -r rel; do
  if ! cmp -s "$WORK/old/$rel" "$WORK/new/$rel"; then echo "differs: $rel"; diffs=$((diffs + 1)); fi
done < <(cd "$WORK/old" && find . -type f | sort)
extra=$(comm -13 <(cd "$WORK/old" && find . -type f | sort) <(cd "$WORK/new" && find . -type f | sort))
[ -n "$extra" ] && { echo "only in new: $extra"; diffs=$((diffs + 1)); }
files=$(cd "$WORK/old" && find . -type f | wc -l)
echo "$files outputs compared, $diffs differ ($WORK)"
[ "$diffs" -eq 0 ]
