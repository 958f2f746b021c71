"""The SGD steps, their registry, and the one rule that picks a step and its pipeline.

============  ===============================================================  ===============  ==========
engine        what runs                                                        pipelines        devices
============  ===============================================================  ===============  ==========
``fused``     :mod:`.fused`: C, one pass per centre, Hogwild threads;          tokens, host     CPU
              :class:`~.fused.FusedTokenStep` (tokens) and
              :class:`~.fused.FusedBatchStep` (host batches)
``triton``    :mod:`.triton_step`: one Triton kernel per batch                 device           CUDA (CPU
                                                                                                under the
                                                                                                interpreter)
``torch``     :mod:`.torch_step`: batched torch ops                            host, device     any
============  ===============================================================  ===============  ==========

``engine="auto"`` takes the first available of fused then torch on the CPU, triton then torch on CUDA,
with one warning that names the fix when it falls back; an engine asked for by name that cannot run
raises that message instead. ``pipeline="auto"`` takes the first step of the engine whose
:meth:`~.base.Step.default_pipeline` names one; a pipeline asked for by name goes to the engine's step that
takes it. Adding a step means its module and a line in :data:`torch_w2v.training.registry.STEPS`.
"""
from __future__ import annotations

import logging

from ..registry import ENGINES, STEPS, step_classes
from .base import Head, Step

logger = logging.getLogger("torch_w2v")

AUTO = {"cpu": ("fused", "torch"), "cuda": ("triton", "torch")}   # engine="auto": the first that can run
_warned: set = set()


def engine_pipelines(name: str) -> tuple:
    """The pipelines engine ``name`` takes, in the order of its steps."""
    return tuple(dict.fromkeys(p for cls in step_classes(name) for p in cls.pipelines))


def _engine(engine: str, device) -> str:
    """The engine that runs: ``engine`` if it can run on ``device`` (else RuntimeError with the fix), or for
    'auto' the first of :data:`AUTO` that can."""
    if engine != "auto":
        if engine not in STEPS:
            raise ValueError(f"engine must be one of {', '.join(map(repr, ENGINES))}, got {engine!r}.")
        reason = step_classes(engine)[0].unavailable(device)
        if reason is not None:
            raise RuntimeError(f"engine={engine!r} cannot run on {device}: {reason}")
        return engine
    names = AUTO.get(device.type, ("torch",))
    for name in names:
        reason = step_classes(name)[0].unavailable(device)
        if reason is None:
            return name
        if reason not in _warned:
            _warned.add(reason)
            logger.warning("the %s step is unavailable on %s, training with the %s step instead: %s",
                           name, device, names[-1], reason)
    return names[-1]


def select(engine: str, device, pipeline: str = "auto", cfg=None) -> tuple[type[Step], str]:
    """``(step class, pipeline name)`` for ``engine`` and ``pipeline`` ('auto' or a name) on ``device`` with
    the settings ``cfg``."""
    name = _engine(engine, device)
    classes = step_classes(name)
    if pipeline == "auto":
        for cls in classes:
            chosen = cls.default_pipeline(device, cfg)
            if chosen is not None:
                return cls, chosen
        return classes[-1], classes[-1].pipelines[0]
    for cls in classes:
        if pipeline in cls.pipelines:
            return cls, pipeline
    takes = " or ".join(repr(p) for p in engine_pipelines(name))
    raise ValueError(f"pipeline={pipeline!r} cannot feed the {name} step, which takes {takes}; pass "
                     f"pipeline='auto' (engine='torch' takes {' and '.join(map(repr, engine_pipelines('torch')))}).")


__all__ = ["AUTO", "ENGINES", "Head", "Step", "engine_pipelines", "select", "step_classes"]
