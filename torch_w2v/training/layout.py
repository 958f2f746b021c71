"""How an epoch over an :class:`~torch_w2v.corpus.EncodedCorpus` is cut: chunks, parts and their spans.

A *chunk* is the work between two engine hooks (progress, checkpoints, distributed merges): about
``chunk_words`` ids of whole sentences. A *part* is a run of whole sentences trained by one thread across
the epoch (the token pipeline's threads each take one, as gensim's ``corpus_file`` workers each read their
part of the file). Both are :class:`Span` s of the encoded corpus, made here and nowhere else.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Span:
    """A stretch of an encoded corpus: ids ``[lo, hi)`` in sentences (or a piece of one)."""
    lo: int
    hi: int
    lengths: np.ndarray     # (S,) ids per sentence in the span
    sentences: int          # sentences that end in this span
    raw_words: int          # raw tokens of the span (a long sentence's are shared among its pieces)


def spans(corpus, s_begin: int, s_end: int, chunk_words: int):
    """Yield the :class:`Span` s that cover sentences ``[s_begin, s_end)`` of ``corpus`` in order, each of
    about ``chunk_words`` ids.

    Spans hold whole sentences, except that a sentence longer than ``chunk_words`` is cut into pieces of
    ``chunk_words``: windows stop at a cut, so at most ``window`` pairs are lost on each side of it (0.02%
    of a 64k-token piece's pairs), and memory stays bounded however long the sentence.
    """
    bounds, raw = corpus.bounds, corpus.raw_words
    s, n = s_begin, s_end
    while s < n:
        lo = int(bounds[s])
        e = min(int(np.searchsorted(bounds, lo + chunk_words, side="right")) - 1, n)
        if e > s:
            yield Span(lo, int(bounds[e]), np.diff(bounds[s:e + 1]), e - s, int(raw[s:e].sum()))
            s = e
            continue
        length, total_raw = int(bounds[s + 1]) - lo, int(raw[s])
        for a in range(0, length, chunk_words):  # one sentence longer than a chunk: pieces
            b = min(a + chunk_words, length)
            raw_share = total_raw * b // length - total_raw * a // length
            yield Span(lo + a, lo + b, np.array([b - a]), int(b == length), raw_share)
        s += 1


def chunks(corpus, chunk_words: int):
    """The :class:`Span` s of the whole corpus, each of about ``chunk_words`` ids (see :func:`spans`)."""
    return spans(corpus, 0, corpus.n_sentences, chunk_words)


def parts(corpus, n: int) -> list:
    """``[(s_begin, s_end), ...]``: at most ``n`` runs of whole sentences of ``corpus`` about equal in ids,
    covering it in order."""
    return sentence_runs(corpus.bounds, n)


def sentence_runs(bounds: np.ndarray, n: int) -> list:
    """``[(s_begin, s_end), ...]``: at most ``n`` runs of whole sentences of ``bounds`` (S + 1,) (sentence
    ``s`` holds ids ``bounds[s]:bounds[s + 1]``), about equal in ids: each cut at the sentence end nearest
    its share; empty runs are left out."""
    S, N = len(bounds) - 1, int(bounds[-1])
    if S == 0 or n <= 1:
        return [(0, S)] if S else []
    targets = np.array([N * t // n for t in range(1, n)], dtype=np.int64)
    cuts = np.clip(np.searchsorted(bounds, targets), 1, max(S, 1))       # bounds[cut - 1] < target <= bounds[cut]
    nearer = targets - bounds[cuts - 1] < bounds[cuts] - targets          # the sentence end nearest the target
    edges = sorted({0, S, *(int(c) for c in cuts - nearer)})
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]
