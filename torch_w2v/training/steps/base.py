"""The step interface: every implementation trains one batch in place, in the same words.

A step is built once per ``train()`` call and called once per batch of its pipeline
(:mod:`torch_w2v.training.pipelines`)::

    step = StepClass(cfg, weights, tables, device, threads)
    step.begin_chunk(generator)      # per chunk: the generator of the chunk's random draws
    kept = step(batch)               # per batch: update weights.syn0 / syn1neg / syn1 in place, at the
                                     # learning rate(s) the batch carries; returns the tokens the step
                                     # itself kept after downsampling (0 where the pipeline drew it)
    step.loss                        # () float64 on the device: the summed loss when cfg.compute_loss
    step.close()                     # free threads and buffers

What a step needs is declared on its class, and the trainer and the step registry
(:mod:`torch_w2v.training.steps`) read those declarations instead of testing names (the settings and the
command line read the names from :mod:`torch_w2v.training.registry`):

* ``name``: the ``engine=`` value that selects it (two classes may share one: the fused engine's token
  and batch steps);
* ``pipelines``: the pipelines whose batches it takes; :meth:`Step.default_pipeline` the one
  ``pipeline="auto"`` gives it, or None when another step of its engine takes that case;
* ``devices``: the device types it runs on (None: any), :meth:`Step.unavailable` why it cannot run;
* ``owns_threads``: it runs its own ``threads`` threads, so torch's own ops beside it get one;
* ``large_batches``: its default batch is 16,384 centres on the CPU too (torch ops on a CPU gain nothing
  past 2,048);
* ``batched_updates``: it sums a batch's updates before applying them, so it takes ``cfg.update_cap``;
  Hogwild steps, whose every update is seen by the next centre, run with ``update_cap=None``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch


@dataclass
class Head:
    """One output layer's rows for a batch of ``B`` centres (negative sampling or hierarchical softmax)."""
    table: torch.Tensor      # (V_out, D) output weights, updated in place
    rows: torch.Tensor       # (B, P) output rows per centre
    labels: torch.Tensor     # (B, P) or (1, P) float targets
    valid: torch.Tensor      # (B, P) float: 1 where the row takes part


class Step:
    name: ClassVar[str] = "step"
    pipelines: ClassVar[tuple] = ("host",)
    devices: ClassVar[tuple | None] = None
    owns_threads: ClassVar[bool] = False
    large_batches: ClassVar[bool] = False
    batched_updates: ClassVar[bool] = False

    def __init__(self, cfg, weights, tables, device: torch.device, threads: int):
        self.cfg, self.weights, self.tables, self.device, self.threads = cfg, weights, tables, device, threads
        self.loss = torch.zeros((), dtype=torch.float64, device=device)
        self.generator = None
        if cfg.negative and (weights.syn1neg is None or tables.noise is None):
            raise ValueError("negative > 0 needs syn1neg and a cum_table; call build_vocab first.")
        if cfg.hs and (weights.syn1 is None or tables.points is None):
            raise ValueError("hs=1 needs syn1 and Huffman codes; call build_vocab first.")

    @classmethod
    def unavailable(cls, device: torch.device) -> str | None:
        """Why this step cannot run on ``device`` (a message that names the fix), or None if it can."""
        if cls.devices is not None and device.type not in cls.devices:
            where = " or ".join({"cpu": "the CPU", "cuda": "CUDA"}.get(d, d) for d in cls.devices)
            return f"the {cls.name} step runs on {where} only, not on {device.type}; use engine='auto'."
        return None

    @classmethod
    def default_pipeline(cls, device: torch.device, cfg) -> str | None:
        """The pipeline ``pipeline="auto"`` gives this step on ``device`` with the settings ``cfg`` (None: this
        case belongs to another step of the same engine)."""
        return cls.pipelines[0]

    def begin_chunk(self, generator: torch.Generator) -> None:
        self.generator = generator

    def __call__(self, batch) -> int:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
