#!/usr/bin/env bash
# The test command of the README: sets up .venv if needed, lints (ruff, configured in pyproject.toml), then
# runs the whole suite (tests/ and the docstrings' examples; Triton kernels under Triton's interpreter when
# there is no GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup_env.sh
.venv/bin/python -m ruff check torch_w2v tests benchmarks setup.py
exec .venv/bin/python -m pytest -q "$@"
