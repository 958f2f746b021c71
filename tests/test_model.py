"""SkipGramNeg and NegativeSamplingLoss: shapes, devices, noise sampling, init, errors, loss values and
gradients, and a short lesson-style training loop."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from torch_w2v import NegativeSamplingLoss, SkipGramNeg

GROUPS = (("cat", "dog", "mouse", "horse", "cow"), ("hammer", "saw", "drill", "wrench", "chisel"))
V, D = 10, 6


def _ids_of(model, vectors):
    """Word ids of output vectors, found by matching them against the rows of ``out_embed.weight``."""
    flat = vectors.reshape(-1, model.n_embed)                                        # (N, D)
    dist = torch.cdist(flat, model.out_embed.weight.detach())                        # (N, V)
    ids = dist.argmin(-1)
    assert torch.equal(flat, model.out_embed.weight.detach()[ids]), "a noise vector is not a row of out_embed"
    return ids


def _log_sigmoid(x):
    return -math.log1p(math.exp(-x))


# ----------------------------------------------------------------------------------------- shapes
def test_forward_functions_return_embedding_rows_with_the_right_shapes_and_dtype():
    model = SkipGramNeg(V, D)
    words = torch.tensor([3, 0, 9])
    v = model.forward_input(words)
    u = model.forward_output(words)
    assert v.shape == u.shape == (3, D)
    assert v.dtype == u.dtype == torch.float32
    assert torch.equal(v, model.in_embed.weight[words])
    assert torch.equal(u, model.out_embed.weight[words])
    assert model.forward_input(torch.tensor([[1, 2, 3], [4, 5, 6]])).shape == (2, 3, D)
    assert isinstance(model.in_embed, torch.nn.Embedding) and model.in_embed.weight.shape == (V, D)
    assert isinstance(model.out_embed, torch.nn.Embedding) and model.out_embed.weight.shape == (V, D)

    noise = model.forward_noise(4, 5)
    assert noise.shape == (4, 5, D) and noise.dtype == torch.float32
    assert model.forward_noise(1, 1).shape == (1, 1, D)


def test_noise_vectors_carry_gradient_to_out_embed_only():
    model = SkipGramNeg(V, D)
    model.forward_noise(3, 2).sum().backward()
    assert model.out_embed.weight.grad is not None and model.out_embed.weight.grad.abs().sum() > 0
    assert model.in_embed.weight.grad is None


# ----------------------------------------------------------------------------------------- devices
def test_outputs_and_noise_dist_are_on_the_module_device_cpu():
    model = SkipGramNeg(V, D)
    device = model.in_embed.weight.device
    assert model.noise_dist.device == device
    for out in (model.forward_input(torch.tensor([1])), model.forward_output(torch.tensor([1])),
                model.forward_noise(2, 3)):
        assert out.device == device


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_to_cuda_moves_noise_dist_and_noise_sampling():
    model = SkipGramNeg(V, D, noise_dist=torch.arange(V, dtype=torch.float32)).to("cuda")
    assert model.noise_dist.device.type == "cuda"
    assert model.in_embed.weight.device.type == "cuda"
    noise = model.forward_noise(8, 5)
    assert noise.device.type == "cuda" and noise.shape == (8, 5, D)
    words = torch.tensor([1, 2], device="cuda")
    assert model.forward_input(words).device.type == "cuda"
    assert model.forward_output(words).device.type == "cuda"
    loss = NegativeSamplingLoss()(model.forward_input(words), model.forward_output(words), model.forward_noise(2, 5))
    assert loss.device.type == "cuda" and torch.isfinite(loss)


# ----------------------------------------------------------------------------------------- noise sampling
def test_noise_never_draws_ids_with_zero_weight():
    weights = torch.tensor([0, 0, 0, 0, 0, 1, 1, 2, 3, 5], dtype=torch.float32)
    model = SkipGramNeg(V, D, noise_dist=weights)
    torch.manual_seed(0)
    ids = _ids_of(model, model.forward_noise(200, 20))
    assert set(ids.tolist()) == {5, 6, 7, 8, 9}


def test_noise_frequencies_follow_unnormalised_weights():
    weights = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0])
    model = SkipGramNeg(5, 5, noise_dist=weights)
    with torch.no_grad():
        model.out_embed.weight.copy_(torch.eye(5))                                   # row i is one-hot i
    torch.manual_seed(1)
    ids = model.forward_noise(400, 50).argmax(-1).flatten()                          # 20,000 draws
    freq = torch.bincount(ids, minlength=5).double() / ids.numel()
    # binomial sd of each frequency <= sqrt(0.25/20000) = 0.0035; 0.02 is more than 5 sd
    assert torch.allclose(freq, weights.double() / weights.sum(), atol=0.02), freq


def test_noise_is_torch_multinomial_on_noise_dist():
    weights = torch.tensor([5, 0, 1, 2, 0, 3, 1, 1, 0, 4], dtype=torch.float32)
    model = SkipGramNeg(V, D, noise_dist=weights)
    torch.manual_seed(123)
    noise = model.forward_noise(3, 4)
    torch.manual_seed(123)
    expected_ids = torch.multinomial(weights, 12, replacement=True)
    assert torch.equal(noise, model.out_embed.weight[expected_ids].view(3, 4, D))


def test_noise_is_uniform_when_no_distribution_is_given():
    model = SkipGramNeg(V, D)
    assert torch.equal(model.noise_dist, torch.ones(V))
    torch.manual_seed(2)
    ids = _ids_of(model, model.forward_noise(100, 50))                               # 5,000 draws
    counts = torch.bincount(ids, minlength=V)
    assert (counts > 0).all(), counts
    # each count ~ Binomial(5000, 0.1): mean 500, sd 21; 400..600 is more than 4.7 sd either way
    assert counts.min() > 400 and counts.max() < 600, counts


def test_noise_dist_is_a_buffer_in_state_dict_and_follows_to():
    weights = torch.arange(1, V + 1, dtype=torch.float32)
    model = SkipGramNeg(V, D, noise_dist=weights)
    assert "noise_dist" in dict(model.named_buffers())
    state = model.state_dict()
    assert torch.equal(state["noise_dist"], weights)

    other = SkipGramNeg(V, D)
    other.load_state_dict(state)
    assert torch.equal(other.noise_dist, weights)
    assert torch.equal(other.in_embed.weight, model.in_embed.weight)

    model64 = model.to(torch.float64)
    assert model64.noise_dist.dtype == torch.float64
    assert model64.forward_noise(2, 3).dtype == torch.float64
    assert model64.noise_dist.device == model64.in_embed.weight.device


def test_noise_dist_is_copied_not_aliased():
    weights = np.ones(V, dtype=np.float32)
    model = SkipGramNeg(V, D, noise_dist=weights)
    weights[:] = 0.0
    assert torch.equal(model.noise_dist, torch.ones(V))


# ----------------------------------------------------------------------------------------- init
def test_uniform_init_is_the_lesson_default():
    torch.manual_seed(0)
    model = SkipGramNeg(200, 50)
    for w in (model.in_embed.weight, model.out_embed.weight):
        assert w.min() >= -1.0 and w.max() < 1.0
        assert w.min() < -0.99 and w.max() > 0.99                                    # covers the range
        # mean of 10,000 U(-1, 1) draws has sd 0.0058; 0.05 is over 8 sd
        assert abs(w.mean().item()) < 0.05
    assert not torch.equal(model.in_embed.weight, model.out_embed.weight)


def test_gensim_init_is_small_input_and_zero_output():
    torch.manual_seed(0)
    model = SkipGramNeg(200, 50, init="gensim")
    w = model.in_embed.weight
    assert w.min() >= -1 / 50 and w.max() < 1 / 50
    assert w.min() < -0.99 / 50 and w.max() > 0.99 / 50
    assert torch.count_nonzero(model.out_embed.weight) == 0


def test_none_init_keeps_pytorch_default():
    torch.manual_seed(0)
    model = SkipGramNeg(200, 50, init="none")
    assert model.in_embed.weight.abs().max() > 1.0                                   # N(0, 1), not U(-1, 1)


# ----------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs, exc, shown", [
    (dict(n_vocab=0, n_embed=4), ValueError, "n_vocab=0"),
    (dict(n_vocab=-3, n_embed=4), ValueError, "n_vocab=-3"),
    (dict(n_vocab=5, n_embed=0), ValueError, "n_embed=0"),
    (dict(n_vocab=5, n_embed=4, init="xavier"), ValueError, "'xavier'"),
    (dict(n_vocab=5, n_embed=4, noise_dist=torch.ones(3)), ValueError, "(3,)"),
    (dict(n_vocab=5, n_embed=4, noise_dist=torch.ones(5, 1)), ValueError, "(5, 1)"),
    (dict(n_vocab=3, n_embed=4, noise_dist=torch.tensor([1.0, -2.0, 1.0])), ValueError, "-2.0"),
    (dict(n_vocab=3, n_embed=4, noise_dist=torch.zeros(3)), ValueError, "sum=0.0"),
    (dict(n_vocab=3, n_embed=4, noise_dist=torch.tensor([1.0, float("nan"), 1.0])), ValueError, "nan"),
    (dict(n_vocab=2.5, n_embed=4), TypeError, "2.5"),
])
def test_bad_constructor_arguments_are_refused_with_the_value(kwargs, exc, shown):
    with pytest.raises(exc) as info:
        SkipGramNeg(**kwargs)
    assert shown in str(info.value)


def test_from_weights_shares_memory_and_checks_shapes():
    in_w, out_w = torch.randn(V, D), torch.randn(V, D)
    model = SkipGramNeg.from_weights(in_w, out_w)
    with torch.no_grad():
        in_w[0] = 7.0
    assert torch.equal(model.in_embed.weight[0], torch.full((D,), 7.0))
    assert model.out_embed.weight.data_ptr() == out_w.data_ptr()
    with pytest.raises(ValueError, match=r"\(10, 6\).*\(10, 5\)"):
        SkipGramNeg.from_weights(in_w, torch.randn(V, 5))


# ----------------------------------------------------------------------------------------- loss value
def test_loss_equals_a_hand_computation():
    v = torch.tensor([[1.0, 0.5], [0.2, -1.0]])                                     # (B=2, D=2)
    u_o = torch.tensor([[0.5, 1.0], [1.0, 1.0]])
    u_k = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[-1.0, 2.0], [0.5, 0.5]]])       # (B=2, K=2, D=2)
    # by hand: u_o.v = 1.0 and -0.8; u_k.v = (1.0, 0.5) and (-2.2, -0.4)
    row0 = -(_log_sigmoid(1.0) + _log_sigmoid(-1.0) + _log_sigmoid(-0.5))
    row1 = -(_log_sigmoid(-0.8) + _log_sigmoid(2.2) + _log_sigmoid(0.4))
    expected = (row0 + row1) / 2
    loss = NegativeSamplingLoss()(v, u_o, u_k)
    assert loss.shape == ()
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # the terms: 0.3133 + 1.3133 + 0.9741 = 2.6006 and 1.1711 + 0.1052 + 0.5130 = 1.7893; mean 2.1949
    assert expected == pytest.approx(2.1949, abs=1e-4)


def test_loss_batch_of_one():
    v = torch.tensor([[2.0, -1.0, 0.0]])
    u_o = torch.tensor([[0.5, 0.5, 3.0]])                                            # u_o.v = 0.5
    u_k = torch.tensor([[[1.0, 1.0, 1.0]]])                                          # u_k.v = 1.0
    expected = -(_log_sigmoid(0.5) + _log_sigmoid(-1.0))
    assert NegativeSamplingLoss()(v, u_o, u_k).item() == pytest.approx(expected, rel=1e-6)


def test_loss_is_finite_for_scores_of_plus_minus_100():
    loss_fn = NegativeSamplingLoss()
    v = torch.tensor([[10.0, 0.0]], requires_grad=True)
    bad_o = torch.tensor([[-10.0, 0.0]])                                             # u_o.v = -100
    bad_k = torch.tensor([[[10.0, 0.0], [10.0, 0.0], [10.0, 0.0]]])                  # u_k.v = +100
    worst = loss_fn(v, bad_o, bad_k)
    assert torch.isfinite(worst)
    assert worst.item() == pytest.approx(400.0, rel=1e-6)                            # -log σ(-100) ~ 100, 4 terms
    worst.backward()
    assert torch.isfinite(v.grad).all()

    best = loss_fn(v, -bad_o, -bad_k)                                                # all scores on the right side
    assert torch.isfinite(best) and 0.0 <= best.item() < 1e-30
    big = torch.full((1, 2), 1e3)
    assert torch.isfinite(loss_fn(big, -big, big.unsqueeze(1)))                      # scores of ±2e6


# ----------------------------------------------------------------------------------------- gradients
def test_loss_gradients_pass_gradcheck_in_float64():
    torch.manual_seed(0)
    v = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    u_o = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    u_k = torch.randn(3, 5, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(NegativeSamplingLoss(), (v, u_o, u_k))


def test_loss_gradients_equal_the_hand_derivation():
    torch.manual_seed(1)
    B, K = 4, 3
    v = torch.randn(B, D, dtype=torch.float64, requires_grad=True)
    u_o = torch.randn(B, D, dtype=torch.float64, requires_grad=True)
    u_k = torch.randn(B, K, D, dtype=torch.float64, requires_grad=True)
    NegativeSamplingLoss()(v, u_o, u_k).backward()
    with torch.no_grad():
        s_o = (u_o * v).sum(-1, keepdim=True)                                        # (B, 1)
        s_k = torch.einsum("bkd,bd->bk", u_k, v).unsqueeze(-1)                       # (B, K, 1)
        # d/ds of -log σ(s) is -(1 - σ(s)) = -σ(-s); d/ds of -log σ(-s) is σ(s); then the 1/B of the mean
        g_o = -torch.sigmoid(-s_o) / B
        g_k = torch.sigmoid(s_k) / B
        assert torch.allclose(v.grad, g_o * u_o + (g_k * u_k).sum(1))
        assert torch.allclose(u_o.grad, g_o * v)
        assert torch.allclose(u_k.grad, g_k * v.unsqueeze(1))


@pytest.mark.parametrize("shapes", [
    ((4,), (4,), (1, 2, 4)),                  # 1-D input
    ((2, 4), (3, 4), (2, 5, 4)),              # output batch differs
    ((2, 4), (2, 3), (2, 5, 4)),              # output dim differs
    ((2, 4), (2, 4), (2, 4)),                 # noise not 3-D
    ((2, 4), (2, 4), (3, 5, 4)),              # noise batch differs
    ((2, 4), (2, 4), (2, 5, 3)),              # noise dim differs
])
def test_loss_refuses_bad_shapes(shapes):
    tensors = [torch.zeros(s) for s in shapes]
    with pytest.raises(ValueError, match="got"):
        NegativeSamplingLoss()(*tensors)


def test_loss_uses_logsigmoid_not_sigmoid_log():
    # at a score of -200, sigmoid underflows to 0 in float32 and log(0) is -inf; logsigmoid is exact
    v, u_o, u_k = torch.tensor([[20.0]]), torch.tensor([[-10.0]]), torch.zeros(1, 1, 1)
    expected = -(F.logsigmoid(torch.tensor(-200.0)) + F.logsigmoid(torch.tensor(0.0)))
    assert NegativeSamplingLoss()(v, u_o, u_k).item() == pytest.approx(expected.item(), rel=1e-6)


# ----------------------------------------------------------------------------------------- training
def _two_group_pairs():
    """Every (centre, context) pair of distinct words inside each group: ids 0-4 and 5-9 never co-occur."""
    centres, contexts = [], []
    for g, group in enumerate(GROUPS):
        ids = range(g * len(group), (g + 1) * len(group))
        for a in ids:
            for b in ids:
                if a != b:
                    centres.append(a)
                    contexts.append(b)
    return torch.tensor(centres), torch.tensor(contexts)


def train_two_groups(seed=0, steps=300, n_embed=16, n_samples=5, lr=0.05):
    """The lesson's loop (Adam, forward_input/output/noise, NegativeSamplingLoss), full batch of 40 pairs."""
    torch.manual_seed(seed)
    model = SkipGramNeg(V, n_embed)
    criterion = NegativeSamplingLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    centres, contexts = _two_group_pairs()
    losses = []
    for _ in range(steps):
        input_vectors = model.forward_input(centres)                                 # (B, D)
        output_vectors = model.forward_output(contexts)                              # (B, D)
        noise_vectors = model.forward_noise(len(centres), n_samples)                 # (B, K, D)
        loss = criterion(input_vectors, output_vectors, noise_vectors)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model, losses


@pytest.fixture(scope="module")
def trained():
    return train_two_groups(seed=0)


def _cosine(model):
    w = F.normalize(model.in_embed.weight.detach(), dim=1)
    return w @ w.T                                                                   # (V, V)


def test_training_lowers_the_loss(trained):
    _, losses = trained
    # calibration, seeds 0-49 with these settings: final/first loss ratio max 0.445 (first ~4.5-6.1,
    # final ~1.8-2.1); 0.6 leaves a safe margin while still failing if nothing is learnt.
    assert all(math.isfinite(x) for x in losses)
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:10])


def test_training_makes_within_group_words_more_similar(trained):
    model, _ = trained
    sim = _cosine(model)
    group = torch.arange(V) // 5
    same = group[:, None] == group[None, :]
    off_diagonal = ~torch.eye(V, dtype=torch.bool)
    within = sim[same & off_diagonal].mean().item()
    across = sim[~same].mean().item()
    # calibration, seeds 0-49: within - across min 0.343, mean 0.409, sd 0.025 (random init gives ~0);
    # 0.2 is more than 5 sd below the worst seed.
    assert within - across > 0.2, (within, across)
    # every word's nearest neighbour is in its own group (min margin over 50 seeds: 0.14 cosine)
    nearest = (sim - 9 * torch.eye(V)).argmax(-1)
    assert torch.equal(group[nearest], group)
