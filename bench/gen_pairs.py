#!/usr/bin/env python3
"""Writes N normalized pairs (prefkit's format) for the dedup benchmark: word-salad prompts of
20-60 words, ~10% exact duplicates (case/punctuation/whitespace variants) and ~10% near
duplicates (one word of the prompt changed, same responses)."""
import argparse, json, random
ap = argparse.ArgumentParser()
ap.add_argument("-n", type=int, default=1_000_000)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("-o", "--out", required=True)
a = ap.parse_args()
rng = random.Random(a.seed)
vocab = ["w%d" % i for i in range(5000)]
def words(k): return [rng.choice(vocab) for _ in range(k)]
made = []
with open(a.out, "w") as f:
    for i in range(a.n):
        r = rng.random()
        if made and r < 0.1:
            p, c, j = rng.choice(made)
            p = p.upper() + "!"; c = "  " + c
        elif made and r < 0.2:
            p, c, j = rng.choice(made)
            ws = p.split(); ws[rng.randrange(len(ws))] = rng.choice(vocab); p = " ".join(ws)
        else:
            p, c, j = " ".join(words(rng.randint(20, 60))), " ".join(words(rng.randint(10, 40))), " ".join(words(rng.randint(10, 40)))
            if len(made) < 100000: made.append((p, c, j))
        f.write(json.dumps({"id": "%016x" % i, "source": "bench:pairs:%d" % (i + 1),
                            "prompt": [{"role": "user", "content": p}], "chosen": [{"role": "assistant", "content": c}],
                            "rejected": [{"role": "assistant", "content": j}]}) + "\n")
