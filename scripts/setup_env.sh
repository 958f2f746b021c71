#!/usr/bin/env bash
# Create (or reuse) .venv with torch_w2v and its test dependencies.
# torch is installed as the pinned CPU build torch==2.13.0 first, where this machine has it, so that
# nothing pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
python -c "import torch" 2>/dev/null || python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[test,plot]"
