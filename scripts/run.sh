#!/usr/bin/env bash
# Quick start, step 1: creates (or reuses) .venv, then trains word2vec on gensim's bundled Lee corpus
# and prints what it learned. Extra arguments go to `torch-w2v train` (e.g. `bash scripts/run.sh -cbow 0`).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/torch-w2v ] || bash scripts/setup_env.sh
exec .venv/bin/torch-w2v train "$@"
