"""torch_w2v.training.batching: host batches cover every kept token once, stay in their sentence and come
in strided order."""
import torch

from torch_w2v.training import batching


def _chunk(batch_size=64, sample_int=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 20, (300,), generator=g)
    ids = torch.randint(0, 40, (int(lengths.sum()),), generator=g)
    sent = torch.repeat_interleave(torch.arange(300), lengths)
    chunk = batching.make_chunk(ids, sent, sample_int=sample_int, window=4, shrink_windows=True,
                                batch_size=batch_size, generator=torch.Generator().manual_seed(seed))
    return ids, sent, chunk


def test_without_downsampling_every_token_is_a_centre_once():
    ids, _, chunk = _chunk()
    centres = torch.cat([b.centres for b in chunk.items])
    assert chunk.kept == len(ids)
    # padding slots hold 0: compare the multiset of real centres through the bincount of all ids
    assert torch.equal(torch.bincount(centres.long(), minlength=40)[1:], torch.bincount(ids, minlength=40)[1:])


def test_batches_are_ordered_by_position_and_no_larger_than_asked():
    _, _, chunk = _chunk(batch_size=50)
    positions = [b.position for b in chunk.items]
    assert positions == sorted(positions) and positions[0] == 0.0 and positions[-1] < 1.0
    assert max(len(b.centres) for b in chunk.items) <= 50


def test_masked_slots_hold_zero_and_real_contexts_are_valid_ids():
    _, _, chunk = _chunk()
    for b in chunk.items:
        assert bool((b.contexts[b.mask == 0] == 0).all())
        assert b.contexts.shape == b.mask.shape and b.contexts.shape[0] == b.centres.shape[0]


def test_downsampling_drops_tokens():
    ids, _, chunk = _chunk(sample_int=torch.full((40,), 2**31, dtype=torch.int64))   # keep probability 1/2
    assert 0.4 * len(ids) < chunk.kept < 0.6 * len(ids)
