"""The epoch loop: a pipeline's chunks, one step per batch, the hooks at chunk ends.

The engine owns what happens around a step: looping over the chunks of a pipeline
(:mod:`torch_w2v.training.pipelines`, which makes the batches and their learning rates), loss accounting,
the per-chunk generator the step draws from, and the hooks at chunk boundaries (progress, checkpoints,
distributed merges). It never asks which pipeline or step it holds. What a step does is the step's business
(:mod:`torch_w2v.training.steps`). The loop over batches is short and makes no host sync; a chunk's kept
count is read once at its end (a device scalar on the device pipeline).
"""
from __future__ import annotations

import dataclasses
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from .seeds import STEP_STREAM, chunk_generator


def resolve_device(device) -> torch.device:
    """``None`` -> CUDA if available else CPU; otherwise ``torch.device(device)``, checked to exist."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device={device!r} is not a device torch knows; use 'cpu', 'cuda' or 'cuda:N'.") \
            from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was asked for but CUDA is not available on this machine "
                             f"(torch {torch.__version__}); use device='cpu'.")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s) exist.")
    elif dev.type not in ("cpu", "mps"):
        raise ValueError(f"device={device!r} is not supported; use 'cpu' or 'cuda'.")
    return dev


@contextmanager
def torch_threads(n: int):
    """Run torch CPU ops on ``n`` threads (capped at the core count), restoring the previous setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, min(n, os.cpu_count() or 1)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class Schedule:
    """Linear learning-rate decay over all epochs of one ``train()`` call, as gensim's.

    ``epoch_share`` < 1 reproduces gensim's ``corpus_file`` mode: each of its ``workers`` threads trains
    ``1/workers`` of the file and decays alpha by its own progress only (``get_next_alpha`` in
    ``word2vec_corpusfile.pyx``), so within an epoch alpha falls by ``epoch_share`` of the epoch's step
    and jumps down to the next epoch's start at the epoch end.
    """
    start_alpha: float
    end_alpha: float
    epochs: int
    total_units: float                 # sentences (total_examples) or raw words (total_words) per epoch
    by_sentences: bool                 # gensim decays by sentences when total_examples is given
    epoch_share: float = 1.0           # 1 / gensim's workers for corpus_file input; 1 for an iterable

    def alpha(self, epoch: int, units_done: float) -> float:
        progress = (epoch + self.epoch_share * units_done / self.total_units) / self.epochs
        return max(self.end_alpha, self.start_alpha - (self.start_alpha - self.end_alpha) * progress)


@dataclass
class EpochStats:
    chunks: int = 0                    # chunks finished in this epoch
    effective_words: int = 0
    raw_words: int = 0
    sentences: int = 0
    loss: float = 0.0
    seconds: float = 0.0
    last_alpha: float = 0.0


class Engine:
    """Runs ``step`` over the chunks of ``pipeline``, epoch by epoch.

    Parameters
    ----------
    step : torch_w2v.training.steps.Step
        Trains one batch in place; returns the tokens it kept itself.
    pipeline : torch_w2v.training.pipelines.Pipeline
        Makes the chunks of an epoch, their batches and learning rates.
    seed : int
        The run's seed (:func:`~torch_w2v.training.seeds.run_seed`): keys the step's per-chunk generator.
    device : torch.device
        Where the weights live.
    compute_loss : bool
        Read the step's loss back at the end of each epoch.
    averager : torch_w2v.distributed.ModelAverager, optional
        Merges the ranks' weights at its sync points (data-parallel training).
    """

    def __init__(self, step, pipeline, seed: int, device: torch.device, compute_loss: bool = False,
                 averager=None):
        self.step, self.pipeline, self.device = step, pipeline, device
        self.seed, self.compute_loss, self.averager = int(seed), bool(compute_loss), averager

    def close(self) -> None:
        """Stop the pipeline's background work."""
        self.pipeline.close()

    def run_epoch(self, epoch: int, schedule: Schedule, progress=None, resume: EpochStats | None = None,
                  on_chunk=None) -> EpochStats:
        """Train one pass over the corpus.

        ``progress(stats, alpha)`` is called after each chunk; ``on_chunk(epoch, stats)`` too, at a point
        where the weights hold every finished chunk (a consistent state to checkpoint); with an averager,
        only after a merge within the epoch, where every rank calls it at once with the same weights.
        ``resume``: the stats of a checkpoint taken in this epoch; training goes on from its next chunk.
        """
        stats = EpochStats() if resume is None else dataclasses.replace(resume)
        start = time.perf_counter() - stats.seconds
        self.step.loss.fill_(stats.loss)
        if self.averager is not None:
            self.averager.begin_epoch(self.pipeline.chunk_count(), stats.chunks)
        for chunk in self.pipeline.chunks(epoch, stats.chunks, schedule):
            self.step.begin_chunk(chunk_generator(self.seed, epoch, chunk.index, STEP_STREAM, self.device))
            kept = 0
            for batch in chunk.batches:
                kept += self.step(batch)
            merged = self.averager is not None and self.averager.after_chunk(chunk.index)
            stats.chunks = chunk.index + 1
            stats.effective_words += int(chunk.kept) + kept  # the device pipeline's one sync per chunk
            stats.raw_words += chunk.raw_words
            stats.sentences += chunk.sentences
            stats.last_alpha = schedule.alpha(
                epoch, stats.sentences if schedule.by_sentences else stats.raw_words)
            if progress is not None:
                progress(stats, stats.last_alpha)
            if on_chunk is not None and (self.averager is None or merged):
                stats.seconds = time.perf_counter() - start
                on_chunk(epoch, stats)
        if self.averager is not None:
            self.averager.finish_epoch()
        if self.compute_loss:
            stats.loss = float(self.step.loss)  # host sync, once per epoch
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        stats.seconds = time.perf_counter() - start
        return stats

    def current_loss(self) -> float:
        """The loss accumulated so far in this epoch (a host sync: call at chunk boundaries only)."""
        return float(self.step.loss)
