"""What a trained model says about text: sentence log-probabilities (hierarchical softmax) and the
distribution of a centre word given its context (negative sampling).

:func:`score_sentences` is gensim's ``score_sentence_sg`` / ``score_sentence_cbow`` (Taddy 2015,
"Document classification by inversion of distributed language representations") as batched torch ops:

* skip-gram: ``Σ_i Σ_{j ≠ i, |j - i| <= window} log P(w_i | w_j)``, ``P`` the product over the nodes of
  ``w_i``'s Huffman path of ``σ(±syn1[node] · syn0[w_j])`` (``+`` where the code bit is 0);
* CBOW: ``Σ_i log P(w_i | h_i)``, ``h_i`` the sum (``cbow_mean=0``) or mean (``cbow_mean=1``) of the input
  vectors of the words in the full window around ``i`` (a word with no context scores ``h = 0``).

As in gensim: out-of-vocabulary tokens are dropped before windows are laid out, the window is the full
``window`` (no reduced windows, no downsampling), and a node whose ``|score| >= 6`` adds nothing (gensim
skips it). Unlike gensim: ``log σ`` is computed exactly, where gensim reads a 1,000-entry table at
``int((f + 6) * 83)``, at or below ``f``, so its scores are ~2% lower (more negative) than these; and a
sentence longer than 10,000 words is scored whole (gensim stops there). ``tests/test_modes.py`` checks
both: with gensim's table the same formula gives gensim's scores.

:func:`predict_centre` is gensim's ``predict_output_word``: a softmax over ``syn1neg`` of the mean (or
sum) of the context vectors.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .config import MAX_EXP

TOKENS_PER_STEP = 4096    # bounds the (N, L, D) gather of Huffman-node rows: 4096 x 20 x 100 floats = 33 MB


def score_sentences(ids: np.ndarray, bounds: np.ndarray, syn0: np.ndarray, syn1: np.ndarray,
                    points: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor, *, sg: bool, window: int,
                    cbow_mean: bool) -> np.ndarray:
    """Log-probability of each sentence of an encoded batch; float32 ``(S,)``.

    Parameters
    ----------
    ids, bounds : numpy.ndarray
        In-vocabulary word ids of the batch's sentences, concatenated ``(N,)``, and sentence bounds
        ``(S+1,)`` (sentence ``s`` is ``ids[bounds[s]:bounds[s+1]]``).
    syn0, syn1 : numpy.ndarray
        ``(V, D)`` float32 input vectors and hierarchical-softmax node weights.
    points, labels, valid : torch.Tensor
        ``(V, L)`` Huffman path per word: inner-node ids, ``1 - code`` and 1 where the path has a node
        (:func:`torch_w2v.vocab.huffman_table`).
    sg : bool
        Score as skip-gram (True) or CBOW (False).
    window : int
        Context words on each side.
    cbow_mean : bool
        CBOW only: mean (True) or sum (False) of the context vectors.
    """
    n_sentences = len(bounds) - 1
    totals = torch.zeros(n_sentences, dtype=torch.float64)                                 # (S,)
    if len(ids) == 0:
        return totals.to(torch.float32).numpy()
    words = torch.from_numpy(np.asarray(ids, dtype=np.int64))                              # (N,)
    lengths = torch.from_numpy(np.diff(np.asarray(bounds, dtype=np.int64)))
    sentence_of = torch.repeat_interleave(torch.arange(n_sentences), lengths)              # (N,)
    syn0_t = torch.from_numpy(np.ascontiguousarray(syn0, dtype=np.float32))
    syn1_t = torch.from_numpy(np.ascontiguousarray(syn1, dtype=np.float32))
    N = len(words)
    offsets = [d for d in range(-window, window + 1) if d != 0]
    for start in range(0, N, TOKENS_PER_STEP):
        centre = torch.arange(start, min(start + TOKENS_PER_STEP, N))                      # (n,)
        w = words[centre]
        u = syn1_t[points[w]]                                                              # (n, L, D)
        sign = labels[w] * 2.0 - 1.0                                                       # (n, L) +1: code 0
        node_ok = valid[w]                                                                 # (n, L)
        # context position per offset, and whether it lies in the same sentence
        ctx = centre[:, None] + torch.tensor(offsets)[None, :]                             # (n, 2W)
        inside = (ctx >= 0) & (ctx < N)
        ctx = ctx.clamp(0, N - 1)
        same = inside & (sentence_of[ctx] == sentence_of[centre][:, None])                 # (n, 2W)
        v = syn0_t[words[ctx]]                                                             # (n, 2W, D)
        if sg:
            f = torch.bmm(v, u.transpose(1, 2)) * sign[:, None, :]                         # (n, 2W, L)
            keep = same[:, :, None] * node_ok[:, None, :] * (f.abs() < MAX_EXP)
            per_token = (F.logsigmoid(f) * keep).sum((1, 2), dtype=torch.float64)          # (n,)
        else:
            h = torch.bmm(same[:, None, :].to(torch.float32), v).squeeze(1)                # (n, D) sum
            if cbow_mean:
                h = h / same.sum(1, keepdim=True).clamp(min=1)
            f = torch.bmm(u, h[:, :, None]).squeeze(-1) * sign                             # (n, L)
            keep = node_ok * (f.abs() < MAX_EXP)
            per_token = (F.logsigmoid(f) * keep).sum(1, dtype=torch.float64)               # (n,)
        totals.index_add_(0, sentence_of[centre], per_token)
    return totals.to(torch.float32).numpy()


def predict_centre(syn0: np.ndarray, syn1neg: np.ndarray, context: list, cbow_mean: bool) -> np.ndarray:
    """Probability of every word as the centre of ``context`` (word ids): ``softmax(syn1neg · h)``, ``(V,)``.

    ``h`` is the mean (``cbow_mean``) or sum of the context words' input vectors, as gensim's
    ``predict_output_word``; the softmax is shifted by its maximum, so large scores do not overflow.
    """
    h = np.sum(syn0[context], axis=0, dtype=np.float32)                                     # (D,)
    if cbow_mean:
        h /= len(context)
    scores = syn1neg @ h                                                                     # (V,)
    scores -= scores.max()
    probs = np.exp(scores)
    probs /= probs.sum()
    return probs.astype(np.float32, copy=False)
