"""torch_w2v: gensim-compatible word2vec trained by PyTorch.

Change ``from gensim.models import Word2Vec`` to ``from torch_w2v import Word2Vec``; ``model.wv`` stays a
real ``gensim.models.KeyedVectors``.

Names are imported on first use (PEP 562), so ``torch-w2v eval`` and other commands that need no torch
start without importing it.
"""
import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Word2Vec": "word2vec",
    "SkipGramNeg": "model",
    "NegativeSamplingLoss": "model",
    "to_keyed_vectors": "export",
    "LineSentence": "corpus",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'torch_w2v' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
