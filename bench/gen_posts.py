#!/usr/bin/env python3
"""Writes a deterministic Stack Exchange Posts.xml of about --mb megabytes: questions with 0-5
answers that arrive later in the file, orphan answers, other post types, HTML bodies with code
blocks, lists and entities (the structure of Tests/PrefFormatsTests/SyntheticPosts.swift)."""
import argparse, random
from xml.sax.saxutils import escape, quoteattr

ap = argparse.ArgumentParser()
ap.add_argument("--mb", type=float, default=500)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("-o", "--out", required=True)
a = ap.parse_args()
rng = random.Random(a.seed)
words = ("coffee grind water espresso bean roast temperature pressure brew filter milk taste acid & <tag> é naïve "
         "the a of to and is in that it for you with on as are this be at or have").split()

def sentence(n):
    return " ".join(rng.choice(words) for _ in range(n))

def body():
    h = "<p>%s</p>\n" % escape(sentence(rng.randint(20, 120)))
    if rng.random() < 0.5:
        h += "<pre><code>let x = 1 &lt; 2\nprint(x)\n</code></pre>\n"
    if rng.random() < 0.25:
        h += "<ul>\n<li>%s</li>\n<li>use <code>grind()</code></li>\n</ul>\n" % escape(sentence(6))
    return h

target = int(a.mb * 1e6)
with open(a.out, "w", encoding="utf-8") as f:
    f.write('\ufeff<?xml version="1.0" encoding="utf-8"?>\n<posts>\n')
    i, pending, written = 1, [], 0
    while written < target:
        q = i; i += 1
        n = rng.randint(0, 5)
        acc = q + 1 + rng.randrange(n) if n and rng.random() < 0.5 else 0
        row = '  <row Id="%d" PostTypeId="1"%s Score="%d" Body=%s Title=%s Tags=%s />\n' % (
            q, ' AcceptedAnswerId="%d"' % acc if acc else "", rng.randint(-2, 50), quoteattr(body()), quoteattr(sentence(8)), quoteattr("<coffee><brew>"))
        f.write(row); written += len(row)
        for k in range(n):
            pending.append('  <row Id="%d" PostTypeId="2" ParentId="%d" Score="%d" Body=%s />\n' % (q + 1 + k, q, rng.randint(-3, 40), quoteattr(body())))
        i += n
        while len(pending) > 200:
            r = pending.pop(0); f.write(r); written += len(r)
        if rng.random() < 0.1:
            r = '  <row Id="%d" PostTypeId="5" Body=%s />\n' % (i, quoteattr("<p>tag wiki</p>")); i += 1; f.write(r); written += len(r)
    for r in pending:
        f.write(r)
    f.write("</posts>\n")
