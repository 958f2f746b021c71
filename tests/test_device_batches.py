"""Batches made on the device keep the host pipeline's statistics: keep rate after downsampling, window
sizes, contexts inside their sentence, every kept token a centre once per chunk; and training with them
reaches the same quality."""
import numpy as np
import pytest
import torch

from torch_w2v import Word2Vec
from torch_w2v.training import batching, device_batches


def _chunk(n_sentences=400, seed=0, V=50):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 30, (n_sentences,), generator=g)
    ids = torch.randint(0, V, (int(lengths.sum()),), generator=g)
    sent = torch.repeat_interleave(torch.arange(n_sentences), lengths)
    sample_int = (torch.linspace(0.2, 1.0, V) * (2**32 - 1)).to(torch.int64)   # keep probability 0.2..1
    return ids, sent, sample_int


def _plan(ids, sent, sample_int, seed=1, window=5, batch_size=256, shrink=True):
    return device_batches.make_plan(ids.to(torch.int32), sent.to(torch.int32), sample_int=sample_int, window=window,
                                    shrink_windows=shrink, batch_size=batch_size,
                                    generator=torch.Generator().manual_seed(seed))


def _batches(plan):
    """The plan's batches in training order, as the device pipeline hands them to a step."""
    return [device_batches.PlanBatch(plan, t) for t in range(plan.n_batches)]


def test_every_kept_token_is_a_centre_exactly_once_and_in_text_order():
    ids, sent, sample_int = _chunk()
    plan = _plan(ids, sent, sample_int)
    n = int(plan.n)
    seen = torch.cat([b.positions()[b.positions() < n] for b in _batches(plan)])
    assert sorted(seen.tolist()) == list(range(n))
    # kept tokens keep their order: sentence numbers never decrease
    assert bool((plan.sent[:n][1:] >= plan.sent[:n][:-1]).all()) and bool((plan.sent[n:] == -1).all())
    positions = [b.t / plan.n_batches for b in _batches(plan)]
    assert positions == sorted(positions) and positions[0] == 0.0 and positions[-1] < 1.0


def test_keep_rate_after_downsampling_matches_the_probabilities_and_the_host_pipeline():
    ids, sent, sample_int = _chunk(n_sentences=3000)
    expected = float((sample_int[ids].double() / (2**32 - 1)).sum())
    device_kept = [_plan(ids, sent, sample_int, seed=s).n.item() for s in range(5)]
    host_kept = [batching.make_chunk(ids, sent, sample_int=sample_int, window=5, shrink_windows=True,
                                     batch_size=256, generator=torch.Generator().manual_seed(s)).kept
                 for s in range(5)]
    sd = np.sqrt(len(ids) * 0.25)
    assert abs(np.mean(device_kept) - expected) < 3 * sd / np.sqrt(5)
    assert abs(np.mean(host_kept) - expected) < 3 * sd / np.sqrt(5)


def test_window_sizes_are_uniform_from_one_to_window_or_fixed():
    ids, sent, _ = _chunk(n_sentences=3000)
    plan = _plan(ids, sent, None, window=5)
    freq = np.bincount(plan.wsize.numpy(), minlength=6)[1:] / len(ids)
    np.testing.assert_allclose(freq, np.full(5, 0.2), atol=0.01)
    assert bool((_plan(ids, sent, None, shrink=False).wsize == 5).all())


def test_contexts_stay_inside_the_sentence_and_the_window_counted_in_kept_tokens():
    ids, sent, sample_int = _chunk()
    plan = _plan(ids, sent, sample_int, window=3)
    n = int(plan.n)
    pairs = 0
    for batch in _batches(plan):
        pos = batch.positions()
        centres, contexts, mask = batch.materialize()
        offs = batching.offsets(3)
        for b in range(len(pos)):
            p = int(pos[b])
            if p >= n:
                assert mask[b].sum() == 0 and centres[b] == 0
                continue
            w = int(plan.wsize[p])
            for c in range(len(offs)):
                q = p + int(offs[c])
                expected = abs(int(offs[c])) <= w and 0 <= q < n and plan.sent[q] == plan.sent[p]
                assert bool(mask[b, c]) == bool(expected)
                if expected:
                    assert contexts[b, c] == plan.ids[q]
                    pairs += 1
    assert pairs > 1000


def test_without_downsampling_the_plan_is_the_chunk_itself():
    ids, sent, _ = _chunk()
    plan = _plan(ids, sent, None)
    assert int(plan.n) == len(ids)
    assert torch.equal(plan.ids.long(), ids) and torch.equal(plan.sent.long(), sent)


@pytest.mark.slow
@pytest.mark.parametrize("sg", [1, 0])
def test_torch_step_on_device_batches_passes_gensims_lee_check(lee_sentences, sg):
    """The CUDA code path's batches, run on the CPU with the torch step; gensim's sanity settings and check
    (test_modes.py's calibration: ranks 11-25 for sg, 1-7 for cbow with the host pipeline)."""
    settings = (dict(sg=1, window=4, hs=0, negative=15, epochs=10) if sg else
                dict(sg=0, cbow_mean=1, alpha=0.05, window=5, hs=0, negative=15, epochs=10, sample=0))
    model = Word2Vec(lee_sentences, min_count=5, seed=2, workers=2, device="cpu", engine="torch",
                     pipeline="device", **settings)
    ranked = [w for w, _ in model.wv.most_similar("attacks", topn=len(model.wv))]
    assert ranked.index("bombings") < 50
