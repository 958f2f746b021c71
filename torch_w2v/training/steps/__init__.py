"""The SGD steps and the one rule that picks one.

============  =====================================================  ==========================
engine        what runs                                              devices
============  =====================================================  ==========================
``fused``     :mod:`.fused`: C, one pass per centre, Hogwild threads  CPU (built at install)
``triton``    :mod:`.triton_step`: one Triton kernel per step         CUDA; CPU under the
                                                                      interpreter (TRITON_INTERPRET=1)
``torch``     :mod:`.torch_step`: batched torch ops                   any
============  =====================================================  ==========================

``engine="auto"`` takes the first available of fused then torch on the CPU, triton then torch on CUDA,
with one warning that names the fix when it falls back; an engine asked for by name that cannot run
raises that message instead.
"""
from __future__ import annotations

import importlib
import logging

from .base import Step

logger = logging.getLogger("torch_w2v")

REGISTRY = {  # engine name -> (module, class)
    "torch": ("torch_step", "TorchStep"),
    "fused": ("fused", "FusedStep"),
    "triton": ("triton_step", "TritonStep"),
}
AUTO = {"cpu": ("fused", "torch"), "cuda": ("triton", "torch")}
_warned: set = set()


def step_class(name: str) -> type[Step]:
    module, cls = REGISTRY[name]
    return getattr(importlib.import_module(f".{module}", __name__), cls)


def select(engine: str, device) -> type[Step]:
    """The step class for ``engine`` ('auto' or a name of :data:`REGISTRY`) on ``device``."""
    if engine != "auto":
        if engine not in REGISTRY:
            raise ValueError(f"engine must be 'auto' or one of {sorted(REGISTRY)}, got {engine!r}.")
        cls = step_class(engine)
        reason = cls.unavailable(device)
        if reason is not None:
            raise RuntimeError(f"engine={engine!r} cannot run on {device}: {reason}")
        return cls
    names = AUTO.get(device.type, ("torch",))
    for name in names:
        cls = step_class(name)
        reason = cls.unavailable(device)
        if reason is None:
            return cls
        if reason not in _warned:
            _warned.add(reason)
            logger.warning("the %s step is unavailable on %s, training with the %s step instead: %s",
                           name, device, names[-1], reason)
    return step_class(names[-1])


__all__ = ["REGISTRY", "Step", "select", "step_class"]
