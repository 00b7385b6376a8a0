#!/usr/bin/env python3
"""Writes a deterministic HH-RLHF-style JSON Lines file of about --mb megabytes (uncompressed).

Turns are word salad drawn from a vocabulary (the real HH split's words when it is present), so
the file compresses like real text rather than like repeated rows.
"""
import argparse, gzip, json, os, random, re

ap = argparse.ArgumentParser()
ap.add_argument("--mb", type=float, default=200)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("-o", "--out", required=True)
a = ap.parse_args()

rng = random.Random(a.seed)
real = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "realdata", "hh-rlhf_harmless-base_test.jsonl.gz")
vocab = []
if os.path.exists(real):
    for line in gzip.open(real, "rt", encoding="utf-8"):
        vocab += re.findall(r"\S+", json.loads(line)["chosen"])[:200]
    vocab = [w for w in vocab if w not in ("Human:", "Assistant:")]
if not vocab:
    vocab = "the a to of and is you I it that what how do can your this for be are not with have me about".split()

def sentence(n):
    return " ".join(rng.choice(vocab) for _ in range(n))

target = int(a.mb * 1e6)
written = 0
with open(a.out, "w", encoding="utf-8") as f:
    while written < target:
        turns = []
        for t in range(rng.randint(0, 3)):
            turns.append("\n\nHuman: " + sentence(rng.randint(5, 40)))
            turns.append("\n\nAssistant: " + sentence(rng.randint(10, 80)))
        turns.append("\n\nHuman: " + sentence(rng.randint(5, 40)))
        ctx = "".join(turns)
        row = {"chosen": ctx + "\n\nAssistant: " + sentence(rng.randint(10, 120)),
               "rejected": ctx + "\n\nAssistant: " + sentence(rng.randint(10, 120))}
        s = json.dumps(row, ensure_ascii=False) + "\n"
        f.write(s)
        written += len(s.encode("utf-8"))
