"""The Triton step: one kernel launch trains a whole batch of a device plan, Hogwild, as the fused C step.

Each program takes ``BLOCK_B`` centre slots of a :class:`~torch_w2v.training.device_batches.Plan` batch
and does everything a centre needs, reading the plan directly (no per-step host work, no gathered
``(B, C, D)`` tensors):

* its contexts: kept tokens at distance 1..w within the chunk and the sentence (``w`` the centre's
  reduced window), looked up in the plan;
* its output heads, loaded once per centre into a ``(BLOCK_B, P, D)`` tile and kept in registers for all
  its contexts: negative sampling (the centre and ``K`` noise words drawn in the kernel from the alias
  table with Triton's counter-based Philox generator, keyed by the chunk's seed and the centre's position,
  a draw equal to the centre skipped as gensim does) and/or hierarchical softmax (the Huffman path);
* gensim's arithmetic, as :mod:`.torch_step` and ``csrc/w2v_step.c``: ``g = (label - σ(f)) * lr``, zero
  where ``|f| >= MAX_EXP``; skip-gram scores each context's input vector against the heads, CBOW their
  mean (``cbow_mean=1``) or sum; the input update scaled by ``vectors_lockf``;
* the updates applied with ``tl.atomic_add``: each context's input row after that context, the heads'
  summed updates once at the end (Hogwild, as BlazingText and cusim do on GPUs);
* the update cap (``update_cap``, as the torch step's :func:`~.torch_step.row_cap`): on a GPU the whole
  batch runs at once, every program reading the weights before any has written, so a step is a batched
  step like the torch step's and a hot row (a frequent noise word) sums thousands of stale updates; a
  first kernel counts each row's pair-updates in the batch and the training kernel scales a row's
  updates by ``min(1, cap / count)`` (16,384-centre torch steps kept 16.6% analogies with a cap of 64 and
  fell to 7.3% with 1,024, docs/engine.md). Two launches and a zero-fill per step instead of one.

Within a program the heads are read before any of the centre's updates, so a step over rows that do not
repeat is exactly the torch step (``tests/test_triton_step.py`` checks this under Triton's interpreter,
every mode); rows shared between centres race as in gensim's threads. The loss, when asked for, is
summed per program and added to a float64 accumulator.

Without a GPU, the same kernel runs on the CPU under Triton's interpreter (``TRITON_INTERPRET=1`` set
before the first import of this module): that is how CI proves it, slowly. Launch shape: the interpreter
runs programs one by one at a cost per op, so it takes a whole batch per program; on CUDA ``BLOCK_B`` keeps
a program's tiles at about 8k floats (see :func:`block_centres`).
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import torch

from ...config import MAX_EXP
from .base import Step

INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"   # read by triton.jit when the kernel is defined
try:
    import triton
    import triton.language as tl
except ImportError as exc:  # the step reports itself unavailable, with the fix
    triton, tl, _IMPORT_ERROR = None, None, f"{exc}"
else:
    _IMPORT_ERROR = None

def _next_pow2(x: int) -> int:
    return 1 << max(0, int(x) - 1).bit_length()


def block_centres(device: torch.device, P: int, block_d: int, per_batch: int) -> int:
    """Centre slots per program: under the interpreter, a whole batch (its cost is per op, not per
    element: one program per step); on a GPU the ``(BLOCK_B, P, BLOCK_D)`` head tiles stay near 8k
    floats (64 registers a thread at 4 warps)."""
    if device.type != "cuda":
        return min(_next_pow2(per_batch), 4096)
    b = max(1, 8192 // max(P * block_d, 1))
    return max(1, min(64, 1 << (b.bit_length() - 1)))


if triton is not None:
    @triton.jit
    def _contexts(p, n, real, w_c, s_c, ids, sent, W: tl.constexpr, CP: tl.constexpr):
        """The context slots of the centres at ``p``: (valid (BB, CP), word ids (BB, CP) int64, slot (CP,))."""
        cw = tl.arange(0, CP)                                                           # (CP,) slot
        off = tl.where(cw < W, cw - W, cw - W + 1)                                      # -W..-1, 1..W
        cp = p[:, None] + off[None, :]                                                  # (BB, CP) int64
        ok = (real[:, None] & (cw[None, :] < 2 * W) & (cp >= 0) & (cp < n)
              & (tl.abs(off)[None, :] <= w_c[:, None]))
        cpc = tl.where(ok, cp, 0)
        ok = ok & (tl.load(sent + cpc, mask=ok, other=-2) == s_c[:, None])              # same sentence
        cid = tl.load(ids + cpc, mask=ok, other=0).to(tl.int64)
        return ok, cid, cw

    @triton.jit
    def _noise(seed, counter, thr, alias, V, T):
        """Alias-table draws keyed by ``counter`` (any shape, int64): Philox, two 32-bit words a draw."""
        r0, r1, _r2, _r3 = tl.randint4x(seed, counter)
        # 32-bit unsigned remainders (V, T < 2**31): a 64-bit one is a long emulated routine on a GPU
        i = (r0.to(tl.uint32, bitcast=True) % V.to(tl.uint32)).to(tl.int64)
        u = (r1.to(tl.uint32, bitcast=True) % T.to(tl.uint32)).to(tl.int64)
        return tl.where(u < tl.load(thr + i), i, tl.load(alias + i))

    @triton.jit
    def _draw_kernel(out, thr, alias, V, T, seed, n, K: tl.constexpr, KP: tl.constexpr, BLOCK: tl.constexpr):
        """``out`` (n, K): the noise words the step kernel draws for plan positions 0..n-1."""
        pc = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
        k = tl.arange(0, KP)
        noise = _noise(seed, pc[:, None] * KP + k[None, :], thr, alias, V, T)         # (BLOCK, KP)
        m = (pc < n)[:, None] & (k[None, :] >= 1) & (k[None, :] <= K)
        tl.store(out + pc[:, None] * K + k[None, :] - 1, noise, mask=m)

    @triton.jit
    def _centres(ids, sent, wsize, n_ptr, t, n_batches, per_batch, BLOCK_B: tl.constexpr):
        """This program's centre slots of batch ``t``: slot, plan position, n, real, word, sentence, window."""
        j = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)                          # (BB,) batch slot
        p = t + j.to(tl.int64) * n_batches                                              # (BB,) plan position
        n = tl.load(n_ptr)
        real = (j < per_batch) & (p < n)
        pc = tl.where(real, p, 0)
        centre = tl.load(ids + pc, mask=real, other=0).to(tl.int64)
        s_c = tl.load(sent + pc, mask=real, other=-1)
        w_c = tl.load(wsize + pc, mask=real, other=0)
        return j, p, n, real, centre, s_c, w_c

    @triton.jit
    def _ns_rows(j, p, real, centre, thr, alias, given_noise, V, T, seed, K: tl.constexpr, KP: tl.constexpr,
                 DRAW: tl.constexpr):
        """Negative-sampling rows (BB, KP): the centre, then K noise words (drawn, or given); and validity
        (a draw equal to the centre is skipped, as gensim does)."""
        k = tl.arange(0, KP)
        if DRAW:
            noise = _noise(seed, tl.where(real, p, 0)[:, None] * KP + k[None, :], thr, alias, V, T)
        else:
            nk = real[:, None] & (k[None, :] >= 1) & (k[None, :] <= K)
            noise = tl.load(given_noise + j[:, None].to(tl.int64) * K + k[None, :] - 1, mask=nk, other=0)
        rows = tl.where(k[None, :] == 0, centre[:, None], noise)
        valid = real[:, None] & (k[None, :] <= K) & ((k[None, :] == 0) | (rows != centre[:, None]))
        return rows, valid

    @triton.jit
    def _hs_rows(real, centre, points, code_valid, L, LP: tl.constexpr):
        """Hierarchical-softmax rows (BB, LP): the inner nodes of the centre's Huffman path, their validity,
        and the (V, L) offsets and mask to read the labels with."""
        ll = tl.arange(0, LP)
        hm = real[:, None] & (ll[None, :] < L)
        hoff = centre[:, None] * L + ll[None, :]
        rows = tl.load(points + hoff, mask=hm, other=0)
        valid = hm & (tl.load(code_valid + hoff, mask=hm, other=0.0) > 0.5)
        return rows, valid, hoff, hm

    @triton.jit
    def _cap_scale(counts, rows, mask, cap):
        """``min(1, cap / count)`` per entry of ``rows`` (any shape, int64 offsets into ``counts``): the update
        cap's scale for rows counted by :func:`_count_kernel` (the torch step's ``row_cap``)."""
        return cap / tl.maximum(tl.load(counts + rows, mask=mask, other=1.0), cap)

    @triton.jit
    def _count_kernel(counts, ids, sent, wsize, n_ptr, thr, alias, given_noise, points, code_valid,
                      t, n_batches, per_batch, V, T, L, seed,
                      W: tl.constexpr, K: tl.constexpr, KP: tl.constexpr, LP: tl.constexpr, CP: tl.constexpr,
                      BLOCK_B: tl.constexpr, SG: tl.constexpr, NS: tl.constexpr, HS: tl.constexpr,
                      DRAW: tl.constexpr):
        """Pair-updates per row in batch ``t`` of a plan, for the update cap (the torch step's ``row_cap``
        counts). Its parameters are :func:`_w2v_kernel`'s of the same names; it writes only

        counts : (3, V) float32, zeroed by the caller
            Row 0: the pair-updates of each input row (one per context slot); row 1: of each
            negative-sampling output row (the centre's contexts, or 1 in CBOW, per draw); row 2: of each
            Huffman node.
        """
        j, p, n, real, centre, s_c, w_c = _centres(ids, sent, wsize, n_ptr, t, n_batches, per_batch, BLOCK_B)
        ok, cid, cw = _contexts(p, n, real, w_c, s_c, ids, sent, W, CP)                  # (BB, CP)
        tl.atomic_add(counts + cid, tl.where(ok, 1.0, 0.0), mask=ok, sem="relaxed")
        n_ctx = tl.sum(ok.to(tl.float32), axis=1)                                       # (BB,)
        uses = n_ctx if SG else tl.where(n_ctx > 0.0, 1.0, 0.0)   # pairs per head row: contexts, or 1 (CBOW)
        if NS:
            nrows, nvalid = _ns_rows(j, p, real, centre, thr, alias, given_noise, V, T, seed, K, KP, DRAW)
            tl.atomic_add(counts + V + nrows, tl.zeros((BLOCK_B, KP), tl.float32) + uses[:, None], mask=nvalid,
                          sem="relaxed")
        if HS:
            hrows, hvalid, _hoff, _hm = _hs_rows(real, centre, points, code_valid, L, LP)
            tl.atomic_add(counts + 2 * V + hrows, tl.zeros((BLOCK_B, LP), tl.float32) + uses[:, None], mask=hvalid,
                          sem="relaxed")

    @triton.jit
    def _head(X, x, valid, label, lr, max_exp, LOSS: tl.constexpr):
        """Inputs ``x`` (BB, BD) against head tiles ``X`` (BB, P, BD) by gensim's rule: the input-side update
        (BB, BD), the heads' update (BB, P, BD) and the loss (BB,) (zero unless LOSS)."""
        f = tl.sum(X * x[:, None, :], axis=2)                                           # (BB, P)
        fc = tl.minimum(tl.maximum(f, -max_exp), max_exp)   # g is 0 past max_exp; keeps exp() finite
        g = (label - 1.0 / (1.0 + tl.exp(-fc))) * lr
        g = tl.where(valid & (tl.abs(f) < max_exp), g, 0.0)
        loss = tl.sum(g, axis=1) * 0.0                                                  # (BB,) zeros
        if LOSS:
            signed = tl.where(label > 0.5, f, -f)
            terms = tl.maximum(-signed, 0.0) + tl.log(1.0 + tl.exp(-tl.abs(signed)))    # -log σ(signed)
            loss = tl.sum(tl.where(valid, terms, 0.0), axis=1)
        return tl.sum(g[:, :, None] * X, axis=1), g[:, :, None] * x[:, None, :], loss

    @triton.jit
    def _w2v_kernel(syn0, syn1neg, syn1, lockf,                     # weights (V, D) float32; lockf (V,)
                    ids, sent, wsize, n_ptr,                        # the plan: (N,) int32 x3, (1,) int64
                    thr, alias, given_noise,                        # alias table (V,) int64; (B, K) int64
                    points, codes, code_valid,                      # Huffman paths (V, L)
                    loss_ptr, counts,                               # (1,) float64; (3, V) float32
                    t, n_batches, per_batch, D, V, T, L, seed, lr, max_exp, cap,
                    W: tl.constexpr, K: tl.constexpr, KP: tl.constexpr, LP: tl.constexpr, CP: tl.constexpr,
                    BLOCK_B: tl.constexpr, BLOCK_D: tl.constexpr, SG: tl.constexpr, CBOW_MEAN: tl.constexpr,
                    NS: tl.constexpr, HS: tl.constexpr, LOCKF: tl.constexpr, LOSS: tl.constexpr,
                    DRAW: tl.constexpr, CAP: tl.constexpr):
        """Train ``BLOCK_B`` centre slots of batch ``t`` of a plan: program ``i`` takes slots
        ``i * BLOCK_B ..``, Hogwild (weights updated with atomics as each program goes).

        Weights and tables (read, and the weights updated in place):

        syn0 : (V, D) float32, the input vectors
        syn1neg : (V, D) float32, negative sampling's output rows (any float32 tensor when NS is off)
        syn1 : (V_nodes, D) float32, hierarchical softmax's inner nodes (any float32 tensor when HS is off)
        lockf : (V,) float32, the input update's scale per word (read when LOCKF)
        thr, alias : (V,) int64, the noise distribution as an alias table of total ``T``
        given_noise : (per_batch, K) int64, noise words to use instead of drawing them (read unless DRAW)
        points : (V, L) int64, each word's Huffman inner nodes; ``codes`` (V, L) float32 their labels
            ``1 - code``; ``code_valid`` (V, L) float32, 1 where the path has a node (read when HS)

        The plan (:class:`~torch_w2v.training.device_batches.Plan`):

        ids, sent, wsize : (N,) int32, the kept tokens' word ids, sentence numbers and reduced windows
        n_ptr : (1,) int64, the kept tokens (slots at or past it are empty)
        t : int, the batch: its centres are at plan positions ``t + j * n_batches``, ``j < per_batch``
        n_batches, per_batch : int, the plan's batches and centre slots per batch

        Outputs and scalars:

        loss_ptr : (1,) float64, the summed loss, added to when LOSS
        counts : (3, V) float32, the pair-updates per row of :func:`_count_kernel` (read when CAP)
        D, V, T, L : int, vector size, vocabulary, alias-table total, Huffman path length
        seed : int, keys the noise draws with the centre's plan position (Philox)
        lr, max_exp, cap : float, the learning rate, gensim's score limit (6) and the update cap

        Compile-time shapes and switches:

        W : the largest window; CP = next_pow2(2 W) context slots per centre
        K : noise words per centre; KP = next_pow2(K + 1) head rows (the centre and its noise words)
        LP : next_pow2(L) Huffman rows; BLOCK_D = next_pow2(D)
        BLOCK_B : centre slots per program (:func:`block_centres`)
        SG, CBOW_MEAN, NS, HS, LOCKF, LOSS, CAP : the mode; DRAW: draw the noise (else read given_noise)

        Steps: 1. the program's centres; 2. their output rows, loaded once into (BB, P, BD) tiles;
        3. their contexts; 4. skip-gram: each context's vector against the heads, its row updated after it /
        CBOW: the contexts' mean or sum against the heads, every context row updated; 5. the update cap;
        6. the heads' summed updates; 7. the loss.
        """
        # 1. the program's centres
        j, p, n, real, centre, s_c, w_c = _centres(ids, sent, wsize, n_ptr, t, n_batches, per_batch, BLOCK_B)
        d = tl.arange(0, BLOCK_D)
        dm = d < D
        loss = tl.zeros((BLOCK_B,), tl.float32)

        # 2. negative sampling: the centre (label 1) and K noise words (label 0), loaded once: (BB, KP, BD)
        if NS:
            nrows, nvalid = _ns_rows(j, p, real, centre, thr, alias, given_noise, V, T, seed, K, KP, DRAW)
            nlabel = tl.where(tl.arange(0, KP) == 0, 1.0, 0.0)[None, :]                 # (1, KP)
            nptr = syn1neg + nrows[:, :, None] * D + d[None, None, :]
            nmask = nvalid[:, :, None] & dm[None, None, :]
            U = tl.load(nptr, mask=nmask, other=0.0)                                    # (BB, KP, BD)
            dU = tl.zeros((BLOCK_B, KP, BLOCK_D), tl.float32)
        if HS:  # the inner nodes of the centre's Huffman path, labels 1 - code: (BB, LP, BD)
            hrows, hvalid, hoff, hm = _hs_rows(real, centre, points, code_valid, L, LP)
            hlabel = tl.load(codes + hoff, mask=hm, other=0.0)
            hptr = syn1 + hrows[:, :, None] * D + d[None, None, :]
            hmask = hvalid[:, :, None] & dm[None, None, :]
            H = tl.load(hptr, mask=hmask, other=0.0)                                    # (BB, LP, BD)
            dH = tl.zeros((BLOCK_B, LP, BLOCK_D), tl.float32)

        # 3. the contexts: (BB, CP)
        ok, cid, cw = _contexts(p, n, real, w_c, s_c, ids, sent, W, CP)
        # 4. skip-gram: each context's input vector against the heads; its row updated after it (5: capped)
        if SG:
            for o in range(0, 2 * W):
                ok_o = tl.sum(tl.where((cw[None, :] == o) & ok, 1, 0), axis=1) > 0             # (BB,)
                cid_o = tl.sum(tl.where(cw[None, :] == o, cid, 0), axis=1)                     # (BB,)
                vptr = syn0 + cid_o[:, None] * D + d[None, :]
                vmask = ok_o[:, None] & dm[None, :]
                v = tl.load(vptr, mask=vmask, other=0.0)                                # (BB, BD)
                work = tl.zeros((BLOCK_B, BLOCK_D), tl.float32)
                if NS:
                    w_in, d_out, l_out = _head(U, v, nvalid & ok_o[:, None], nlabel, lr, max_exp, LOSS)
                    work, dU, loss = work + w_in, dU + d_out, loss + l_out
                if HS:
                    w_in, d_out, l_out = _head(H, v, hvalid & ok_o[:, None], hlabel, lr, max_exp, LOSS)
                    work, dH, loss = work + w_in, dH + d_out, loss + l_out
                if LOCKF:
                    work = work * tl.load(lockf + cid_o, mask=ok_o, other=0.0)[:, None]
                if CAP:
                    work = work * _cap_scale(counts, cid_o, ok_o, cap)[:, None]
                tl.atomic_add(vptr, work, mask=vmask, sem="relaxed")
        # 4. CBOW: the mean (or sum) of the context vectors against the heads, all contexts at once (5: capped)
        else:
            vptr = syn0 + cid[:, :, None] * D + d[None, None, :]
            vmask = ok[:, :, None] & dm[None, None, :]
            h = tl.sum(tl.load(vptr, mask=vmask, other=0.0), axis=1)                    # (BB, BD)
            count = tl.sum(ok.to(tl.float32), axis=1)                                   # (BB,)
            has = count > 0.0
            inv = 1.0 / tl.maximum(count, 1.0)                                          # (BB,)
            if CBOW_MEAN:
                h = h * inv[:, None]
            work = tl.zeros((BLOCK_B, BLOCK_D), tl.float32)
            if NS:
                w_in, d_out, l_out = _head(U, h, nvalid & has[:, None], nlabel, lr, max_exp, LOSS)
                work, dU, loss = work + w_in, dU + d_out, loss + l_out
            if HS:
                w_in, d_out, l_out = _head(H, h, hvalid & has[:, None], hlabel, lr, max_exp, LOSS)
                work, dH, loss = work + w_in, dH + d_out, loss + l_out
            if CBOW_MEAN == 0:
                work = work * inv[:, None]  # gensim divides the error over the summed context vectors
            upd = tl.zeros((BLOCK_B, CP, BLOCK_D), tl.float32) + work[:, None, :]         # (BB, CP, BD)
            if LOCKF:
                upd = upd * tl.load(lockf + cid, mask=ok, other=0.0)[:, :, None]
            if CAP:
                upd = upd * _cap_scale(counts, cid, ok, cap)[:, :, None]
            tl.atomic_add(vptr, upd, mask=vmask, sem="relaxed")

        if NS:
            if CAP:  # 6. the heads' summed updates, once per centre
                dU = dU * _cap_scale(counts, V + nrows, nvalid, cap)[:, :, None]
            tl.atomic_add(nptr, dU, mask=nmask, sem="relaxed")
        if HS:
            if CAP:
                dH = dH * _cap_scale(counts, 2 * V + hrows, hvalid, cap)[:, :, None]
            tl.atomic_add(hptr, dH, mask=hmask, sem="relaxed")
        if LOSS:  # 7.
            tl.atomic_add(loss_ptr, tl.sum(loss, axis=0).to(tl.float64), sem="relaxed")


@dataclass(frozen=True)
class Launch:
    """One training step's kernel launches, as :func:`launch` makes them: the grid, then each kernel with
    the keyword arguments it is called with (``num_warps`` among them). The kernel report
    (``benchmarks/kernel_report.py``) compiles exactly these."""
    grid: tuple
    kernels: tuple           # ((jit function, {name: argument}), ...): the count kernel first when capped


def plan_launch(cfg, weights, tables, batch, lr: float, seed: int, loss: torch.Tensor, noise=None,
                block_b: int | None = None, counts: torch.Tensor | None = None,
                device: torch.device | None = None) -> Launch:
    """The :class:`Launch` of one step (see :func:`launch`); ``device`` sets the launch shape
    (:func:`block_centres`: default the weights' device; the kernel report passes CUDA)."""
    plan, syn0 = batch.plan, weights.syn0
    V, D = syn0.shape
    K = cfg.negative
    tensors = kernel_tensors(cfg, weights, tables, plan, noise)
    KP, LP, CP, BLOCK_D = _next_pow2(K + 1), tensors["LP"], _next_pow2(2 * plan.window), _next_pow2(D)
    P = (KP if K else 0) + (LP if cfg.hs else 0)
    BB = block_b or block_centres(device or syn0.device, P, BLOCK_D, plan.per_batch)
    cap = cfg.update_cap
    if cap and counts is None:
        counts = torch.empty(3, V, dtype=torch.float32, device=syn0.device)
    # what both kernels read, by name
    counted = ("ids", "sent", "wsize", "n_ptr", "thr", "alias", "given_noise", "points", "code_valid", "V", "T", "L",
               "KP", "LP")
    shared = dict({name: tensors[name] for name in counted}, t=batch.t, n_batches=plan.n_batches,
                  per_batch=plan.per_batch, seed=seed, W=plan.window, K=K, CP=CP, BLOCK_B=BB, SG=bool(cfg.sg),
                  NS=bool(K), HS=bool(cfg.hs), DRAW=noise is None, num_warps=4)
    train = dict(
        {name: tensors[name] for name in ("syn0", "syn1neg", "syn1", "lockf", "codes", "D")}, **shared,
        loss_ptr=loss.reshape(1), counts=counts if cap else syn0, lr=float(lr), max_exp=MAX_EXP, cap=float(cap or 0),
        BLOCK_D=BLOCK_D, CBOW_MEAN=bool(cfg.cbow_mean), LOCKF=tables.lockf is not None,
        LOSS=bool(cfg.compute_loss), CAP=bool(cap))
    kernels = ((_count_kernel, dict(counts=counts, **shared)),) if cap else ()
    return Launch((triton.cdiv(plan.per_batch, BB),), kernels + ((_w2v_kernel, train),))


def kernel_tensors(cfg, weights, tables, plan, noise=None) -> dict:
    """The weights, tables and plan arrays every training kernel reads, by parameter name, with their sizes
    (``D``, ``V``, ``T``, ``L``, ``KP``, ``LP``); a tensor a mode does not read is stood in for by one of the
    same dtype (``syn0`` or the plan's ids), never read."""
    syn0 = weights.syn0
    dummy_f, dummy_i = syn0, plan.ids
    K = cfg.negative
    thr, alias, T = tables.noise if K else (dummy_i, dummy_i, 1)
    hs = tables.points is not None and cfg.hs
    L = tables.points.shape[1] if hs else 1
    return dict(syn0=syn0, syn1neg=weights.syn1neg if K else dummy_f, syn1=weights.syn1 if cfg.hs else dummy_f,
                lockf=tables.lockf if tables.lockf is not None else dummy_f, ids=plan.ids, sent=plan.sent,
                wsize=plan.wsize, n_ptr=plan.n.reshape(1), thr=thr, alias=alias,
                given_noise=noise if noise is not None else dummy_i, points=tables.points if hs else dummy_i,
                codes=tables.codes if hs else dummy_f, code_valid=tables.code_valid if hs else dummy_f,
                D=syn0.shape[1], V=syn0.shape[0], T=T, L=L, KP=_next_pow2(K + 1), LP=_next_pow2(L))


def launch(cfg, weights, tables, batch, lr: float, seed: int, loss: torch.Tensor, noise=None,
           block_b: int | None = None, counts: torch.Tensor | None = None) -> None:
    """Train one :class:`~torch_w2v.training.device_batches.PlanBatch` in place: one kernel launch, or three
    with ``cfg.update_cap`` (zero the counts, count the pair-updates per row, train).

    ``noise`` (per_batch, K) int64 replaces the in-kernel draws (tests compare with the torch step);
    ``seed`` keys the draws otherwise. ``loss`` is a () float64 accumulator (written when
    ``cfg.compute_loss``); ``counts`` a (3, V) float32 buffer for the cap (allocated when None).
    """
    step = plan_launch(cfg, weights, tables, batch, lr, seed, loss, noise, block_b, counts)
    for kernel, kwargs in step.kernels:
        if kernel is _count_kernel:
            kwargs["counts"].zero_()
        kernel[step.grid](**kwargs)


def draw_noise(threshold: torch.Tensor, alias: torch.Tensor, T: int, seed: int, n: int, K: int) -> torch.Tensor:
    """(n, K) int64: the noise words the step kernel draws for plan positions 0..n-1 under ``seed``
    (before skipping a draw equal to the centre). For tests and inspection."""
    out = torch.empty(n, K, dtype=torch.int64, device=threshold.device)
    block = 1024
    _draw_kernel[(triton.cdiv(n, block),)](out, threshold, alias, len(alias), T, seed, n, K=K,
                                           KP=_next_pow2(K + 1), BLOCK=block)
    return out


def flat_lockf(tables):
    """``tables`` with ``lockf`` as the (V,) vector the kernel reads (the other steps take (V, 1))."""
    if tables.lockf is None:
        return tables
    return dataclasses.replace(tables, lockf=tables.lockf.reshape(-1).contiguous())


class TritonStep(Step):
    """One Triton kernel per batch of a device plan (see the module docstring)."""
    name = "triton"
    pipelines = ("device",)
    devices = ("cuda", "cpu")
    large_batches = True
    batched_updates = True

    @classmethod
    def unavailable(cls, device):
        reason = super().unavailable(device)
        if reason is not None:
            return reason
        if triton is None:
            return f"Triton is not installed ({_IMPORT_ERROR}); pip install triton."
        if device.type == "cuda" and not INTERPRET:
            return None
        if device.type == "cpu" and INTERPRET:
            return None
        if device.type == "cpu":
            return ("on the CPU the Triton step runs only under Triton's interpreter (set TRITON_INTERPRET=1 "
                    "before starting Python; slow, for tests); use engine='fused' or engine='torch'.")
        return f"the Triton step runs on CUDA (or the CPU under TRITON_INTERPRET=1), not on {device.type}."

    def __init__(self, cfg, weights, tables, device, threads):
        super().__init__(cfg, weights, tables, device, threads)
        for name, tensor in (("syn0", weights.syn0), ("syn1neg", weights.syn1neg), ("syn1", weights.syn1)):
            if tensor is not None and not (tensor.is_contiguous() and tensor.dtype == torch.float32
                                           and tensor.device.type == device.type):
                raise ValueError(f"the Triton step needs {name} as a contiguous float32 tensor on {device}, "
                                 f"got {tensor.dtype} on {tensor.device} (contiguous={tensor.is_contiguous()}).")
        self.tables = flat_lockf(tables)
        self.seed = 0
        self.counts = (torch.empty(3, weights.syn0.shape[0], dtype=torch.float32, device=device)
                       if cfg.update_cap else None)  # the update cap's per-row counts, reused every step

    def begin_chunk(self, generator):
        super().begin_chunk(generator)
        self.seed = generator.initial_seed() % (2**31 - 1)  # no device read: the chunk's key, not a draw

    def __call__(self, batch) -> int:
        """Train a device plan's batch at its learning rate; the pipeline counts its kept tokens (returns 0)."""
        launch(self.cfg, self.weights, self.tables, batch, batch.lr, self.seed, self.loss, counts=self.counts)
        return 0
