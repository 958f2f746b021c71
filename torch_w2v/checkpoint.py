"""Checkpoints: save the full training state periodically and on SIGINT/SIGTERM, and resume from it.

A checkpoint is a model file (:mod:`torch_w2v.persist`, format ``torch_w2v.Checkpoint``) plus a
``resume`` dict: the ``train()`` arguments, the epoch and the chunk reached, the counters and losses so
far, and a fingerprint of the corpus (sentences and raw words). Checkpoints are taken at chunk
boundaries, where the weights hold every finished chunk. Every random draw of a chunk comes from a
generator seeded by (seed, epoch, chunk) (see ``Engine._generator``), so a resumed run repeats an
uninterrupted one: bit for bit on CPU with ``workers=1`` or ``engine='torch'``.

Writes are atomic (temporary file, fsync, rename): a crash, even SIGKILL during a write, leaves the
previous checkpoint intact.
"""
from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time

from . import persist

logger = logging.getLogger("torch_w2v")

FORMAT = "torch_w2v.Checkpoint"


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

    def __init__(self, model, path, every: float | None, train_args: dict, encoded):
        if every is not None and every < 0:
            raise ValueError(f"checkpoint_every must be >= 0 seconds (0 = at every chunk), got {every}.")
        self.model, self.path, self.every = model, path, every
        self.train_args = train_args
        self.corpus = {"sentences": int(encoded.n_sentences), "raw_words": int(encoded.total_raw_words)}
        self.last = time.monotonic()
        self.signal = None
        self.saved_handlers = {}

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
        """Write the state after ``stats.chunks`` chunks of ``epoch`` (atomically)."""
        if sync is not None:
            sync()
        payload = persist.model_payload(self.model)
        payload["format"] = FORMAT
        payload["resume"] = dataclasses.asdict(ResumeState(
            dict(self.train_args), epoch, dataclasses.asdict(stats), int(trained), int(raw), self.corpus))
        persist.save_payload(payload, self.path)
        self.last = time.monotonic()
        logger.info("checkpoint saved to %s (epoch %i, chunk %i)", self.path, epoch, stats.chunks)

    def on_chunk(self, epoch, stats, trained, raw, sync=None, loss=None):
        """Called by the engine at each chunk boundary: save when due, stop when a signal asked."""
        due = self.every is not None and time.monotonic() - self.last >= self.every
        if due or self.signal is not None:
            if loss is not None:
                stats = dataclasses.replace(stats, loss=loss())
            self.save(epoch, stats, trained, raw, sync)
        if self.signal is not None:
            if self.signal == signal.SIGTERM:
                raise SystemExit(143)
            raise TrainingInterrupted(f"training interrupted; resume with Word2Vec.resume({self.path!r}, ...)")


def read(path):
    """``(payload, ResumeState)`` of a checkpoint file."""
    payload = persist.load_payload(path, expected_format=FORMAT)
    try:
        state = ResumeState(**payload["resume"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path} is a checkpoint without a valid resume record ({exc!r}); it may be "
                         f"corrupted.") from None
    return payload, state
