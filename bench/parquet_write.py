#!/usr/bin/env python3
"""The Python peer for Parquet writing: normalized pairs (JSON Lines) into a zstd Parquet file with
pyarrow (json.loads per line, Table.from_pylist, write_table), timed, on the same input as
`prefkit convert PAIRS.jsonl -o OUT.parquet`. Usage: python bench/parquet_write.py IN.jsonl OUT.parquet"""
import sys, time, json
import pyarrow as pa, pyarrow.parquet as pq

t0 = time.time()
rows = []
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    rows.append({"id": r["id"], "source": r["source"], "prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"],
                 "score_chosen": r.get("score_chosen"), "score_rejected": r.get("score_rejected"),
                 "meta": json.dumps(r["meta"]) if "meta" in r else None})
pq.write_table(pa.Table.from_pylist(rows), sys.argv[2], compression="zstd", row_group_size=100000)
print("%.3f s  %d rows (pyarrow %s json + from_pylist + write_table zstd)" % (time.time() - t0, len(rows), pa.__version__))
