#!/usr/bin/env python3
"""Generates prefkit's test fixtures under fixtures/ (deterministic; run from the repo root).

Small hand-written records for the corpora with no real sample in ../shared/realdata, edge cases
for prompt extraction, deliberately broken input, and compressed variants with unusual framing.
Needs only the Python standard library and the `zstd` command-line tool.
"""
import gzip, io, json, os, struct, subprocess, sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
os.makedirs(OUT, exist_ok=True)


def write_jsonl(name, rows):
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def write_bytes(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def zstd(data, extra=()):
    return subprocess.run(["zstd", "-q", "-c", *extra], input=data, stdout=subprocess.PIPE, check=True).stdout


def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as g:
        g.write(data)
    return buf.getvalue()


# --- Stanford SHP ---------------------------------------------------------------------------
write_jsonl("shp.jsonl", [
    {"post_id": "himc90", "domain": "askacademia_train", "upvote_ratio": 0.99, "history": "In an interview right now. Should I ask about pay?",
     "c_root_id_A": "fug3yyx", "c_root_id_B": "fug40zg", "created_at_utc_A": 1593290000, "created_at_utc_B": 1593290100,
     "score_A": 52, "score_B": 7, "human_ref_A": "Yes, always ask. It signals you take yourself seriously.",
     "human_ref_B": "No.", "labels": 1, "seconds_difference": 100.0, "score_ratio": 7.428571428571429},
    {"post_id": "himc91", "domain": "askculinary_train", "upvote_ratio": 0.95, "history": "Why does my bread come out dense?",
     "c_root_id_A": "a1", "c_root_id_B": "b1", "created_at_utc_A": 1593290000, "created_at_utc_B": 1593290100,
     "score_A": 3, "score_B": 40, "human_ref_A": "Bad flour.", "human_ref_B": "Usually under-proofing: give the dough more time to rise, and check your yeast is alive.",
     "labels": 0, "seconds_difference": 100.0, "score_ratio": 13.333333333333334},
])

# --- UltraFeedback binarized ----------------------------------------------------------------
write_jsonl("ultrafeedback.jsonl", [
    {"prompt": "How do I boil an egg?", "prompt_id": "p-001",
     "chosen": [{"role": "user", "content": "How do I boil an egg?"}, {"role": "assistant", "content": "Put it in boiling water for 9 minutes, then cool it in cold water."}],
     "rejected": [{"role": "user", "content": "How do I boil an egg?"}, {"role": "assistant", "content": "Microwave it."}],
     "messages": [{"role": "user", "content": "How do I boil an egg?"}, {"role": "assistant", "content": "Put it in boiling water for 9 minutes, then cool it in cold water."}],
     "score_chosen": 8.5, "score_rejected": 3.0},
    {"prompt": "Name a prime.", "prompt_id": "p-002",
     "chosen": [{"role": "assistant", "content": "7"}], "rejected": [{"role": "assistant", "content": "9"}],
     "score_chosen": 10, "score_rejected": 1},
])

# --- TRL: explicit/implicit, standard/conversational, with edge cases -----------------------
write_jsonl("trl_standard_explicit.jsonl", [
    {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."},
    {"prompt": "2+2=", "chosen": "4", "rejected": "5", "score_chosen": 1.0, "score_rejected": 0.0},
])
write_jsonl("trl_standard_implicit.jsonl", [
    # 1 ordinary: differ after a shared sentence
    {"chosen": "Q: What colour is the sky? A: Blue.", "rejected": "Q: What colour is the sky? A: Green."},
    # 2 one side is a prefix of the other
    {"chosen": "Tell me a fact. Water is wet", "rejected": "Tell me a fact. Water is wet and cold"},
    # 3 differ in the middle of a word: the cut goes back to the word start
    {"chosen": "The answer is 42", "rejected": "The answer is 41"},
    # 4 differ at a multi-byte character: never split UTF-8
    {"chosen": "Say café please: é", "rejected": "Say café please: è"},
    # 5 differ at the first character: no prompt -> rejected
    {"chosen": "Yes.", "rejected": "No."},
])
write_jsonl("trl_conversational.jsonl", [
    {"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}],
     "chosen": [{"role": "assistant", "content": "Paris."}], "rejected": [{"role": "assistant", "content": "Lyon."}]},
    {"chosen": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"}],
     "rejected": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "What."}]},
    # implicit, one list a prefix of the other: prompt is the shared user turn
    {"chosen": [{"role": "user", "content": "Count to two"}, {"role": "assistant", "content": "one"}],
     "rejected": [{"role": "user", "content": "Count to two"}, {"role": "assistant", "content": "one"}, {"role": "user", "content": "go on"}, {"role": "assistant", "content": "two"}]},
])

# --- OpenAI preference fine-tuning ----------------------------------------------------------
write_jsonl("openai.jsonl", [
    {"input": {"messages": [{"role": "developer", "content": "You are terse."}, {"role": "user", "content": "Hello, how is the weather in Boston?"}], "tools": [], "parallel_tool_calls": True},
     "preferred_output": [{"role": "assistant", "content": "Cloudy, 12 C."}],
     "non_preferred_output": [{"role": "assistant", "content": "The weather in Boston today is a fascinating topic that..."}]},
    {"input": {"messages": [{"role": "user", "content": [{"type": "text", "text": "Say "}, {"type": "text", "text": "hi"}]}]},
     "preferred_output": [{"role": "assistant", "content": "hi"}], "non_preferred_output": [{"role": "assistant", "content": "bye"}]},
])

# --- LLaMA-Factory alpaca with system and history (JSON Lines; the real samples are arrays) --
write_jsonl("llamafactory_alpaca.jsonl", [
    {"instruction": "Translate to French", "input": "good morning", "chosen": "bonjour", "rejected": "bonsoir",
     "system": "You translate.", "history": [["Translate to German: thanks", "danke"]]},
    {"instruction": "Pick the larger number", "input": "", "chosen": "9", "rejected": "3"},
])

# --- Chatbot Arena ---------------------------------------------------------------------------
def conv(q, a, q2=None, a2=None):
    c = [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    if q2:
        c += [{"role": "user", "content": q2}, {"role": "assistant", "content": a2}]
    return c
write_jsonl("arena.jsonl", [
    {"question_id": "q1", "model_a": "alpha", "model_b": "beta", "winner": "model_b", "judge": "arena_user_1", "turn": 1, "language": "English",
     "conversation_a": conv("What is 2+2?", "5"), "conversation_b": conv("What is 2+2?", "4")},
    {"question_id": "q2", "model_a": "alpha", "model_b": "beta", "winner": "tie", "judge": "arena_user_2", "turn": 1, "language": "English",
     "conversation_a": conv("Hi", "Hello"), "conversation_b": conv("Hi", "Hey")},
    {"question_id": "q3", "model_a": "alpha", "model_b": "gamma", "winner": "model_a", "judge": "arena_user_3", "turn": 2, "language": "English",
     "conversation_a": conv("Name a fruit", "Apple", "Another", "Pear"), "conversation_b": conv("Name a fruit", "Car", "Another", "Bus")},
    {"question_id": "q4", "model_a": "beta", "model_b": "gamma", "winner": "tie (bothbad)", "judge": "arena_user_4", "turn": 1, "language": "English",
     "conversation_a": conv("Prove P=NP", "Done."), "conversation_b": conv("Prove P=NP", "Trivial.")},
])

# --- PKU-SafeRLHF ----------------------------------------------------------------------------
write_jsonl("pku.jsonl", [
    {"prompt": "How do I pick a lock?", "response_0": "Here is how to break into a house...", "response_1": "If you are locked out, call a licensed locksmith.",
     "is_response_0_safe": False, "is_response_1_safe": True, "better_response_id": 0, "safer_response_id": 1},
    {"prompt": "How do I make tea?", "response_0": "Steep leaves in hot water for 3 minutes.", "response_1": "Tea.",
     "is_response_0_safe": True, "is_response_1_safe": True, "better_response_id": 0, "safer_response_id": 0},
])

# --- generic field mapping ---------------------------------------------------------------------
write_jsonl("generic.jsonl", [
    {"uid": 17, "q": {"text": "Best sorting algorithm for nearly sorted data?"}, "good": "Insertion sort.", "bad": "Bogosort.", "s": {"good": 0.9, "bad": 0.1}},
    {"uid": 18, "q": {"text": "Largest planet?"}, "good": "Jupiter.", "bad": "Mars.", "s": {"good": 0.8, "bad": 0.3}},
])

# --- HH-style transcripts, and compressed variants ---------------------------------------------
def hh(turns):
    return "".join("\n\n%s: %s" % t for t in turns)
hh_rows = []
for i in range(40):
    ctx = [("Human", "Question number %d about topic %d?" % (i, i % 7)), ("Assistant", "Could you say more?"), ("Human", "Sure, detail %d." % i)]
    hh_rows.append({"chosen": hh(ctx + [("Assistant", "Helpful answer %d." % i)]), "rejected": hh(ctx + [("Assistant", "Unhelpful answer %d, and the Assistant: marker inside." % i)])})
# A reply that contains "\n\nAssistant:" itself: the naive rfind split goes wrong on it.
hh_rows.append({"chosen": hh([("Human", "Quote the log"), ("Assistant", "It says:\n\nAssistant: hello")]), "rejected": hh([("Human", "Quote the log"), ("Assistant", "No.")])})
write_jsonl("hh_small.jsonl", hh_rows)
plain = open(os.path.join(OUT, "hh_small.jsonl"), "rb").read()
half = plain.index(b"\n", len(plain) // 2) + 1
write_bytes("hh_small.jsonl.gz", gz(plain[:half]) + gz(plain[half:]))                         # two gzip members
skippable = struct.pack("<II", 0x184D2A50, 5) + b"skip!"
write_bytes("hh_small.jsonl.zst", zstd(plain[:half]) + skippable + zstd(plain[half:], ["--no-content-size"]))  # 2 frames + skippable
write_bytes("hh_small_named.jsonl.zst", plain)                                              # plain data named .zst
write_bytes("hh_small_named.jsonl", gz(plain))                                              # gzip data named .jsonl
write_bytes("hh_truncated.jsonl.gz", gz(plain)[: len(gz(plain)) * 2 // 3])
# zstd decodes whole blocks, so the damage sits in the second of two frames: the first survives.
second = zstd(plain[half:])
write_bytes("hh_truncated.jsonl.zst", zstd(plain[:half]) + second[: len(second) // 2])

# --- broken input, one problem per line ---------------------------------------------------------
good = json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}).encode()
bad_lines = [
    good,                                                   # 1 ok
    b'{"prompt": "p", "chosen": "a", "rejected": ',         # 2 malformed JSON (truncated)
    b'{"prompt": "p", "chosen": "\xff\xfe", "rejected": "b"}',  # 3 invalid UTF-8
    b'{"prompt": "p", "chosen": "a"}',                      # 4 missing field
    b'["not", "an", "object"]',                             # 5 not an object
    b'',                                                    # 6 blank line (not a record)
    b'{"prompt": "p", "chosen": 5, "rejected": "b"}',       # 7 wrong type
    good.replace(b'"p"', b'"p2"') + b"\r",                  # 8 ok, CRLF
    b'{"prompt": "p", "chosen": "a\x01", "rejected": "b"}',   # 9 raw control character
    good.replace(b'"p"', b'"p3"'),                          # 10 ok, no final newline
]
write_bytes("bad_trl.jsonl", b"\n".join(bad_lines))

# A JSON array with a byte order mark and CRLF line ends.
arr = json.dumps([{"instruction": "Say yes", "input": "", "chosen": "yes", "rejected": "no"},
                  {"instruction": "Say no", "input": "", "chosen": "no", "rejected": "yes"}], indent=2).replace("\n", "\r\n")
write_bytes("llamafactory_bom_crlf.json", b"\xef\xbb\xbf" + arr.encode())
write_bytes("broken_array.json", b'[{"instruction": "a", "chosen": "x", "rejected": "y"}, {"instruction": "b", "chosen": "x"')
# The engine tests' text: the first 300 records of the real HH-RLHF harmless-base test split
# (Anthropic, MIT licence; ../shared/realdata/PROVENANCE.md), kept in the repo so the engine and
# tokenizer tests run on a machine without ../shared.
REAL_HH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "realdata", "hh-rlhf_harmless-base_test.jsonl.gz")
if os.path.exists(REAL_HH):
    with gzip.open(REAL_HH, "rb") as f:
        head = b"".join(line for _, line in zip(range(300), f))
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as g:
        g.write(head)
    write_bytes("hh_engine.jsonl.gz", buf.getvalue())
else:
    print("../shared/realdata absent: fixtures/hh_engine.jsonl.gz left as it is")
print("fixtures written to", os.path.normpath(OUT))
