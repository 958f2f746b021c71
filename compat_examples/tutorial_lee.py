"""The flow of gensim's word2vec tutorial (docs/src/auto_examples/tutorials/run_word2vec.py) on the Lee corpus.

A streamed corpus class over ``lee_background.cor``, a model with the default settings (CBOW), the
vocabulary, similarity queries, gensim's evaluations (WordSim353 and the analogy questions) and the
tutorial's training-parameter variants. The tutorial writes ``gensim.models.Word2Vec``; this script
imports the class by name, so that one import line selects the implementation.
"""
import logging

from gensim import utils
from gensim.test.utils import datapath
from torch_w2v import Word2Vec

logging.basicConfig(format='%(asctime)s : %(levelname)s : %(message)s', level=logging.INFO)


class MyCorpus:
    """An iterator that yields sentences (lists of str)."""

    def __iter__(self):
        corpus_path = datapath('lee_background.cor')
        for line in open(corpus_path):
            # assume there's one document per line, tokens separated by whitespace
            yield utils.simple_preprocess(line)


sentences = MyCorpus()
model = Word2Vec(sentences=sentences)
wv = model.wv

for index, word in enumerate(wv.index_to_key):
    if index == 10:
        break
    print(f"word #{index}/{len(wv.index_to_key)} is {word}")

print("most similar to 'australia':", [word for word, _ in wv.most_similar(positive=['australia'], topn=5)])
print("similarity(police, officers):", round(float(wv.similarity('police', 'officers')), 3))
print("doesn't match:", wv.doesnt_match(['fire', 'water', 'land', 'sea', 'air', 'car']))

# Evaluating: the Lee corpus is tiny, so the scores are low; the point is that the calls work.
pearson, spearman, oov_ratio = model.wv.evaluate_word_pairs(datapath('wordsim353.tsv'))
print(f"wordsim353 spearman {spearman[0]:.3f}, {oov_ratio:.1f}% pairs out of vocabulary")
score, sections = model.wv.evaluate_word_analogies(datapath('questions-words.txt'))
print(f"analogy accuracy {score:.3f} over {len(sections) - 1} sections")

# Training parameters
model = Word2Vec(sentences, min_count=10)
print("min_count=10:", len(model.wv), "words")
model = Word2Vec(sentences, vector_size=200)
print("vector_size=200:", model.wv.vector_size, "dimensions")
model = Word2Vec(sentences, workers=4)
print("tutorial flow: OK")
