#!/usr/bin/env bash
# The Python environment of the ecosystem checks (the interop tests): a virtual environment outside
# the repo, cached between runs, with datasets, tokenizers, transformers, safetensors, pyarrow, gguf and,
# where they install, torch (CPU) and trl. Prints the environment's python on stdout (nothing if
# Python itself is missing); progress and what could not be installed go to stderr.
# PREFKIT_VENV picks the place (default ~/.cache/prefkit/venv); PREFKIT_PYTHON set skips all this.
set -uo pipefail
if [ -n "${PREFKIT_PYTHON:-}" ]; then echo "$PREFKIT_PYTHON"; exit 0; fi
VENV=${PREFKIT_VENV:-$HOME/.cache/prefkit/venv}
PY=$VENV/bin/python
say() { echo "interop-env: $*" >&2; }
command -v python3 >/dev/null || { say "no python3: the interop tests will be skipped"; exit 0; }
have() { "$PY" -c "import $1" >/dev/null 2>&1; }
if [ ! -x "$PY" ]; then
  say "creating $VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV" >&2 || { say "python3 -m venv failed: the interop tests will be skipped"; exit 0; }
  "$PY" -m pip install -q --upgrade pip >&2 || true
fi
pip() { timeout 900 "$PY" -m pip install -q "$@" >&2; }
base_ok=1
for m in datasets tokenizers transformers safetensors pyarrow; do have $m || base_ok=0; done
if [ $base_ok = 0 ]; then
  say "installing datasets tokenizers transformers safetensors pyarrow"
  pip datasets tokenizers transformers safetensors pyarrow || say "some of datasets/tokenizers/transformers/safetensors/pyarrow did not install"
fi
if ! have torch; then
  # The CPU build: from PyTorch's own index, or a +cpu build on the default index.
  say "installing torch (CPU)"
  pip torch --index-url https://download.pytorch.org/whl/cpu 2>/dev/null \
    || pip "torch==$("$PY" -m pip index versions torch 2>/dev/null | grep -o '[0-9.]*+cpu' | head -1)" 2>/dev/null \
    || say "torch did not install: the checkpoint and TRL checks will say so and be skipped"
fi
if have torch && ! have trl; then
  say "installing trl"
  pip trl || say "trl did not install: the DPOTrainer check will be skipped"
fi
if ! have gguf; then
  # transformers reads GGUF files through it; the model tests compare dequantized tensors with it.
  say "installing gguf"
  pip gguf || say "gguf did not install: the GGUF comparisons will be skipped"
fi
for m in datasets tokenizers transformers safetensors pyarrow torch trl gguf; do
  have $m && v=$("$PY" -c "import $m; print(getattr($m, '__version__', '?'))" 2>/dev/null) && say "$m $v" || say "$m: missing"
done
echo "$PY"
