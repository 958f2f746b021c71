"""The step interface: every implementation trains one batch in place, in the same words.

A step is built once per ``train()`` call and called once per batch::

    step = StepClass(cfg, weights, tables, device, threads)
    step.begin_chunk(generator)      # per chunk: the generator of the chunk's random draws
    step(batch, lr)                  # per batch: update weights.syn0 / syn1neg / syn1 in place
                                     # (token batches: lr = (alpha at the chunk's start, at its end))
    step.loss                        # () float64 on the device: the summed loss when cfg.compute_loss
    step.close()                     # free threads and buffers

``pipelines`` lists the batches a step takes, its default first (:meth:`Step.default_pipeline`):
``"tokens"`` (:class:`~torch_w2v.training.batching.TokenBatch`: a chunk's encoded sentences, the step
drawing downsampling, windows and noise itself), ``"host"`` (:class:`~torch_w2v.training.batching.Batch`,
made by a CPU producer thread) or ``"device"`` (:class:`~torch_w2v.training.device_batches.PlanBatch`,
made on the training device). ``step.pipeline`` is the one this run uses (``cfg.pipeline``, resolved by
the trainer).
"""
from __future__ import annotations

import torch


class Step:
    name = "step"
    pipelines: tuple = ("host",)

    def __init__(self, cfg, weights, tables, device: torch.device, threads: int):
        self.cfg, self.weights, self.tables, self.device, self.threads = cfg, weights, tables, device, threads
        self.pipeline = cfg.pipeline if cfg.pipeline in self.pipelines else self.default_pipeline(device, cfg)
        self.loss = torch.zeros((), dtype=torch.float64, device=device)
        self.generator = None
        if cfg.negative and (weights.syn1neg is None or tables.noise is None):
            raise ValueError("negative > 0 needs syn1neg and a cum_table; call build_vocab first.")
        if cfg.hs and (weights.syn1 is None or tables.points is None):
            raise ValueError("hs=1 needs syn1 and Huffman codes; call build_vocab first.")

    @classmethod
    def unavailable(cls, device: torch.device) -> str | None:
        """Why this step cannot run on ``device`` (a message that names the fix), or None if it can."""
        return None

    @classmethod
    def default_pipeline(cls, device: torch.device, cfg) -> str:
        """The pipeline ``pipeline="auto"`` gives this step on ``device`` with the settings ``cfg``."""
        return cls.pipelines[0]

    def begin_chunk(self, generator: torch.Generator) -> None:
        self.generator = generator

    def __call__(self, batch, lr: float) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
