"""torch_w2v.scoring: score() and predict_output_word()'s arithmetic, against sums written out by hand."""
import numpy as np
import torch
import torch.nn.functional as F

from torch_w2v import scoring


def test_skipgram_score_of_a_two_word_sentence_is_the_sum_of_its_path_log_probabilities():
    rng = np.random.default_rng(0)
    V, D = 4, 3
    syn0, syn1 = rng.normal(size=(V, D)).astype(np.float32), rng.normal(size=(V, D)).astype(np.float32) * 0.5
    points = torch.tensor([[0, 1], [0, 2], [1, 0], [2, 0]])     # inner nodes per word
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 0.0]])   # 1 - code
    valid = torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    ids, bounds = np.array([0, 2]), np.array([0, 2])
    got = scoring.score_sentences(ids, bounds, syn0, syn1, points, labels, valid, sg=True, window=2,
                                  cbow_mean=True)

    def log_p(word, context):  # log P(word | context word) along word's Huffman path
        total = 0.0
        for node, label, ok in zip(points[word], labels[word], valid[word]):
            if ok:
                f = float(syn0[context] @ syn1[int(node)])
                total += float(F.logsigmoid(torch.tensor(f if label > 0.5 else -f)))
        return total
    assert got.shape == (1,)
    np.testing.assert_allclose(got[0], log_p(0, 2) + log_p(2, 0), rtol=1e-5)


def test_predict_centre_is_the_softmax_of_the_mean_context_against_syn1neg():
    rng = np.random.default_rng(1)
    syn0, syn1neg = rng.normal(size=(6, 4)).astype(np.float32), rng.normal(size=(6, 4)).astype(np.float32)
    probs = scoring.predict_centre(syn0, syn1neg, [1, 3], cbow_mean=True)
    scores = syn1neg @ ((syn0[1] + syn0[3]) / 2)
    np.testing.assert_allclose(probs, np.exp(scores) / np.exp(scores).sum(), rtol=1e-5)
    assert abs(float(probs.sum()) - 1.0) < 1e-5
    big = scoring.predict_centre(syn0 * 1e3, syn1neg, [1], cbow_mean=False)   # no overflow
    assert np.isfinite(big).all() and abs(float(big.sum()) - 1.0) < 1e-5
