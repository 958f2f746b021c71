"""The engine trains the lesson's model and loss: one step of every step implementation moves the weights by
``-lr`` times the autograd gradient of the summed ``NegativeSamplingLoss`` of a ``SkipGramNeg`` holding the
same weights.

Conditions that make the hand-written updates exact gradients: the update cap off, no row repeated within
the batch (tests/batches.py), every ``|score| < 6`` (small weights; asserted), and for skip-gram one context
per centre: the fused C step, like gensim, updates a centre's output rows after each of its contexts, so
with several contexts the later ones see moved rows (a second-order difference, not a gradient).

CBOW: the output rows move by exactly ``-lr x`` the gradient. The input rows follow gensim's rule, which is
not the gradient of the mean (or sum) of the context vectors: with ``cbow_mean=1`` every context word takes
the full hidden-layer gradient (``count x`` its gradient), with ``cbow_mean=0`` the hidden-layer gradient
divided by the count (``1/count x`` its gradient). The test asserts exactly those factors.
"""
import pytest
import torch
from batches import copy_weights, distinct_batch

from torch_w2v import NegativeSamplingLoss, SkipGramNeg, config
from torch_w2v.config import MAX_EXP
from torch_w2v.training.steps import fused, torch_step

STEPS = ["torch", pytest.param("fused", marks=pytest.mark.skipif(not fused.available(),
                                                                   reason="the fused C step is not built"))]
try:
    from torch_w2v.training.steps import triton_step
    if triton_step.TritonStep.unavailable(torch.device("cpu")) is None:
        STEPS.append("triton")
except ImportError:  # pragma: no cover - triton is a test dependency
    pass

LR, K, V, D = 0.05, 3, 400, 16


def _one_step(step, cfg, weights, tables, batch, noise):
    centres, contexts, mask = batch.materialize()
    if step == "torch":
        torch_step.train_batch(cfg, weights, tables, centres, contexts, mask, noise, LR)
    elif step == "fused":
        with fused.FusedSteps(threads=1, dim=D) as runner:
            runner.step(bool(cfg.sg), weights.syn0, contexts, mask,
                        torch_step.heads(cfg, weights, tables, centres, noise), LR, bool(cfg.cbow_mean))
    else:
        triton_step.launch(cfg, weights, tables, batch, LR, 0,
                           torch.zeros((), dtype=torch.float64), noise=noise)


def _autograd(weights, batch, noise, sg: bool, cbow_mean: bool):
    """Gradients of the summed NegativeSamplingLoss of a SkipGramNeg holding ``weights``: (in, out, count)."""
    model = SkipGramNeg.from_weights(weights.syn0.clone().requires_grad_(), weights.syn1neg.clone().requires_grad_())
    centres, contexts, mask = batch.materialize()
    real = mask.bool()                                                                     # (B, C)
    if sg:  # every (centre, context) pair: the context's input vector, the centre's and noise output vectors
        b, c = torch.nonzero(real, as_tuple=True)
        inputs = model.forward_input(contexts[b, c])                                      # (P, D)
        outputs = model.forward_output(centres[b])                                        # (P, D)
        noise_vectors = model.forward_output(noise[b])                                    # (P, K, D)
    else:   # the mean (or sum) of the context vectors against the centre and its noise words
        v = model.forward_input(contexts) * mask[:, :, None]                              # (B, C, D)
        inputs = v.sum(1) / (mask.sum(1, keepdim=True) if cbow_mean else 1.0)             # (B, D)
        outputs = model.forward_output(centres)                                           # (B, D)
        noise_vectors = model.forward_output(noise)                                       # (B, K, D)
    scores = torch.cat([(inputs * outputs).sum(-1, keepdim=True),
                        torch.bmm(noise_vectors, inputs[:, :, None]).squeeze(-1)], 1)
    assert scores.abs().max() < MAX_EXP, "a saturated score would be skipped by the steps"
    loss = NegativeSamplingLoss()(inputs, outputs, noise_vectors) * len(inputs)           # mean -> sum
    loss.backward()
    count = torch.zeros(V)
    count.index_add_(0, contexts[real], mask.sum(1, keepdim=True).expand_as(mask)[real])  # contexts per row
    return model.in_embed.weight.grad, model.out_embed.weight.grad, count


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("mode", ["sg", "cbow_mean", "cbow_sum"])
def test_one_step_is_minus_lr_times_the_autograd_gradient(step, mode):
    sg, cbow_mean = mode == "sg", mode == "cbow_mean"
    cfg = config.replace(config.DEFAULTS, sg=int(sg), cbow_mean=int(cbow_mean), negative=K, hs=0,
                         window=1 if sg else 2, update_cap=None)
    # skip-gram: two-word sentences (one context per centre); CBOW: five words, the middle one the centre
    weights, tables, batch, noise = distinct_batch(n_sentences=16, length=2 if sg else 5, V=V, D=D, K=K, seed=3)
    grad_in, grad_out, count = _autograd(weights, batch, noise, sg, cbow_mean)
    trained = copy_weights(weights)
    _one_step(step, cfg, trained, tables, batch, noise)

    torch.testing.assert_close(trained.syn1neg - weights.syn1neg, -LR * grad_out, rtol=1e-4, atol=1e-7)
    if sg:
        factor = torch.ones(V)
    else:  # gensim's CBOW input rule (module docstring), per context row
        factor = count.clamp(min=1) if cbow_mean else 1.0 / count.clamp(min=1)
    torch.testing.assert_close(trained.syn0 - weights.syn0, -LR * grad_in * factor[:, None], rtol=1e-4, atol=1e-7)
    assert grad_out.abs().sum() > 0 and grad_in.abs().sum() > 0
