"""The fused C step against the torch step, and the fallback when no C compiler is available."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from torch_w2v.training.steps import fused
from torch_w2v.training.steps import torch_step as steps

pytestmark = pytest.mark.skipif(not fused.available(), reason="no C compiler: the fused step is not built")

D = 16


def _weights(V, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(V, D, generator=g) * 0.3 for _ in range(3)]  # syn0, syn1neg, syn1


def _heads(kind, syn1neg, syn1, centres, g):
    """Heads whose rows never repeat inside the batch (so Hogwild == batched semantics)."""
    B = len(centres)
    heads = []
    if kind in ("neg", "both"):
        rows = torch.arange(B * 4).view(B, 4) + 100                       # distinct output rows
        rows[:, 0] = centres + 300
        labels = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
        valid = (torch.rand(B, 4, generator=g) > 0.2).float()
        heads.append(steps.Head(syn1neg, rows, labels, valid))
    if kind in ("hs", "both"):
        rows = torch.arange(B * 3).view(B, 3) + 500
        labels = (torch.rand(B, 3, generator=g) > 0.5).float()
        valid = torch.ones(B, 3)
        valid[:, 2] = 0.0                                                 # a shorter Huffman path
        heads.append(steps.Head(syn1, rows, labels, valid))
    return heads


@pytest.mark.parametrize("kind", ["neg", "hs", "both"])
@pytest.mark.parametrize("mode", ["sg", "cbow_mean", "cbow_sum"])
@pytest.mark.parametrize("locked", [False, True])
def test_fused_equals_torch_when_no_row_repeats(kind, mode, locked):
    V, B = 1000, 12
    g = torch.Generator().manual_seed(0)
    # skip-gram: one context per centre (a centre's contexts share its output rows, which Hogwild
    # updates between them); CBOW: several distinct contexts per centre
    C = 1 if mode == "sg" else 4
    contexts = torch.randperm(200, generator=g)[: B * C].view(B, C)
    mask = (torch.rand(B, C, generator=g) > 0.1).float()
    centres = torch.arange(B)
    lockf = torch.rand(V, 1, generator=g) if locked else None
    results = []
    for impl in ("torch", "fused"):
        syn0, syn1neg, syn1 = _weights(V, 1)
        heads = _heads(kind, syn1neg, syn1, centres, torch.Generator().manual_seed(2))
        loss = torch.zeros((), dtype=torch.float64)
        if impl == "torch":
            if mode == "sg":
                steps.skipgram(syn0, contexts, mask, heads, 0.5, lockf, None, loss)
            else:
                steps.cbow(syn0, contexts, mask, heads, 0.5, mode == "cbow_mean", lockf, None, loss)
        else:
            runner = fused.FusedSteps(threads=1, dim=D)
            loss += runner.step(mode == "sg", syn0, contexts, mask, heads, 0.5, mode == "cbow_mean", lockf,
                                compute_loss=True)
            runner.close()
        results.append((syn0, syn1neg, syn1, float(loss)))
    for a, b in zip(results[0][:3], results[1][:3]):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    assert results[0][3] == pytest.approx(results[1][3], rel=1e-5)
    assert not torch.equal(results[0][0], _weights(V, 1)[0])  # the step did change the input vectors


def test_fused_hogwild_sees_earlier_updates_of_the_same_row():
    """A row used twice in one batch: torch sums two stale updates, fused applies them in turn."""
    V = 10
    syn0, syn1neg, _ = _weights(V, 3)
    contexts = torch.tensor([[1], [1]])
    mask = torch.ones(2, 1)
    rows = torch.tensor([[5], [5]])
    head = steps.Head(syn1neg, rows, torch.tensor([[1.0]]), torch.ones(2, 1))
    runner = fused.FusedSteps(threads=1, dim=D)
    runner.step(True, syn0, contexts, mask, [head], 1.0)
    ref0, ref1, _ = _weights(V, 3)
    steps.skipgram(ref0, contexts, mask, [steps.Head(ref1, rows, torch.tensor([[1.0]]), torch.ones(2, 1))],
                   1.0)
    assert not torch.allclose(syn0[1], ref0[1])


def test_threads_split_the_batch_and_train_every_centre():
    V, B, C = 5000, 64, 4
    syn0, syn1neg, _ = _weights(V, 4)
    before = syn0.clone()
    contexts = torch.arange(B * C).view(B, C)
    head = steps.Head(syn1neg, torch.arange(B)[:, None] + 4000, torch.tensor([[1.0]]), torch.ones(B, 1))
    runner = fused.FusedSteps(threads=2, dim=D)
    runner.step(True, syn0, contexts, torch.ones(B, C), [head], 0.5)
    runner.close()
    changed = (syn0 != before).any(1)
    assert bool(changed[: B * C].all()) and not bool(changed[B * C:].any())


def test_without_a_compiler_training_falls_back_to_torch(tmp_path):
    script = """
import logging, sys
logging.basicConfig(level=logging.WARNING)
from torch_w2v import Word2Vec
from torch_w2v.training.steps import fused
m = Word2Vec([["a", "b", "c"], ["b", "c", "d"]] * 50, min_count=1, sg=1, epochs=1, device="cpu")
print("available", fused.available())
try:
    Word2Vec([["a", "b"]] * 50, min_count=1, sg=1, epochs=1, engine="fused", device="cpu")
except RuntimeError as exc:
    print("refused:", exc)
"""
    env = dict(os.environ, CC=str(tmp_path / "no-such-cc"), TORCH_W2V_CACHE=str(tmp_path / "cache"),
               PATH="/nonexistent")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "available False" in out.stdout
    assert "refused: engine='fused' cannot run on cpu" in out.stdout
    assert "fused CPU step unavailable" in out.stderr and "no-such-cc" in out.stderr


def test_compiled_library_is_cached(tmp_path):
    env = dict(os.environ, TORCH_W2V_CACHE=str(tmp_path / "cache"))
    code = "from torch_w2v.training.steps import fused; print(fused.available())"
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
        assert out.stdout.strip() == "True", out.stderr
    built = list((tmp_path / "cache").glob("w2v_step-*.so"))
    assert len(built) == 1
    assert not list((tmp_path / "cache").glob("*.tmp*"))


def test_noise_drawn_in_c_follows_the_alias_table_and_skips_the_centre():
    from torch_w2v.vocab import alias_table
    weights = np.array([50, 0, 30, 10, 5, 5], dtype=np.int64)
    cum = np.cumsum(weights * 1000)
    threshold, alias, T = alias_table(cum)
    threshold, alias = torch.from_numpy(threshold), torch.from_numpy(alias)
    V, B, K = len(weights), 40_000, 4
    syn0, syn1neg, _ = _weights(V, 5)
    centres = torch.full((B,), 2, dtype=torch.int64)
    rows = torch.empty(B, K + 1, dtype=torch.int64)
    rows[:, 0] = centres
    valid = torch.ones(B, K + 1)
    head = steps.Head(syn1neg, rows, torch.tensor([[1.0] + [0.0] * K]), valid)
    runner = fused.FusedSteps(threads=2, dim=D)
    runner.step(True, syn0, torch.zeros(B, 1, dtype=torch.int64), torch.zeros(B, 1), [head], 0.0,
                noise=(threshold, alias, T, 12345))
    draws = rows[:, 1:].reshape(-1).numpy()
    freq = np.bincount(draws, minlength=V) / draws.size
    expected = weights / weights.sum()
    assert freq[1] == 0.0                                    # zero weight: never drawn
    np.testing.assert_allclose(freq, expected, atol=0.005)   # 160k draws: sd <= 0.0013
    np.testing.assert_array_equal(valid[:, 1:].numpy(), (rows[:, 1:] != 2).float().numpy())
    # keyed by (seed, centre index): the same draws whatever the thread split
    rows2 = rows.clone()
    rows2[:, 1:] = -1
    head2 = steps.Head(syn1neg, rows2, head.labels, torch.ones(B, K + 1))
    fused.FusedSteps(threads=1, dim=D).step(True, syn0, torch.zeros(B, 1, dtype=torch.int64), torch.zeros(B, 1),
                                            [head2], 0.0, noise=(threshold, alias, T, 12345))
    assert torch.equal(rows, rows2)
