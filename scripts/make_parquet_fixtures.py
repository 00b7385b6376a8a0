#!/usr/bin/env python3
"""Writes fixtures/parquet/: small Parquet files written by pyarrow in many settings, each with the
same rows as JSON Lines (`NAME.expected.jsonl`, pyarrow's own to_pylist) for the reader's tests.

Run with a Python that has pyarrow (outside the repo, e.g. a virtual environment):
    python scripts/make_parquet_fixtures.py
The rows are made up here (TRL conversational pairs, Nectar-style ranked answers, and a table of
every scalar type with nulls, empty lists and non-ASCII text), seeded, so reruns give the same data.
"""
import json, os, random
import pyarrow as pa
import pyarrow.parquet as pq

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "parquet")
os.makedirs(OUT, exist_ok=True)
rng = random.Random(7)
WORDS = "the a data model reply prompt why how good bad café naïve 日本語 emoji🙂 ünïcödé line\nbreak \"quoted\" tab\there".split(" ")

def text(n):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, n)))

def trl_rows(n):
    rows = []
    for i in range(n):
        turns = []
        for t in range(rng.randint(0, 2)):
            turns += [{"role": "user", "content": text(12)}, {"role": "assistant", "content": text(12)}]
        turns.append({"role": "user", "content": text(15) or "hi"})
        rows.append({
            "prompt": turns,
            "chosen": [{"role": "assistant", "content": text(30) or "yes"}],
            "rejected": [{"role": "assistant", "content": text(30) or "no"}],
            "score_chosen": round(rng.uniform(0, 10), 2),
            "score_rejected": None if i % 7 == 0 else round(rng.uniform(0, 10), 2),
        })
    return rows

def nectar_rows(n):
    rows = []
    for i in range(n):
        k = rng.randint(0, 4)
        rows.append({
            "prompt": "\n\nHuman: " + (text(15) or "hi") + "\n\nAssistant:",
            "answers": [{"answer": text(20), "model": rng.choice(["gpt-4", "llama-2", "claude"]), "rank": float(r + 1)} for r in range(k)],
            "turns": rng.randint(1, 3),
            "good_natured": rng.random() < 0.8,
        })
    return rows

def scalar_rows(n):
    rows = []
    for i in range(n):
        rows.append({
            "i8": None if i % 5 == 0 else rng.randint(-128, 127),
            "i32": rng.randint(-2**31, 2**31 - 1),
            "i64": rng.randint(-2**62, 2**62) if i % 3 else i * 1000,
            "u32": rng.randint(0, 2**32 - 1),
            "f32": None if i % 4 == 0 else rng.uniform(-1e3, 1e3),
            "f64": rng.uniform(-1e9, 1e9),
            "flag": None if i % 6 == 0 else rng.random() < 0.5,
            "s": None if i % 8 == 0 else text(6),
            "tags": None if i % 9 == 0 else [text(2) for _ in range(rng.randint(0, 3))],
            "nums": [rng.randint(0, 100) for _ in range(rng.randint(0, 4))],
            "nested": None if i % 10 == 0 else {"a": rng.randint(0, 9), "b": [None if rng.random() < 0.2 else text(3) for _ in range(rng.randint(0, 2))]},
            "kv": [(text(1) or "k", rng.randint(0, 5)) for _ in range(rng.randint(0, 2))],
        })
    return rows

SCALAR_SCHEMA = pa.schema([
    ("i8", pa.int8()), ("i32", pa.int32()), ("i64", pa.int64()), ("u32", pa.uint32()),
    ("f32", pa.float32()), ("f64", pa.float64()), ("flag", pa.bool_()), ("s", pa.string()),
    ("tags", pa.list_(pa.string())), ("nums", pa.list_(pa.int64())),
    ("nested", pa.struct([("a", pa.int32()), ("b", pa.list_(pa.string()))])),
    ("kv", pa.map_(pa.string(), pa.int64())),
])

def expected(table):
    rows = table.to_pylist()
    for r in rows:
        for k, v in list(r.items()):
            if isinstance(v, list) and v and isinstance(v[0], tuple):  # a map: list of (key, value)
                r[k] = dict(v)
            elif k == "kv" and v == []:
                r[k] = {}
    return rows

def write(name, table, **kw):
    pq.write_table(table, os.path.join(OUT, name + ".parquet"), **kw)
    back = pq.read_table(os.path.join(OUT, name + ".parquet"))
    with open(os.path.join(OUT, name + ".expected.jsonl"), "w", encoding="utf-8") as f:
        for r in expected(back):
            f.write(json.dumps(r, ensure_ascii=False) + "\n")

trl = pa.Table.from_pylist(trl_rows(300))
with open(os.path.join(OUT, "trl.jsonl"), "w", encoding="utf-8") as f:
    for r in trl.to_pylist():
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
write("trl_snappy", trl, compression="snappy")
write("trl_zstd_v2", trl, compression="zstd", data_page_version="2.0", row_group_size=64)
write("trl_gzip_plain", trl, compression="gzip", use_dictionary=False, data_page_size=4096)
write("trl_none_crc", trl, compression="none", write_page_checksum=True, row_group_size=100)
write("trl_delta", trl, compression="snappy", use_dictionary=False,
      column_encoding={"score_chosen": "BYTE_STREAM_SPLIT", "score_rejected": "BYTE_STREAM_SPLIT"})
write("nectar", pa.Table.from_pylist(nectar_rows(120)), compression="zstd", row_group_size=50)
scalars = pa.Table.from_pylist(scalar_rows(200), schema=SCALAR_SCHEMA)
write("scalars", scalars, compression="snappy", row_group_size=37)
write("scalars_v2_plain", scalars, compression="gzip", data_page_version="2.0", use_dictionary=False)
write("scalars_delta", scalars, compression="zstd", use_dictionary=False,
      column_encoding={"i32": "DELTA_BINARY_PACKED", "i64": "DELTA_BINARY_PACKED", "s": "DELTA_BYTE_ARRAY",
                       "u32": "DELTA_BINARY_PACKED"})
write("strings_delta_length", pa.table({"s": [text(5) for _ in range(500)]}), compression="none",
      use_dictionary=False, column_encoding={"s": "DELTA_LENGTH_BYTE_ARRAY"})
write("empty", pa.Table.from_pylist([], schema=SCALAR_SCHEMA))
print("wrote", sorted(os.listdir(OUT)))
