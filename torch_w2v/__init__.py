"""torch_w2v: gensim-compatible word2vec trained by PyTorch.

Change ``from gensim.models import Word2Vec`` to ``from torch_w2v import Word2Vec``; ``model.wv`` stays a
real ``gensim.models.KeyedVectors``.
"""
from .corpus import LineSentence
from .export import to_keyed_vectors
from .model import NegativeSamplingLoss, SkipGramNeg
from .word2vec import Word2Vec

__version__ = "0.1.0"
__all__ = ["Word2Vec", "SkipGramNeg", "NegativeSamplingLoss", "to_keyed_vectors", "LineSentence", "__version__"]
