"""Continued training with a vocabulary update, as in gensim's tutorial ("Online training / Resuming training").

Build and train on the Lee background corpus (news), save, load, then add new words with
``build_vocab(..., update=True)`` and train on new text: the tutorial's sentence, then the first 50
documents of gensim's ``head500.noblanks.cor`` (stemmed Wikipedia text, another vocabulary).
"""
from gensim.models.word2vec import LineSentence
from gensim.test.utils import datapath
from gensim.models import Word2Vec

sentences = LineSentence(datapath('lee_background.cor'))
model = Word2Vec(min_count=3, vector_size=50, epochs=5)
model.build_vocab(sentences)
model.train(sentences, total_examples=model.corpus_count, epochs=model.epochs)
model.save('lee.model')

model = Word2Vec.load('lee.model')
more_sentences = [
    ['Advanced', 'users', 'can', 'load', 'a', 'model',
     'and', 'continue', 'training', 'it', 'with', 'more', 'sentences'],
]
model.build_vocab(more_sentences, update=True)
model.train(more_sentences, total_examples=model.corpus_count, epochs=model.epochs)

before = len(model.wv)
new_text = LineSentence(datapath('head500.noblanks.cor'), limit=50)
model.build_vocab(new_text, update=True)
model.train(new_text, total_examples=model.corpus_count, epochs=model.epochs)
added = [word for word in model.wv.index_to_key[before:]]
print(f"vocabulary grew from {before} to {len(model.wv)} words, e.g. {added[:5]}")
print("a new word has a vector:", model.wv[added[0]].shape)
print("online training: OK")
