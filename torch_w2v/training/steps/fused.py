"""The fused CPU step: :mod:`.torch_step`'s update done in one pass of C per centre, Hogwild.

On CPU the batched torch step is memory-bound: it materialises ``(B, C, D)`` gathers and gradients and
scatters them back. The fused step (``csrc/w2v_step.c``) reads each weight row once, updates it in
place and keeps the scores in registers, as gensim's Cython and word2vec.c do; the batch, noise words,
Huffman paths, learning rate and loss accounting still come from the PyTorch pipeline, and the weights
are the SkipGramNeg tensors themselves (updated through their data pointers).

Semantics differ from the torch step in one way: within a step, an update is seen by the next centre
handled by the same thread (Hogwild, like gensim with workers > 1), instead of all centres reading the
pre-step weights. When a batch has no repeated rows the two are the same computation
(``tests/test_fused.py`` checks this), and Hogwild needs no ``update_cap``. Results with several
threads are not bit-reproducible (thread timing); with ``workers=1`` they are, as in gensim.

The C file is compiled at first use with the system C compiler (``$CC`` or ``cc``) into
``~/.cache/torch_w2v`` (``$TORCH_W2V_CACHE``); without a compiler the engine falls back to the torch step.
"""
from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from .base import Step
from .torch_step import heads

logger = logging.getLogger("torch_w2v")

SOURCE = Path(__file__).parents[2] / "csrc" / "w2v_step.c"
FLAGS = ["-O3", "-fPIC", "-shared", "-fno-math-errno", "-fno-trapping-math", "-fassociative-math",
         "-fno-signed-zeros"]

_lock = threading.Lock()
_lib = None
_error: str | None = None


def _cache_dir() -> Path:
    return Path(os.environ.get("TORCH_W2V_CACHE", Path.home() / ".cache" / "torch_w2v"))


def _compile(target: Path) -> None:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        raise OSError("no C compiler found (set $CC, or install gcc)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        errors = []
        for arch in (["-march=native"], []):
            proc = subprocess.run([cc, *FLAGS, *arch, str(SOURCE), "-o", tmp, "-lm"],
                                  capture_output=True, text=True)
            if proc.returncode == 0:
                os.replace(tmp, target)  # atomic: a concurrent process sees the whole library or none
                return
            errors.append(proc.stderr.strip())
        raise OSError(f"{cc} failed to compile {SOURCE.name}: {errors[-1][:500]}")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load():
    """The compiled kernel library (compiling it on first use), or None with the reason logged once."""
    global _lib, _error
    with _lock:
        if _lib is not None or _error is not None:
            return _lib
        try:
            digest = hashlib.sha256(SOURCE.read_bytes() + " ".join(FLAGS).encode()).hexdigest()[:16]
            target = _cache_dir() / f"w2v_step-{digest}-{platform.machine()}-{platform.node()}.so"
            if not target.exists():
                _compile(target)
            lib = ctypes.CDLL(str(target))
            i64, f32, ptr = ctypes.c_int64, ctypes.c_float, ctypes.c_void_p
            head = [ptr, ptr, ptr, ptr, ctypes.c_int, ctypes.c_int]
            noise = [ptr, ptr, i64, i64, ctypes.c_uint64]
            lib.w2v_skipgram.argtypes = [ptr, ctypes.c_int, ptr, ptr, ctypes.c_int, *head, *head, ptr, f32,
                                         ctypes.c_int, i64, i64, ptr, *noise]
            lib.w2v_skipgram.restype = ctypes.c_double
            lib.w2v_cbow.argtypes = [ptr, ctypes.c_int, ptr, ptr, ctypes.c_int, *head, *head, ptr, f32,
                                     ctypes.c_int, ctypes.c_int, i64, i64, ptr, ptr, *noise]
            lib.w2v_cbow.restype = ctypes.c_double
            _lib = lib
        except (OSError, subprocess.SubprocessError) as exc:
            _error = str(exc)
            logger.warning("fused CPU step unavailable, training with plain torch ops instead: %s", _error)
        return _lib


def available() -> bool:
    return load() is not None


def _p(t: torch.Tensor | None):
    return ctypes.c_void_p(t.data_ptr()) if t is not None else None


def _head_args(head):
    if head is None:
        return [None, None, None, None, 0, 0]
    shared = int(head.labels.shape[0] == 1 and head.rows.shape[0] != 1)
    return [_p(head.table), _p(head.rows), _p(head.labels), _p(head.valid), head.rows.shape[1], shared]


class FusedSteps:
    """Runs fused steps on ``threads`` threads, each on a contiguous share of the batch's centres."""

    def __init__(self, threads: int, dim: int):
        self.lib = load()
        if self.lib is None:
            raise RuntimeError(f"the fused CPU step is unavailable: {_error}")
        self.threads = max(1, int(threads))
        self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="torch_w2v-step") \
            if self.threads > 1 else None
        # per-thread scratch: work (D,) and hidden (D,)
        self.scratch = [np.zeros((2, dim), dtype=np.float32) for _ in range(self.threads)]

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()

    def _run(self, call, batch_size: int) -> float:
        bounds = np.linspace(0, batch_size, self.threads + 1).astype(np.int64)
        if self.pool is None:
            return call(0, int(bounds[0]), int(bounds[1]))
        futures = [self.pool.submit(call, t, int(bounds[t]), int(bounds[t + 1])) for t in range(self.threads)]
        return sum(f.result() for f in futures)

    def step(self, sg: bool, syn0, contexts, mask, heads, lr, cbow_mean=True, lockf=None,
             compute_loss=False, noise=None) -> float:
        """Train one batch in place; returns its loss (0.0 unless ``compute_loss``).

        ``noise = (threshold, alias, T, seed)``: draw the noise columns of ``heads[0]`` (rows 1.. and
        their validity) in C from that alias table, keyed by ``seed`` and the centre's index.
        """
        B, C = contexts.shape
        D = syn0.shape[1]
        contexts, mask = contexts.contiguous(), mask.contiguous()
        h1 = _head_args(heads[0])
        h2 = _head_args(heads[1] if len(heads) > 1 else None)
        lock = _p(lockf.reshape(-1).contiguous()) if lockf is not None else None
        keep = (contexts, mask, heads, lockf)  # noqa: F841 - keeps the tensors alive during the C calls
        compute_loss = int(compute_loss)
        if noise is not None:
            threshold, alias, T, seed = noise
            noise_args = [_p(threshold), _p(alias), len(alias), int(T), int(seed)]
        else:
            noise_args = [None, None, 0, 0, 0]

        def call(t, begin, end):
            work = self.scratch[t][0].ctypes.data_as(ctypes.c_void_p)
            if sg:
                return self.lib.w2v_skipgram(_p(syn0), D, _p(contexts), _p(mask), C, *h1, *h2, lock, lr,
                                             compute_loss, begin, end, work, *noise_args)
            hidden = self.scratch[t][1].ctypes.data_as(ctypes.c_void_p)
            return self.lib.w2v_cbow(_p(syn0), D, _p(contexts), _p(mask), C, *h1, *h2, lock, lr,
                                     compute_loss, int(cbow_mean), begin, end, work, hidden, *noise_args)

        return self._run(call, B)


class FusedStep(Step):
    """The C step on the CPU, on ``threads`` Hogwild threads; takes host batches."""
    name = "fused"
    pipeline = "host"

    @classmethod
    def unavailable(cls, device):
        if device.type != "cpu":
            return "the fused step runs on the CPU only; use engine='triton' or engine='torch' on a GPU."
        if load() is None:
            return f"the C step could not be built ({_error}); install a C compiler, or use engine='torch'."
        return None

    def __init__(self, cfg, weights, tables, device, threads):
        super().__init__(cfg, weights, tables, device, threads)
        self.runner = FusedSteps(threads, weights.syn0.shape[1])

    def __call__(self, batch, lr: float) -> None:
        cfg, t = self.cfg, self.tables
        centres = batch.centres.to(torch.int64)                                          # (B,)
        contexts = batch.contexts.to(torch.int64)                                        # (B, C)
        noise = None
        if cfg.negative:  # drawn in C, keyed by a seed from this chunk's generator
            seed = int(torch.randint(0, 2**62, (1,), generator=self.generator))
            noise = (*t.noise[:2], t.noise[2], seed)
        loss = self.runner.step(bool(cfg.sg), self.weights.syn0, contexts, batch.mask,
                                heads(cfg, self.weights, t, centres, None), lr, bool(cfg.cbow_mean), t.lockf,
                                cfg.compute_loss, noise)
        if cfg.compute_loss:
            self.loss += loss

    def close(self) -> None:
        self.runner.close()
