"""The segment kernel (torch_w2v/training/steps/triton_segments.py): a program trains a run of consecutive
centres in order, so under Triton's interpreter, where programs run one after another, a whole chunk equals
a sequential reference written here in numpy, in every mode; it trains gensim's Lee corpus through
Word2Vec(pipeline="segments"). Without a GPU the kernel runs under the interpreter (conftest.py)."""
import functools

import numpy as np
import pytest
import torch

from torch_w2v import Word2Vec
from torch_w2v.training import device_batches
from torch_w2v.training.weights import Tables

segments = pytest.importorskip("torch_w2v.training.steps.triton_segments")
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
pytestmark = pytest.mark.skipif(segments.TritonSegmentStep.unavailable(DEVICE) is not None,
                                reason=str(segments.TritonSegmentStep.unavailable(DEVICE)))

MODES = {  # sg, cbow_mean, negative, hs
    "sg_neg": (1, 1, 3, 0), "sg_hs": (1, 1, 0, 1), "sg_both": (1, 1, 3, 1),
    "cbow_mean_neg": (0, 1, 3, 0), "cbow_sum_both": (0, 0, 3, 1), "cbow_mean_hs": (0, 1, 0, 1),
}
V, D, L, W = 40, 8, 4, 3


def _sigmoid_rule(f, label, valid, lr):
    g = (label - 1.0 / (1.0 + np.exp(-np.clip(f, -6, 6)))) * lr
    return np.where(valid & (np.abs(f) < 6.0), g, 0.0).astype(np.float32)


def _pass(table, rows, label, valid, x, lr, tile):
    """``x`` through ``rows`` of ``table``, ``tile`` rows at a time, each tile read and then updated at once (a
    streamed pass of the kernel): the input-side update and the loss."""
    work, loss = np.zeros(D, np.float32), 0.0
    for a in range(0, len(rows), tile):
        r, lab, ok = rows[a:a + tile], label[a:a + tile], valid[a:a + tile]
        X = table[r].copy()
        f = X @ x
        g = _sigmoid_rule(f, lab, ok, lr)
        loss += float(np.where(ok, np.logaddexp(0, -np.where(lab > 0.5, f, -f)), 0).sum())
        work += g @ X
        np.add.at(table, r[ok], np.outer(g, x)[ok])
    return work, loss


def _train(w, heads, lr, x, ok):
    """``x`` against a centre's output rows (``heads``: the noise rows, held or streamed, and the Huffman
    path), for one context (skip-gram) or the window (CBOW): the input-side update and the loss."""
    work, loss = np.zeros(D, np.float32), 0.0
    if heads["rows"] is not None and heads["hold"]:
        held, label, valid = heads["held"], heads["label"], heads["valid"] & ok
        f = held @ x
        g = _sigmoid_rule(f, label, valid, lr)
        loss += float(np.where(valid, np.logaddexp(0, -np.where(label > 0.5, f, -f)), 0).sum())
        work += g @ held
        heads["change"] += np.outer(g, x)
    elif heads["rows"] is not None:
        dw, dl = _pass(w["syn1neg"], heads["rows"], heads["label"], heads["valid"] & ok, x, lr, heads["noise_tile"])
        work, loss = work + dw, loss + dl
    if heads["path"] is not None:
        points, codes, valid = heads["path"]
        dw, dl = _pass(w["syn1"], points, codes, valid & ok, x, lr, heads["path_tile"])
        work, loss = work + dw, loss + dl
    return work, loss


def _ring_order(plan, n, train_centre):
    """Skip-gram with the window's input rows held on chip: per program, each position's row is read when it
    enters the ring (``W`` ahead of the centre), trained there, and its change added to memory once when it
    leaves (evicted by the position ``WP`` later, or at the program's end, in slot order)."""
    WP = 1 << (2 * W).bit_length()     # next power of two >= 2W + 1
    for t in range(plan.n_batches):
        for j in range(plan.per_batch):
            first = (t + j * plan.n_batches) * plan.segment
            base, slots = first - W, {}

            def enter(q, slots=slots, base=base):
                leave(slots.pop((q - base) % WP, None))
                if 0 <= q < n:
                    slots[(q - base) % WP] = q
                    train_centre.ring[q] = [train_centre.syn0[train_centre.ids[q]].copy(), None, False]
                    train_centre.ring[q][1] = train_centre.ring[q][0].copy()

            def leave(q):
                if q is not None:
                    row, original, touched = train_centre.ring.pop(q)
                    if touched:
                        train_centre.syn0[train_centre.ids[q]] += row - original

            for q in range(base, base + 2 * W):
                enter(q)
            for i in range(plan.segment):
                enter(first + i + W)
                if first + i < n:
                    train_centre(first + i)
            for slot in range(WP):
                leave(slots.pop(slot, None))


def reference(mode, w, tables, plan, noise, lr, lockf, hold=True, noise_tile=8, path_tile=8, ring=False):
    """The chunk trained centre by centre, in the order the kernel's programs take it under the interpreter:
    the K + 1 negative-sampling rows held for the centre and updated once at its end (``hold``) or streamed
    ``noise_tile`` at a time for each context; the Huffman path streamed ``path_tile`` nodes at a time."""
    sg, cbow_mean, K, hs = MODES[mode]
    ids, sent, wsize, n = plan.ids.numpy(), plan.sent.numpy(), plan.wsize.numpy(), int(plan.n)
    order = [(t + j * plan.n_batches) * plan.segment + i for t in range(plan.n_batches)
             for j in range(plan.per_batch) for i in range(plan.segment)]
    loss = 0.0
    held_rows = {}   # ring: position -> [row as trained here, row as read, trained?]

    def train_centre(p):
        nonlocal loss
        centre = ids[p]
        ctx = [p + o for o in list(range(-W, 0)) + list(range(1, W + 1))
               if 0 <= p + o < n and abs(o) <= wsize[p] and sent[p + o] == sent[p]]
        heads = dict(hold=hold, noise_tile=noise_tile, path_tile=path_tile, path=None, rows=None)
        if K:
            heads.update(rows=np.concatenate([[centre], noise[p]]), label=np.array([1.0] + [0.0] * K, np.float32),
                         valid=np.concatenate([[True], noise[p] != centre]))
            heads.update(held=w["syn1neg"][heads["rows"]].copy(), change=np.zeros((K + 1, D), np.float32))
        if hs:
            heads["path"] = (tables.points[centre].numpy(), tables.codes[centre].numpy(),
                             tables.code_valid[centre].numpy() > 0.5)
        train = functools.partial(_train, w, heads, lr)
        if sg:
            for c in ctx:
                row = held_rows[c][0] if ring else w["syn0"][ids[c]]
                work, lost = train(row.copy(), True)
                loss += lost
                row += work * lockf[ids[c]]
                if ring:
                    held_rows[c][2] = True
        else:
            h = sum((w["syn0"][ids[c]] for c in ctx), np.zeros(D, np.float32))
            count = len(ctx)
            if cbow_mean and count:
                h = h / count
            work, lost = train(h, count > 0)
            loss += lost
            if not cbow_mean and count:
                work = work / count
            for c in ctx:
                w["syn0"][ids[c]] += work * lockf[ids[c]]
        if K and hold:
            np.add.at(w["syn1neg"], heads["rows"][heads["valid"]], heads["change"][heads["valid"]])

    if ring and sg:
        train_centre.ring, train_centre.syn0, train_centre.ids = held_rows, w["syn0"], ids
        _ring_order(plan, n, train_centre)
    else:
        for p in (p for p in order if p < n):
            train_centre(p)
    return loss


def _setup(seed=0, N=120, segment=4, batch_size=16):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, V, (N,), generator=g, dtype=torch.int32)
    sent = (torch.arange(N) // 13).to(torch.int32)          # sentences of 13 tokens
    plan = device_batches.make_plan(ids, sent, sample_int=None, window=W, shrink_windows=True,
                                    batch_size=batch_size, generator=g, segment=segment)
    assert plan.n_batches > 1 and plan.per_batch > 1 and plan.segment == segment
    points = torch.randint(0, V - 1, (V, L), generator=g)
    code_valid = torch.ones(V, L)
    code_valid[:, -1] = (torch.arange(V) % 2).float()
    tables = Tables(noise=(torch.zeros(V, dtype=torch.int64), torch.arange(V), 1), points=points,
                    codes=(torch.rand(V, L, generator=g) > 0.5).float(), code_valid=code_valid)
    weights = {name: torch.randn(rows, D, generator=g) * 0.3 for name, rows in
               (("syn0", V), ("syn1neg", V), ("syn1", V - 1))}
    noise = torch.randint(0, V, (N, 3), generator=g)
    return plan, tables, weights, noise


@pytest.mark.parametrize("tiles", ["held", "streamed", "held, ring"])
@pytest.mark.parametrize("lockf", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_a_chunk_of_segments_equals_the_sequential_reference(mode, lockf, tiles, monkeypatch):
    """``held``: the kernel's choice at these sizes (K + 1 = 4 rows of 8 floats held for a centre, the path
    of 4 nodes in one tile); ``streamed``: the noise rows and the path two at a time for each context, as
    the kernel takes them at large K x D and for long paths; ``ring``: skip-gram's window of input rows held
    on chip (TORCH_W2V_SEGMENT_RING=1), each read when it enters and written back once when it leaves."""
    import types
    sg, cbow_mean, K, hs = MODES[mode]
    if tiles == "held, ring":
        if not sg:
            pytest.skip("the ring is skip-gram's")
        monkeypatch.setattr(segments, "RING", True)
    if tiles == "streamed":
        monkeypatch.setattr(segments, "HOLD_ELEMENTS", 0)
        monkeypatch.setattr(segments, "NOISE_TILE", 2)
        monkeypatch.setattr(segments, "PATH_TILE", 2)
    plan, tables, weights, noise = _setup()
    if lockf:
        tables.lockf = torch.rand(V, generator=torch.Generator().manual_seed(3)) + 0.5
    lockf_np = tables.lockf.numpy() if lockf else np.ones(V, np.float32)
    cfg = types.SimpleNamespace(sg=sg, cbow_mean=cbow_mean, negative=K, hs=hs, compute_loss=True)
    ref = {k: v.numpy().copy() for k, v in weights.items()}
    expected_loss = reference(mode, ref, tables, plan, noise[:, :K].numpy() if K else None, 0.3, lockf_np,
                              hold=tiles != "streamed", noise_tile=segments.NOISE_TILE,
                              path_tile=segments.PATH_TILE, ring=tiles == "held, ring")
    ours = types.SimpleNamespace(**{k: v.clone() for k, v in weights.items()})
    loss = torch.zeros((), dtype=torch.float64)
    for t in range(plan.n_batches):
        batch = device_batches.PlanBatch(plan, t, 0.3)
        segments.launch(cfg, ours, tables, batch, 0.3, 0, loss, noise=noise[:, :K].contiguous() if K else None)
    for name in ("syn0", "syn1neg", "syn1"):
        moved = np.abs(ref[name] - weights[name].numpy()).max()
        if name == "syn0" or (name == "syn1neg" and K) or (name == "syn1" and hs):
            assert moved > 1e-3, f"{name} did not move: the test would prove nothing"
        np.testing.assert_allclose(getattr(ours, name).numpy(), ref[name], rtol=1e-4, atol=2e-5, err_msg=name)
    assert float(loss) == pytest.approx(expected_loss, rel=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("sg", [1, 0])
def test_the_segment_pipeline_trains_through_word2vec(lee_sentences, sg):
    """Word2Vec(engine='triton', pipeline='segments') on the first 5 sentences of gensim's Lee corpus (the
    interpreter runs a program's centres one by one: ~25 ms a centre): the kernel draws its own noise, the
    vectors move and stay finite, and the loss is counted."""
    lee_sentences = lee_sentences[:5]
    model = Word2Vec(min_count=1, vector_size=16, sg=sg, epochs=1, seed=1, workers=1, device=str(DEVICE),
                     engine="triton", pipeline="segments", compute_loss=True)
    model.build_vocab(lee_sentences)
    before = model.wv.vectors.copy()
    trained, raw = model.train(lee_sentences, total_examples=model.corpus_count, epochs=1, compute_loss=True)
    assert 0 < trained <= raw and np.isfinite(model.wv.vectors).all()
    # one epoch of 12 sentences moved the largest input coordinate by 7e-4 (CBOW) to 5e-3 (skip-gram)
    assert np.abs(model.wv.vectors - before).max() > 1e-4 and model.get_latest_training_loss() > 0
