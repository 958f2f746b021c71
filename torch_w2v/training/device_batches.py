"""Batches made on the training device: the host pipeline's algorithm in a few large kernels per chunk.

A GPU fed by a CPU producer thread trains no faster than that thread prepares batches (4-6M words/s on
one core). Here the encoded corpus is uploaded once per ``train()`` (:class:`DeviceCorpus`) and each
chunk becomes a :class:`Plan` with about ten torch ops on the device, none of which reads a value back:

1. downsampling: token ``t`` is kept when ``sample_int[t] >= U``, ``U`` uniform in [0, 2**32);
2. compaction without a sync: kept token ``i`` goes to slot ``cumsum(keep)[i] - 1`` (a scatter; dropped
   tokens go to a spare slot), so contexts count kept tokens only, as in gensim; the kept count ``n``
   stays a device scalar;
3. reduced windows: ``w = window - b``, ``b`` uniform in [0, window) per kept token;
4. strided order: with ``N`` tokens in the chunk (an upper bound of ``n``), ``n_batches = ceil(N / B)``
   and batch ``t`` holds the centres at ``t, t + n_batches, t + 2 n_batches, ...`` below ``n``: far apart
   in the text, as the host pipeline's buckets (see :mod:`.batching`), and every kept token is a centre
   exactly once. Slots at or past ``n`` are empty, so a batch holds about ``B * n / N`` centres.

A step reads the plan directly: the Triton step computes each centre's contexts in its kernel (within
the window, inside the chunk, same sentence); the torch step materialises a batch with
:meth:`PlanBatch.materialize`. Nothing is copied per step and the only host sync is
the kept count ``Plan.n``, read once at the end of a chunk.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .batching import offsets, sentence_numbers

DEVICE_CACHE_WORDS = 1 << 28   # corpora up to this many tokens (2 GiB of int32 ids and sentence numbers)
#                                are uploaded whole once; larger ones a chunk at a time


class DeviceCorpus:
    """The encoded corpus on the training device: ids and a sentence number per token, both int32."""

    def __init__(self, corpus, device: torch.device):
        self.corpus, self.device = corpus, device
        self.ids = self.sent = None
        n = len(corpus.ids)
        if n <= DEVICE_CACHE_WORDS:
            self.ids = torch.from_numpy(np.asarray(corpus.ids, dtype=np.int32)).to(device)          # (T,)
            corpus.release(0, n)  # uploaded: a corpus mapped from a file leaves the host's memory
            self.sent = sentence_numbers(np.diff(np.asarray(corpus.bounds, dtype=np.int64)), torch.int32,
                                         device)                                                     # (T,)

    def span(self, span) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ids, sentence numbers)`` of a :class:`~torch_w2v.training.layout.Span`, each (N,) int32 on the device."""
        if self.ids is not None:
            return self.ids[span.lo:span.hi], self.sent[span.lo:span.hi]
        ids = torch.from_numpy(np.asarray(self.corpus.ids[span.lo:span.hi], dtype=np.int32)).to(self.device)
        self.corpus.release(span.lo, span.hi)  # copied to the device
        return ids, sentence_numbers(span.lengths, torch.int32, self.device)


@dataclass
class Plan:
    """One chunk's training order on the device (see the module docstring)."""
    ids: torch.Tensor        # (N,) int32 kept tokens in text order; slots at or past n hold 0
    sent: torch.Tensor       # (N,) int32 sentence number per kept token; -1 at or past n
    wsize: torch.Tensor      # (N,) int32 reduced window per kept token
    n: torch.Tensor          # () int64 kept tokens, on the device
    window: int              # the largest window
    n_batches: int           # batches in the chunk
    per_batch: int           # centre slots (segments, when segment > 1) per batch, some empty
    segment: int = 1         # consecutive positions a slot holds: batch t holds positions
    #                          [s * segment, (s + 1) * segment) of the slots s = t, t + n_batches, ...


@dataclass
class PlanBatch:
    plan: Plan
    t: int                   # batch index: centres at t, t + n_batches, ...
    lr: float = 0.0          # its learning rate (set by the device pipeline from the schedule)

    def positions(self) -> torch.Tensor:
        """(per_batch,) int64 positions of this batch's centre slots in the plan."""
        p = self.plan
        return self.t + torch.arange(p.per_batch, device=p.ids.device) * p.n_batches

    def materialize(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(centres (B,), contexts (B, 2w), mask (B, 2w))`` int64/int64/float32, as the host batches."""
        p = self.plan
        if p.segment != 1:
            raise ValueError(f"a plan of segments ({p.segment} positions a slot) is for the segment kernel; the "
                             f"torch step takes plans with segment=1 (the device pipeline).")
        N = len(p.ids)
        pos = self.positions()                                                               # (B,)
        real = pos < p.n                                                                     # (B,)
        pos = pos.clamp(max=max(N - 1, 0))
        offs = offsets(p.window, p.ids.device)                                               # (2w,)
        cpos = pos[:, None] + offs                                                           # (B, 2w)
        inside = (cpos >= 0) & (cpos < p.n) & (offs.abs() <= p.wsize[pos][:, None]) & real[:, None]
        cpos.clamp_(0, max(N - 1, 0))
        inside &= p.sent[cpos] == p.sent[pos][:, None]
        contexts = torch.where(inside, p.ids[cpos], 0).to(torch.int64)                       # (B, 2w)
        centres = torch.where(real, p.ids[pos], 0).to(torch.int64)                           # (B,)
        return centres, contexts, inside.to(torch.float32)


def make_plan(ids: torch.Tensor, sent: torch.Tensor, *, sample_int: torch.Tensor | None, window: int,
              shrink_windows: bool, batch_size: int, generator: torch.Generator, segment: int = 1) -> Plan:
    """The :class:`Plan` of a chunk: ``ids`` (N,) int32 and ``sent`` (N,) int32 on the training device; its
    batches hold about ``batch_size`` positions, in slots of ``segment`` consecutive ones."""
    N, dev = len(ids), ids.device
    if sample_int is None:
        kept_ids, kept_sent = ids, sent
        n = torch.tensor(N, dtype=torch.int64, device=dev)
    else:
        draw = torch.randint(0, 2**32, (N,), generator=generator, dtype=torch.int64, device=dev)   # (N,)
        keep = sample_int[ids.long()] >= draw                                                       # (N,)
        slot = torch.cumsum(keep, 0) - 1                                                            # (N,)
        n = slot[-1] + 1 if N else torch.zeros((), dtype=torch.int64, device=dev)
        dest = torch.where(keep, slot, N)                    # dropped tokens land in the spare slot N
        kept_ids = torch.zeros(N + 1, dtype=torch.int32, device=dev).scatter_(0, dest, ids)[:N]
        kept_sent = torch.full((N + 1,), -1, dtype=torch.int32, device=dev).scatter_(0, dest, sent)[:N]
    if shrink_windows:
        wsize = (window - torch.randint(0, window, (N,), generator=generator, device=dev)).to(torch.int32)
    else:
        wsize = torch.full((N,), window, dtype=torch.int32, device=dev)
    slots = max(1, -(-N // segment))                          # segment = 1: a slot per position
    n_batches = max(1, -(-slots // max(1, batch_size // segment)))
    per_batch = max(1, -(-slots // n_batches))
    return Plan(kept_ids, kept_sent, wsize, n, window, n_batches, per_batch, segment)
