#!/usr/bin/env python3
"""Writes fixtures/demo/: the small raw corpora `make demo` falls back to when ../shared/realdata is
absent: a Stack Exchange Posts.xml, an OpenAssistant tree file, and an evaluation set that shares a
few questions with them (for decontaminate). Synthetic text from a seeded generator; rerunning
gives the same bytes."""
import json, os, random
from xml.sax.saxutils import quoteattr

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "demo")
os.makedirs(OUT, exist_ok=True)
rng = random.Random(14)
TOPICS = ["grinder", "kettle", "espresso", "bread dough", "sourdough starter", "cast iron pan", "tea leaves", "rice cooker",
          "french press", "pour over", "moka pot", "yeast", "baking soda", "olive oil", "chef knife", "cutting board"]
VERBS = ["clean", "store", "choose", "use", "maintain", "season", "measure", "heat", "replace", "calibrate"]
FACTS = ["temperature matters more than time", "fresh ingredients change the result", "a scale beats volume measures",
         "rinse with warm water and dry at once", "avoid direct sunlight and humidity", "start with the manufacturer's guide",
         "small changes are easier to judge", "keep notes of every attempt", "cheap tools work if kept clean",
         "an airtight container keeps the aroma", "grind size controls extraction", "let it rest before serving"]


def sentence():
    return f"{rng.choice(FACTS).capitalize()}, so {rng.choice(VERBS)} the {rng.choice(TOPICS)} {rng.choice(['daily', 'weekly', 'carefully', 'gently', 'after each use'])}."


def answer(n):
    return " ".join(sentence() for _ in range(n))


questions = []
for i in range(60):
    t, v = TOPICS[i % len(TOPICS)], VERBS[(i * 7) % len(VERBS)]
    questions.append((f"How should I {v} a {t}? (case {i})", f"I have a {t} and I am unsure how to {v} it. " + answer(2)))

# Stack Exchange: questions (PostTypeId 1) with 2-4 scored answers (PostTypeId 2).
rows, pid = [], 1
for q, body in questions:
    qid = pid; pid += 1
    rows.append(f'  <row Id="{qid}" PostTypeId="1" Score="{rng.randint(1, 30)}" Title={quoteattr(q)} Body={quoteattr("<p>" + body + "</p>")} '
                f'Tags="&lt;kitchen&gt;" AnswerCount="3" CreationDate="2020-01-01T00:00:00.000" />')
    for a in range(rng.randint(2, 4)):
        rows.append(f'  <row Id="{pid}" PostTypeId="2" ParentId="{qid}" Score="{rng.randint(-2, 40)}" '
                    f'Body={quoteattr("<p>" + answer(rng.randint(1, 4)) + "</p>")} CreationDate="2020-01-02T00:00:00.000" />')
        pid += 1
with open(os.path.join(OUT, "se_kitchen_Posts.xml"), "w", encoding="utf-8") as f:
    f.write('<?xml version="1.0" encoding="utf-8"?>\n<posts>\n' + "\n".join(rows) + "\n</posts>\n")

# OpenAssistant trees: a prompt with 2-3 ranked assistant replies, some with a follow-up turn.
def msg(mid, parent, text, role, rank=None, replies=()):
    m = {"message_id": mid, "parent_id": parent, "text": text, "role": role, "lang": "en", "review_count": 3,
         "review_result": True, "deleted": False, "synthetic": False, "replies": list(replies)}
    if rank is not None: m["rank"] = rank
    return m

with open(os.path.join(OUT, "oasst_kitchen_trees.jsonl"), "w", encoding="utf-8") as f:
    for i in range(40):
        tid = f"tree-{i:04d}"
        q = f"What is the best way to {rng.choice(VERBS)} a {rng.choice(TOPICS)} at home? (tree {i})"
        replies = [msg(f"{tid}-a{r}", tid, answer(rng.randint(1, 3)), "assistant", rank=r) for r in range(rng.randint(2, 3))]
        root = msg(tid, None, q, "prompter", replies=replies)
        root.pop("parent_id")
        f.write(json.dumps({"message_tree_id": tid, "tree_state": "ready_for_export", "prompt": root}, ensure_ascii=False) + "\n")

# An evaluation set: five of the Stack Exchange questions and five new ones.
with open(os.path.join(OUT, "eval_kitchen.jsonl"), "w", encoding="utf-8") as f:
    for q, body in questions[:5]:
        f.write(json.dumps({"question": q + " " + body}) + "\n")
    for i in range(5):
        f.write(json.dumps({"question": f"Name a {rng.choice(['red', 'green', 'blue'])} vegetable that grows in winter (item {i})."}) + "\n")
