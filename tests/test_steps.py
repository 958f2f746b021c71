"""torch_w2v.training.steps: the one rule that picks a step, and the torch step's update cap."""
import logging

import pytest
import torch

from torch_w2v.training import steps
from torch_w2v.training.steps import fused, torch_step


def test_every_registered_step_implements_the_interface():
    for name in steps.REGISTRY:
        try:
            cls = steps.step_class(name)
        except ImportError:  # triton not installed: its module still imports (it reports itself unavailable)
            pytest.fail(f"the {name} step module must import without its optional dependency")
        assert issubclass(cls, steps.Step) and cls.name == name
        assert cls.pipelines and set(cls.pipelines) <= {"tokens", "host", "device"}


def test_auto_on_the_cpu_is_fused_when_built():
    expected = "fused" if fused.available() else "torch"
    assert steps.select("auto", torch.device("cpu")).name == expected


def test_an_explicit_step_that_cannot_run_raises_with_the_fix():
    with pytest.raises(RuntimeError, match="engine='fused' cannot run on cuda.*CPU only"):
        steps.select("fused", torch.device("cuda"))


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="engine must be 'auto' or one of"):
        steps.select("cuda-graphs", torch.device("cpu"))


def test_auto_falls_back_with_one_warning(caplog):
    steps._warned.clear()
    with caplog.at_level(logging.WARNING, logger="torch_w2v"):
        for _ in range(3):
            assert steps.select("auto", torch.device("meta")).name == "torch"   # no GPU step for 'meta'
    assert len(caplog.records) == 0  # meta's only candidate is torch: nothing to fall back from
    if fused.unavailable_reason() is None:
        return
    with caplog.at_level(logging.WARNING, logger="torch_w2v"):
        steps.select("auto", torch.device("cpu"))
        steps.select("auto", torch.device("cpu"))
    assert len([r for r in caplog.records if "fused step is unavailable" in r.message]) == 1


def test_row_cap_scales_only_rows_above_the_cap():
    rows = torch.tensor([0, 0, 0, 0, 1, 2])
    scale = torch_step.row_cap(rows, torch.ones(6), n_rows=3, cap=2)
    assert scale.tolist() == [0.5, 0.5, 0.5, 0.5, 1.0, 1.0]
    assert torch_step.row_cap(rows, torch.ones(6), 3, None) is None
