"""torch_w2v.training.steps and .registry: the declarations, the one rule that picks a step and its pipeline,
and the torch step's update cap."""
import logging
import types

import pytest
import torch

from torch_w2v.training import registry, steps
from torch_w2v.training.steps import fused, torch_step


def test_every_registered_step_implements_the_interface():
    for name in registry.STEPS:
        try:
            classes = steps.step_classes(name)
        except ImportError:  # triton not installed: its module still imports (it reports itself unavailable)
            pytest.fail(f"the {name} step module must import without its optional dependency")
        for cls in classes:
            assert issubclass(cls, steps.Step) and cls.name == name
            assert cls.pipelines and set(cls.pipelines) <= set(registry.PIPELINES)
            assert cls.__call__ is not steps.Step.__call__
        # each pipeline of an engine goes to one step of it
        taken = [p for cls in classes for p in cls.pipelines]
        assert len(taken) == len(set(taken)), name


def test_the_settings_and_the_command_line_offer_the_registry():
    from torch_w2v import cli, config
    assert registry.ENGINES == ("auto", *registry.STEPS)
    assert registry.PIPELINE_NAMES == ("auto", *registry.PIPELINES)
    with pytest.raises(ValueError, match="engine must be one of 'auto', 'fused', 'triton', 'torch'"):
        config.replace(config.DEFAULTS, engine="cuda-graphs")
    with pytest.raises(ValueError, match="pipeline must be one of 'auto', 'tokens', 'host', 'device'"):
        config.replace(config.DEFAULTS, pipeline="disk")
    parser = cli.build_parser()
    train = next(a for a in parser._actions if a.dest == "command").choices["train"]
    engine_option = next(a for a in train._actions if a.dest == "engine")
    assert tuple(engine_option.choices) == registry.ENGINES
    assert all(line in engine_option.help for line, _ in registry.STEPS.values())


def test_every_pipeline_of_the_registry_is_taken_by_some_step():
    taken = {p for name in registry.STEPS for cls in steps.step_classes(name) for p in cls.pipelines}
    assert taken == set(registry.PIPELINES)
    for name in registry.PIPELINES:
        assert registry.pipeline_class(name).name == name


def test_auto_on_the_cpu_is_fused_when_built():
    expected = "fused" if fused.available() else "torch"
    assert steps.select("auto", torch.device("cpu"))[0].name == expected


def test_auto_pipelines_follow_the_steps_declarations():
    cpu, cfg = torch.device("cpu"), types.SimpleNamespace(batch_size=None)
    if fused.available():
        assert steps.select("fused", cpu, "auto", cfg) == (fused.FusedTokenStep, "tokens")
        batched = types.SimpleNamespace(batch_size=64)
        assert steps.select("fused", cpu, "auto", batched) == (fused.FusedBatchStep, "host")
        assert steps.select("fused", cpu, "host", cfg) == (fused.FusedBatchStep, "host")
    assert steps.select("torch", cpu, "auto", cfg) == (torch_step.TorchStep, "host")
    assert steps.select("torch", cpu, "device", cfg) == (torch_step.TorchStep, "device")


def test_an_explicit_step_that_cannot_run_raises_with_the_fix():
    with pytest.raises(RuntimeError, match="engine='fused' cannot run on cuda.*CPU only"):
        steps.select("fused", torch.device("cuda"))


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="engine must be one of 'auto'"):
        steps.select("cuda-graphs", torch.device("cpu"))


def test_auto_falls_back_with_one_warning(caplog):
    steps._warned.clear()
    with caplog.at_level(logging.WARNING, logger="torch_w2v"):
        for _ in range(3):
            assert steps.select("auto", torch.device("meta"))[0].name == "torch"   # no GPU step for 'meta'
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
