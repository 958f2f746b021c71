"""scripts/gpu_check.sh, the one command for a borrowed GPU machine, run here in its --cpu mode (the CUDA phase
skipped, a one-epoch CPU benchmark): every phase runs under its timeout and leaves its figures in $OUT."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_gpu_check_runs_every_phase_and_writes_its_figures(tmp_path):
    env = dict(os.environ, OUT=str(tmp_path), PYTHON=sys.executable)
    env.pop("TRITON_INTERPRET", None)  # the kernel report compiles for a GPU: the interpreter must be off
    out = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--cpu"], capture_output=True, text=True,
                         env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    phases = dict(line.split() for line in (tmp_path / "phases.txt").read_text().splitlines())
    assert phases == {"machine": "0", "kernel_report": "0", "cuda_tests": "skipped", "bench": "0"}, phases
    rows = json.loads((tmp_path / "kernel_report.json").read_text())["compile"]["rows"]
    assert {r["kernel"] for r in rows} >= {"_w2v_kernel", "_segment_kernel"} and not any("error" in r for r in rows)
    bench = json.loads((tmp_path / "bench.json").read_text())
    assert "torch_w2v" in json.dumps(bench) and "gensim" in json.dumps(bench)
    assert "torch" in (tmp_path / "machine.log").read_text()
