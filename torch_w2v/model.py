"""The skip-gram negative-sampling network and its loss, as plain PyTorch modules.

This module knows nothing about gensim: it is the model from the SkipGramNeg lesson, usable in a
hand-written training loop (autograd + any optimiser). The training steps of
:mod:`torch_w2v.training.steps` update the same rows without autograd (``Word2Vec.module`` is a
SkipGramNeg sharing memory with a model's weights), and ``tests/test_gradients.py`` proves that their
update is ``-lr`` times the autograd gradient of :class:`NegativeSamplingLoss` on this module.
"""
from __future__ import annotations

import operator

import torch
import torch.nn as nn
import torch.nn.functional as F


class SkipGramNeg(nn.Module):
    """Input and output word embeddings with a noise distribution for negative sampling.

    Parameters
    ----------
    n_vocab : int
        Number of words (rows of both embedding matrices), >= 1.
    n_embed : int
        Embedding dimension, >= 1.
    noise_dist : torch.Tensor, optional
        Unnormalised sampling weights of the noise words, shape ``(n_vocab,)``; uniform when None.
        Stored as a buffer, so it follows ``.to()`` and is part of ``state_dict()``.
    init : {"uniform", "gensim", "none"}
        ``"uniform"``: both tables uniform in [-1, 1), as in the lesson. ``"gensim"``: input vectors
        uniform in [-1/n_embed, 1/n_embed) and output vectors zero, as gensim initialises them
        (``torch_w2v.Word2Vec`` instead copies gensim's exact draw). ``"none"``: leave PyTorch's default.

    Examples
    --------
    >>> model = SkipGramNeg(10, 4)
    >>> model.forward_input(torch.tensor([1, 2])).shape
    torch.Size([2, 4])
    >>> model.forward_noise(3, 5).shape
    torch.Size([3, 5, 4])
    """

    def __init__(self, n_vocab: int, n_embed: int, noise_dist: torch.Tensor | None = None,
                 init: str = "uniform"):
        super().__init__()
        for name, value in (("n_vocab", n_vocab), ("n_embed", n_embed)):
            if isinstance(value, bool):
                raise TypeError(f"{name} must be an int, got {value!r}.")
            try:
                operator.index(value)  # int(2.5) would silently truncate
            except TypeError:
                raise TypeError(f"{name} must be an int, got {value!r}; pass a whole number.") from None
        if int(n_vocab) < 1 or int(n_embed) < 1:
            raise ValueError(f"SkipGramNeg needs n_vocab >= 1 and n_embed >= 1, got n_vocab={n_vocab}, "
                             f"n_embed={n_embed}.")
        self.n_vocab = int(n_vocab)
        self.n_embed = int(n_embed)
        self.in_embed = nn.Embedding(self.n_vocab, self.n_embed)
        self.out_embed = nn.Embedding(self.n_vocab, self.n_embed)
        if noise_dist is None:
            noise_dist = torch.ones(self.n_vocab)
        # A private CPU copy: as_tensor alone would alias the caller's array (later edits to it would change
        # the sampling) and keep a CUDA tensor on CUDA while the embeddings sit on the CPU.
        noise_dist = torch.as_tensor(noise_dist, dtype=torch.float32).detach().to("cpu", copy=True)
        if noise_dist.shape != (self.n_vocab,):
            raise ValueError(f"noise_dist must have shape ({self.n_vocab},), got {tuple(noise_dist.shape)}.")
        # torch.multinomial would only fail at the first forward_noise; refuse bad weights here instead.
        if not bool(torch.isfinite(noise_dist).all()) or bool((noise_dist < 0).any()) \
                or not bool((noise_dist > 0).any()):
            raise ValueError(f"noise_dist must be finite, non-negative and not all zero, got "
                             f"min={noise_dist.min().item()}, max={noise_dist.max().item()}, "
                             f"sum={noise_dist.sum().item()}.")
        self.register_buffer("noise_dist", noise_dist)
        if init == "uniform":
            nn.init.uniform_(self.in_embed.weight, -1.0, 1.0)
            nn.init.uniform_(self.out_embed.weight, -1.0, 1.0)
        elif init == "gensim":
            nn.init.uniform_(self.in_embed.weight, -1.0 / self.n_embed, 1.0 / self.n_embed)
            nn.init.zeros_(self.out_embed.weight)
        elif init != "none":
            raise ValueError(f"init must be 'uniform', 'gensim' or 'none', got {init!r}.")

    @classmethod
    def from_weights(cls, in_weight: torch.Tensor, out_weight: torch.Tensor,
                     noise_dist: torch.Tensor | None = None) -> "SkipGramNeg":
        """Wrap existing ``(V, D)`` weight tensors without copying them (they stay shared)."""
        if in_weight.shape != out_weight.shape or in_weight.dim() != 2:
            raise ValueError(f"in_weight and out_weight must both be (V, D); got {tuple(in_weight.shape)} "
                             f"and {tuple(out_weight.shape)}.")
        model = cls(in_weight.shape[0], in_weight.shape[1], noise_dist, init="none")
        model.in_embed.weight = nn.Parameter(in_weight, requires_grad=in_weight.requires_grad)
        model.out_embed.weight = nn.Parameter(out_weight, requires_grad=out_weight.requires_grad)
        return model.to(in_weight.device)

    def forward_input(self, words: torch.Tensor) -> torch.Tensor:
        """Input (centre-side) vectors of ``words``: ``(...,)`` ids -> ``(..., D)``."""
        return self.in_embed(words)

    def forward_output(self, words: torch.Tensor) -> torch.Tensor:
        """Output (context-side) vectors of ``words``: ``(...,)`` ids -> ``(..., D)``."""
        return self.out_embed(words)

    def forward_noise(self, batch_size: int, n_samples: int) -> torch.Tensor:
        """Output vectors of ``batch_size * n_samples`` noise words drawn from ``noise_dist``.

        Returns a tensor of shape ``(batch_size, n_samples, D)`` on the module's device.
        """
        noise_words = torch.multinomial(self.noise_dist, batch_size * n_samples, replacement=True)
        return self.out_embed(noise_words).view(batch_size, n_samples, self.n_embed)  # (B, K, D)


class NegativeSamplingLoss(nn.Module):
    """Batch mean of ``-[log σ(u_o·v_i) + Σ_k log σ(-u_k·v_i)]``.

    ``forward(input_vectors (B, D), output_vectors (B, D), noise_vectors (B, K, D)) -> scalar``.
    """

    def forward(self, input_vectors: torch.Tensor, output_vectors: torch.Tensor,
                noise_vectors: torch.Tensor) -> torch.Tensor:
        if input_vectors.dim() != 2 or output_vectors.shape != input_vectors.shape:
            raise ValueError(f"input_vectors and output_vectors must both be (B, D); got "
                             f"{tuple(input_vectors.shape)} and {tuple(output_vectors.shape)}.")
        if noise_vectors.dim() != 3 or noise_vectors.shape[0] != input_vectors.shape[0] \
                or noise_vectors.shape[2] != input_vectors.shape[1]:
            raise ValueError(f"noise_vectors must be (B, K, D) = ({input_vectors.shape[0]}, K, "
                             f"{input_vectors.shape[1]}); got {tuple(noise_vectors.shape)}.")
        pos = (input_vectors * output_vectors).sum(-1)                               # (B,)
        neg = torch.bmm(noise_vectors, input_vectors.unsqueeze(-1)).squeeze(-1)      # (B, K)
        loss = F.logsigmoid(pos) + F.logsigmoid(-neg).sum(-1)                        # (B,)
        return -loss.mean()
