"""benchmarks/kernel_report.py: the GPU kernels, compiled for sm_80 and sm_90 without a GPU with the installed
Triton and with triton 3.6 (what GPU machines with torch 2.11 carry), held to issue 20's goals; and the
global-memory traffic per trained word, counted under Triton's interpreter."""
import functools
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks import kernel_report  # noqa: E402

TRITON_36 = ROOT / ".venv" / "triton-3.6"   # installed there by scripts/setup_env.sh
VERSIONS = {"installed": None, "3.6": str(TRITON_36)}


@functools.cache
def _table(version: str) -> dict:
    path = VERSIONS[version]
    if path is not None:
        assert (Path(path) / "triton").is_dir(), f"{path} holds no Triton: scripts/setup_env.sh installs 3.6.0 there"
    return kernel_report.report("quick", path)["compile"]


@pytest.fixture(params=list(VERSIONS))
def table(request):
    return _table(request.param)


def test_occupancy_follows_the_register_and_shared_memory_limits():
    """Figures of issue 20's sketches: 56 registers at 4 warps -> 56%, 80 at 8 warps -> 37.5%, 255 -> 12.5%."""
    assert kernel_report.occupancy(56, 4, 0, 90) == pytest.approx(0.5625)
    assert kernel_report.occupancy(80, 8, 0, 90) == pytest.approx(0.375)
    assert kernel_report.occupancy(255, 4, 0, 90) == pytest.approx(0.125)
    assert kernel_report.occupancy(24, 4, 65536, 90) == pytest.approx(3 * 4 / 64)   # 3 blocks fit 228 KB
    assert kernel_report.occupancy(24, 4, 65536, 80) == pytest.approx(2 * 4 / 64)   # 2 fit 164 KB


@pytest.mark.slow
def test_every_kernel_compiles_for_sm80_and_sm90(table):
    rows = table["rows"]
    assert {r["arch"] for r in rows} == {80, 90} and {r["mode"] for r in rows} == set(kernel_report.MODES)
    assert not [r for r in rows if "error" in r], [r["error"] for r in rows if "error" in r]
    assert {r["kernel"] for r in rows} == {"_w2v_kernel", "_count_kernel", "_segment_kernel"}
    assert {r["variant"] for r in rows} == set(kernel_report.VARIANTS)
    for r in rows:
        assert 0 < r["registers"] <= 255 and 0 < r["occupancy"] <= 1 and r["warps"] in (1, 2, 4, 8)


@pytest.mark.slow
def test_the_count_kernel_meets_the_gpu_goals(table):
    missed = {f"{r['mode']} D={r['D']} sm_{r['arch']}": kernel_report.meets_goals(r) for r in table["rows"]
              if r["kernel"] == "_count_kernel"}
    assert not any(missed.values()), missed


def _missed(table, kernel):
    return {f"{r['mode']} D={r['D']} sm_{r['arch']}": kernel_report.meets_goals(r) for r in table["rows"]
            if r["kernel"] == kernel}


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="issue 20: the batch kernel takes 168-255 registers a thread, spills in "
                                       "every mode and reaches 12.5-19% occupancy")
def test_the_batch_kernel_meets_the_gpu_goals(table):
    missed = _missed(table, "_w2v_kernel")
    assert not any(missed.values()), missed


@pytest.mark.slow
@pytest.mark.parametrize("version", [
    pytest.param("installed", marks=pytest.mark.xfail(
        strict=True, reason="issue 20: with triton 3.9 ptxas spills 12 bytes in two modes of the quick grid at "
                            "D=100 (sg_hs at 64 registers, cbow_mean_both at 74)")),
    "3.6"])
def test_the_segment_kernel_meets_the_gpu_goals(version):
    """No spill, >= 50% occupancy for negative sampling at D <= 128 on sm_90, >= 25% everywhere."""
    missed = _missed(_table(version), "_segment_kernel")
    assert not any(missed.values()), missed


@pytest.mark.slow
def test_the_segment_kernel_meets_the_occupancy_goals_with_negative_sampling(table):
    """What the segment layout achieves with either Triton, kept: no spill and at least 50% occupancy for
    negative sampling at D=100 on sm_90, at least 25% at D=300 with K=20 and window 10 (the batch kernel:
    1-7 KB of spills, 12.5-18.8%)."""
    rows = [r for r in table["rows"] if r["kernel"] == "_segment_kernel" and r["mode"].endswith("_ns")]
    assert len(rows) == 3 + 2 * 2
    for r in rows:
        assert r["spill_stores"] + r["spill_loads"] == 0 and not kernel_report.meets_goals(r), r


@pytest.mark.slow
def test_the_traffic_per_trained_word_is_counted_against_the_floor():
    t = kernel_report.report_traffic()
    D, K = t["D"], t["K"]
    per_word = t["bytes_per_word"]
    assert t["trained_words"] > 10_000 and t["floor"] == 8 * D * (K + 2)
    # each trained word reads and writes its input row at least once, and its K + 1 output rows
    assert per_word["input rows"] >= 8 * D and per_word["output rows"] >= 8 * D * (K + 1)
    assert per_word["plan"] > 0 and per_word["tables"] > 0
    assert t["floor"] <= t["total"] < 10 * t["floor"]


@pytest.mark.slow
def test_the_segment_kernel_moves_fewer_bytes_a_word_than_the_batch_kernel():
    """Neighbouring centres share their contexts: with each program training consecutive centres the
    traffic per trained word falls (counted on 8 sentences: the interpreter runs the segment kernel's
    centres one by one)."""
    batch, segments = kernel_report.report_traffic("batch", 8), kernel_report.report_traffic("segments", 8)
    assert segments["trained_words"] == batch["trained_words"] > 300
    assert segments["floor"] <= segments["total"] < batch["total"]
