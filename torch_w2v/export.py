"""Export: KeyedVectors from any SkipGramNeg, a full gensim Word2Vec from a torch_w2v one, word2vec C files."""
from __future__ import annotations

import os

import numpy as np
import torch
from gensim.models import KeyedVectors
from gensim.models import word2vec as _gensim_word2vec

# gensim's own class, taken when torch_w2v is imported: programs that put torch_w2v in gensim's place
# (``gensim.models.Word2Vec = torch_w2v.Word2Vec``) rebind the attribute afterwards.
_GENSIM_WORD2VEC = _gensim_word2vec.Word2Vec


def to_keyed_vectors(model_or_vectors, keys, counts=None) -> KeyedVectors:
    """The input embeddings of a :class:`~torch_w2v.SkipGramNeg` (or a ``(V, D)`` array) as KeyedVectors.

    Parameters
    ----------
    model_or_vectors : SkipGramNeg, torch.Tensor or numpy.ndarray
        A model (its ``in_embed`` weights are used) or the ``(V, D)`` vectors themselves.
    keys : sequence of str
        The word of each row, ``len(keys) == V``.
    counts : sequence of int, optional
        Corpus counts per row, stored as the ``count`` vecattr (used by ``save_word2vec_format`` to
        order rows and by gensim's evaluations). Without counts, rows keep their order.

    Examples
    --------
    >>> from torch_w2v import SkipGramNeg
    >>> kv = to_keyed_vectors(SkipGramNeg(3, 4), ["a", "b", "c"], counts=[5, 3, 1])
    >>> kv.vectors.shape
    (3, 4)
    """
    weights = model_or_vectors
    if hasattr(weights, "in_embed"):
        weights = weights.in_embed.weight
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().to("cpu", torch.float32).numpy()
    vectors = np.array(weights, dtype=np.float32, copy=True)
    keys = list(keys)
    if vectors.ndim != 2 or len(keys) != vectors.shape[0]:
        raise ValueError(f"keys has {len(keys)} entries but the vectors have shape {vectors.shape}; "
                         f"pass one key per row.")
    if len(set(keys)) != len(keys):
        raise ValueError("keys contains duplicates; each row needs its own word.")
    if counts is not None:
        counts = np.asarray(counts, dtype=np.int64)
        if counts.shape != (len(keys),):
            raise ValueError(f"counts has shape {counts.shape}; it needs one count per key ({len(keys)}).")
    # count=0, not count=len(keys): add_vectors appends after any preallocated (None-keyed, zero) rows.
    kv = KeyedVectors(vectors.shape[1], count=0, dtype=np.float32)
    kv.add_vectors(keys, vectors)
    kv.next_index = len(keys)
    if counts is not None:
        kv.allocate_vecattrs(attrs=["count"], types=[int])
        kv.expandos["count"][:] = counts
    return kv


def copy_keyed_vectors(wv: KeyedVectors) -> KeyedVectors:
    """A deep copy of ``wv`` (keys, vectors and every vecattr)."""
    out = KeyedVectors(wv.vector_size, count=0, dtype=np.float32)
    out.index_to_key = list(wv.index_to_key)
    out.next_index = getattr(wv, "next_index", len(out.index_to_key))
    out.key_to_index = dict(wv.key_to_index)
    out.vectors = np.array(wv.vectors, dtype=np.float32, copy=True)
    out.expandos = {k: np.array(v, copy=True) for k, v in wv.expandos.items()}
    out.vectors_lockf = np.array(getattr(wv, "vectors_lockf", np.ones(1, dtype=np.float32)), copy=True)
    out.norms = None
    return out


GENSIM_SETTINGS = ("vector_size", "alpha", "window", "min_count", "max_vocab_size", "sample", "seed", "workers",
                   "min_alpha", "sg", "hs", "negative", "ns_exponent", "cbow_mean", "epochs", "null_word",
                   "sorted_vocab", "batch_words", "compute_loss", "comment", "max_final_vocab",
                   "shrink_windows")


def gensim_word2vec_class():
    """gensim's own ``Word2Vec`` class, even where ``gensim.models.Word2Vec`` (or
    ``gensim.models.word2vec.Word2Vec``) has been replaced by torch_w2v's."""
    if _GENSIM_WORD2VEC.__module__ == "gensim.models.word2vec":
        return _GENSIM_WORD2VEC
    from gensim.models.fasttext import FastText  # replaced before torch_w2v's import: gensim's subclass knows
    return next(c for c in FastText.__mro__ if c.__name__ == "Word2Vec" and c.__module__ == "gensim.models.word2vec")


def to_gensim(model):
    """A ``gensim.models.Word2Vec`` with the same settings, vocabulary and weights, which gensim can train on.

    Always gensim's own class, also where a program has put torch_w2v's class in its place.
    """
    GensimWord2Vec = gensim_word2vec_class()
    settings = {name: getattr(model, name) for name in GENSIM_SETTINGS}
    settings["hashfxn"] = model.hashfxn
    out = GensimWord2Vec(**settings)
    out.wv = copy_keyed_vectors(model.wv)
    for name in ("corpus_count", "corpus_total_words", "effective_min_count", "train_count",
                 "total_train_time", "min_alpha_yet_reached", "running_training_loss", "raw_vocab"):
        if hasattr(model, name):
            setattr(out, name, getattr(model, name))
    if model.negative:
        out.syn1neg = np.array(model.syn1neg, dtype=np.float32, copy=True)
        out.make_cum_table()
    if model.hs:
        out.syn1 = np.array(model.syn1, dtype=np.float32, copy=True)
        out.create_binary_tree()
    return out


def save_vectors(kv, path, binary: bool = False) -> None:
    """Write ``kv`` in word2vec C format to ``path`` through the guarded atomic writer
    (:func:`torch_w2v.persist.atomic_path`: a temporary file beside it, then a rename; a ``path`` that holds
    something other than word vectors is refused). A ``.gz``/``.bz2`` ending compresses, as gensim's
    ``save_word2vec_format`` does.
    """
    from .persist import atomic_path
    from .sources import COMPRESSED

    name = os.path.basename(os.fspath(path))
    compression = next((ext for ext in COMPRESSED if name.endswith(ext)), "")
    with atomic_path(path, suffix=".w2v.tmp" + compression, kind="vectors") as tmp:
        kv.save_word2vec_format(tmp, binary=binary)
