"""The training engine: manual sparse SGD on the SkipGramNeg weights, without autograd.

One step takes a :class:`~torch_w2v.batching.Batch` of ``B`` centres with ``2w`` context slots each and
does, as word2vec.c / gensim do for each (context, centre) pair, but as batched matrix products:

* skip-gram + negative sampling: the context's *input* vector predicts the centre's *output* vector and
  ``K`` noise words; the ``K`` noise words are drawn once per centre and shared by its ``2w`` contexts
  (HogBatch, Ji et al. 2016), so scoring is one ``(2w, D) x (D, K+1)`` product per centre.

Gradients are gensim's: ``g = (label - σ(score)) * lr``, zero where ``|score| >= 6`` (gensim skips those
pairs) or where a noise word equals the centre (gensim skips that draw); the input-side update is
scaled by ``vectors_lockf``. Updates are summed into the weight rows with ``index_add_``.

The same code runs on CPU and CUDA. The hot loop is short: no ``.item()``, no host sync, except where
marked at the epoch end.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from . import batching
from .config import TrainConfig
from .corpus import EncodedCorpus

logger = logging.getLogger("torch_w2v")

MAX_EXP = 6.0  # gensim/word2vec.c: pairs whose |score| reaches this are skipped


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


def default_batch_size(device: torch.device) -> int:
    return 16384 if device.type == "cuda" else 2048


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
    """Linear learning-rate decay over all epochs of one ``train()`` call, as gensim's."""
    start_alpha: float
    end_alpha: float
    epochs: int
    total_units: float                 # sentences (total_examples) or raw words (total_words) per epoch
    by_sentences: bool                 # gensim decays by sentences when total_examples is given

    def alpha(self, epoch: int, units_done: float) -> float:
        progress = (epoch + units_done / self.total_units) / self.epochs
        return max(self.end_alpha, self.start_alpha - (self.start_alpha - self.end_alpha) * progress)


@dataclass
class EpochStats:
    effective_words: int = 0
    raw_words: int = 0
    sentences: int = 0
    loss: float = 0.0
    seconds: float = 0.0
    last_alpha: float = 0.0


@dataclass
class Tables:
    """Per-word tables the engine reads, as tensors on the training device."""
    sample_int: torch.Tensor | None    # (V,) int64 keep thresholds, None when nothing is downsampled
    cum_table: torch.Tensor | None     # (V,) int64 noise cumulative table, None when negative == 0
    lockf: torch.Tensor | None         # (V, 1) float32 input-update scale, None when all ones
    extra: dict = field(default_factory=dict)


class Engine:
    """Trains the weight matrices ``syn0`` (input) and ``syn1neg`` (output) in place.

    Parameters
    ----------
    cfg : TrainConfig
        The settings (read only).
    syn0, syn1neg : torch.Tensor
        ``(V, D)`` float32 weights on ``device``; on CPU they may share memory with numpy arrays.
    tables : Tables
        Downsampling, noise and lock tables.
    seed : int
        Seeds the engine's random generators (downsampling, windows, noise draws).
    """

    def __init__(self, cfg: TrainConfig, syn0: torch.Tensor, syn1neg: torch.Tensor, tables: Tables,
                 seed: int, device: torch.device, prefetch: int = 1):
        if cfg.sg != 1 or cfg.hs:
            raise NotImplementedError(f"the engine trains sg=1, hs=0 only so far; got sg={cfg.sg}, hs={cfg.hs}.")
        self.cfg, self.device, self.prefetch = cfg, device, prefetch
        self.syn0, self.syn1neg, self.tables = syn0, syn1neg, tables
        self.batch_size = cfg.batch_size or default_batch_size(device)
        self.cpu_gen = torch.Generator().manual_seed(seed)
        self.dev_gen = torch.Generator(device=device).manual_seed(seed + 1)
        K = cfg.negative
        self.labels = torch.zeros(1, 1, K + 1, device=device)                 # (1, 1, K+1)
        self.labels[..., 0] = 1.0
        self.signs = 1.0 - 2.0 * self.labels                                   # +1 for noise, -1 for the centre
        self.loss = torch.zeros((), dtype=torch.float64, device=device)

    # ----------------------------------------------------------------------------------------- the step
    def step_sg_neg(self, batch: batching.Batch, lr: float) -> None:
        """One SGD step of skip-gram with negative sampling on ``batch``."""
        D, K = self.syn0.shape[1], self.cfg.negative
        centres = batch.centres.to(self.device, non_blocking=True)                     # (B,)
        contexts = batch.contexts.to(self.device, non_blocking=True)                   # (B, C)
        mask = batch.mask.to(self.device, non_blocking=True)                           # (B, C)
        B, C = contexts.shape
        draws = torch.randint(0, int(self.tables.cum_table[-1]), (B, K), device=self.device,
                              generator=self.dev_gen)
        noise = torch.searchsorted(self.tables.cum_table, draws)                        # (B, K) bisect_left
        outputs = torch.cat([centres[:, None], noise], 1)                               # (B, K+1)
        ctx_flat, out_flat = contexts.reshape(-1), outputs.reshape(-1)
        v = self.syn0.index_select(0, ctx_flat).view(B, C, D)                          # (B, C, D)
        u = self.syn1neg.index_select(0, out_flat).view(B, K + 1, D)                   # (B, K+1, D)
        scores = torch.bmm(v, u.transpose(1, 2))                                        # (B, C, K+1)
        valid = mask[:, :, None].repeat(1, 1, K + 1)                                   # (B, C, K+1)
        valid[:, :, 1:] *= (noise != centres[:, None])[:, None, :]
        if self.cfg.compute_loss:
            self.loss -= (F.logsigmoid(scores * -self.signs) * valid).sum(dtype=torch.float64)
        keep = valid.mul_(scores.abs() < MAX_EXP)                                       # (B, C, K+1)
        g = (self.labels - torch.sigmoid(scores)).mul_(keep).mul_(lr)                   # (B, C, K+1)
        grad_v = torch.bmm(g, u)                                                        # (B, C, D)
        grad_u = torch.bmm(g.transpose(1, 2), v)                                        # (B, K+1, D)
        if self.tables.lockf is not None:
            grad_v *= self.tables.lockf[contexts]                                       # (B, C, 1)
        if self.cfg.update_cap:
            grad_v *= self._cap(ctx_flat, mask.view(-1)).view(B, C, 1)
            grad_u *= self._cap(out_flat, mask.sum(1, keepdim=True).expand(B, K + 1).reshape(-1)).view(B, K + 1, 1)
        self.syn0.index_add_(0, ctx_flat, grad_v.view(-1, D))
        self.syn1neg.index_add_(0, out_flat, grad_u.view(-1, D))

    def _cap(self, rows: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Per-slot scale ``min(1, cap / n_row)``, ``n_row`` = pair-updates row gets in this step: (N,).

        Summing many updates of one row in a step, where sequential SGD would have let each one see the
        previous, overshoots when the updates agree (small vocabularies, frequent words); capping a row's
        step at ``update_cap`` pair-updates' worth keeps large steps stable and is a no-op for rows that
        appear fewer times (all rows when steps are small).
        """
        counts = torch.bincount(rows, weights=weights, minlength=self.syn0.shape[0])      # (V,)
        cap = float(self.cfg.update_cap)
        return (cap / counts.clamp_(min=cap)).to(torch.float32)[rows]                    # (N,)

    # ---------------------------------------------------------------------------------------- an epoch
    def _chunks(self, corpus: EncodedCorpus):
        """Prepare batches chunk by chunk (in a producer thread when the caller asks)."""
        ids_all = corpus.ids
        for s, e in corpus.chunks(self.cfg.chunk_words):
            lo, hi = int(corpus.bounds[s]), int(corpus.bounds[e])
            ids = torch.from_numpy(np.asarray(ids_all[lo:hi], dtype=np.int64))                 # (N,)
            lengths = torch.from_numpy(np.diff(corpus.bounds[s:e + 1]))                         # (S,)
            sentence_of = torch.repeat_interleave(torch.arange(e - s), lengths)                 # (N,)
            yield batching.make_chunk(
                ids, sentence_of, int(corpus.raw_words[s:e].sum()), e - s,
                sample_int=self.tables.sample_int, window=self.cfg.window,
                shrink_windows=self.cfg.shrink_windows, batch_size=self.batch_size, generator=self.cpu_gen)

    def run_epoch(self, corpus: EncodedCorpus, epoch: int, schedule: Schedule, progress=None) -> EpochStats:
        """Train one pass over ``corpus``; ``progress(stats, alpha)`` is called after each chunk."""
        stats = EpochStats()
        start = time.perf_counter()
        self.loss.zero_()
        for chunk in _prefetch(self._chunks(corpus), depth=self.prefetch):
            units = chunk.sentences if schedule.by_sentences else chunk.raw_words
            done = stats.sentences if schedule.by_sentences else stats.raw_words
            for batch in chunk.batches:
                lr = schedule.alpha(epoch, done + batch.position * units)
                self.step_sg_neg(batch, lr)
            stats.effective_words += chunk.effective_words
            stats.raw_words += chunk.raw_words
            stats.sentences += chunk.sentences
            stats.last_alpha = schedule.alpha(
                epoch, stats.sentences if schedule.by_sentences else stats.raw_words)
            if progress is not None:
                progress(stats, stats.last_alpha)
        if self.cfg.compute_loss:
            stats.loss = float(self.loss)  # host sync, once per epoch
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        stats.seconds = time.perf_counter() - start
        return stats


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
