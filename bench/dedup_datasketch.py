#!/usr/bin/env python3
"""The Python peer for `prefkit dedup`: exact dedup by hash of the normalized prompt, chosen and
rejected, then datasketch MinHashLSH(threshold=0.8, num_perm=128) over word 5-gram shingles of
the normalized prompt (query, then insert the survivors). Reports counts and time."""
import re, sys, time, hashlib
import orjson
from datasketch import MinHash, MinHashLSH

def norm(s):
    return " ".join(re.sub(r"[^\w\s]", "", s.lower()).split())

def shingles(t, n=5):
    w = t.split()
    if len(w) <= n: return [t.encode()]
    return [" ".join(w[i:i + n]).encode() for i in range(len(w) - n + 1)]

def main(path):
    t0 = time.time()
    seen, lsh = set(), MinHashLSH(threshold=0.8, num_perm=128)
    exact = near = kept = 0
    for i, line in enumerate(open(path, "rb")):
        r = orjson.loads(line)
        p = norm(" ".join(m["content"] for m in r["prompt"]))
        key = hashlib.blake2b("\0".join([p, norm(r["chosen"][0]["content"]), norm(r["rejected"][0]["content"])]).encode(), digest_size=16).digest()
        if key in seen:
            exact += 1; continue
        seen.add(key)
        m = MinHash(num_perm=128)
        m.update_batch(shingles(p))
        if lsh.query(m):
            near += 1; continue
        lsh.insert(str(i), m)
        kept += 1
    print("python datasketch: %d exact, %d near, %d kept in %.1f s" % (exact, near, kept, time.time() - t0), file=sys.stderr)

if __name__ == "__main__":
    main(sys.argv[1])
