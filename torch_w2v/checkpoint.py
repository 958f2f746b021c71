"""Checkpoints: save the full training state periodically and on SIGINT/SIGTERM, and resume from it.

A checkpoint is a model file (:mod:`torch_w2v.persist`, format ``torch_w2v.Checkpoint``) plus a
``resume`` dict: the ``train()`` arguments, the epoch and the chunk reached, the counters and losses so
far, and a fingerprint of the corpus (sentences and raw words). Checkpoints are taken at chunk
boundaries, where the weights hold every finished chunk, and record the run's layout
(:class:`~torch_w2v.training.pipelines.RunLayout`: chunk size and parts), which a resumed run takes again.
Every random draw of a chunk comes from a generator seeded by (seed, epoch, chunk)
(:mod:`torch_w2v.training.seeds`), so a resumed run repeats an uninterrupted one: bit for bit on CPU with
``workers=1`` or ``engine='torch'``.

Writes are atomic (temporary file, fsync, rename): a crash, even SIGKILL during a write, leaves the
previous checkpoint intact. The path may already hold a checkpoint of this same run (same settings,
``train()`` arguments and corpus, as when resuming or restarting it); anything else there is refused
before training starts (:func:`check_target`), so a checkpoint never replaces a corpus, a model or
another run's checkpoint.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
import time

from . import distributed, persist
from .config import FIELDS

logger = logging.getLogger("torch_w2v")

FORMAT = persist.CHECKPOINT_FORMAT


class TrainingInterrupted(KeyboardInterrupt):
    """Raised after a checkpoint was written because SIGINT or SIGTERM arrived during training."""


@dataclasses.dataclass
class ResumeState:
    train_args: dict                 # total_examples, total_words, epochs, start_alpha, end_alpha, ...
    epoch: int                       # the epoch in progress
    stats: dict                      # EpochStats of that epoch so far (chunks, words, loss, seconds)
    trained: int                     # effective words of the finished epochs
    raw: int                         # raw words of the finished epochs
    corpus: dict                     # {"sentences": S, "raw_words": N} of the encoded corpus
    chunk_words: int | None = None   # the chunk size stats["chunks"] counts in (the resumed run uses it);
    #                                  None: a checkpoint from before it was recorded (the pipeline's
    #                                  unrecorded_chunk_words then)
    parts: int | None = None         # token pipeline: the runs of the epoch trained side by side, which chunks
    #                                  count in too; None: before it was recorded (one run, cut per chunk)
    pipeline: str | None = None      # the pipeline it was trained on (a resume on another is refused) and
    batch_size: int | None = None    # its batch size (the resume takes it); None: before they were recorded
    world_size: int | None = None    # the ranks of a torch.distributed run (None: one process), and each
    ranks: list | None = None        # rank's {"stats": its EpochStats, "corpus": its share's fingerprint}

    def for_rank(self, rank: int, world_size: int, path) -> "ResumeState":
        """This state as rank ``rank`` of ``world_size`` resumes it: its own position and share; a checkpoint
        of another number of processes is refused naming both (the shares, and so every rank's position and
        random draws, depend on it)."""
        saved = self.world_size or 1
        if saved != world_size:
            how = ("in a single process" if saved == 1
                   else f"with {saved} processes (torchrun --nproc_per_node/--nnodes)")
            raise ValueError(f"{path} is the checkpoint of a run of {saved} process(es); this run has "
                             f"{world_size}. Resume it {how}: each process's share of the corpus, position "
                             f"and random draws depend on the number of processes.")
        if self.ranks is None:
            return self
        mine = self.ranks[rank]
        return dataclasses.replace(self, stats=dict(mine["stats"]), corpus=dict(mine["corpus"]))

    def check_corpus(self, encoded, path):
        found = {"sentences": int(encoded.n_sentences), "raw_words": int(encoded.total_raw_words)}
        if found != self.corpus:
            raise ValueError(
                f"the corpus given to resume {path} differs from the one it was trained on: it has "
                f"{found['sentences']} sentences and {found['raw_words']} words, the checkpoint's had "
                f"{self.corpus['sentences']} and {self.corpus['raw_words']}. Pass the same corpus.")


class Checkpointer:
    """Writes checkpoints of ``model`` to ``path`` every ``every`` seconds, at epoch ends and on signals.

    Use as a context manager around training: it installs SIGINT/SIGTERM handlers (main thread only)
    that ask for a checkpoint at the next chunk boundary, after which :class:`TrainingInterrupted` is
    raised (SystemExit(143) for SIGTERM, the usual exit status of a terminated process).
    """

    def __init__(self, model, path, every: float | None, train_args: dict, encoded, layout):
        if every is not None and every < 0:
            raise ValueError(f"checkpoint_every must be >= 0 seconds (0 = at every chunk), got {every}.")
        self.model, self.path, self.every = model, path, every
        self.train_args = train_args
        # under torch.distributed: this rank's share, and the whole corpus (what the file is checked against)
        self.share = {"sentences": int(encoded.n_sentences), "raw_words": int(encoded.total_raw_words)}
        self.world, self.rank = distributed.world_size(), distributed.rank()
        self.corpus = self.share if self.world == 1 else dict(zip(
            ("sentences", "raw_words"), (int(x) for x in distributed.all_sum(list(self.share.values())))))
        check_target(path, model, train_args, self.corpus)
        self.last = time.monotonic()
        self.signal = None
        self.saved_handlers = {}
        self.layout = layout     # the run's RunLayout, recorded in each checkpoint

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.saved_handlers[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc):
        for signum, handler in self.saved_handlers.items():
            signal.signal(signum, handler)
        return False

    def _on_signal(self, signum, frame):
        if self.signal is not None:  # a second signal: give up on the checkpoint, stop now
            raise KeyboardInterrupt
        self.signal = signum
        logger.warning("%s received: saving a checkpoint to %s at the next chunk boundary",
                       signal.Signals(signum).name, self.path)

    def save(self, epoch: int, stats, trained: int, raw: int, sync=None):
        """Write the state after ``stats.chunks`` chunks of ``epoch`` (atomically).

        Under torch.distributed every rank calls it at once, where all hold the same weights (after a
        merge): each rank's position is gathered and rank 0 writes the one file."""
        if sync is not None:
            sync()
        ranks = None
        if self.world > 1:
            ranks = distributed.gather({"stats": dataclasses.asdict(stats), "corpus": self.share})
            if self.rank != 0:
                self.last = time.monotonic()
                return
        payload = persist.model_payload(self.model)
        payload["format"] = FORMAT
        payload["resume"] = dataclasses.asdict(ResumeState(
            dict(self.train_args), epoch, dataclasses.asdict(stats), int(trained), int(raw), self.corpus,
            **self.layout.record(), world_size=self.world if ranks else None, ranks=ranks))
        persist.save_payload(payload, self.path, kind="checkpoint")
        self.last = time.monotonic()
        logger.info("checkpoint saved to %s (epoch %i, chunk %i)", self.path, epoch, stats.chunks)

    def on_chunk(self, epoch, stats, trained, raw, sync=None, loss=None):
        """Called by the engine at each chunk boundary (under torch.distributed: after each merge within an
        epoch, on every rank at once): save when due, stop when a signal asked.

        Under torch.distributed a signal stops the rank without a new checkpoint (saving is collective, and
        torchrun signals the ranks when one of them has died); the last checkpoint stands."""
        due = self.every is not None and time.monotonic() - self.last >= self.every
        if self.world > 1:
            if distributed.any_rank(due):
                if loss is not None:
                    stats = dataclasses.replace(stats, loss=loss())
                self.save(epoch, stats, trained, raw, sync)
        elif due or self.signal is not None:
            if loss is not None:
                stats = dataclasses.replace(stats, loss=loss())
            self.save(epoch, stats, trained, raw, sync)
        if self.signal is not None:
            if self.signal == signal.SIGTERM:
                raise SystemExit(143)
            raise TrainingInterrupted(f"training interrupted; resume with Word2Vec.resume({self.path!r}, ...)")


def check_target(path, model, train_args: dict, corpus: dict) -> None:
    """Refuse (``FileExistsError`` naming ``path`` and each difference) to write checkpoints of this run to
    ``path`` if it holds anything but a checkpoint of the same settings, ``train()`` arguments and corpus."""
    persist.check_target(path, "checkpoint")  # a directory, or a file of another kind
    if not os.path.isfile(path) or not os.path.getsize(path):
        return
    payload = persist.load_payload(path, expected_format=FORMAT, mmap=True, check=False)
    saved = payload.get("settings", {})
    resume = payload.get("resume", {})
    ours = {name: getattr(model, name) for name in FIELDS}
    differences = [f"{name} {saved.get(name)!r} there, {value!r} here" for name, value in ours.items()
                   if saved.get(name) != value]
    theirs = resume.get("train_args", {})
    differences += [f"train() {name}={theirs.get(name)!r} there, {value!r} here" for name, value in train_args.items()
                    if theirs.get(name) != value]
    if resume.get("corpus") != corpus:
        differences.append(f"corpus {resume.get('corpus')} there, {corpus} here")
    if differences:
        raise FileExistsError(
            f"{path} holds the checkpoint of another run ({'; '.join(differences)}); it was left untouched. "
            f"Pass another checkpoint path, finish that run with Word2Vec.resume({os.fspath(path)!r}, ...) "
            f"(torch-w2v: the same command plus --resume), or delete the file.")


def read(path):
    """``(payload, ResumeState)`` of a checkpoint file."""
    payload = persist.load_payload(path, expected_format=FORMAT)
    try:
        state = ResumeState(**payload["resume"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path} is a checkpoint without a valid resume record ({exc!r}); it may be "
                         f"corrupted.") from None
    return payload, state
