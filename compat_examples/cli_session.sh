#!/bin/sh
# A word2vec.c session, with torch-w2v in place of word2vec.c's binaries.
#
# word2vec.c's demo-word.sh runs
#     ./word2vec -train text8 -output vectors.bin -cbow 1 -size 200 -window 8 -negative 25 -hs 0 \
#                -sample 1e-4 -threads 20 -binary 1 -iter 15
#     ./distance vectors.bin
# The same flags work here (on gensim's small Lee corpus, with smaller settings so that it runs in
# seconds); 'distance' becomes 'torch-w2v similar', and 'compute-accuracy' 'torch-w2v eval'.
# gensim's own loader reads the vectors. Runs in any folder; writes vectors.bin and vocab.txt there.
set -eu
PYTHON=${PYTHON:-python}
CORPUS=$("$PYTHON" -c "from gensim.test.utils import datapath; print(datapath('lee_background.cor'))")

torch-w2v -train "$CORPUS" -output vectors.bin -cbow 1 -size 50 -window 5 -negative 10 -hs 0 \
          -sample 1e-3 -threads 2 -binary 1 -iter 20 -min-count 2 -save-vocab vocab.txt -q

head -3 vocab.txt
torch-w2v similar vectors.bin police --topn 5                 # word2vec.c: ./distance vectors.bin
# word2vec.c's distance and word-analogy read queries from stdin; so does 'similar' without words
# ('-word' subtracts: Afghanistan - Australia + Sydney asks "Sydney is to Australia as ? is to Afghanistan")
printf 'fire\nAfghanistan -Australia Sydney\n' | torch-w2v similar vectors.bin --topn 3
torch-w2v eval vectors.bin                                    # ./compute-accuracy + word similarity
"$PYTHON" -c "
from gensim.models import KeyedVectors
kv = KeyedVectors.load_word2vec_format('vectors.bin', binary=True)
print('gensim loaded', len(kv), 'vectors of', kv.vector_size, 'dimensions')
"
echo "cli session: OK"
