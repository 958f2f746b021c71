"""The epoch loop: chunks of the encoded corpus, their batches, the learning rate, one step per batch.

The engine owns what happens around a step: making the chunks' batches (on the host in a producer
thread, :mod:`~torch_w2v.training.batching`, or on the training device, :mod:`~.device_batches`), the
learning-rate schedule, the random generators keyed by (seed, epoch, chunk, stream), loss accounting
and the hooks at chunk boundaries (progress, checkpoints, distributed merges). What a step does is the
step's business (:mod:`torch_w2v.training.steps`). The loop over batches is short and makes no host
sync; the device pipeline reads one number back per chunk (its kept-token count).
"""
from __future__ import annotations

import dataclasses
import itertools
import os
import queue
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from ..corpus import EncodedCorpus
from . import batching, device_batches

# Measured on gensim's Lee corpus (45k kept words per epoch): 2,048 centres per step (22 steps per
# epoch) lets CBOW with cbow_mean=0 diverge and skip-gram + hs lag gensim; 512 or fewer match gensim
# in every mode. 128 steps per epoch keeps small corpora in that range.
MIN_STEPS_PER_EPOCH = 128
HOST_CHUNK_WORDS = 1 << 16     # host pipeline: bounds the producer's working memory
DEVICE_CHUNK_WORDS = 1 << 20   # device pipeline: one host sync per chunk, so chunks are larger
# token pipeline: the chunk is a view of the encoded corpus (no memory of its own), split between the
# threads in halves (thirds, ...); the halves' distance matters: Hogwild threads on nearby text update the
# same rows at once. CBOW on the alphabetical benchmark corpus: 2**18-token chunks 11.05% (5 seeds)
# analogies, 2**21 11.66% (4), a whole epoch 11.29% (4); gensim 11.5%: its workers take halves of the file
TOKEN_CHUNK_WORDS = 1 << 21
CHUNK_WORDS = {"host": HOST_CHUNK_WORDS, "device": DEVICE_CHUNK_WORDS, "tokens": TOKEN_CHUNK_WORDS}


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


def default_batch_size(device: torch.device, words_per_epoch: float | None = None, large: bool = False) -> int:
    """Centres per step: 16384 for the fused and Triton steps and on CUDA, 2048 for torch ops on the CPU
    (where larger steps gain no speed); small corpora get at least ``MIN_STEPS_PER_EPOCH`` steps per epoch
    (and never fewer than 64 centres per step)."""
    size = 16384 if (large or device.type == "cuda") else 2048
    if words_per_epoch is not None:
        size = min(size, max(64, int(words_per_epoch) // MIN_STEPS_PER_EPOCH))
    return size


def mix_seed(seed: int, a: int = 0, b: int = 0, c: int = 0) -> int:
    """One 63-bit seed from a user seed and up to three counters (the one seed-mixing rule)."""
    return (int(seed) * 1_000_003 + int(a) * 7_919 + int(b) * 104_729 + int(c)) % (2**63 - 1)


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


@dataclass
class _Done:
    """Sentences and raw words: of a run of the corpus, or done of it."""
    sentences: int
    raw_words: int

    def share(self, total: _Done, by_sentences: bool) -> float:
        """This much of ``total``, by sentences or by raw words (the schedule's units), 0..1."""
        mine, whole = (self.sentences, total.sentences) if by_sentences else (self.raw_words, total.raw_words)
        return mine / whole if whole else 1.0


@dataclass
class Tables:
    """Per-word tables the steps read (built by :func:`torch_w2v.training.weights.tables`)."""
    sample_int: torch.Tensor | None = None   # (V,) int64 keep thresholds; None = nothing downsampled
    noise: tuple | None = None               # (threshold (V,) int64, alias (V,) int64, total T): the noise
    #                                          distribution of cum_table as an alias table; None if negative == 0
    lockf: torch.Tensor | None = None        # (V, 1) float32 input-update scale; None when all ones
    points: torch.Tensor | None = None       # (V, L) int64 Huffman inner nodes per word (hs), 0-padded
    codes: torch.Tensor | None = None        # (V, L) float32 1 - code per node: the hs labels
    code_valid: torch.Tensor | None = None   # (V, L) float32 1 where the path has a node


class Engine:
    """Runs ``step`` over the batches of a corpus, epoch by epoch.

    Parameters
    ----------
    cfg : TrainConfig
        The settings (read only); ``batch_size`` and ``chunk_words`` resolved.
    step : torch_w2v.training.steps.Step
        Trains one batch in place; its ``pipeline`` says which batches it takes.
    tables : Tables
        Downsampling (read here) and the step's tables.
    seed : int
        Seeds every random draw (downsampling, windows, noise) through :func:`mix_seed`.
    device : torch.device
        Where the weights live.
    prefetch : int
        Host pipeline: chunks of batches prepared ahead by the producer thread.
    averager : torch_w2v.distributed.ModelAverager, optional
        Merges the ranks' weights at its sync points (data-parallel training).
    """

    def __init__(self, cfg, step, tables: Tables, seed: int, device: torch.device, prefetch: int = 1,
                 averager=None):
        self.cfg, self.step, self.tables, self.device = cfg, step, tables, device
        self.seed, self.prefetch, self.averager = int(seed), prefetch, averager
        # token pipeline: the runs of the epoch trained side by side (a checkpoint records it: see trainer)
        self.parts = max(1, int(step.threads))
        self.device_corpus = None  # the corpus uploaded once per train() (device pipeline)
        # host pipeline: one producer for the remaining epochs, so the next epoch's first chunk is made while
        # this one trains (a corpus of one chunk, such as gensim's Lee, otherwise waits for it every epoch);
        # `_ahead_at` is the (epoch, chunk) it yields next
        self._ahead, self._ahead_at = None, None

    def _generator(self, epoch: int, chunk: int, stream: int, device=None) -> torch.Generator:
        """A generator seeded by (seed, epoch, chunk, stream) alone: a chunk draws the same numbers whether
        the run was interrupted or not, so a resumed run repeats an uninterrupted one exactly."""
        return torch.Generator(device=device or "cpu").manual_seed(mix_seed(self.seed, epoch, chunk, stream))

    # ------------------------------------------------------------------------------------- the chunks
    def _host_chunks(self, corpus: EncodedCorpus, epoch: int, first_chunk: int):
        """Yield ``(index, span, Chunk)`` from ``first_chunk`` on, made on the CPU (producer thread)."""
        sample_int = self.tables.sample_int
        sample_int = sample_int.cpu() if sample_int is not None else None
        for index, span in enumerate(corpus.chunks(self.cfg.chunk_words)):
            if index < first_chunk:
                continue
            ids = torch.from_numpy(np.asarray(corpus.ids[span.lo:span.hi], dtype=np.int64))           # (N,)
            sentence_of = batching.sentence_numbers(span.lengths)                                     # (N,)
            yield index, span, batching.make_chunk(
                ids, sentence_of, sample_int=sample_int, window=self.cfg.window,
                shrink_windows=self.cfg.shrink_windows, batch_size=self.cfg.batch_size,
                generator=self._generator(epoch, index, 0))

    def _token_pieces(self, corpus: EncodedCorpus, by_sentences: bool = False):
        """The token pipeline's layout: the epoch cut into ``parts`` runs of whole sentences (one per thread,
        as gensim's ``corpus_file`` workers each read their part of the file), each run into spans of
        ``chunk_words / parts`` ids; chunk k is the k-th span of every run. Yields, per chunk, a list of
        ``(span, start, end)``: ``start``/``end`` the share of its run's units (sentences when
        ``by_sentences``, else raw words: the schedule's units) done before and after it."""
        runs = corpus.parts(self.parts)
        size = max(1, self.cfg.chunk_words // max(1, len(runs)))
        totals = [_Done(b - a, int(corpus.raw_words[a:b].sum())) for a, b in runs]
        done = [_Done(0, 0) for _ in runs]
        for group in itertools.zip_longest(*(corpus.spans(a, b, size) for a, b in runs)):
            pieces = []
            for p, span in enumerate(group):
                if span is not None:
                    after = _Done(done[p].sentences + span.sentences, done[p].raw_words + span.raw_words)
                    pieces.append((span, done[p].share(totals[p], by_sentences),
                                   after.share(totals[p], by_sentences)))
                    done[p] = after
            yield pieces

    def _token_chunks(self, corpus: EncodedCorpus, first_chunk: int, by_sentences: bool):
        """Yield ``(index, totals, TokenBatch)`` from ``first_chunk`` on: views of the encoded corpus."""
        for index, pieces in enumerate(self._token_pieces(corpus, by_sentences)):
            if index >= first_chunk:
                span = _Done(sum(s.sentences for s, _, _ in pieces), sum(s.raw_words for s, _, _ in pieces))
                yield index, span, batching.TokenBatch(
                    [batching.token_piece(corpus.ids[s.lo:s.hi], s.lengths, start, end)
                     for s, start, end in pieces])

    def chunk_count(self, corpus: EncodedCorpus) -> int:
        """The chunks of an epoch over ``corpus``."""
        if self.step.pipeline == "tokens":
            return sum(1 for _ in self._token_pieces(corpus))
        return sum(1 for _ in corpus.chunks(self.cfg.chunk_words))

    def _device_chunks(self, corpus: EncodedCorpus, epoch: int, first_chunk: int):
        """Yield ``(index, span, Plan)`` from ``first_chunk`` on, made on the training device."""
        if self.device_corpus is None:
            self.device_corpus = device_batches.DeviceCorpus(corpus, self.device)
        for index, span in enumerate(corpus.chunks(self.cfg.chunk_words)):
            if index < first_chunk:
                continue
            ids, sentence_of = self.device_corpus.span(span)
            yield index, span, device_batches.make_plan(
                ids, sentence_of, sample_int=self.tables.sample_int, window=self.cfg.window,
                shrink_windows=self.cfg.shrink_windows, batch_size=self.cfg.batch_size,
                generator=self._generator(epoch, index, 0, self.device))

    def _host_epochs(self, corpus: EncodedCorpus, epoch: int, first_chunk: int, epochs: int):
        """``(epoch, index, span, Chunk)`` from ``(epoch, first_chunk)`` to the last epoch, each epoch
        closed by ``(epoch, None, None, None)``."""
        for e in range(epoch, max(epochs, epoch + 1)):
            yield from ((e, *item) for item in self._host_chunks(corpus, e, first_chunk if e == epoch else 0))
            yield e, None, None, None

    def _chunks(self, corpus, epoch, first_chunk, schedule):
        """``(index, span, chunk)`` of one epoch from ``first_chunk`` on."""
        if self.step.pipeline == "device":
            yield from self._device_chunks(corpus, epoch, first_chunk)
            return
        if self.step.pipeline == "tokens":
            yield from self._token_chunks(corpus, first_chunk, schedule.by_sentences)
            return
        if self._ahead_at != (epoch, first_chunk):  # first epoch of this train(), or a resumed one
            self.close()
            self._ahead = _prefetch(self._host_epochs(corpus, epoch, first_chunk, schedule.epochs),
                                    depth=self.prefetch)
        self._ahead_at = None  # mid-epoch: an epoch left unfinished (an error) makes the next call restart
        for _, index, span, chunk in self._ahead:
            if index is None:
                self._ahead_at = (epoch + 1, 0)
                return
            yield index, span, chunk

    def close(self) -> None:
        """Stop the host producer (and drop the chunks it made ahead)."""
        if self._ahead is not None:
            self._ahead.close()
        self._ahead, self._ahead_at = None, None

    # ---------------------------------------------------------------------------------------- an epoch
    def run_epoch(self, corpus: EncodedCorpus, epoch: int, schedule: Schedule, progress=None,
                  resume: EpochStats | None = None, on_chunk=None) -> EpochStats:
        """Train one pass over ``corpus``.

        ``progress(stats, alpha)`` is called after each chunk; ``on_chunk(epoch, stats)`` too, at a point
        where the weights hold every finished chunk (a consistent state to checkpoint).
        ``resume``: the stats of a checkpoint taken in this epoch; training goes on from its next chunk.
        """
        stats = EpochStats() if resume is None else dataclasses.replace(resume)
        epoch_units = corpus.n_sentences if schedule.by_sentences else corpus.total_raw_words
        start = time.perf_counter() - stats.seconds
        self.step.loss.fill_(stats.loss)
        if self.averager is not None:
            self.averager.begin_epoch(self.chunk_count(corpus))
        for index, span, chunk in self._chunks(corpus, epoch, stats.chunks, schedule):
            self.step.begin_chunk(self._generator(epoch, index, 1, self.device))
            units = span.sentences if schedule.by_sentences else span.raw_words
            done = stats.sentences if schedule.by_sentences else stats.raw_words
            for position, batch in chunk.batches():
                if self.step.pipeline == "tokens":  # one batch, the whole chunk: alpha falls across each
                    # piece as its run progresses, the run's share scaled to the epoch's units
                    self.step(batch, [(schedule.alpha(epoch, piece.start * epoch_units),
                                       schedule.alpha(epoch, piece.end * epoch_units)) for piece in batch.pieces])
                    continue
                self.step(batch, schedule.alpha(epoch, done + position * units))
            if self.averager is not None:
                self.averager.after_chunk(index)
            stats.chunks = index + 1
            stats.effective_words += chunk.effective_words()  # the device pipeline's one sync per chunk
            stats.raw_words += span.raw_words
            stats.sentences += span.sentences
            stats.last_alpha = schedule.alpha(
                epoch, stats.sentences if schedule.by_sentences else stats.raw_words)
            if progress is not None:
                progress(stats, stats.last_alpha)
            if on_chunk is not None:
                stats.seconds = time.perf_counter() - start
                on_chunk(epoch, stats)
        if self.averager is not None:
            self.averager.finish_epoch()
        if self.cfg.compute_loss:
            stats.loss = float(self.step.loss)  # host sync, once per epoch
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        stats.seconds = time.perf_counter() - start
        return stats

    def current_loss(self) -> float:
        """The loss accumulated so far in this epoch (a host sync: call at chunk boundaries only)."""
        return float(self.step.loss)


def _prefetch(iterator, depth: int = 1):
    """Run ``iterator`` in a background thread, ``depth`` items ahead; re-raise its errors here."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce():
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            q.put(exc)

    thread = threading.Thread(target=produce, name="torch_w2v-batches", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
