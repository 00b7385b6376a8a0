#!/usr/bin/env python3
"""The Python peer for `prefkit convert --from stackexchange`: lxml iterparse, the same H4 pairing
rule (pm_score, every pair of different pm_score, at most 10 per question by largest gap), HTML
bodies to text with lxml.html, JSON Lines out. Holds the join in memory (dicts)."""
import math, sys
import orjson
from lxml import etree, html

def text(body):
    return html.fromstring(body).text_content().strip() if body and body.strip() else ""

def main(src, dst):
    questions, answers = {}, {}
    for _, el in etree.iterparse(src, events=("end",), tag="row", huge_tree=True):
        a = el.attrib
        t = a.get("PostTypeId")
        if t == "1":
            questions[int(a["Id"])] = (a.get("Title", ""), text(a.get("Body", "")), int(a.get("AcceptedAnswerId", 0) or 0))
        elif t == "2":
            answers.setdefault(int(a["ParentId"]), []).append((int(a["Id"]), int(a.get("Score", 0)), text(a.get("Body", ""))))
        el.clear()
        while el.getprevious() is not None:
            del el.getparent()[0]
    n = 0
    with open(dst, "wb") as out:
        for qid in sorted(answers):
            if qid not in questions or len(answers[qid]) < 2:
                continue
            title, qbody, acc = questions[qid]
            ans = sorted(answers[qid])
            pm = [(round(math.log2(1 + s)) if s >= 0 else -1) + (1 if aid == acc else 0) for aid, s, _ in ans]
            cands = [(pm[i] - pm[j], ans[i][0], ans[j][0], i, j) for i in range(len(ans)) for j in range(len(ans)) if pm[i] > pm[j]]
            cands.sort(key=lambda c: (-c[0], c[1], c[2]))
            for gap, cid, rid, i, j in cands[:10]:
                out.write(orjson.dumps({"prompt": [{"role": "user", "content": title + "\n\n" + qbody}],
                                        "chosen": [{"role": "assistant", "content": ans[i][2]}],
                                        "rejected": [{"role": "assistant", "content": ans[j][2]}],
                                        "score_chosen": pm[i], "score_rejected": pm[j],
                                        "meta": {"question_id": qid, "chosen_answer_id": cid, "rejected_answer_id": rid}}) + b"\n")
                n += 1
    print(n, "pairs", file=sys.stderr)

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
