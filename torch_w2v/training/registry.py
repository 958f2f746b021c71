"""The names users pass (``engine=``, ``pipeline=``) and the classes they select: the one list of each.

Kept free of torch so that the settings (:mod:`torch_w2v.config`) and the command line read it without
importing the training code. A new step or pipeline is its own module plus a line here.
"""
from __future__ import annotations

import importlib

STEPS = {  # engine name -> (one line for the docs and --help, its step classes as (module, class), preferred first)
    "fused": ("C, one pass per centre on Hogwild threads (CPU; built at install)",
              (("steps.fused", "FusedTokenStep"), ("steps.fused", "FusedBatchStep"))),
    "triton": ("one Triton kernel per batch (CUDA; the CPU under TRITON_INTERPRET=1, for tests)",
               (("steps.triton_step", "TritonStep"), ("steps.triton_segments", "TritonSegmentStep"))),
    "torch": ("batched torch ops (any device; the reference the other steps are tested against)",
              (("steps.torch_step", "TorchStep"),)),
}
PIPELINES = {  # pipeline name -> (one line, its class as (module, class))
    "tokens": ("the encoded sentences as they are; the step draws downsampling, windows and noise",
               ("pipelines", "TokenPipeline")),
    "host": ("strided batches made by a CPU producer thread", ("pipelines", "HostPipeline")),
    "device": ("a plan per chunk made on the training device, the corpus uploaded once",
               ("pipelines", "DevicePipeline")),
    "segments": ("the device plan in runs of consecutive centres, a program's each (the segment kernel)",
                 ("pipelines", "SegmentPipeline")),
}
ENGINES = ("auto", *STEPS)              # the values of engine=
PIPELINE_NAMES = ("auto", *PIPELINES)   # the values of pipeline=


def _load(module: str, cls: str):
    return getattr(importlib.import_module(f"torch_w2v.training.{module}"), cls)


def step_classes(engine: str) -> tuple:
    """The step classes of ``engine``, preferred first."""
    return tuple(_load(module, cls) for module, cls in STEPS[engine][1])


def pipeline_class(name: str):
    """The pipeline class of ``name``."""
    return _load(*PIPELINES[name][1])


def described(table: dict) -> str:
    """``name: line; ...`` of :data:`STEPS` or :data:`PIPELINES`, for help texts."""
    return "; ".join(f"{name}: {line}" for name, (line, _) in table.items())
