"""torch_w2v.training.weights: the model's arrays as tensors, and the tables the steps read."""
import numpy as np
import torch

from torch_w2v import Word2Vec
from torch_w2v.training.weights import ModelWeights, writeable


def test_cpu_tensors_share_memory_with_the_model_arrays(toy_sentences):
    model = Word2Vec(min_count=1, hs=1, negative=5, device="cpu")
    model.build_vocab(toy_sentences)
    with ModelWeights(model, torch.device("cpu")) as w:
        w.syn0[0, 0] = 42.0
        w.syn1[1, 1] = 7.0
        assert model.wv.vectors[0, 0] == 42.0 and model.syn1[1, 1] == 7.0
        tables = w.tables()
    V = len(model.wv)
    assert tables.noise[0].shape == (V,) and tables.noise[2] == int(model.cum_table[-1])
    assert tables.points.shape[0] == V and tables.lockf is None


def test_locked_rows_become_a_lockf_table(toy_sentences):
    model = Word2Vec(min_count=1, device="cpu")
    model.build_vocab(toy_sentences)
    model.wv.vectors_lockf = np.ones(len(model.wv), dtype=np.float32)
    model.wv.vectors_lockf[2] = 0.0
    with ModelWeights(model, torch.device("cpu")) as w:
        lockf = w.tables().lockf
    assert lockf.shape == (len(model.wv), 1) and lockf[2, 0] == 0.0 and lockf.sum() == len(model.wv) - 1


def test_writeable_replaces_a_read_only_or_float64_array():
    class Owner:
        pass
    owner = Owner()
    owner.a = np.zeros((2, 2), dtype=np.float64)
    assert writeable(owner, "a").dtype == np.float32 and owner.a.dtype == np.float32
    ro = np.zeros((2, 2), dtype=np.float32)
    ro.flags.writeable = False
    owner.b = ro
    assert writeable(owner, "b").flags.writeable
