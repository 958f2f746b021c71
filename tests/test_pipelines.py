"""torch_w2v.training.pipelines: each pipeline's chunks cover the epoch once with falling learning rates,
and the run's layout is resolved once, recorded by checkpoints and taken again on resume."""
import dataclasses
import types

import numpy as np
import pytest
import torch

from torch_w2v import Word2Vec, corpus
from torch_w2v.checkpoint import ResumeState
from torch_w2v.training import pipelines, registry
from torch_w2v.training.engine import Schedule
from torch_w2v.training.weights import ModelWeights

CFG = types.SimpleNamespace(window=3, shrink_windows=True, batch_size=None, chunk_words=None, sync_words=1 << 17,
                            engine="torch", device="cpu")


def _resume(**layout):
    return ResumeState(train_args={}, epoch=0, stats={}, trained=0, raw=0, corpus={}, **layout)


@pytest.fixture
def setup(toy_sentences):
    model = Word2Vec(min_count=1, vector_size=8, device="cpu", sample=0.01)
    model.build_vocab(toy_sentences)
    encoded = corpus.encode(toy_sentences, model.wv.key_to_index)
    return model, encoded


@pytest.mark.parametrize("name", list(registry.PIPELINES))
def test_the_chunks_cover_the_epoch_once_with_falling_learning_rates(setup, name):
    model, encoded = setup
    layout = pipelines.RunLayout(name, chunk_words=300, parts=2 if name == "tokens" else 1,
                                 batch_size=None if name == "tokens" else 32)
    schedule = Schedule(0.025, 0.0001, epochs=2, total_units=encoded.n_sentences, by_sentences=True)
    with ModelWeights(model, torch.device("cpu")) as weights:
        pipeline = pipelines.build(layout, encoded, weights.tables(), CFG, torch.device("cpu"), seed=3)
        try:
            chunks = list(pipeline.chunks(1, 0, schedule))
            again = list(pipeline.chunks(1, 2, schedule))  # a resumed epoch starts at its chunk
        finally:
            pipeline.close()
    assert len(chunks) == pipeline.chunk_count() > 2
    assert [c.index for c in chunks] == list(range(len(chunks))) and [c.index for c in again] == [
        c.index for c in chunks[2:]]
    assert sum(c.sentences for c in chunks) == encoded.n_sentences
    assert sum(c.raw_words for c in chunks) == encoded.total_raw_words
    rates = []
    for chunk in chunks:
        for batch in chunk.batches:
            rates += [x for p in batch.pieces for x in (p.lr_start, p.lr_end)] if name == "tokens" else [batch.lr]
    if name == "tokens":  # two parts side by side: alpha falls across each run
        rates = rates[0::4] + rates[1::4][-1:]
    assert rates[0] == pytest.approx(schedule.alpha(1, 0)) and all(a >= b for a, b in zip(rates, rates[1:]))
    kept = sum(int(c.kept) for c in chunks)
    assert (kept == 0) == (name == "tokens") and kept <= len(encoded.ids)  # tokens: the step counts its own


def test_resolve_takes_the_pipelines_default_chunk_and_the_steps_batch(setup):
    from torch_w2v.training.steps import torch_step
    model, encoded = setup
    cpu = torch.device("cpu")
    host = pipelines.resolve(CFG, torch_step.TorchStep, "host", cpu, 2, encoded, model.wv)
    assert (host.chunk_words, host.parts, host.batch_size) == (1 << 16, 1, 64)  # a small corpus: 64 a step
    tokens = pipelines.resolve(CFG, torch_step.TorchStep, "tokens", cpu, 2, encoded, model.wv)
    assert (tokens.chunk_words, tokens.parts, tokens.batch_size) == (1 << 21, 2, None)
    parallel = pipelines.resolve(CFG, torch_step.TorchStep, "device", cpu, 2, encoded, model.wv, parallel=True)
    assert parallel.chunk_words == CFG.sync_words  # ranks merge at chunk ends


@pytest.mark.parametrize("name, chunk", [("host", 1 << 16), ("device", 1 << 20), ("tokens", 1 << 16)])
def test_a_checkpoint_that_recorded_no_layout_resumes_as_its_version_cut_it(setup, name, chunk):
    from torch_w2v.training.steps import torch_step
    model, encoded = setup
    layout = pipelines.resolve(CFG, torch_step.TorchStep, name, torch.device("cpu"), 2, encoded, model.wv,
                               resume=_resume())
    assert (layout.chunk_words, layout.parts) == (chunk, 1)


def test_a_recorded_layout_is_taken_again_and_another_pipeline_refused(setup):
    from torch_w2v.training.steps import torch_step
    model, encoded = setup
    recorded = pipelines.RunLayout("host", chunk_words=1234, parts=1, batch_size=77)
    state = _resume(**recorded.record())
    again = pipelines.resolve(CFG, torch_step.TorchStep, "host", torch.device("cpu"), 2, encoded, model.wv,
                              resume=state)
    assert again == recorded
    with pytest.raises(ValueError, match="trained on the host pipeline, this run would take the device.*"
                                         "pipeline='host'"):
        pipelines.resolve(CFG, torch_step.TorchStep, "device", torch.device("cpu"), 2, encoded, model.wv,
                          resume=state)
    assert dataclasses.asdict(state)["pipeline"] == "host"  # what a checkpoint file stores


def test_the_default_batch_size_rules():
    cpu = torch.device("cpu")
    assert pipelines.default_batch_size(cpu) == 2048
    assert pipelines.default_batch_size(cpu, large=True) == 16384
    assert pipelines.default_batch_size(cpu, words_per_epoch=45_000, large=True) == 45_000 // 128
    assert pipelines.default_batch_size(cpu, words_per_epoch=10) == 64
    assert np.isscalar(pipelines.MIN_STEPS_PER_EPOCH)
