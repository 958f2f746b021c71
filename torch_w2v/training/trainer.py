"""One ``train()`` call, start to end: what ``Word2Vec.train`` asks for, carried out.

:func:`run` takes the model (vocabulary, weights, settings) and a frozen :class:`TrainRequest`, and does the
orchestration: encode (or shard) the corpus, derive the schedule, pick the step
(:func:`torch_w2v.training.steps.select`), move the weights to the device, run the epochs with progress,
checkpoints, callbacks and distributed merges, and write the weights back. A resumed run passes the
checkpoint's :class:`~torch_w2v.checkpoint.ResumeState` explicitly.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import os
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from .. import checkpoint as checkpoint_mod
from .. import corpus as corpus_mod
from .. import distributed
from ..memory import release_freed_memory
from ..progress import Progress
from . import pipelines, steps
from .engine import Engine, EpochStats, Schedule, resolve_device, torch_threads
from .seeds import mix_seed, run_seed
from .weights import ModelWeights

logger = logging.getLogger("torch_w2v")

# Word vectors trained with sane learning rates stay far below this (norms of ~1-50); a weight past it
# means the updates ran away, even where gensim's |score| >= 6 rule froze them before reaching inf.
DIVERGED = 1e6


@dataclass(frozen=True)
class TrainRequest:
    """The arguments of one ``Word2Vec.train`` call, checked by it (gensim's names)."""
    corpus_iterable: object = None
    corpus_file: object = None
    total_examples: int | None = None    # sentences per epoch: the schedule decays by sentences
    total_words: int | None = None       # raw words per epoch: used when total_examples is not given
    epochs: int = 5
    start_alpha: float = 0.025
    end_alpha: float = 0.0001
    queue_factor: int = 2                # host pipeline: chunks of batches prepared ahead
    report_delay: float = 1.0            # seconds between progress log lines
    compute_loss: bool = False
    callbacks: tuple = ()
    checkpoint: object = None            # path of the checkpoint file, or None
    checkpoint_every: float | None = 600.0
    subpass: int = 0                     # > 0: one epoch of a call run epoch by epoch (hooks.py): its own draws

    def train_args(self) -> dict:
        """The part a checkpoint stores to resume this call."""
        return dict(total_examples=self.total_examples, total_words=self.total_words, epochs=self.epochs,
                    start_alpha=self.start_alpha, end_alpha=self.end_alpha, queue_factor=self.queue_factor,
                    report_delay=self.report_delay, compute_loss=self.compute_loss)


def run(model, request: TrainRequest, resume: checkpoint_mod.ResumeState | None = None,
        report: dict | None = None) -> tuple[int, int]:
    """Train ``model``'s weights in place; returns ``(effective_words, raw_words)`` summed over epochs.

    ``report``, if given, gains ``in_vocabulary``: the in-vocabulary tokens of the corpus times the epochs
    (before downsampling), added to what it holds (to tell why a call trained nothing)."""
    cfg = dataclasses.replace(model._config(), compute_loss=bool(request.compute_loss))
    parallel = distributed.is_active()
    if resume is not None:   # under torch.distributed: this rank's position and share
        resume = resume.for_rank(distributed.rank(), distributed.world_size(), request.checkpoint)
    source = (distributed.shard(request.corpus_iterable, request.corpus_file, model.corpus_count) if parallel
              else corpus_mod.sentences_of(request.corpus_iterable, request.corpus_file))
    # the scan's counts size the encoded arrays (a shard of torchrun holds a part: no hint)
    hint = {} if parallel else dict(expected_words=model.corpus_total_words, expected_sentences=model.corpus_count)
    encoded = None if parallel else model.take_encoded(request.corpus_file)  # the scan's, when it is this file
    if encoded is None:
        encoded = corpus_mod.encode(source, model.wv.key_to_index, spill_words=cfg.spill_words, **hint)
    release_freed_memory()  # the encoder's token lists
    if report is not None:
        report["in_vocabulary"] = report.get("in_vocabulary", 0) + len(encoded.ids) * request.epochs
    corpus_mod.check_not_exhausted(encoded, request.total_examples or request.total_words, parallel)
    if resume is not None:
        resume.check_corpus(encoded, request.checkpoint)
    threads = training_threads(cfg.workers, encoded.total_raw_words, cfg.batch_words)
    schedule = _schedule(request, encoded, model.workers, parallel)
    for callback in request.callbacks:
        callback.on_train_begin(model)
    device = resolve_device(cfg.device)
    step_class, pipeline = steps.select(cfg.engine, device, cfg.pipeline, cfg)
    layout = pipelines.resolve(cfg, step_class, pipeline, device, threads, encoded, model.wv, parallel, resume)
    # what the step reads: the run's layout, and the update cap only where the step sums a batch's updates
    run_cfg = dataclasses.replace(cfg, workers=threads, batch_size=layout.batch_size, chunk_words=layout.chunk_words,
                                  pipeline=layout.pipeline,
                                  update_cap=cfg.update_cap if step_class.batched_updates else None)

    with torch_threads(1 if step_class.owns_threads else threads), ModelWeights(model, device) as weights, \
            _checkpointer(model, request, encoded, layout) as saver:
        # torch_threads(1) beside a step that runs its own threads: torch's ops around it (path gathers) are
        # tiny, and OpenMP threads beside busy step threads oversubscribe the cores (4x slower on gensim's
        # Lee tests with 2 cores); the setting is restored at exit
        tables = weights.tables()
        # `with`: the step's threads (the fused step's pool) stop when training ends, however it ends
        with step_class(run_cfg, weights, tables, device, threads) as step:
            seed = run_seed(model._seed_value(), model.train_count, distributed.rank())
            if request.subpass:
                seed = mix_seed(seed, request.subpass)
            averager = (distributed.ModelAverager([weights.syn0, weights.syn1neg, weights.syn1],
                                                  max(1, round(encoded.total_raw_words / cfg.sync_words)))
                        if parallel else None)
            engine = Engine(step, pipelines.build(layout, encoded, tables, run_cfg, device, seed,
                                                  prefetch=int(request.queue_factor)),
                            seed=seed, device=device, compute_loss=cfg.compute_loss, averager=averager)
            progress = Progress(model, request.epochs, encoded, encoded.total_raw_words if parallel
                                else (request.total_words or encoded.total_raw_words),
                                report_delay=request.report_delay, bar=model.progress and distributed.rank() == 0,
                                loss=engine.current_loss if cfg.compute_loss else None)
            try:
                return _run_epochs(model, engine, weights, progress, saver, schedule, resume, request, parallel)
            finally:
                engine.close()
                progress.close()


def _schedule(request, encoded, workers, parallel) -> Schedule:
    by_sentences = bool(request.total_examples)
    total_units = request.total_examples if by_sentences else request.total_words
    if parallel:  # one global schedule: each rank's epoch is its share of the corpus
        local = encoded.n_sentences if by_sentences else encoded.total_raw_words
        total_units = total_units * local / max(distributed.all_sum([local])[0], 1)
    # corpus_file: gensim's schedule for it, whose workers each decay alpha over their part only
    share = 1.0 / workers if request.corpus_file is not None else 1.0
    return Schedule(request.start_alpha, request.end_alpha, request.epochs, max(float(total_units or 0), 1.0),
                    by_sentences, share)


def _run_epochs(model, engine, weights, progress, saver, schedule, resume, request, parallel):
    """The epoch loop; returns the ``(effective, raw)`` words trained in this call."""
    trained, raw = (resume.trained, resume.raw) if resume is not None else (0, 0)
    expected = dict(total_examples=request.total_examples, total_words=request.total_words,
                    is_corpus_file=request.corpus_file is not None)
    for epoch in range(resume.epoch if resume is not None else 0, request.epochs):
        for callback in request.callbacks:
            callback.on_epoch_begin(model)
        progress.epoch_begin(epoch)
        partial = EpochStats(**resume.stats) if resume is not None and epoch == resume.epoch else None
        on_chunk = None
        if saver is not None:
            def on_chunk(ep, stats, done=(trained, raw)):
                saver.on_chunk(ep, stats, *done, sync=weights.sync_to_numpy,
                               loss=engine.current_loss if engine.compute_loss else None)
        stats = engine.run_epoch(epoch, schedule, progress=progress.update, resume=partial, on_chunk=on_chunk)
        weights.sync_to_numpy()
        if parallel:  # counts and loss of all ranks
            totals = distributed.all_sum([stats.effective_words, stats.raw_words, stats.sentences, stats.loss])
            stats.effective_words, stats.raw_words, stats.sentences = (int(x) for x in totals[:3])
            stats.loss = totals[3]
        trained += stats.effective_words
        raw += stats.raw_words
        model.min_alpha_yet_reached = stats.last_alpha
        model.epoch_losses.append(stats.loss)
        model.running_training_loss = float(sum(model.epoch_losses))
        check_diverged(weights.tensors, model.alpha, epoch)
        progress.epoch_end(epoch, stats, **expected)
        if saver is not None:
            saver.save(epoch + 1, EpochStats(), trained, raw)
        for callback in request.callbacks:
            callback.on_epoch_end(model)
    return trained, raw


def training_threads(workers: int, raw_words: int, batch_words: int) -> int:
    """CPU threads for one ``train()`` call: ``workers``, at most one per core and one per job.

    gensim's worker threads each take a job of ``batch_words`` words, so a corpus of fewer than
    ``batch_words`` words trains on one thread there, reproducibly; the same cap gives the same here.
    """
    jobs = max(1, math.ceil(raw_words / max(int(batch_words), 1)))
    return max(1, min(int(workers), os.cpu_count() or 1, jobs))


def _checkpointer(model, request, encoded, layout):
    """A :class:`~torch_w2v.checkpoint.Checkpointer` when the request names a checkpoint, else None."""
    if request.checkpoint is None:
        return nullcontext(None)
    return checkpoint_mod.Checkpointer(model, request.checkpoint, request.checkpoint_every, request.train_args(),
                                       encoded, layout)


def check_diverged(tensors: dict, alpha, epoch):
    """Raise FloatingPointError naming the matrix if a weight is NaN, inf or larger than DIVERGED."""
    for name, t in tensors.items():
        # max and -min rather than abs().max(): no (V, D) temporary; NaN propagates through both
        worst = max(float(t.max()), -float(t.min())) if t.numel() else 0.0
        if not worst <= DIVERGED:
            what = "NaN or inf" if not np.isfinite(worst) else f"values up to {worst:.3g}"
            raise FloatingPointError(
                f"training diverged in epoch {epoch}: {name} holds {what}. The learning rate alpha={alpha} is "
                f"probably too high for this corpus; try alpha=0.025 (gensim's default) or lower.")


