#!/usr/bin/env python3
"""The Python peer for Parquet reading: pyarrow's read_table + to_pylist, timed, on the same file.
Also writes the benchmark input when asked: python bench/parquet_read.py --make OUT.parquet N_ROWS"""
import sys, time, random
import pyarrow as pa, pyarrow.parquet as pq

if sys.argv[1] == "--make":
    out, n = sys.argv[2], int(sys.argv[3])
    rng = random.Random(1)
    words = "the of and to a in is you that it for on with as are this be".split()
    t = lambda k: " ".join(rng.choice(words) for _ in range(k))
    rows = [{"prompt": [{"role": "user", "content": t(rng.randint(5, 60))}],
             "chosen": [{"role": "assistant", "content": t(rng.randint(20, 200))}],
             "rejected": [{"role": "assistant", "content": t(rng.randint(20, 200))}],
             "score_chosen": rng.uniform(0, 10), "score_rejected": rng.uniform(0, 10)} for _ in range(n)]
    pq.write_table(pa.Table.from_pylist(rows), out, compression="snappy", row_group_size=10000)
    sys.exit(0)
t0 = time.time()
rows = pq.read_table(sys.argv[1]).to_pylist()
print("%.3f s  %d rows (pyarrow %s read_table + to_pylist)" % (time.time() - t0, len(rows), pa.__version__))
