#!/usr/bin/env python3
"""The Python peer for `prefkit convert --from hh`: orjson + zstandard, same conversion rule
(prompt = longest common prefix backed off to the last "\n\nAssistant:" inside it; all turns
parsed into messages), same output fields, streaming."""
import io, sys, hashlib
import orjson, zstandard

H, A = "\n\nHuman:", "\n\nAssistant:"

def turns(text):
    out = []
    i = 0
    while i < len(text):
        if text.startswith(H, i):
            role, start = "user", i + len(H)
        else:
            role, start = "assistant", i + len(A)
        nh = text.find(H, start); na = text.find(A, start)
        nxt = min([x for x in (nh, na) if x >= 0], default=len(text))
        c = text[start:nxt]
        if c.startswith(" "):
            c = c[1:]
        out.append({"role": role, "content": c})
        i = nxt
    return out

def main(src, dst):
    name = src.rsplit("/", 1)[-1]
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        reader = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(fin), buffer_size=1 << 20)
        for n, line in enumerate(reader, 1):
            r = orjson.loads(line)
            c, j = r["chosen"], r["rejected"]
            k = 0
            m = min(len(c), len(j))
            while k < m and c[k] == j[k]:
                k += 1
            s = c.rfind(A, 0, k)
            source = "hh:%s:%d" % (name, n)
            out = {"id": hashlib.blake2b(source.encode(), digest_size=8).hexdigest(), "source": source,
                   "prompt": turns(c[:s]), "chosen": turns(c[s:]), "rejected": turns(j[s:])}
            fout.write(orjson.dumps(out) + b"\n")

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
