"""gensim's Word2Vec docstring example (gensim/models/word2vec.py, "Usage examples"), run as a script.

Trains CBOW (gensim's default) on gensim's nine-sentence ``common_texts``, saves and reloads the model,
continues training, queries the vectors, stores them as KeyedVectors, loads word2vec C files and trains
on detected phrases.
"""
from gensim.test.utils import common_texts
from gensim.models import Word2Vec

model = Word2Vec(sentences=common_texts, vector_size=100, window=5, min_count=1, workers=4)
model.save("word2vec.model")

# If you save the model you can continue training it later:
model = Word2Vec.load("word2vec.model")
print("train on new words:", model.train([["hello", "world"]], total_examples=1, epochs=1))

# The trained word vectors are stored in a KeyedVectors instance, as model.wv:
vector = model.wv['computer']  # get numpy vector of a word
sims = model.wv.most_similar('computer', topn=10)  # get other similar words
print("vector of 'computer':", vector.shape, "- nearest:", [word for word, _ in sims[:3]])

from gensim.models import KeyedVectors

# Store just the words + their trained embeddings.
word_vectors = model.wv
word_vectors.save("word2vec.wordvectors")

# Load back with memory-mapping = read-only, shared across processes.
wv = KeyedVectors.load("word2vec.wordvectors", mmap='r')

vector = wv['computer']  # Get numpy vector of a word
print("memory-mapped KeyedVectors:", len(wv), "words")

from gensim.test.utils import datapath

# Load a word2vec model stored in the C *text* format.
wv_from_text = KeyedVectors.load_word2vec_format(datapath('word2vec_pre_kv_c'), binary=False)
# Load a word2vec model stored in the C *binary* format.
wv_from_bin = KeyedVectors.load_word2vec_format(datapath("euclidean_vectors.bin"), binary=True)
print("word2vec C files:", len(wv_from_text), "and", len(wv_from_bin), "words")

word_vectors = model.wv
del model

from gensim.models import Phrases

# Train a bigram detector.
bigram_transformer = Phrases(common_texts)

# Apply the trained MWE detector to a corpus, using the result to train a Word2vec model.
model = Word2Vec(bigram_transformer[common_texts], min_count=1)
print("model on phrases:", len(model.wv), "words")
print("docstring example: OK")
