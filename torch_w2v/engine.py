"""The training engine: runs the SGD steps of :mod:`torch_w2v.steps` over a corpus, epoch by epoch.

It owns what happens around a step: preparing batches chunk by chunk in a background thread
(:mod:`torch_w2v.batching`), drawing noise words on the training device, building the output heads
(negative sampling and/or hierarchical softmax), the learning-rate schedule, loss accounting and
random generators. The same code runs on CPU and CUDA. The loop over batches is short and makes no
host sync: ``.item()``-like reads happen once per epoch.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import queue
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from . import batching
from . import fused, steps
from .config import TrainConfig
from .corpus import EncodedCorpus

logger = logging.getLogger("torch_w2v")

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


def default_batch_size(device: torch.device, words_per_epoch: float | None = None, fused: bool = False) -> int:
    """Centres per step: 16384 for the fused CPU step and on CUDA, 2048 for torch ops on the CPU (where
    larger steps gain no speed); small corpora get at least ``MIN_STEPS_PER_EPOCH`` steps per epoch
    (and never fewer than 64 centres per step)."""
    size = 16384 if (fused or device.type == "cuda") else 2048
    if words_per_epoch is not None:
        size = min(size, max(64, int(words_per_epoch) // MIN_STEPS_PER_EPOCH))
    return size


# Measured on gensim's Lee corpus (45k kept words per epoch): 2,048 centres per step (22 steps per
# epoch) lets CBOW with cbow_mean=0 diverge and skip-gram + hs lag gensim; 512 or fewer match gensim
# in every mode. 128 steps per epoch keeps small corpora in that range.
MIN_STEPS_PER_EPOCH = 128


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
class Tables:
    """Per-word tables the engine reads. Downsampling is done by the CPU batch producer; the rest live
    on the training device."""
    sample_int: torch.Tensor | None = None   # (V,) int64 keep thresholds (CPU); None = nothing downsampled
    noise: tuple | None = None               # (threshold (V,) int64, alias (V,) int64, total T): the noise
    #                                          distribution of cum_table as an alias table; None if negative == 0
    lockf: torch.Tensor | None = None        # (V, 1) float32 input-update scale; None when all ones
    points: torch.Tensor | None = None       # (V, L) int64 Huffman inner nodes per word (hs), 0-padded
    codes: torch.Tensor | None = None        # (V, L) float32 1 - code per node: the hs labels
    code_valid: torch.Tensor | None = None   # (V, L) float32 1 where the path has a node

    @staticmethod
    def alias(cum_table, device) -> tuple:
        """Walker/Vose alias table with the exact distribution of gensim's ``cum_table``.

        Word ``j`` has weight ``w_j = cum[j] - cum[j-1]`` out of ``T = cum[-1]``. A draw is one integer
        ``r`` uniform in [0, V*T): ``i = r // T``, ``u = r % T``, noise = ``i`` if ``u < threshold[i]``
        else ``alias[i]``; in integers, so ``P(j) = w_j / T`` exactly. (gensim's bisection gives word 0
        one extra value of its 2**31 and the last word one fewer.) O(1) per draw, where a bisection of
        ``cum_table`` costs ~17 cache misses.
        """
        cum = np.asarray(cum_table, dtype=np.int64)
        weights = np.diff(cum, prepend=0)
        V, T = len(weights), int(cum[-1])
        scaled = (weights * V).tolist()          # compare against T: below = "small"
        threshold = np.full(V, T, dtype=np.int64)
        alias = np.arange(V, dtype=np.int64)
        small = [i for i, p in enumerate(scaled) if p < T]
        large = [i for i, p in enumerate(scaled) if p >= T]
        while small and large:
            s, g = small.pop(), large.pop()
            threshold[s], alias[s] = scaled[s], g
            scaled[g] -= T - scaled[s]
            (small if scaled[g] < T else large).append(g)
        return torch.from_numpy(threshold).to(device), torch.from_numpy(alias).to(device), T

    @staticmethod
    def huffman(codes, points, device) -> tuple:
        """Pad gensim's per-word ``code``/``point`` arrays into the three (V, L) tensors above."""
        lengths = np.array([len(c) for c in codes], dtype=np.int64)
        L = max(int(lengths.max()) if len(lengths) else 0, 1)
        pts = np.zeros((len(codes), L), dtype=np.int64)
        lab = np.zeros((len(codes), L), dtype=np.float32)
        for i, (c, p) in enumerate(zip(codes, points)):
            pts[i, : len(p)] = p
            lab[i, : len(c)] = 1.0 - np.asarray(c, dtype=np.float32)
        valid = (np.arange(L)[None, :] < lengths[:, None]).astype(np.float32)
        return tuple(torch.from_numpy(x).to(device) for x in (pts, lab, valid))


class Engine:
    """Trains ``syn0`` (input vectors) and the output weights ``syn1neg`` / ``syn1`` in place.

    Parameters
    ----------
    cfg : TrainConfig
        The settings (read only).
    syn0 : torch.Tensor
        ``(V, D)`` float32 input vectors on ``device`` (on CPU they may share memory with numpy arrays).
    syn1neg, syn1 : torch.Tensor or None
        ``(V, D)`` output weights of negative sampling / hierarchical softmax, None when unused.
    tables : Tables
        Downsampling, noise, lock and Huffman tables.
    seed : int
        Seeds the engine's random generators (downsampling, windows, noise draws).
    prefetch : int
        Chunks of batches prepared ahead by the producer thread.
    words_per_epoch : float, optional
        Expected words per epoch after downsampling; sizes the default batch for small corpora.
    averager : torch_w2v.distributed.ModelAverager, optional
        Averages the weights over ranks at its sync points (data-parallel training).
    """

    def __init__(self, cfg: TrainConfig, syn0: torch.Tensor, syn1neg: torch.Tensor | None,
                 syn1: torch.Tensor | None, tables: Tables, seed: int, device: torch.device, prefetch: int = 1,
                 words_per_epoch: float | None = None, averager=None):
        self.cfg, self.device, self.prefetch = cfg, device, prefetch
        self.syn0, self.syn1neg, self.syn1, self.tables = syn0, syn1neg, syn1, tables
        if cfg.negative and (syn1neg is None or tables.noise is None):
            raise ValueError("negative > 0 needs syn1neg and a cum_table; call build_vocab first.")
        if cfg.hs and (syn1 is None or tables.points is None):
            raise ValueError("hs=1 needs syn1 and Huffman codes; call build_vocab first.")
        self.seed = int(seed)
        self.averager = averager
        self.dev_gen = self._generator(0, 0, 1, device)
        K = cfg.negative
        self.neg_labels = torch.zeros(1, K + 1, device=device)                    # (1, K+1)
        self.neg_labels[:, 0] = 1.0
        self.loss = torch.zeros((), dtype=torch.float64, device=device)
        self.fused = None
        if cfg.engine == "fused" or (cfg.engine == "auto" and device.type == "cpu"):
            if device.type != "cpu":
                raise ValueError(f"engine='fused' runs on the CPU only, but device={device}; use engine='torch'.")
            if fused.available():
                self.fused = fused.FusedSteps(min(cfg.workers, os.cpu_count() or 1), syn0.shape[1])
            elif cfg.engine == "fused":
                raise RuntimeError("engine='fused' was asked for but the C step could not be built; see the "
                                   "warning above, or use engine='torch'.")
        self.batch_size = cfg.batch_size or default_batch_size(device, words_per_epoch, self.fused is not None)

    # ----------------------------------------------------------------------------------------- the step
    def heads(self, centres: torch.Tensor, draw_noise: bool = True) -> list:
        """The output heads for ``centres`` (B,): negative sampling and/or hierarchical softmax.

        ``draw_noise=False`` leaves the noise columns of the negative-sampling head to be filled by the
        fused step (see :meth:`step`).
        """
        heads = []
        if self.cfg.negative:
            B, K = len(centres), self.cfg.negative
            if draw_noise:
                threshold, alias, T = self.tables.noise
                r = torch.randint(0, len(alias) * T, (B, K), device=self.device, generator=self.dev_gen)  # (B, K)
                i = r // T
                noise = torch.where(r - i * T < threshold[i], i, alias[i])              # (B, K) alias draw
                rows = torch.cat([centres[:, None], noise], 1)                        # (B, K+1)
                valid = torch.ones(B, K + 1, device=self.device)
                valid[:, 1:] = (noise != centres[:, None]).to(torch.float32)         # gensim skips a draw == centre
            else:
                rows = torch.empty(B, K + 1, dtype=torch.int64, device=self.device)
                rows[:, 0] = centres
                valid = torch.ones(B, K + 1, device=self.device)
            heads.append(steps.Head(self.syn1neg, rows, self.neg_labels, valid))
        if self.cfg.hs:
            t = self.tables
            heads.append(steps.Head(self.syn1, t.points[centres], t.codes[centres], t.code_valid[centres]))
        return heads

    def step(self, batch: batching.Batch, lr: float) -> None:
        """One SGD step on ``batch`` at learning rate ``lr``."""
        # int32 in the batch (half the memory), int64 for indexing: index_add_ is ~4x slower on int32
        centres = batch.centres.to(self.device, torch.int64, non_blocking=True)            # (B,)
        contexts = batch.contexts.to(self.device, torch.int64, non_blocking=True)          # (B, C)
        mask = batch.mask.to(self.device, non_blocking=True)                               # (B, C)
        if self.fused is not None:  # noise drawn in C, keyed by a seed from this chunk's generator
            noise = None
            if self.cfg.negative:
                seed = int(torch.randint(0, 2**62, (1,), generator=self.dev_gen))
                noise = (*self.tables.noise[:2], self.tables.noise[2], seed)
            loss = self.fused.step(bool(self.cfg.sg), self.syn0, contexts, mask, self.heads(centres, False), lr,
                                   bool(self.cfg.cbow_mean), self.tables.lockf, self.cfg.compute_loss, noise)
            if self.cfg.compute_loss:
                self.loss += loss
            return
        loss = self.loss if self.cfg.compute_loss else None
        cap = self.cfg.update_cap
        if self.cfg.sg:
            steps.skipgram(self.syn0, contexts, mask, self.heads(centres), lr, self.tables.lockf, cap, loss)
        else:
            steps.cbow(self.syn0, contexts, mask, self.heads(centres), lr, bool(self.cfg.cbow_mean),
                       self.tables.lockf, cap, loss)

    # ---------------------------------------------------------------------------------------- an epoch
    def _generator(self, epoch: int, chunk: int, stream: int, device=None) -> torch.Generator:
        """A generator seeded by (seed, epoch, chunk, stream) alone: a chunk draws the same numbers whether
        the run was interrupted or not, so a resumed run repeats an uninterrupted one exactly."""
        seed = (self.seed * 1_000_003 + epoch * 7_919 + chunk * 104_729 + stream) % (2**63 - 1)
        return torch.Generator(device=device or "cpu").manual_seed(seed)

    def _chunks(self, corpus: EncodedCorpus, epoch: int, first_chunk: int):
        """Yield ``(index, Chunk)`` for the chunks of ``corpus`` from ``first_chunk`` on (producer side)."""
        for index, span in enumerate(corpus.chunks(self.cfg.chunk_words)):
            if index < first_chunk:
                continue
            ids = torch.from_numpy(np.asarray(corpus.ids[span.lo:span.hi], dtype=np.int64))           # (N,)
            sentence_of = torch.repeat_interleave(torch.arange(len(span.lengths)),
                                                  torch.from_numpy(span.lengths))                  # (N,)
            yield index, batching.make_chunk(
                ids, sentence_of, span.raw_words, span.sentences,
                sample_int=self.tables.sample_int, window=self.cfg.window,
                shrink_windows=self.cfg.shrink_windows, batch_size=self.batch_size,
                generator=self._generator(epoch, index, 0))

    def run_epoch(self, corpus: EncodedCorpus, epoch: int, schedule: Schedule, progress=None,
                  resume: EpochStats | None = None, on_chunk=None) -> EpochStats:
        """Train one pass over ``corpus``.

        ``progress(stats, alpha)`` is called after each chunk; ``on_chunk(epoch, next_chunk, stats)`` too,
        at a point where the weights hold every finished chunk (a consistent state to checkpoint).
        ``resume``: the stats of a checkpoint taken in this epoch; training goes on from its next chunk.
        """
        stats = EpochStats() if resume is None else dataclasses.replace(resume)
        start = time.perf_counter() - stats.seconds
        self.loss.fill_(stats.loss)
        if self.averager is not None:
            self.averager.begin_epoch(sum(1 for _ in corpus.chunks(self.cfg.chunk_words)))
        for index, chunk in _prefetch(self._chunks(corpus, epoch, stats.chunks), depth=self.prefetch):
            self.dev_gen = self._generator(epoch, index, 1, self.device)
            units = chunk.sentences if schedule.by_sentences else chunk.raw_words
            done = stats.sentences if schedule.by_sentences else stats.raw_words
            for batch in chunk.batches:
                lr = schedule.alpha(epoch, done + batch.position * units)
                self.step(batch, lr)
            if self.averager is not None:
                self.averager.after_chunk(index)
            stats.chunks = index + 1
            stats.effective_words += chunk.effective_words
            stats.raw_words += chunk.raw_words
            stats.sentences += chunk.sentences
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
            stats.loss = float(self.loss)  # host sync, once per epoch
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        stats.seconds = time.perf_counter() - start
        return stats

    def current_loss(self) -> float:
        """The loss accumulated so far in this epoch (a host sync: call at chunk boundaries only)."""
        return float(self.loss)


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
