#!/usr/bin/env bash
# Checks that CONTRIBUTING.md's "adding a corpus" example is true: pastes its file and its one
# registry line into the tree, builds, converts a three-record sample (one pair, one tie, one
# malformed record), and puts the tree back whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
REG=Sources/PrefFormats/Corpus.swift
cp "$REG" "$REG.orig"
trap 'mv "$REG.orig" "$REG"; rm -f Sources/PrefFormats/QA.swift' EXIT
python3 - <<'PY'
import re
doc = open("CONTRIBUTING.md").read()
code = re.findall(r"```swift\n(.*?)```", doc, re.S)
open("Sources/PrefFormats/QA.swift", "w").write(code[0])
reg = open("Sources/PrefFormats/Corpus.swift").read()
anchor = "        LlamaFactoryAdapter.corpus,\n"
assert anchor in reg
open("Sources/PrefFormats/Corpus.swift", "w").write(reg.replace(anchor, anchor + code[1], 1))
PY
swift build -q 2>&1 | grep -E "error" && exit 1
d=$(mktemp -d)
printf '{"question": "q1", "good": "yes", "bad": "no"}\n{"question": "q2", "good": "x", "bad": "x"}\n{"question": 3, "good": "a", "bad": "b"}\n' > "$d/qa.jsonl"
.build/debug/prefkit convert "$d/qa.jsonl" -o "$d/out.jsonl" --summary-json "$d/s.json" -q || true
python3 - "$d/s.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
t = s["total"] if "total" in s else s
print(json.dumps(t))
assert t["read"] == 3 and t["written"] == 1, t
PY
.build/debug/prefkit convert --help | grep -q "  qa: question, good and bad answers"
echo "CONTRIBUTING.md corpus example: builds, detects, converts and is listed"
