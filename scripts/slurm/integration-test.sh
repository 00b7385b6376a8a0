#!/usr/bin/env bash
# The sharded pipeline on a real Slurm cluster: a single-node cluster on 127.0.0.1
# (scripts/slurm/local-cluster.sh), then convert, filter and decontaminate as 4-task arrays
# (`sbatch --array=0-3 --wait`, each task's shard from SLURM_ARRAY_TASK_ID alone), then dedup,
# split and stats in phases (sign, cluster/group and apply as arrays, the merges as single jobs),
# each compared with the single-process run of the same step over the same files. Installs slurmctld, slurmd, slurm-client and munge
# with apt when they are missing and it can; skips with a message when it cannot.
# Usage: scripts/slurm/integration-test.sh [PREFKIT_BINARY]
set -euo pipefail
cd "$(dirname "$0")/../.."
P=$(realpath "${1:-$(swift build --show-bin-path)/prefkit}")
need="slurmctld slurmd slurm-client munge"
if ! command -v sbatch >/dev/null || ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "slurm integration: installing $need"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need) >/dev/null 2>&1 \
      || { echo "slurm integration: SKIPPED (apt could not install $need)"; exit 0; }
  else
    echo "slurm integration: SKIPPED (sbatch/slurmctld/munged missing and not root with apt to install them)"; exit 0
  fi
fi
W=$(mktemp -d /tmp/prefkit-slurm.XXXXXX)
chmod 755 "$W"   # munged requires every directory above its socket to be searchable by all
cleanup() { bash scripts/slurm/local-cluster.sh stop "$W/cluster" || true; rm -rf "$W"; }
trap cleanup EXIT
started=$(bash scripts/slurm/local-cluster.sh start "$W/cluster") || { echo "slurm integration: FAILED: the local cluster did not start"; tail -5 "$W"/cluster/log/*.log; exit 1; }
eval "$started"
export SLURM_CONF

IN=(fixtures/hh_small.jsonl fixtures/hh_small_named.jsonl fixtures/shp.jsonl fixtures/ultrafeedback.jsonl fixtures/arena.jsonl fixtures/pku.jsonl
    fixtures/openai.jsonl fixtures/trl_conversational.jsonl fixtures/ranked/nectar.jsonl)
IN=("${IN[@]/#/$PWD/}")
# hh_small_named.jsonl holds the same pairs as hh_small.jsonl (gzip under another name): duplicates for dedup.
# Real samples when present: a gzip file, a Stack Exchange dump (a join, whole per task), an OpenAssistant tree file.
for f in hh-rlhf_harmless-base_test.jsonl.gz se_coffee_Posts.xml oasst_en_100_tree.jsonl; do
  [ -f ../shared/realdata/$f ] && IN+=("$(realpath ../shared/realdata/$f)")
done
EVAL=$PWD/fixtures/arena.jsonl
FILTERS=(--empty --identical --response-chars 2:300)

# The single-process run.
"$P" convert "${IN[@]}" -o "$W/single.convert.jsonl" -q || [ $? = 1 ]
"$P" filter "$W/single.convert.jsonl" -o "$W/single.filter.jsonl" "${FILTERS[@]}" -q
"$P" decontaminate "$W/single.filter.jsonl" --against "$EVAL" --ngram 8 -o "$W/single.jsonl" -q

# The same steps as 4-task arrays; each task finds its shard in the Slurm environment.
array() {  # array NAME COMMAND...
  local name=$1; shift
  printf '#!/bin/bash\nset -uo pipefail\n%s\nrc=$?\n[ $rc = 0 ] || [ $rc = 1 ]\n' "$(printf '%q ' "$@")" > "$W/$name.sbatch"
  sbatch --array=0-3 --wait --job-name="prefkit-$name" -o "$W/$name-%a.log" "$W/$name.sbatch" >/dev/null \
    || { echo "slurm integration: FAILED: the $name array failed"; cat "$W"/$name-*.log; exit 1; }
}
array convert "$P" convert "${IN[@]}" -o "$W/converted/" -q
array filter "$P" filter "$W/converted" -o "$W/filtered/" "${FILTERS[@]}" -q
array decontaminate "$P" decontaminate "$W/filtered" --against "$EVAL" --ngram 8 -o "$W/clean/" -q

shards=$(ls "$W/clean"/part-*-of-00004.jsonl.zst | wc -l)
markers=$(ls "$W/clean"/*.done.json | wc -l)
sort "$W/single.jsonl" > "$W/a"
zstd -qdc "$W/clean"/part-*-of-00004.jsonl.zst | sort > "$W/b"
if [ "$shards" = 4 ] && [ "$markers" = 4 ] && cmp -s "$W/a" "$W/b" && [ -s "$W/a" ]; then
  echo "slurm integration: ok ($(wc -l < "$W/a") pairs; convert, filter and decontaminate as 4-task arrays equal the single run)"
else
  echo "slurm integration: FAILED ($shards shards, $markers markers; the sharded result differs from the single run)"
  diff "$W/a" "$W/b" | head -5; exit 1
fi

# Dedup, split and stats in phases over the cleaned shards, against one process over the same files.
job() {  # job NAME COMMAND...: one task
  local name=$1; shift
  printf '#!/bin/bash\nset -uo pipefail\n%s\n' "$(printf '%q ' "$@")" > "$W/$name.sbatch"
  sbatch --wait --job-name="prefkit-$name" -o "$W/$name.log" "$W/$name.sbatch" >/dev/null \
    || { echo "slurm integration: FAILED: the $name job failed"; cat "$W/$name.log"; exit 1; }
}
"$P" dedup "$W/clean" -o "$W/single.dedup.jsonl" --keep longest -q
"$P" split "$W/single.dedup.jsonl" -o "$W/single.split/" --test 0.2 -q
"$P" stats "$W/single.dedup.jsonl" --json "$W/single.stats.json" >/dev/null
array dedup-sign "$P" dedup sign "$W/clean" -o "$W/sig" --buckets 16 -q
array dedup-cluster "$P" dedup cluster "$W/sig" -o "$W/cl" --keep longest -q
job dedup-merge "$P" dedup cluster "$W/sig" -o "$W/cl" --merge --keep longest -q
array dedup-apply "$P" dedup apply "$W/clean" --clusters "$W/cl" -o "$W/dedup/" -q
zstd -qdc "$W/dedup"/part-*.jsonl.zst > "$W/dedup.jsonl"
array split-sign "$P" split sign "$W/dedup.jsonl" -o "$W/ssig" --buckets 8 -q
array split-group "$P" split group "$W/ssig" -o "$W/gr" -q
job split-merge "$P" split group "$W/ssig" -o "$W/gr" --merge --test 0.2 -q
array split-apply "$P" split apply "$W/dedup.jsonl" --groups "$W/gr" -o "$W/split/" -q
array stats "$P" stats "$W/dedup.jsonl" -o "$W/st/"
job stats-merge "$P" stats --merge "$W/st" --json "$W/stats.json"
"$P" split "$W/dedup.jsonl" -o "$W/single.split2/" --test 0.2 -q
sort "$W/single.dedup.jsonl" > "$W/a"; sort "$W/dedup.jsonl" > "$W/b"
same=1
cmp -s "$W/a" "$W/b" && [ -s "$W/a" ] || { echo "slurm integration: FAILED: the phased dedup differs from one process"; same=0; }
for side in train test; do
  sort "$W/single.split2/$side.jsonl" > "$W/a"; cat "$W/split/$side"-*.jsonl | sort > "$W/b"
  cmp -s "$W/a" "$W/b" && [ -s "$W/a" ] || { echo "slurm integration: FAILED: the phased split ($side) differs from one process"; same=0; }
done
cmp -s "$W/single.stats.json" "$W/stats.json" || { echo "slurm integration: FAILED: the merged stats differ from one process"; same=0; }
[ $same = 1 ] || exit 1

# prefkit pipeline with launcher slurm: every data stage as 2-task sbatch --wait arrays (dedup, split
# and stats in phases), against the same pipeline in one process per stage on this machine.
pipeline_cfg() {
  printf 'run: %s\ninputs:\n' "$1"; printf '  - %s\n' "${IN[@]}"
  printf 'stages:\n'
  for st in "convert: {}" "filter: {empty: true, identical: true}" "dedup: {keep: longest}" "decontaminate: {against: $EVAL, ngram: 8}" "split: {test: 0.2}" "stats: {}"; do
    printf '  - %s\n' "$st"
  done
}
pipeline_cfg "$W/pl-local" > "$W/local.yaml"
pipeline_cfg "$W/pl-slurm" | sed -E 's/^  - (convert|filter|dedup|decontaminate|split|stats): \{(.*)\}$/  - \1: {\2, shards: 2, launcher: slurm}/; s/\{, /{/' > "$W/slurm.yaml"
"$P" pipeline "$W/local.yaml" -q || { echo "slurm integration: FAILED: the local pipeline failed"; exit 1; }
"$P" pipeline "$W/slurm.yaml" -q || { echo "slurm integration: FAILED: the slurm pipeline failed"; cat "$W"/pl-slurm/*/logs/* 2>/dev/null | tail -20; exit 1; }
records() { python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print([(s["stage"], s["records"]) for s in m["stages"]])' "$1"; }
[ "$(records "$W/pl-local/manifest.json")" = "$(records "$W/pl-slurm/manifest.json")" ] \
  || { echo "slurm integration: FAILED: the slurm pipeline's records differ"; records "$W/pl-local/manifest.json"; records "$W/pl-slurm/manifest.json"; exit 1; }
grep -q '"tasks": 2' "$W/pl-slurm/manifest.json" || { echo "slurm integration: FAILED: the slurm pipeline ran no arrays"; exit 1; }
ls "$W"/pl-slurm/03-dedup/logs/*-1.log >/dev/null || { echo "slurm integration: FAILED: no array task logs"; exit 1; }
echo "slurm integration: pipeline with launcher slurm ok (same records per stage as the local pipeline)"
echo "slurm integration: ok ($(wc -l < "$W/dedup.jsonl") pairs after dedup; dedup sign/cluster/apply, split sign/group/apply and stats as 4-task arrays, merges as jobs, equal one process)"
