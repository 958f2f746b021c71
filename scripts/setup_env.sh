#!/usr/bin/env bash
# Create (or reuse) .venv with torch_w2v and its test and plot dependencies.
# torch goes in first as the pinned CPU build torch==2.13.0 where the machine has it, so that the
# project's torch range (>=2.1,<2.14) installs nothing more and no multi-GB CUDA build is pulled.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
. .venv/bin/activate
if ! python -c "import torch" 2>/dev/null; then
    python -m pip install -q "torch==2.13.0" \
        || echo "setup_env: torch==2.13.0 is not available here; pip will pick a torch in >=2.1,<2.14" >&2
fi
python -m pip install -q -e ".[test,plot]"
# triton 3.6 beside the installed one: the kernel report (benchmarks/kernel_report.py, tests/test_kernel_report.py)
# compiles the GPU kernels with both, 3.6 being what GPU machines with torch 2.11 carry
if [ ! -d .venv/triton-3.6/triton ]; then
    python -m pip install -q --no-deps --target .venv/triton-3.6 "triton==3.6.0" \
        || echo "setup_env: triton==3.6.0 could not be installed; tests/test_kernel_report.py will say so" >&2
fi
python -c "import torch, gensim, torch_w2v; print('torch', torch.__version__, '| gensim', gensim.__version__)"
