"""torch_w2v.training.engine: schedule, seeds, devices, batch sizes, the epoch loop's hooks."""
import pytest
import torch

from torch_w2v import Word2Vec
from torch_w2v.training import engine, seeds


def test_schedule_is_linear_over_all_epochs_and_floored():
    s = engine.Schedule(0.025, 0.0001, epochs=2, total_units=100, by_sentences=True)
    assert s.alpha(0, 0) == 0.025
    assert s.alpha(1, 0) == pytest.approx(0.025 - 0.0249 / 2)
    assert s.alpha(1, 100) == pytest.approx(0.0001) and s.alpha(1, 1e9) == 0.0001


def test_mix_seed_keeps_the_two_historic_rules():
    """One rule for the training seed and the per-chunk generators (changing it changes every result)."""
    seed = 7
    assert seeds.mix_seed(seed, 3, 0, 12345) == (seed * 1_000_003 + 3 * 7919 + 12345) % (2**63 - 1)
    assert seeds.mix_seed(seed, 1, 2, 1) == (seed * 1_000_003 + 7_919 + 2 * 104_729 + 1) % (2**63 - 1)
    assert len({seeds.mix_seed(1, e, c, s) for e in range(3) for c in range(3) for s in range(2)}) == 18


def test_the_run_seed_and_the_chunk_streams_keep_their_constants():
    """The named constants are the numbers every trained vector so far was drawn with."""
    assert seeds.run_seed(7, 3) == (7 * 1_000_003 + 3 * 7919 + 12345) % (2**63 - 1)
    assert seeds.run_seed(7, 3, rank=2) == seeds.run_seed(7, 3) + 2 * 7_777_777
    assert (seeds.PIPELINE_STREAM, seeds.STEP_STREAM) == (0, 1)
    a, b = seeds.chunk_generator(5, 1, 2, seeds.STEP_STREAM), torch.Generator().manual_seed(seeds.mix_seed(5, 1, 2, 1))
    assert torch.equal(torch.randint(0, 2**62, (4,), generator=a), torch.randint(0, 2**62, (4,), generator=b))


@pytest.mark.parametrize("device, words", [("meta", "not supported"), ("nonsense", "not a device torch knows")])
def test_resolve_device_refuses_unknown_devices(device, words):
    with pytest.raises(ValueError, match=words):
        engine.resolve_device(device)


@pytest.mark.parametrize("pipeline", ["host", "device"])
def test_each_chunk_reports_progress_with_growing_counts(toy_sentences, pipeline):
    seen = []
    model = Word2Vec(min_count=1, epochs=1, device="cpu", engine="torch", pipeline=pipeline, chunk_words=100)
    model.build_vocab(toy_sentences)
    from torch_w2v.training import trainer
    original = trainer.Progress.update

    def spy(self, stats, alpha):
        seen.append((stats.chunks, stats.raw_words, alpha))
        return original(self, stats, alpha)
    trainer.Progress.update = spy
    try:
        model.train(toy_sentences, total_examples=model.corpus_count, epochs=1)
    finally:
        trainer.Progress.update = original
    assert [c for c, _, _ in seen] == list(range(1, len(seen) + 1)) and len(seen) >= 10
    assert seen[-1][1] == sum(map(len, toy_sentences))
    assert all(a >= b for (_, _, a), (_, _, b) in zip(seen, seen[1:]))


def _producers():
    import threading
    return [t for t in threading.enumerate() if t.name == "torch_w2v-batches" and t.is_alive()]


def test_one_producer_across_epochs_trains_as_one_per_epoch(toy_sentences, monkeypatch):
    """The host producer makes the next epoch's chunks during this one; the chunks are keyed by (seed, epoch,
    chunk), so the vectors equal those of a producer restarted every epoch, and it stops with train()."""
    def fit():
        model = Word2Vec(toy_sentences, min_count=1, epochs=3, workers=1, seed=3, device="cpu", chunk_words=100)
        assert _producers() == []
        return model.wv.vectors

    across = fit()
    run_epoch = engine.Engine.run_epoch

    def fresh_producer(self, *args, **kwargs):
        self.close()
        return run_epoch(self, *args, **kwargs)
    monkeypatch.setattr(engine.Engine, "run_epoch", fresh_producer)
    per_epoch = fit()
    assert (across == per_epoch).all()


def test_producer_stops_when_a_callback_raises(toy_sentences):
    from gensim.models.callbacks import CallbackAny2Vec

    class Stop(CallbackAny2Vec):
        def on_epoch_end(self, model):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Word2Vec(toy_sentences, min_count=1, epochs=3, device="cpu", chunk_words=100, callbacks=[Stop()])
    assert _producers() == []
