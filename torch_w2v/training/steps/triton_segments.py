"""The segment kernel: each Triton program trains a run of consecutive centres of a device plan, one centre
after another, with its threads across the vector dimension (the layout of FULL-W2V and BlazingText).

Where :mod:`.triton_step` gives a program ``BLOCK_B`` centres far apart in the text and holds all their
output rows at once (``(BLOCK_B, P, D)`` tiles: 168-255 registers a thread, spills), a program here holds
at most one centre's ``K + 1`` negative-sampling rows and streams everything else through small tiles:

1. the segment: ``SEG`` consecutive positions of the plan (batch ``t`` holds segments
   ``t, t + n_batches, ...``, far apart in the text, as :mod:`.device_batches` strides centres);
2. per centre, in text order, its negative-sampling rows (the centre and ``K`` noise words drawn in the
   kernel from the alias table, as the batch kernel draws them, keyed by the centre's plan position):
   *held* (``HOLD``: when ``(K + 1) x BLOCK_D`` is at most :data:`HOLD_ELEMENTS` floats) they are loaded
   once, trained against every context and written back once, their updates summed, at the centre's end;
   otherwise they are *streamed*, ``NT`` rows at a time for each context, each tile updated right away;
3. the centre's Huffman path (hierarchical softmax) is always streamed, ``HP`` nodes at a time for each
   context, each node's row updated right away: gensim's own order within a pair;
4. skip-gram: each context of the centre's reduced window (a loop of ``2 * w`` slots, not ``2 * window``)
   against those rows, its input row updated right after it (in memory, or with ``RING`` in the window of
   input rows held on chip, each written back once when it leaves the window); CBOW: the contexts' mean (or
   sum) against them, then every context row updated.

Within a program a centre sees every update of the centres before it (as gensim's threads and the fused C
step do); programs race on shared rows (Hogwild; the atomics are relaxed: no ordering is needed, and a
relaxed atomic whose result is unused is a fire-and-forget reduction on the GPU). So a step equals the
sequential reference when its programs run one after another, as under Triton's interpreter
(``tests/test_triton_segments.py``: held, streamed, ring). No update cap: a program applies one centre's
updates at a time, like the fused step.

Registers (``benchmarks/kernel_report.py``, sm_90, 8 warps from D=33 on): the held rows cost
``2 x (K + 1) x BLOCK_D / 256`` a thread, the tiles a few more; see docs/performance.md for the table.
"""
from __future__ import annotations

import os

import torch

from ...config import MAX_EXP
from .triton_step import _IMPORT_ERROR, INTERPRET, _next_pow2, flat_lockf, kernel_tensors, triton
from .triton_step import TritonStep as _BatchStep

if triton is not None:
    import triton.language as tl

    from .triton_step import _noise

    @triton.jit
    def _segment_head(X, x, valid, label, lr, max_exp, LOSS: tl.constexpr):
        """Input ``x`` (BD,) against the head rows ``X`` (P, BD): the input-side update (BD,), the rows'
        update (P, BD) and the loss (a scalar, 0 unless LOSS), by gensim's rule."""
        f = tl.sum(X * x[None, :], axis=1)                                            # (P,)
        fc = tl.minimum(tl.maximum(f, -max_exp), max_exp)
        g = (label - 1.0 / (1.0 + tl.exp(-fc))) * lr
        g = tl.where(valid & (tl.abs(f) < max_exp), g, 0.0)
        loss = tl.sum(g, axis=0) * 0.0
        if LOSS:
            signed = tl.where(label > 0.5, f, -f)
            terms = tl.maximum(-signed, 0.0) + tl.log(1.0 + tl.exp(-tl.abs(signed)))
            loss = tl.sum(tl.where(valid, terms, 0.0), axis=0)
        return tl.sum(g[:, None] * X, axis=0), g[:, None] * x[None, :], loss

    @triton.jit
    def _noise_rows(k, pc, centre, ok, seed, thr, alias, V, T, given_noise, K: tl.constexpr, KP: tl.constexpr,
                    DRAW: tl.constexpr):
        """Output slots ``k`` (any (n,) of 0..KP-1) of the centre at plan position ``pc``: slot 0 the centre,
        slots 1..K its noise words (drawn keyed by ``pc * KP + k``, or read from ``given_noise``); their rows,
        whether each is trained (``ok``, a slot of 0..K, a noise word other than the centre), their labels."""
        if DRAW:
            noise = _noise(seed, pc * KP + k, thr, alias, V, T)
        else:
            nk = tl.where(ok, (k >= 1) & (k <= K), False)
            noise = tl.load(given_noise + pc * K + k - 1, mask=nk, other=0)
        rows = tl.where(k == 0, centre, noise)
        valid = tl.where(ok, (k <= K) & ((k == 0) | (rows != centre)), False)
        return rows, valid, tl.where(k == 0, 1.0, 0.0)

    @triton.jit
    def _noise_pass(syn1neg, x, ok, pc, centre, seed, thr, alias, V, T, given_noise, D, d, dm, lr, max_exp,
                    K: tl.constexpr, KP: tl.constexpr, NT: tl.constexpr, DRAW: tl.constexpr, LOSS: tl.constexpr):
        """Input ``x`` (BD,) against the centre's K + 1 output rows (if ``ok``), ``NT`` at a time, each tile's
        rows updated right away (gensim's order within a pair), when they are too many to hold: the input-side
        update (BD,), the loss."""
        work = tl.zeros_like(x)
        loss = tl.sum(tl.zeros((NT,), tl.float32), axis=0)
        for k0 in range(0, K + 1, NT):
            rows, valid, label = _noise_rows(k0 + tl.arange(0, NT), pc, centre, ok, seed, thr, alias, V, T,
                                             given_noise, K, KP, DRAW)
            ptr = syn1neg + rows[:, None] * D + d[None, :]
            mask = valid[:, None] & dm[None, :]
            X = tl.load(ptr, mask=mask, other=0.0)                                      # (NT, BD)
            w_in, d_out, l_out = _segment_head(X, x, valid, label, lr, max_exp, LOSS)
            tl.atomic_add(ptr, d_out, mask=mask, sem="relaxed")
            work, loss = work + w_in, loss + l_out
        return work, loss

    @triton.jit
    def _path(syn1, points, codes, code_valid, centre, x, ok, L, D, d, dm, lr, max_exp, HP: tl.constexpr,
              LOSS: tl.constexpr):
        """Input ``x`` (BD,) through the Huffman path of ``centre`` (if ``ok``), ``HP`` nodes at a time, each
        node's row updated right away (gensim's order within a pair): the input-side update (BD,), the loss."""
        hh = tl.arange(0, HP)
        work = tl.zeros_like(x)
        loss = tl.sum(tl.zeros((HP,), tl.float32), axis=0)
        for h0 in range(0, L, HP):
            hm = tl.where(ok, h0 + hh < L, False)
            hoff = centre * L + h0 + hh
            hrows = tl.load(points + hoff, mask=hm, other=0)
            hvalid = hm & (tl.load(code_valid + hoff, mask=hm, other=0.0) > 0.5)
            hptr = syn1 + hrows[:, None] * D + d[None, :]
            hmask = hvalid[:, None] & dm[None, :]
            H = tl.load(hptr, mask=hmask, other=0.0)                                    # (HP, BD)
            w_in, d_out, l_out = _segment_head(H, x, hvalid, tl.load(codes + hoff, mask=hm, other=0.0), lr,
                                               max_exp, LOSS)
            tl.atomic_add(hptr, d_out, mask=hmask, sem="relaxed")
            work, loss = work + w_in, loss + l_out
        return work, loss

    @triton.jit
    def _ring_leave(here, R, R0, rid, rok, rtouch, syn0, D, d, dm):
        """The change of ring slot ``here`` (a (WP,) one-hot) written to its row, once, with an atomic (if the
        slot holds a row that was trained)."""
        delta = tl.sum(tl.where(here[:, None], R - R0, 0.0), axis=0)                    # (BD,)
        word = tl.sum(tl.where(here, rid, 0), axis=0)
        write = tl.sum(tl.where(here & rok & rtouch, 1, 0), axis=0) > 0
        tl.atomic_add(syn0 + word * D + d, delta, mask=tl.where(write, dm, False), sem="relaxed")

    @triton.jit
    def _ring_enter(q, base, live, n, R, R0, rid, rsent, rok, rtouch, slots, syn0, ids, sent, D, d, dm,
                    WP: tl.constexpr):
        """Plan position ``q`` enters its ring slot ``(q - base) % WP``, whose previous occupant leaves."""
        here = slots == (q - base) % WP                                                  # (WP,)
        _ring_leave(here, R, R0, rid, rok, rtouch, syn0, D, d, dm)
        ok = live & (q >= 0) & (q < n)
        qc = tl.where(ok, q, 0)
        word = tl.load(ids + qc, mask=ok, other=0).to(tl.int64)
        row = tl.load(syn0 + word * D + d, mask=tl.where(ok, dm, False), other=0.0)    # (BD,)
        R = tl.where(here[:, None], row[None, :], R)
        R0 = tl.where(here[:, None], row[None, :], R0)
        rid = tl.where(here, word, rid)
        rsent = tl.where(here, tl.load(sent + qc, mask=ok, other=-1), rsent)
        rok = tl.where(here, ok, rok)
        rtouch = tl.where(here, False, rtouch)
        return R, R0, rid, rsent, rok, rtouch

    @triton.jit
    def _offset(o, w_c):
        """The offset of context slot ``o`` (0..2w_c-1) from its centre: -w_c..-1, then 1..w_c."""
        return tl.where(o < w_c, o - w_c, o - w_c + 1)

    @triton.jit
    def _context(o, p, n, real, w_c, s_c, ids, sent):
        """Context slot ``o`` (0..2w_c-1: offsets -w_c..-1, 1..w_c) of the centre at plan position ``p`` with
        the reduced window ``w_c``: whether it is a context (inside the chunk and sentence ``s_c``), its word."""
        cp = p + _offset(o, w_c)
        ok = real & (cp >= 0) & (cp < n)
        cpc = tl.where(ok, cp, 0)
        ok = ok & (tl.load(sent + cpc, mask=ok, other=-2) == s_c)
        return ok, tl.load(ids + cpc, mask=ok, other=0).to(tl.int64)

    @triton.jit
    def _segment_kernel(syn0, syn1neg, syn1, lockf, ids, sent, wsize, n_ptr, thr, alias, given_noise,
                        points, codes, code_valid, loss_ptr,
                        t, n_batches, per_batch, D, V, T, L, seed, lr, max_exp,
                        SEG: tl.constexpr, K: tl.constexpr, KP: tl.constexpr, HOLD: tl.constexpr, NT: tl.constexpr,
                        HP: tl.constexpr, RING: tl.constexpr, W: tl.constexpr, WP: tl.constexpr,
                        BLOCK_D: tl.constexpr, SG: tl.constexpr, CBOW_MEAN: tl.constexpr, NS: tl.constexpr,
                        HS: tl.constexpr, LOCKF: tl.constexpr, LOSS: tl.constexpr, DRAW: tl.constexpr):
        """Train segment ``t + program_id * n_batches`` of a plan: ``SEG`` consecutive centres in order.

        The parameters are :func:`.triton_step._w2v_kernel`'s of the same names (weights (V, D) float32,
        the plan's (N,) int32 ids, sentence numbers and windows, ``n_ptr`` (1,) int64 kept tokens, the
        alias table, ``given_noise`` (N, K) int64 per plan position when not DRAW, the Huffman tables, the
        (1,) float64 loss), except that ``per_batch`` counts segments, and:

        SEG : consecutive plan positions a program trains
        RING : skip-gram only: the input rows of the window ``[p - W, p + W]`` held on chip in ``WP`` slots
            (``WP >= 2W + 1``), each read once when it enters and its change written once when it leaves
        """
        # (a scalar condition joins a vector mask through tl.where: `scalar & vector` is refused by the
        # interpreter)
        # 1. the segment
        j = tl.program_id(0)
        first = (t + j.to(tl.int64) * n_batches) * SEG
        n = tl.load(n_ptr)
        d = tl.arange(0, BLOCK_D)
        dm = d < D
        k = tl.arange(0, KP)
        total = tl.sum(tl.zeros((KP,), tl.float32), axis=0)
        if RING:   # the window's input rows: R (WP, BD) as trained here, R0 as read; their words, sentences
            live = j < per_batch
            base = first - W
            slots = tl.arange(0, WP)
            R = tl.zeros((WP, BLOCK_D), tl.float32)
            R0 = tl.zeros((WP, BLOCK_D), tl.float32)
            rid = tl.zeros((WP,), tl.int64)
            rsent = tl.zeros((WP,), tl.int32) - 1
            rok = slots < 0
            rtouch = slots < 0
            for q0 in range(2 * W):
                R, R0, rid, rsent, rok, rtouch = _ring_enter(base + q0, base, live, n, R, R0, rid, rsent, rok,
                                                             rtouch, slots, syn0, ids, sent, D, d, dm, WP)
        for i in range(SEG):
            p = first + i
            real = (j < per_batch) & (p < n)
            pc = tl.where(real, p, 0)
            centre = tl.load(ids + pc, mask=real, other=0).to(tl.int64)
            s_c = tl.load(sent + pc, mask=real, other=-1)
            w_c = tl.load(wsize + pc, mask=real, other=0)
            # 2. the centre's output rows, loaded once
            if NS and HOLD:
                nrows, nvalid, nlabel = _noise_rows(k, pc, centre, real, seed, thr, alias, V, T, given_noise, K,
                                                    KP, DRAW)
                nptr = syn1neg + nrows[:, None] * D + d[None, :]
                nmask = nvalid[:, None] & dm[None, :]
                U = tl.load(nptr, mask=nmask, other=0.0)                                # (KP, BD)
                dU = tl.zeros((KP, BLOCK_D), tl.float32)
            if RING:
                R, R0, rid, rsent, rok, rtouch = _ring_enter(p + W, base, live, n, R, R0, rid, rsent, rok, rtouch,
                                                             slots, syn0, ids, sent, D, d, dm, WP)
            if SG:  # 3. each context's input row against the heads, updated right after it
                for o in range(2 * w_c):
                    if RING:
                        q = p + _offset(o, w_c)
                        here = slots == (q - base) % WP
                        ok = real & (tl.sum(tl.where(here, tl.where(rok, rsent, -2), 0), axis=0) == s_c)
                        cid = tl.sum(tl.where(here, rid, 0), axis=0)
                        v = tl.sum(tl.where(here[:, None], R, 0.0), axis=0)              # (BD,)
                    else:
                        ok, cid = _context(o, p, n, real, w_c, s_c, ids, sent)
                        vptr = syn0 + cid * D + d
                        vmask = tl.where(ok, dm, False)
                        v = tl.load(vptr, mask=vmask, other=0.0)                        # (BD,)
                    work = tl.zeros((BLOCK_D,), tl.float32)
                    if NS and HOLD:
                        w_in, d_out, l_out = _segment_head(U, v, tl.where(ok, nvalid, False), nlabel, lr, max_exp, LOSS)
                        work, dU, total = work + w_in, dU + d_out, total + l_out
                    elif NS:
                        w_in, l_out = _noise_pass(syn1neg, v, ok, pc, centre, seed, thr, alias, V, T, given_noise,
                                                  D, d, dm, lr, max_exp, K, KP, NT, DRAW, LOSS)
                        work, total = work + w_in, total + l_out
                    if HS:
                        w_in, l_out = _path(syn1, points, codes, code_valid, centre, v, ok, L, D, d, dm, lr,
                                            max_exp, HP, LOSS)
                        work, total = work + w_in, total + l_out
                    if LOCKF:
                        work = work * tl.load(lockf + cid, mask=ok, other=0.0)
                    if RING:   # into the held row; written to memory when it leaves the window
                        into = here & ok
                        R = tl.where(into[:, None], R + work[None, :], R)
                        rtouch = rtouch | into
                    else:
                        tl.atomic_add(vptr, work, mask=vmask, sem="relaxed")
            else:  # 3. CBOW: the contexts' mean (or sum) against the heads, then every context row updated
                h = tl.zeros((BLOCK_D,), tl.float32)
                count = tl.sum(tl.zeros((KP,), tl.float32), axis=0)
                for o in range(2 * w_c):
                    ok, cid = _context(o, p, n, real, w_c, s_c, ids, sent)
                    h += tl.load(syn0 + cid * D + d, mask=tl.where(ok, dm, False), other=0.0)
                    count += tl.where(ok, 1.0, 0.0)
                has = count > 0.0
                inv = 1.0 / tl.maximum(count, 1.0)
                if CBOW_MEAN:
                    h = h * inv
                work = tl.zeros((BLOCK_D,), tl.float32)
                if NS and HOLD:
                    w_in, d_out, l_out = _segment_head(U, h, tl.where(has, nvalid, False), nlabel, lr, max_exp, LOSS)
                    work, dU, total = work + w_in, dU + d_out, total + l_out
                elif NS:
                    w_in, l_out = _noise_pass(syn1neg, h, has, pc, centre, seed, thr, alias, V, T, given_noise, D, d,
                                              dm, lr, max_exp, K, KP, NT, DRAW, LOSS)
                    work, total = work + w_in, total + l_out
                if HS:
                    w_in, l_out = _path(syn1, points, codes, code_valid, centre, h, has, L, D, d, dm, lr, max_exp,
                                        HP, LOSS)
                    work, total = work + w_in, total + l_out
                if CBOW_MEAN == 0:
                    work = work * inv  # gensim divides the error over the summed context vectors
                for o in range(2 * w_c):
                    ok, cid = _context(o, p, n, real, w_c, s_c, ids, sent)
                    upd = work
                    if LOCKF:
                        upd = upd * tl.load(lockf + cid, mask=ok, other=0.0)
                    tl.atomic_add(syn0 + cid * D + d, upd, mask=tl.where(ok, dm, False), sem="relaxed")
            # 4. the held noise rows' summed updates, once per centre
            if NS and HOLD:
                tl.atomic_add(nptr, dU, mask=nmask, sem="relaxed")
        if RING:   # the rows still held leave
            for s in range(WP):
                _ring_leave(slots == s, R, R0, rid, rok, rtouch, syn0, D, d, dm)
        if LOSS:
            tl.atomic_add(loss_ptr, total.to(tl.float64), sem="relaxed")


# Tile sizes, chosen on the kernel report's full grid (sm_90, triton 3.6 and 3.9): larger held blocks or
# tiles cost registers (occupancy), smaller ones more passes over the rows.
HOLD_ELEMENTS = 2048   # a centre's K + 1 output rows are held (read and written once) up to this many floats
#                        ((K + 1 -> KP) x BLOCK_D: K=5 up to D=256); beyond, they are streamed per context
NOISE_TILE = 8         # negative-sampling rows a streamed pass holds at once
# Skip-gram's window of input rows on chip (RING): each row read and written once per window pass instead of
# once per centre that uses it (input-row traffic 1,508 instead of 6,985 bytes a word at D=100), for 112
# registers instead of 61 (25% occupancy instead of 50%) at D=100 on sm_90. Which is faster is for a GPU to
# say: off unless TORCH_W2V_SEGMENT_RING=1 (scripts/gpu_check.sh times both), and up to RING_ELEMENTS floats
# ((2 * window + 1 -> WP) x BLOCK_D: window <= 7 up to D=128).
RING = os.environ.get("TORCH_W2V_SEGMENT_RING") == "1"
RING_ELEMENTS = 2048
PATH_TILE = 8          # Huffman nodes a pass holds at once (a 10M-word vocabulary's ~40: 5 tiles)


def plan_launch(cfg, weights, tables, batch, lr: float, seed: int, loss: torch.Tensor, noise=None):
    """The :class:`~.triton_step.Launch` of one step of segments (batch ``batch.t`` of a plan of segments,
    :class:`~torch_w2v.training.pipelines.SegmentPipeline`); ``noise`` (N, K) int64 per plan position replaces
    the in-kernel draws."""
    from .triton_step import Launch
    plan, K = batch.plan, cfg.negative
    BLOCK_D = _next_pow2(weights.syn0.shape[1])
    tensors = kernel_tensors(cfg, weights, tables, plan, noise)
    args = dict(
        **tensors, HP=min(tensors.pop("LP"), PATH_TILE), HOLD=tensors["KP"] * BLOCK_D <= HOLD_ELEMENTS,
        RING=RING and bool(cfg.sg) and _next_pow2(2 * plan.window + 1) * BLOCK_D <= RING_ELEMENTS, W=plan.window,
        WP=_next_pow2(2 * plan.window + 1),
        NT=min(tensors["KP"], NOISE_TILE), loss_ptr=loss.reshape(1), t=batch.t,
        n_batches=plan.n_batches, per_batch=plan.per_batch, seed=seed, lr=float(lr), max_exp=MAX_EXP,
        SEG=plan.segment, K=K, BLOCK_D=BLOCK_D, SG=bool(cfg.sg), CBOW_MEAN=bool(cfg.cbow_mean),
        NS=bool(K), HS=bool(cfg.hs), LOCKF=tables.lockf is not None, LOSS=bool(cfg.compute_loss),
        DRAW=noise is None, num_warps=8 if BLOCK_D >= 64 else 4)
    return Launch((plan.per_batch,), ((_segment_kernel, args),))


def launch(cfg, weights, tables, batch, lr: float, seed: int, loss: torch.Tensor, noise=None) -> None:
    """Train one batch of segments in place: one kernel launch."""
    step = plan_launch(cfg, weights, tables, batch, lr, seed, loss, noise)
    for kernel, kwargs in step.kernels:
        kernel[step.grid](**kwargs)


class TritonSegmentStep(_BatchStep):
    """The segment kernel on the ``segments`` pipeline (see the module docstring)."""
    pipelines = ("segments",)
    batched_updates = False

    @classmethod
    def default_pipeline(cls, device, cfg):
        return None   # until a GPU run shows which of the two Triton kernels is faster, the batch kernel is

    def __call__(self, batch) -> int:
        """Train a batch of segments at its learning rate; the pipeline counts its kept tokens (returns 0)."""
        launch(self.cfg, self.weights, self.tables, batch, batch.lr, self.seed, self.loss)
        return 0


__all__ = ["INTERPRET", "TritonSegmentStep", "_IMPORT_ERROR", "flat_lockf", "launch", "plan_launch"]
