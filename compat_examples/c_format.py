"""Saving vectors in word2vec.c's format and loading them back with gensim's KeyedVectors.

Binary (what word2vec.c's ``distance`` reads), text, gzip-compressed text, and a separate vocabulary
file with the counts (``fvocab``).
"""
import numpy as np
from gensim.models import KeyedVectors
from gensim.models.word2vec import LineSentence
from gensim.test.utils import datapath
from torch_w2v import Word2Vec

sentences = LineSentence(datapath('lee_background.cor'))
model = Word2Vec(sentences, vector_size=50, min_count=2, epochs=5, sg=1)

model.wv.save_word2vec_format('vectors.bin', binary=True)
model.wv.save_word2vec_format('vectors.txt', binary=False)
model.wv.save_word2vec_format('vectors.txt.gz', binary=False)
model.wv.save_word2vec_format('vectors-with-vocab.bin', fvocab='vocab.txt', binary=True)

wv_bin = KeyedVectors.load_word2vec_format('vectors.bin', binary=True)
wv_txt = KeyedVectors.load_word2vec_format('vectors.txt', binary=False)
wv_gz = KeyedVectors.load_word2vec_format('vectors.txt.gz', binary=False)
wv_counts = KeyedVectors.load_word2vec_format('vectors-with-vocab.bin', fvocab='vocab.txt', binary=True)

print("binary:", wv_bin.vectors.shape, "same words:", wv_bin.index_to_key == model.wv.index_to_key,
      "same vectors:", bool(np.array_equal(wv_bin.vectors, model.wv.vectors)))
print("text:", wv_txt.vectors.shape, "close:", bool(np.allclose(wv_txt.vectors, model.wv.vectors, atol=1e-6)))
print("text.gz:", wv_gz.vectors.shape, "same as text:", bool(np.array_equal(wv_gz.vectors, wv_txt.vectors)))
print("count of 'the' from vocab.txt:", wv_counts.get_vecattr('the', 'count'),
      "model:", model.wv.get_vecattr('the', 'count'))
print("nearest to 'police' after the round trip:", [w for w, _ in wv_bin.most_similar('police', topn=3)])
print("word2vec C format: OK")
