"""The torch step: word2vec's updates for one batch, as batched matrix products, without autograd.

Runs on any device; it is the reference the fused C and Triton steps are tested against, and
``tests/test_gradients.py`` proves its update is ``-lr`` times the autograd gradient of the lesson's
``NegativeSamplingLoss`` on a ``SkipGramNeg`` holding the same weights.

A batch holds ``B`` centres with ``C`` context slots each (``mask`` marks the real ones). An output
*head* says which output rows each centre is scored against and with which labels:

* negative sampling: the centre (label 1) and ``K`` noise words (label 0) drawn once per centre and
  shared by all its contexts (HogBatch, Ji et al. 2016), rows of ``syn1neg``;
* hierarchical softmax: the inner nodes on the centre's Huffman path (label ``1 - code``), rows of ``syn1``.

Skip-gram scores each context's input vector against the head rows (``(C, D) x (D, P)`` per centre);
CBOW scores the mean (``cbow_mean=1``) or sum of the context vectors. Gradients are gensim's:
``g = (label - σ(score)) * lr``, zero where ``|score| >= 6`` (gensim skips those); CBOW with
``cbow_mean=0`` divides the input gradient by the context count, as gensim does. The input-side update
is scaled by ``vectors_lockf``. Each step ends with ``index_add_`` of the summed updates.

When a row takes more than ``update_cap`` pair-updates in one step its summed update is scaled down to
``update_cap`` pairs' worth (see :func:`row_cap`); rows below the cap are untouched.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ...config import MAX_EXP
from .base import Head, Step


def row_cap(rows: torch.Tensor, weights: torch.Tensor, n_rows: int, cap: float | None) -> torch.Tensor | None:
    """Per-entry scale ``min(1, cap / n)``, ``n`` = pair-updates the entry's row gets this step: (N,).

    Sequential SGD lets each update of a row see the previous ones; a batched step sums them. When many
    agree (a small vocabulary, a very frequent word) the sum overshoots, so a row's summed step is capped
    at ``cap`` pair-updates' worth. Returns None when ``cap`` is None.
    """
    if not cap:
        return None
    counts = torch.bincount(rows, weights=weights, minlength=n_rows)                      # (V,)
    return (cap / counts.clamp_(min=cap)).to(torch.float32)[rows]                        # (N,)


def input_scale(ctx, mask, n_rows, lockf, cap):
    """(B*C,) factor on each context slot's input update: mask x lockf x row cap."""
    scale = mask.reshape(-1)
    if lockf is not None:
        scale = scale * lockf.index_select(0, ctx).squeeze(-1)
    capped = row_cap(ctx, mask.reshape(-1), n_rows, cap)
    return scale * capped if capped is not None else scale


def _loss(scores: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Σ -log σ(±score) over valid entries, in float64."""
    signed = torch.where(labels > 0.5, scores, -scores)
    return -(F.logsigmoid(signed) * valid).sum(dtype=torch.float64)


def _gradient(scores, labels, valid, lr):
    """gensim's ``(label - σ(s)) * lr``, zero where invalid or ``|s| >= MAX_EXP``."""
    return (labels - torch.sigmoid(scores)).mul_(valid).mul_(scores.abs() < MAX_EXP).mul_(lr)


def skipgram(syn0, contexts, mask, heads, lr, lockf=None, cap=None, loss=None):
    """One skip-gram step: ``contexts`` (B, C) int64, ``mask`` (B, C) float, ``heads`` list of Head."""
    B, C = contexts.shape
    D = syn0.shape[1]
    ctx = contexts.reshape(-1)                                                             # (B*C,)
    v = syn0.index_select(0, ctx).view(B, C, D)                                          # (B, C, D)
    in_scale = input_scale(ctx, mask, syn0.shape[0], lockf, cap).view(B, C, 1)          # (B, C, 1)
    grad_v = None
    for head in heads:
        P = head.rows.shape[1]
        rows = head.rows.reshape(-1)                                                       # (B*P,)
        u = head.table.index_select(0, rows).view(B, P, D)                               # (B, P, D)
        scores = torch.bmm(v, u.transpose(1, 2))                                           # (B, C, P)
        labels = head.labels[:, None, :]                                                   # (B|1, 1, P)
        valid = mask[:, :, None] * head.valid[:, None, :]                                  # (B, C, P)
        if loss is not None:
            loss += _loss(scores, labels, valid)
        g = _gradient(scores, labels, valid, lr)                                           # (B, C, P)
        out_scale = row_cap(rows, valid.sum(1).reshape(-1), head.table.shape[0], cap)
        g_out = g if out_scale is None else g * out_scale.view(B, 1, P)
        head.table.index_add_(0, rows, torch.bmm(g_out.transpose(1, 2), v).view(-1, D))  # (B*P, D)
        g *= in_scale
        grad_v = torch.bmm(g, u) if grad_v is None else grad_v.baddbmm_(g, u)              # (B, C, D)
    syn0.index_add_(0, ctx, grad_v.view(-1, D))


def cbow(syn0, contexts, mask, heads, lr, cbow_mean=True, lockf=None, cap=None, loss=None):
    """One CBOW step: the centre is predicted from the mean (or sum) of its context vectors."""
    B, C = contexts.shape
    D = syn0.shape[1]
    ctx = contexts.reshape(-1)                                                             # (B*C,)
    v = syn0.index_select(0, ctx).view(B, C, D)                                          # (B, C, D)
    count = mask.sum(1, keepdim=True)                                                      # (B, 1)
    inv_count = 1.0 / count.clamp(min=1.0)                                                 # (B, 1)
    h = torch.bmm(mask[:, None, :], v).squeeze(1)                                          # (B, D) sum
    if cbow_mean:
        h *= inv_count
    has_context = (count > 0).to(torch.float32)                                           # (B, 1)
    grad_h = torch.zeros_like(h)
    for head in heads:
        P = head.rows.shape[1]
        rows = head.rows.reshape(-1)                                                       # (B*P,)
        u = head.table.index_select(0, rows).view(B, P, D)                               # (B, P, D)
        scores = torch.bmm(u, h[:, :, None]).squeeze(-1)                                   # (B, P)
        valid = head.valid * has_context                                                   # (B, P)
        if loss is not None:
            loss += _loss(scores, head.labels, valid)
        g = _gradient(scores, head.labels, valid, lr)                                      # (B, P)
        grad_h += torch.bmm(g[:, None, :], u).squeeze(1)                                   # (B, D)
        out_scale = row_cap(rows, valid.reshape(-1), head.table.shape[0], cap)
        g_out = g if out_scale is None else g * out_scale.view(B, P)
        head.table.index_add_(0, rows, (g_out[:, :, None] * h[:, None, :]).view(-1, D))  # (B*P, D)
    if not cbow_mean:
        grad_h *= inv_count  # gensim divides the error over the summed window vectors
    in_scale = input_scale(ctx, mask, syn0.shape[0], lockf, cap).view(B, C, 1)          # (B, C, 1)
    syn0.index_add_(0, ctx, (grad_h[:, None, :] * in_scale).view(-1, D))                  # (B*C, D)


def noise_words(tables, centres: torch.Tensor, K: int, generator: torch.Generator) -> torch.Tensor:
    """(B, K) int64 noise words drawn from the alias table (see :func:`torch_w2v.vocab.alias_table`)."""
    threshold, alias, T = tables.noise
    r = torch.randint(0, len(alias) * T, (len(centres), K), device=centres.device, generator=generator)  # (B, K)
    i = r // T
    return torch.where(r - i * T < threshold[i], i, alias[i])                                      # (B, K)


def heads(cfg, weights, tables, centres: torch.Tensor, noise: torch.Tensor | None) -> list:
    """The output heads for ``centres`` (B,): negative sampling (``noise`` (B, K), or None to leave the noise
    columns for the fused step to fill) and/or hierarchical softmax."""
    out = []
    if cfg.negative:
        B, K = len(centres), cfg.negative
        labels = torch.zeros(1, K + 1, device=centres.device)                                  # (1, K+1)
        labels[:, 0] = 1.0
        valid = torch.ones(B, K + 1, device=centres.device)                                     # (B, K+1)
        if noise is not None:
            rows = torch.cat([centres[:, None], noise], 1)                                      # (B, K+1)
            valid[:, 1:] = (noise != centres[:, None]).to(torch.float32)   # gensim skips a draw == centre
        else:
            rows = torch.empty(B, K + 1, dtype=torch.int64, device=centres.device)
            rows[:, 0] = centres
        out.append(Head(weights.syn1neg, rows, labels, valid))
    if cfg.hs:
        t = tables
        out.append(Head(weights.syn1, t.points[centres], t.codes[centres], t.code_valid[centres]))
    return out


def train_batch(cfg, weights, tables, centres, contexts, mask, noise, lr, loss=None) -> None:
    """One step of the torch arithmetic on an explicit batch (``noise`` (B, K) int64 or None)."""
    hs = heads(cfg, weights, tables, centres, noise)
    if cfg.sg:
        skipgram(weights.syn0, contexts, mask, hs, lr, tables.lockf, cfg.update_cap, loss)
    else:
        cbow(weights.syn0, contexts, mask, hs, lr, bool(cfg.cbow_mean), tables.lockf, cfg.update_cap, loss)


class TorchStep(Step):
    """Batched torch ops on any device; takes host batches or device plans."""
    name = "torch"
    pipelines = ("host", "device")
    batched_updates = True

    @classmethod
    def default_pipeline(cls, device, cfg):
        return "device" if device.type == "cuda" else "host"

    def __call__(self, batch) -> int:
        """Train a host :class:`~torch_w2v.training.batching.Batch` or a device plan's batch at its learning
        rate; the pipeline counted its kept tokens (returns 0)."""
        centres, contexts, mask = batch.materialize()                                   # (B,), (B, C), (B, C)
        # int64 already (index_add_ is ~4x slower on int32 indices): no-ops on the CPU
        centres = centres.to(self.device, torch.int64, non_blocking=True)               # (B,)
        contexts = contexts.to(self.device, torch.int64, non_blocking=True)             # (B, C)
        mask = mask.to(self.device, non_blocking=True)                                  # (B, C)
        noise = noise_words(self.tables, centres, self.cfg.negative, self.generator) if self.cfg.negative else None
        train_batch(self.cfg, self.weights, self.tables, centres, contexts, mask, noise, batch.lr,
                    self.loss if self.cfg.compute_loss else None)
        return 0
