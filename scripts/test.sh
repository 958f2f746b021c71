#!/usr/bin/env bash
# The test command of the README: sets up .venv if needed, then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup_env.sh
exec .venv/bin/python -m pytest -q "$@"
