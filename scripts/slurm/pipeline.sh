#!/usr/bin/env bash
# Ready-to-edit Slurm pipeline: convert, filter and decontaminate as N-task arrays, chained with
# --dependency=afterok, then the one-node steps (dedup, split, stats, score) as one job.
# Each array task finds its shard in SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT; rerunning the
# script skips shards whose completion markers check (docs/scale-out.md).
# Usage: scripts/slurm/pipeline.sh RAW_DIR EVAL_FILE WORK_DIR [TASKS]
# Resources: TASK_OPTS (per array task) and NODE_OPTS (the one-node job) are passed to sbatch.
set -euo pipefail
RAW=${1:?raw input directory}; EVAL=${2:?eval file}; W=${3:?work directory}; N=${4:-16}
P=${PREFKIT:-prefkit}
TASK_OPTS=${TASK_OPTS---cpus-per-task=2 --mem=4G}
NODE_OPTS=${NODE_OPTS---cpus-per-task=8 --mem=24G}
mkdir -p "$W/logs"
# Exit 1 means records were rejected (they are in the rejects files), not that the task failed.
ok='rc=$?; [ $rc = 0 ] || [ $rc = 1 ]'
sub() { sbatch --parsable --array=0-$((N - 1)) $TASK_OPTS -o "$W/logs/%x-%a.log" "$@"; }
c=$(sub --job-name=convert --wrap "$P convert $RAW -o $W/converted/ --threads 2 -q; $ok")
f=$(sub --job-name=filter --dependency=afterok:$c --wrap "$P filter $W/converted -o $W/filtered/ --empty --identical --tie -q; $ok")
d=$(sub --job-name=decontaminate --dependency=afterok:$f --wrap "$P decontaminate $W/filtered --against $EVAL -o $W/clean/ -q; $ok")
sbatch --parsable --job-name=one-node --dependency=afterok:$d $NODE_OPTS -o "$W/logs/%x.log" --wrap "
  $P dedup $W/clean -o $W/dedup.jsonl.zst -q; $ok
  $P split $W/dedup.jsonl.zst -o $W/split/ --test 0.05 --seed 1 -q
  $P stats $W/split/train.jsonl --html $W/stats.html
  $P score $W/split/train.jsonl -o $W/score/ --budget quick -q"
