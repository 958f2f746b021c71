"""Hand-built device plans whose rows never repeat, shared by the step tests.

Sentences of ``length`` tokens with a fixed window ``w = length // 2``, and ``length`` batches per chunk:
batch ``t = w`` holds the middle token of every sentence, whose contexts are the rest of its sentence. So
within that batch no input row, output row or noise row appears twice, and every step implementation
must give the same result (and the gradient of the summed loss, see test_gradients.py).
"""
from types import SimpleNamespace

import torch

from torch_w2v.training import device_batches
from torch_w2v.training.weights import Tables


def distinct_batch(n_sentences: int, length: int, V: int, D: int, K: int, seed: int = 0, scale: float = 0.3,
                   L: int = 3):
    """``(weights, tables, batch, noise)``: a PlanBatch of ``n_sentences`` centres with distinct rows."""
    g = torch.Generator().manual_seed(seed)
    N = n_sentences * length
    words = torch.randperm(V, generator=g)
    ids = words[:N].to(torch.int32)
    free = words[N:]
    sent = torch.arange(n_sentences, dtype=torch.int32).repeat_interleave(length)
    plan = device_batches.make_plan(ids, sent, sample_int=None, window=length // 2, shrink_windows=False,
                                    batch_size=n_sentences, generator=g)
    assert plan.n_batches == length and plan.per_batch == n_sentences
    batch = device_batches.PlanBatch(plan, length // 2)
    centres = ids[length // 2::length].long()
    noise = free[: n_sentences * K].view(n_sentences, K).clone() if K else None
    points = torch.zeros(V, L, dtype=torch.int64)          # Huffman paths through rows nobody else uses
    spare = free[n_sentences * K:]
    points[centres] = spare[: n_sentences * L].view(n_sentences, L)
    codes = (torch.rand(V, L, generator=g) > 0.5).float()
    code_valid = torch.ones(V, L)
    code_valid[:, -1] = (torch.arange(V) % 2).float()       # paths of two lengths
    tables = Tables(noise=(torch.zeros(V, dtype=torch.int64), torch.arange(V), 1), points=points, codes=codes,
                    code_valid=code_valid)
    weights = SimpleNamespace(syn0=torch.randn(V, D, generator=g) * scale,
                              syn1neg=torch.randn(V, D, generator=g) * scale,
                              syn1=torch.randn(V, D, generator=g) * scale)
    return weights, tables, batch, noise


def copy_weights(weights):
    return SimpleNamespace(**{k: v.clone() for k, v in vars(weights).items()})
