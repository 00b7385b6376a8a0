#!/usr/bin/env bash
# Ready-to-edit Slurm pipeline, every data step sharded: convert, filter and decontaminate as
# N-task arrays; dedup and split in phases (sign and apply as N-task arrays, cluster / group as
# B-task arrays over buckets, each merge as one small job); stats per shard, then merged; score as
# one job. Steps are chained with --dependency=afterok. Each array task finds its shard in
# SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT; rerunning the script skips shards whose completion
# markers check (docs/scale-out.md).
# Usage: scripts/slurm/pipeline.sh RAW_DIR EVAL_FILE WORK_DIR [TASKS] [BUCKET_TASKS]
# Resources: TASK_OPTS (array tasks), MERGE_OPTS (the merges) and NODE_OPTS (score) go to sbatch.
set -euo pipefail
RAW=${1:?raw input directory}; EVAL=${2:?eval file}; W=${3:?work directory}; N=${4:-16}; B=${5:-8}
P=${PREFKIT:-prefkit}
TASK_OPTS=${TASK_OPTS---cpus-per-task=2 --mem=4G}
MERGE_OPTS=${MERGE_OPTS---cpus-per-task=2 --mem=24G}
NODE_OPTS=${NODE_OPTS---cpus-per-task=8 --mem=8G}
mkdir -p "$W/logs"
# Exit 1 means records were rejected (they are in the rejects files), not that the task failed.
ok='rc=$?; [ $rc = 0 ] || [ $rc = 1 ]'
sub() { local n=$1; shift; sbatch --parsable --array=0-$((n - 1)) $TASK_OPTS -o "$W/logs/%x-%a.log" "$@"; }
one() { sbatch --parsable $MERGE_OPTS -o "$W/logs/%x.log" "$@"; }
c=$(sub $N --job-name=convert --wrap "$P convert $RAW -o $W/converted/ --threads 2 -q; $ok")
f=$(sub $N --job-name=filter --dependency=afterok:$c --wrap "$P filter $W/converted -o $W/filtered/ --empty --identical --tie -q; $ok")
d=$(sub $N --job-name=decontaminate --dependency=afterok:$f --wrap "$P decontaminate $W/filtered --against $EVAL -o $W/clean/ -q; $ok")
# Dedup: the same --keep (and --keep-conflicts) for the cluster shards and their merge.
s=$(sub $N --job-name=dedup-sign --dependency=afterok:$d --wrap "$P dedup sign $W/clean -o $W/dedup-sig -q")
k=$(sub $B --job-name=dedup-cluster --dependency=afterok:$s --wrap "$P dedup cluster $W/dedup-sig -o $W/dedup-cl --keep largest-margin -q")
m=$(one --job-name=dedup-merge --dependency=afterok:$k --wrap "$P dedup cluster $W/dedup-sig -o $W/dedup-cl --merge --keep largest-margin")
a=$(sub $N --job-name=dedup-apply --dependency=afterok:$m --wrap "$P dedup apply $W/clean --clusters $W/dedup-cl -o $W/dedup/ -q; $ok")
# Split: prompt groups over every shard, placed once.
s=$(sub $N --job-name=split-sign --dependency=afterok:$a --wrap "$P split sign $W/dedup -o $W/split-sig -q")
g=$(sub $B --job-name=split-group --dependency=afterok:$s --wrap "$P split group $W/split-sig -o $W/split-gr -q")
m=$(one --job-name=split-merge --dependency=afterok:$g --wrap "$P split group $W/split-sig -o $W/split-gr --merge --test 0.05 --seed 1")
a=$(sub $N --job-name=split-apply --dependency=afterok:$m --wrap "$P split apply $W/dedup --groups $W/split-gr -o $W/split/ --ext jsonl.zst -q")
# Statistics of the training side, per shard then merged; the score is one small run.
t=$(sub $N --job-name=stats --dependency=afterok:$a --wrap "$P stats $W/split/train-*.jsonl.zst -o $W/stats-parts/ >/dev/null; $ok")
one --job-name=stats-merge --dependency=afterok:$t --wrap "$P stats --merge $W/stats-parts --json $W/stats.json --html $W/stats.html; $ok" >/dev/null
sbatch --parsable --job-name=score --dependency=afterok:$a $NODE_OPTS -o "$W/logs/%x.log" --wrap "$P score $W/split/train-*.jsonl.zst -o $W/score/ --budget quick -q"
