"""torch_w2v.training.trainer: the request, threads, divergence check, and a train() call end to end."""
import dataclasses

import numpy as np
import pytest
import torch

from torch_w2v import Word2Vec
from torch_w2v.training import trainer


def test_request_is_frozen_and_gives_the_checkpoints_train_args():
    req = trainer.TrainRequest(total_examples=10, epochs=3, start_alpha=0.05, end_alpha=0.001)
    with pytest.raises(dataclasses.FrozenInstanceError):
        req.epochs = 4
    assert req.train_args() == dict(total_examples=10, total_words=None, epochs=3, start_alpha=0.05,
                                    end_alpha=0.001, queue_factor=2, report_delay=1.0, compute_loss=False)


def test_divergence_names_the_matrix_and_the_fix():
    with pytest.raises(FloatingPointError, match="syn1neg holds NaN or inf.*alpha=0.5"):
        trainer.check_diverged({"syn0": torch.zeros(2, 2), "syn1neg": torch.tensor([[float("nan")]])}, 0.5, 1)
    with pytest.raises(FloatingPointError, match="values up to 1e\\+07"):
        trainer.check_diverged({"syn0": torch.full((1, 1), 1e7)}, 0.025, 0)
    trainer.check_diverged({"syn0": torch.ones(2, 2)}, 0.025, 0)


def test_run_trains_in_place_and_returns_the_totals(toy_sentences):
    model = Word2Vec(min_count=1, epochs=2, device="cpu", seed=3)
    model.build_vocab(toy_sentences)
    before = model.wv.vectors.copy()
    request = trainer.TrainRequest(toy_sentences, total_examples=model.corpus_count, epochs=2,
                                   start_alpha=model.alpha, end_alpha=model.min_alpha)
    trained, raw = trainer.run(model, request)
    assert raw == 2 * sum(map(len, toy_sentences)) and 0 < trained <= raw
    assert not np.array_equal(before, model.wv.vectors) and len(model.epoch_losses) == 2


def test_a_pipeline_the_step_cannot_take_is_refused_with_the_fix(toy_sentences):
    from torch_w2v.training.steps import fused
    if not fused.available():
        pytest.skip("the fused C step is not built")
    model = Word2Vec(min_count=1, epochs=1, device="cpu", engine="fused", pipeline="device")
    model.build_vocab(toy_sentences)
    with pytest.raises(ValueError, match="pipeline='device' cannot feed the fused step.*pipeline='auto'"):
        model.train(toy_sentences, total_examples=model.corpus_count, epochs=1)
