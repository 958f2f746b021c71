#!/usr/bin/env bash
# The test command of the README: sets up .venv if needed, lints (ruff, configured in pyproject.toml), then
# runs the whole suite (tests/ and the docstrings' examples; Triton kernels under Triton's interpreter when
# there is no GPU). CI runs it as it is.
#   --fast   leaves out the tests marked slow (real corpora, real processes, the interpreted Triton
#            kernel): the day-to-day lane, a few minutes on 2 cores. Other arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] && [ -d .venv/triton-3.6/triton ] || bash scripts/setup_env.sh
.venv/bin/python -m ruff check torch_w2v tests benchmarks setup.py
if [ "${1:-}" = "--fast" ]; then
    shift
    set -- -m "not slow" "$@"
fi
exec .venv/bin/python -m pytest -q "$@"
