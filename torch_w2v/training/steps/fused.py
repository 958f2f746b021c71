"""The fused CPU step: :mod:`.torch_step`'s update done in one pass of C per centre, Hogwild.

On CPU the batched torch step is memory-bound: it materialises ``(B, C, D)`` gathers and gradients and
scatters them back. The fused step (``csrc/w2v_step.c``) reads each weight row once, updates it in
place and keeps the scores in registers, as gensim's Cython and word2vec.c do; the batch, noise words,
Huffman paths, learning rate and loss accounting still come from the PyTorch pipeline, and the weights
are :class:`~torch_w2v.training.weights.ModelWeights`' tensors (the model's ``wv.vectors``, ``syn1neg`` and
``syn1``, updated through their data pointers).

Semantics differ from the torch step in one way: within a step, an update is seen by the next centre
handled by the same thread (Hogwild, like gensim with workers > 1), instead of all centres reading the
pre-step weights. When a batch has no repeated rows the two are the same computation
(``tests/test_fused.py`` checks this), and Hogwild needs no ``update_cap``. Results with several
threads are not bit-reproducible (thread timing); with ``workers=1`` they are, as in gensim.

Build and boundary: the C file is compiled when the package is installed, into the library that
:mod:`torch_w2v.clib` loads (nothing is compiled at run time). Its entry points take the whole batch or
token chunk as one struct, mirrored by :class:`~torch_w2v.clib.W2VBatch` and
:class:`~torch_w2v.clib.W2VTokens`; the loader refuses a library whose struct sizes or source hash differ
from this package's, and :meth:`FusedSteps.step` checks the dtype, shape, contiguity and device of every
tensor before handing its pointer to C. Without the library (no compiler at install time),
``engine="auto"`` falls back to the torch step with a warning and ``engine="fused"`` raises, both naming
the fix (:data:`~torch_w2v.clib.FIX`).
"""
from __future__ import annotations

import ctypes
import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

# the loader and the structs live in clib; EXTENSION, FIX, SOURCES and available are its names here too
from ...clib import EXTENSION, FIX, SOURCES, W2VBatch, W2VHead, W2VTokens, available, load, unavailable_reason  # noqa: F401,E501
from ...config import MAX_EXP
from ..layout import sentence_runs
from .base import Head, Step

logger = logging.getLogger("torch_w2v")

# Fewest centres a thread is handed: below, waking a pool thread and sharing rows with it cost more than
# the work it takes over. Measured on 2 cores, split against one thread, interleaved: skip-gram on Lee
# 1.05x slower split at 512 centres a step, 0.97x at 1,024; CBOW (a centre is ~1/(2 window) of skip-gram's
# work) on Lee 1.2x slower split at 2,048 to 8,192 centres a step, on the 5M-word GCIDE corpus (16,384 a
# step) 0.91-0.96x, skip-gram there 0.80x. Lee's default steps (~350 centres) run on one thread.
MIN_CENTRES_PER_THREAD = 512
MIN_CBOW_CENTRES_PER_THREAD = 4096

def packed_alias(threshold: torch.Tensor, alias: torch.Tensor, T: int, rows: int) -> torch.Tensor:
    """The alias table as C reads it: (V,) int64 ``threshold << 32 | alias``, one load a draw. ``T`` and
    every entry must fit in 32 bits (gensim's ``cum_table`` totals 2**31 - 1); ``rows``: the output rows."""
    n = threshold.shape[0] if isinstance(threshold, torch.Tensor) and threshold.dim() == 1 else None
    if n is None or not 0 < n <= rows or not 0 < int(T) < 2**32:
        raise ValueError(f"the noise alias table must have 1 to {rows} entries (the rows of the output table) and "
                         f"a total 0 < T < 2**32, found {n} entries and T={T}.")
    _pointer("noise threshold", threshold, torch.int64, (n,))
    _pointer("noise alias", alias, torch.int64, (n,))
    if int(threshold.min()) < 0 or int(threshold.max()) > int(T) or int(alias.min()) < 0 or int(alias.max()) >= rows:
        raise ValueError(f"the noise alias table holds thresholds outside [0, T={T}] or aliases outside "
                         f"[0, {rows}).")
    return ((threshold << 32) | alias).contiguous()                                                     # (V,)


def _shape(shape) -> str:
    return "(" + ", ".join("*" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _pointer(name: str, t, dtype: torch.dtype, *shapes) -> int:
    """``t.data_ptr()`` once ``t`` is a contiguous CPU tensor of ``dtype`` and one of ``shapes`` (None: any
    size); raises TypeError / ValueError naming ``name``, the expected and the found value otherwise."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, found {type(t).__name__}.")
    if t.device.type != "cpu":
        raise ValueError(f"{name} must be on the CPU for the fused step, found device {t.device}; move it "
                         f"with .cpu(), or train with engine='torch'.")
    if t.layout != torch.strided:
        raise TypeError(f"{name} must be a dense (strided) tensor, found layout {t.layout}; use .to_dense().")
    if t.dtype != dtype:
        raise TypeError(f"{name} must be {dtype}, found {t.dtype}; convert it with .to({dtype}).")
    if not any(t.dim() == len(s) and all(e is None or e == f for e, f in zip(s, t.shape)) for s in shapes):
        raise ValueError(f"{name} must have shape {' or '.join(_shape(s) for s in shapes)}, found "
                         f"{tuple(t.shape)}.")
    if not t.is_contiguous():
        raise ValueError(f"{name} must be contiguous, found strides {t.stride()} for shape {tuple(t.shape)}; "
                         f"pass {name}.contiguous().")
    return t.data_ptr()


def _head(name: str, head, B: int, D: int) -> W2VHead:
    """The checked ``W2VHead`` of a :class:`~.base.Head` for a batch of ``B`` centres."""
    P = head.rows.shape[-1] if isinstance(head.rows, torch.Tensor) and head.rows.dim() == 2 else None
    return W2VHead(
        table=_pointer(f"{name}.table", head.table, torch.float32, (None, D)),
        rows=_pointer(f"{name}.rows", head.rows, torch.int64, (B, None)),
        labels=_pointer(f"{name}.labels", head.labels, torch.float32, (B, P), (1, P)),
        valid=_pointer(f"{name}.valid", head.valid, torch.float32, (B, P)),
        P=P, labels_shared=int(head.labels.shape[0] == 1 and B != 1))


class _Threads:
    """The compiled library and ``threads`` threads: the calling one and a pool of ``threads - 1``, which lives
    until :meth:`close` (or the end of a ``with`` block)."""

    def __init__(self, threads: int):
        self.lib = load()
        if self.lib is None:
            raise RuntimeError(f"the fused CPU step is unavailable: {unavailable_reason()}")
        self.threads = max(1, int(threads))
        self.pool = ThreadPoolExecutor(self.threads - 1, thread_name_prefix="torch_w2v-step") \
            if self.threads > 1 else None

    def fan_out(self, call, n: int) -> list:
        """``[call(0), ..., call(n - 1)]``: call(0) on the calling thread, the others on the pool at once
        (one after another when there is no pool)."""
        if self.pool is None:
            return [call(k) for k in range(n)]
        futures = [self.pool.submit(call, k) for k in range(1, n)]
        return ([call(0)] if n else []) + [f.result() for f in futures]

    def close(self) -> None:
        """Stop the threads (waiting for a call in flight)."""
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class FusedSteps(_Threads):
    """Runs fused steps on ``threads`` threads, each on a contiguous share of the batch's centres."""

    def __init__(self, threads: int, dim: int, min_centres: int = MIN_CENTRES_PER_THREAD):
        super().__init__(threads)
        self.dim = int(dim)
        self.min_centres = max(1, int(min_centres))  # fewest centres a thread is handed
        # per-thread scratch: work (D,) and hidden (D,), the 2 * D floats w2v_train takes
        self.scratch = [np.zeros((2, self.dim), dtype=np.float32) for _ in range(self.threads)]
        self.scratch_ptr = [a.ctypes.data for a in self.scratch]

    def batch(self, sg: bool, syn0, contexts, mask, heads, lr, cbow_mean=True, lockf=None,
              compute_loss=False, noise=None) -> W2VBatch:
        """The checked :class:`W2VBatch` for :meth:`step`'s arguments; raises before C sees a wrong tensor."""
        syn0_p = _pointer("syn0", syn0, torch.float32, (None, self.dim))
        V = syn0.shape[0]
        contexts_p = _pointer("contexts", contexts, torch.int64, (None, None))
        B, C = contexts.shape
        if not 1 <= len(heads) <= 2:
            raise ValueError(f"heads must hold 1 or 2 output heads (negative sampling, hierarchical softmax), "
                             f"found {len(heads)}.")
        batch = W2VBatch(
            syn0=syn0_p, contexts=contexts_p, mask=_pointer("mask", mask, torch.float32, (B, C)),
            lockf=_pointer("lockf", lockf, torch.float32, (V, 1), (V,)) if lockf is not None else None,
            B=B, C=C, D=self.dim, lr=float(lr), max_exp=MAX_EXP, sg=int(bool(sg)), cbow_mean=int(bool(cbow_mean)),
            compute_loss=int(bool(compute_loss)))
        for k, head in enumerate(heads):
            batch.heads[k] = _head(f"heads[{k}]", head, B, self.dim)
        if noise is not None:  # (threshold, alias, T, seed): draw head 0's noise columns in C
            threshold, alias, T, seed = noise
            batch.keep = packed_alias(threshold, alias, T, heads[0].table.shape[0])  # alive as long as the struct
            batch.noise_table = batch.keep.data_ptr()
            batch.noise_V, batch.noise_T, batch.noise_seed = threshold.shape[0], int(T), int(seed) % 2**64
        return batch

    def step(self, sg: bool, syn0, contexts, mask, heads, lr, cbow_mean=True, lockf=None,
             compute_loss=False, noise=None) -> float:
        """Train one batch in place; returns its loss (0.0 unless ``compute_loss``).

        ``syn0`` (V, D) float32; ``contexts`` (B, C) int64 and ``mask`` (B, C) float32; ``heads`` one or two
        :class:`~.base.Head` of float32 tables (V_out, D), int64 rows (B, P), float32 labels (B, P) or
        (1, P) and valid (B, P); ``lockf`` (V, 1) float32 or None; all contiguous CPU tensors.
        ``noise = (threshold, alias, T, seed)``: draw the noise columns of ``heads[0]`` (rows 1.. and
        their validity) in C from that alias table (int64 (V_noise,) each), keyed by ``seed`` and the
        centre's index.
        """
        # the tensors stay referenced by the caller's arguments until this returns
        return self.run(self.batch(sg, syn0, contexts, mask, heads, lr, cbow_mean, lockf, compute_loss, noise))

    def run(self, batch: W2VBatch) -> float:
        """Train a checked :class:`W2VBatch` (its tensors kept alive by the caller); returns its loss.

        Each thread takes at least ``min_centres`` centres (a smaller batch runs on the calling thread alone):
        handing a few to the pool costs more than the second thread saves (:data:`MIN_CENTRES_PER_THREAD`).
        """
        B = batch.B
        threads = min(self.threads, B // self.min_centres)
        if threads <= 1:
            return self.lib.w2v_train(ctypes.byref(batch), 0, B, self.scratch_ptr[0])
        step = -(-B // threads)

        def call(t: int) -> float:
            return self.lib.w2v_train(ctypes.byref(batch), t * step, min(B, (t + 1) * step), self.scratch_ptr[t])

        return sum(self.fan_out(call, threads))


class TokenSteps(_Threads):
    """Runs the token step (``w2v_train_tokens``) on ``threads`` threads: each piece of a chunk (one per part
    of the epoch, see :class:`~torch_w2v.training.batching.TokenBatch`) on its own thread, or, with fewer
    pieces than threads, each piece cut into contiguous shares of whole sentences about equal in tokens.
    One call per thread per chunk."""

    def __init__(self, template: W2VTokens, threads: int):
        super().__init__(threads)
        self.template = template

    def shares(self, bounds: np.ndarray, n: int | None = None) -> list:
        """``[(s_begin, s_end), ...]``: at most ``n`` (default ``threads``) runs of whole sentences about equal
        in tokens."""
        return sentence_runs(bounds, self.threads if n is None else n)

    def run(self, pieces: list, seed: int) -> tuple:
        """Train ``pieces``, each ``(ids, bounds, lr_start, lr_end)``: the sentences ``bounds`` (S + 1,) int64
        of ``ids`` (N,) uint16 or int32 (see :func:`torch_w2v.corpus.id_dtype`), alpha falling from
        lr_start to lr_end across it. Piece ``p`` draws from ``seed`` mixed with ``p``. Returns
        ``(loss, kept)``."""
        structs, jobs = [], []
        for p, (ids, bounds, lr_start, lr_end) in enumerate(pieces):
            t = self._struct(ids, bounds, lr_start, lr_end, (int(seed) + p * 0x9E3779B97F4A7C15) % 2**64)
            structs.append((t, ids, bounds))  # ids, bounds and t stay referenced until every call returns
            share = self.threads // len(pieces) + (p < self.threads % len(pieces))
            jobs += [(t, a, b) for a, b in (self.shares(t.bounds_array, max(1, share)) if len(ids) else [])]
        out = np.zeros((max(len(jobs), 1), 2), dtype=np.float64)     # (jobs, 2): loss, kept tokens

        def call(k: int) -> int:
            t, begin, end = jobs[k]
            return self.lib.w2v_train_tokens(ctypes.byref(t), begin, end,
                                             out[k].ctypes.data_as(ctypes.POINTER(ctypes.c_double)))
        status = self.fan_out(call, len(jobs))
        if any(status):
            longest = max(int(np.diff(b).max()) for _, _, b in structs if len(b) > 1)
            raise MemoryError(f"the fused step could not allocate its buffers for a chunk of "
                              f"{sum(len(i) for _, i, _ in structs)} tokens (longest sentence {longest} tokens); "
                              f"lower chunk_words.")
        return float(out[:, 0].sum()), int(out[:, 1].sum())

    def _struct(self, ids, bounds, lr_start, lr_end, seed) -> W2VTokens:
        """The template with one piece's ids, bounds, learning rates and seed, checked."""
        if ids.dtype not in (np.uint16, np.int32) or not ids.flags.c_contiguous or ids.ndim != 1:
            raise TypeError(f"ids must be a contiguous (N,) uint16 or int32 array, found {ids.dtype} {ids.shape}.")
        if bounds.dtype != np.int64 or bounds.ndim != 1 or len(bounds) < 1 or bounds[0] != 0 \
                or bounds[-1] != len(ids):
            raise ValueError(f"bounds must be (S + 1,) int64 from 0 to len(ids) = {len(ids)}, found "
                             f"{bounds.dtype} {bounds.shape} ending at {bounds[-1] if len(bounds) else None}.")
        bounds = np.ascontiguousarray(bounds)
        t = W2VTokens.from_buffer_copy(self.template)
        t.ids, t.bounds, t.id_bytes = ids.ctypes.data, bounds.ctypes.data, ids.dtype.itemsize
        t.N, t.S, t.seed = len(ids), len(bounds) - 1, seed
        t.lr_start, t.lr_end = float(lr_start), float(lr_end)
        t.bounds_array = bounds  # keeps the contiguous bounds alive with the struct
        return t


def tokens_template(cfg, weights, tables, dim: int) -> W2VTokens:
    """The checked :class:`W2VTokens` for a run: every weight and table pointer, the constants; a chunk then
    only sets its ids, bounds, learning rates and seed (:meth:`TokenSteps.run`)."""
    V = weights.syn0.shape[0]
    t = W2VTokens(syn0=_pointer("syn0", weights.syn0, torch.float32, (None, dim)), D=dim, window=int(cfg.window),
                  max_exp=MAX_EXP, sg=int(bool(cfg.sg)), cbow_mean=int(bool(cfg.cbow_mean)),
                  compute_loss=int(bool(cfg.compute_loss)), shrink_windows=int(bool(cfg.shrink_windows)))
    if tables.lockf is not None:
        t.lockf = _pointer("lockf", tables.lockf, torch.float32, (V, 1), (V,))
    if tables.sample_int is not None:
        t.sample_int = _pointer("sample_int", tables.sample_int, torch.int64, (V,))
    if cfg.negative:
        threshold, alias, T = tables.noise
        t.syn1neg = _pointer("syn1neg", weights.syn1neg, torch.float32, (V, dim))
        t.keep = packed_alias(threshold, alias, T, V)  # alive as long as the struct (and its copies' source)
        t.noise_table = t.keep.data_ptr()
        t.K, t.noise_V, t.noise_T = int(cfg.negative), threshold.shape[0], int(T)
    if cfg.hs:
        L = tables.points.shape[1]
        t.syn1 = _pointer("syn1", weights.syn1, torch.float32, (None, dim))
        t.points = _pointer("points", tables.points, torch.int64, (V, L))
        t.codes = _pointer("codes", tables.codes, torch.float32, (V, L))
        t.code_valid = _pointer("code_valid", tables.code_valid, torch.float32, (V, L))
        t.L = L
    return t


class _FusedStep(Step):
    """What the fused engine's two steps share: the CPU, the compiled library, their own Hogwild threads."""
    name = "fused"
    devices = ("cpu",)
    owns_threads = True
    large_batches = True

    @classmethod
    def unavailable(cls, device):
        return super().unavailable(device) or unavailable_reason()

    def close(self) -> None:
        self.runner.close()


class FusedTokenStep(_FusedStep):
    """The token pipeline's step (the fused engine's default): one call per thread per chunk, C drawing
    downsampling, windows and noise and training the sentences in text order (:class:`TokenSteps`)."""
    pipelines = ("tokens",)

    @classmethod
    def default_pipeline(cls, device, cfg):
        return None if cfg is not None and cfg.batch_size else "tokens"  # a batch size asks for host batches

    def __init__(self, cfg, weights, tables, device, threads):
        super().__init__(cfg, weights, tables, device, threads)
        self.runner = TokenSteps(tokens_template(cfg, weights, tables, weights.syn0.shape[1]), threads)

    def __call__(self, batch) -> int:
        """Train a :class:`~torch_w2v.training.batching.TokenBatch`; returns the tokens kept."""
        seed = int(torch.randint(0, 2**62, (1,), generator=self.generator))   # keyed by the chunk
        loss, kept = self.runner.run([(piece.ids, piece.bounds, piece.lr_start, piece.lr_end)
                                      for piece in batch.pieces], seed)
        if self.cfg.compute_loss:
            self.loss += loss
        return kept


class FusedBatchStep(_FusedStep):
    """The host pipeline's strided batches (when ``batch_size`` is given, or ``pipeline="host"``), on
    ``threads`` Hogwild threads (:class:`FusedSteps`).

    The :class:`W2VBatch` and the head buffers are made once, for batches of up to ``cfg.batch_size``
    centres: the weights, tables and buffers are checked then, and a step only writes its batch's pointers,
    sizes, learning rate and noise seed (a step of a small corpus is ~100 us of C, so Python's share per step
    matters).
    """
    pipelines = ("host",)

    def __init__(self, cfg, weights, tables, device, threads):
        super().__init__(cfg, weights, tables, device, threads)
        self.runner = FusedSteps(threads, weights.syn0.shape[1],
                                 MIN_CENTRES_PER_THREAD if cfg.sg else MIN_CBOW_CENTRES_PER_THREAD)
        self.capacity = 0
        self._allocate(max(1, int(cfg.batch_size or 1)))

    def _allocate(self, capacity: int) -> None:
        """Head buffers for ``capacity`` centres and the struct pointing at them (and at the weights)."""
        cfg, t, w = self.cfg, self.tables, self.weights
        out = []
        if cfg.negative:  # column 0: the centre (label 1); columns 1..K: noise words, drawn and checked in C
            K = cfg.negative
            labels = torch.zeros(1, K + 1)                                                     # (1, K+1)
            labels[:, 0] = 1.0
            out.append(Head(w.syn1neg, torch.zeros(capacity, K + 1, dtype=torch.int64), labels,
                            torch.ones(capacity, K + 1)))                                      # (cap, K+1)
        if cfg.hs:  # the centres' Huffman paths, gathered into these per step
            L = t.points.shape[1]
            out.append(Head(w.syn1, torch.zeros(capacity, L, dtype=torch.int64), torch.zeros(capacity, L),
                            torch.zeros(capacity, L)))                                         # (cap, L)
        self.heads = out
        noise = (*t.noise[:2], t.noise[2], 0) if cfg.negative else None
        empty = torch.zeros(capacity, 1, dtype=torch.int64)
        # the template: every pointer checked here, for B = capacity; a step lowers B and sets its batch
        self.struct = self.runner.batch(bool(cfg.sg), w.syn0, empty, torch.zeros(capacity, 1), out, 0.0,
                                        bool(cfg.cbow_mean), t.lockf, cfg.compute_loss, noise)
        self.capacity = capacity

    def __call__(self, batch) -> int:
        """Train a :class:`~torch_w2v.training.batching.Batch` at its learning rate; the pipeline counted its
        kept tokens (returns 0)."""
        cfg, t, s = self.cfg, self.tables, self.struct
        centres = batch.centres                                                          # (B,) int64
        B = len(centres)
        if B > self.capacity:
            self._allocate(B)
            s = self.struct
        # the batch's own tensors: checked (dtype, shape, contiguity), then pointed at
        s.contexts = _pointer("contexts", batch.contexts, torch.int64, (B, None))       # (B, C)
        C = batch.contexts.shape[1]
        s.mask = _pointer("mask", batch.mask, torch.float32, (B, C))                     # (B, C)
        s.B, s.C, s.lr = B, C, batch.lr
        k = 0
        if cfg.negative:
            self.heads[0].rows[:B, 0] = centres
            s.noise_seed = int(torch.randint(0, 2**62, (1,), generator=self.generator))  # keyed by the chunk
            k = 1
        if cfg.hs:
            head = self.heads[k]
            torch.index_select(t.points, 0, centres, out=head.rows[:B])                  # (B, L)
            torch.index_select(t.codes, 0, centres, out=head.labels[:B])
            torch.index_select(t.code_valid, 0, centres, out=head.valid[:B])
        loss = self.runner.run(s)
        if cfg.compute_loss:
            self.loss += loss
        return 0
