#!/usr/bin/env bash
# The first thing to run on a borrowed GPU machine, in one command of at most 8 minutes: the machine, the
# kernel report, the CUDA tests, then the GPU benchmark (gensim on all the machine's cores beside torch_w2v's
# two Triton kernels, batch and segments) and the segment kernel with and without its window ring
# (benchmarks/segment_ring.py), each phase under its own timeout and written to $OUT (the device tool's
# output folder, else ./gpu_results) as it runs, so that a run cut short still returns what it made.
# phases.txt lists each phase's exit status (124: its timeout).
#
#   bash scripts/gpu_check.sh          # on the GPU machine
#   bash scripts/gpu_check.sh --cpu    # the same phases on a machine without CUDA: the CUDA ones are skipped,
#                                      # the benchmark is a one-epoch CPU run on gensim's Lee corpus (CI runs
#                                      # this, tests/test_gpu_check.py, so that the script cannot rot)
#
# gensim and smart_open come from wheels in .whl/ when the machine has no package registry; CORPUS names the
# benchmark corpus (the GCIDE file built by benchmarks/corpus.py, carried along), else bench.py finds it.
set -uo pipefail
cd "$(dirname "$0")/.."
cpu=0
[ "${1:-}" = "--cpu" ] && cpu=1
outdir=${OUT:-gpu_results}
mkdir -p "$outdir"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && [ "$cpu" = 1 ] && PY=.venv/bin/python
if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
fi
: > "$outdir/phases.txt"

phase() {  # phase NAME SECONDS COMMAND...: run it with a timeout, its output to $outdir/NAME.log as it comes
    local name=$1 limit=$2
    shift 2
    echo "== $name (at most ${limit}s)"
    timeout "$limit" "$@" > >(tee "$outdir/$name.log") 2>&1
    local status=$?
    echo "$name $status" >> "$outdir/phases.txt"
    return 0
}

phase machine 30 bash -c "{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || echo 'no nvidia-smi'; } ; nproc; $PY -c 'import torch, triton; print(\"torch\", torch.__version__, \"triton\", triton.__version__, \"cuda\", torch.cuda.is_available())'"
phase kernel_report 90 "$PY" benchmarks/kernel_report.py --json "$outdir/kernel_report.json"
if [ "$cpu" = 1 ]; then
    echo "cuda_tests skipped (--cpu)" | tee "$outdir/cuda_tests.log"
    echo "cuda_tests skipped" >> "$outdir/phases.txt"
    phase bench 240 "$PY" benchmarks/bench.py --device cpu --corpus lee --modes sg --engines fused --epochs 1 \
        --no-gensim-iterable --json "$outdir/bench.json"
else
    phase cuda_tests 120 "$PY" -m pytest -q -p no:cacheprovider -o addopts="" tests/test_cuda.py \
        tests/test_triton_step.py tests/test_triton_segments.py tests/test_gradients.py tests/test_device_batches.py
    phase bench 180 "$PY" benchmarks/bench.py --device cuda --modes sg,cbow --engines triton --pipelines segments \
        --batch-sizes 65536 --no-gensim-iterable ${CORPUS:+--corpus "$CORPUS"} --json "$outdir/bench.json"
    phase ring 60 "$PY" benchmarks/segment_ring.py --repeats 1 ${CORPUS:+--corpus "$CORPUS"}
fi
cat "$outdir/phases.txt"
