#!/usr/bin/env bash
# On a GPU machine: the CUDA tests, then the GPU benchmark, in one command.
# Logs and JSON go to $OUT (the device tool's output folder) or ./gpu_results. gensim and smart_open come
# from wheels in .whl/ when the machine has no package registry; CORPUS names the benchmark corpus (the
# GCIDE file built by benchmarks/corpus.py, carried along) or, unset, bench.py builds or finds it.
set -uo pipefail
cd "$(dirname "$0")/.."
outdir=${OUT:-gpu_results}
mkdir -p "$outdir"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$outdir/gpu.txt"
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)" | tee -a "$outdir/gpu.txt"
python3 -m pytest -q -p no:cacheprovider -o addopts="" tests/test_cuda.py tests/test_triton_step.py \
    tests/test_gradients.py tests/test_device_batches.py 2>&1 | tee "$outdir/cuda_tests.log"
python3 benchmarks/bench.py --device cuda --batch-sizes 4096,65536 --pipelines segments ${CORPUS:+--corpus "$CORPUS"} \
    --json "$outdir/gpu_bench.json" 2>&1 | tee "$outdir/gpu_bench.log"
