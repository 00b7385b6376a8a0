#!/usr/bin/env bash
# Checks that CONTRIBUTING.md's worked examples are true: pastes the new corpus's file and its
# registry line, and the new filter's file and its table line, into the tree; builds; converts a
# three-record sample (one pair, one tie, one malformed record) and filters a two-pair sample; and
# puts the tree back whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
REG=Sources/PrefFormats/Corpus.swift
TAB=Sources/PrefCurate/Filtering.swift
cp "$REG" "$REG.orig"; cp "$TAB" "$TAB.orig"
trap 'mv "$REG.orig" "$REG"; mv "$TAB.orig" "$TAB"; rm -f Sources/PrefFormats/QA.swift Sources/PrefCurate/MaxChosenLines.swift' EXIT
python3 - <<'PY'
import re
doc = open("CONTRIBUTING.md").read()
code = re.findall(r"```swift\n(.*?)```", doc, re.S)
open("Sources/PrefFormats/QA.swift", "w").write(code[0])
reg = open("Sources/PrefFormats/Corpus.swift").read()
anchor = "        LlamaFactoryAdapter.corpus,\n"
assert anchor in reg
open("Sources/PrefFormats/Corpus.swift", "w").write(reg.replace(anchor, anchor + code[1], 1))
open("Sources/PrefCurate/MaxChosenLines.swift", "w").write(code[2])
tab = open("Sources/PrefCurate/Filtering.swift").read()
anchor = "    public static let table: [FilterDef] = [\n"
assert anchor in tab
open("Sources/PrefCurate/Filtering.swift", "w").write(tab.replace(anchor, anchor + code[3], 1))
PY
if ! swift build -q > /tmp/prefkit-contributing-build.log 2>&1; then
  grep -E "error" /tmp/prefkit-contributing-build.log; echo "CONTRIBUTING.md examples do not build"; exit 1
fi
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
help=$(.build/debug/prefkit convert --help)
grep -q "  qa: question, good and bad answers" <<< "$help"
printf '%s\n' '{"id": "a", "source": "t", "prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "1\n2\n3"}], "rejected": [{"role": "assistant", "content": "x"}]}' \
  '{"id": "b", "source": "t", "prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "one line"}], "rejected": [{"role": "assistant", "content": "x"}]}' > "$d/pairs.jsonl"
.build/debug/prefkit filter "$d/pairs.jsonl" -o "$d/f.jsonl" --filter max-chosen-lines=2 --summary-json "$d/f.json" -q
python3 - "$d/f.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(json.dumps({k: s[k] for k in ("read", "written", "removed")}))
assert s["written"] == 1 and s["removed"] == {"max-chosen-lines": 1}, s
PY
echo "CONTRIBUTING.md examples: the corpus builds, is detected, converts and is listed; the filter builds and removes by its name"
