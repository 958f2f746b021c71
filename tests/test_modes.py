"""Each training mode's behaviour, and the model's uses beyond vectors: which matrices every mode trains,
cbow_mean, vectors_lockf, predict_output_word, score, reset_from, estimate_memory, null_word, workers,
and quality per mode on gensim's Lee corpus with gensim's own sanity-check settings."""
import logging
import os
import random

import gensim
import numpy as np
import pytest
import torch
from gensim.test.utils import datapath, lee_corpus_list

from torch_w2v import Word2Vec
from torch_w2v.training.steps import fused
from torch_w2v.vocab import init_vectors

MODES = {
    "sg_neg": dict(sg=1, hs=0, negative=5),
    "sg_hs": dict(sg=1, hs=1, negative=0),
    "sg_both": dict(sg=1, hs=1, negative=5),
    "cbow_neg": dict(sg=0, hs=0, negative=5),
    "cbow_hs": dict(sg=0, hs=1, negative=0),
    "cbow_both": dict(sg=0, hs=1, negative=5),
}
ENGINES = [
    "torch",
    pytest.param("fused", marks=pytest.mark.skipif(not fused.available(),
                                                    reason="the fused step is not built (no C compiler at install)")),
]
SMALL = dict(vector_size=16, min_count=1, epochs=3, seed=7, workers=1, device="cpu")


def _built(sentences, **kwargs):
    model = Word2Vec(**{**SMALL, **kwargs})
    model.build_vocab(sentences)
    return model


def _fit(model, sentences):
    model.train(sentences, total_examples=model.corpus_count, epochs=model.epochs)
    return model


# ----------------------------------------------------------------------------------- matrices per mode
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("mode", MODES)
def test_each_mode_trains_exactly_the_matrices_it_uses(toy_sentences, mode, engine):
    model = _built(toy_sentences, engine=engine, **MODES[mode])
    hs, negative = model.hs, model.negative
    V = len(model.wv)
    assert (model.syn1 is not None) == bool(hs)
    assert (model.syn1neg is not None) == bool(negative)
    for name, used in (("syn1", hs), ("syn1neg", negative)):
        if used:  # output weights start at zero, as gensim's
            assert getattr(model, name).shape == (V, 16) and not getattr(model, name).any()
    before = model.wv.vectors.copy()
    _fit(model, toy_sentences)
    assert (model.wv.vectors != before).any(axis=1).all(), "every input vector trains"
    if hs:  # the V - 1 inner nodes of the Huffman tree are rows 0..V-2 of syn1; the last row is never a node
        assert model.syn1[: V - 1].any(axis=1).all() and not model.syn1[V - 1].any()
    else:
        assert model.syn1 is None
    if negative:
        assert model.syn1neg.any(axis=1).all()
    else:
        assert model.syn1neg is None
    assert np.isfinite(model.wv.vectors).all()


@pytest.mark.parametrize("sg", [0, 1])
def test_hs_and_negative_together_differ_from_either_alone(toy_sentences, sg):
    alone = {k: _fit(_built(toy_sentences, sg=sg, hs=hs, negative=neg), toy_sentences).wv.vectors
             for k, (hs, neg) in {"hs": (1, 0), "neg": (0, 5), "both": (1, 5)}.items()}
    assert not np.allclose(alone["both"], alone["hs"])
    assert not np.allclose(alone["both"], alone["neg"])


def test_cbow_mean_changes_cbow_and_not_skipgram(toy_sentences):
    def vectors(**kw):
        return _fit(_built(toy_sentences, negative=5, **kw), toy_sentences).wv.vectors

    assert not np.allclose(vectors(sg=0, cbow_mean=0), vectors(sg=0, cbow_mean=1))
    np.testing.assert_array_equal(vectors(sg=1, cbow_mean=0), vectors(sg=1, cbow_mean=1))


# --------------------------------------------------------------------------------------------- lockf
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("mode", MODES)
def test_lockf_zero_freezes_rows_exactly(toy_sentences, mode, engine):
    model = _built(toy_sentences, engine=engine, **MODES[mode])
    V = len(model.wv)
    frozen = [0, 3, V - 1]
    model.wv.vectors_lockf = np.ones(V, dtype=np.float32)
    model.wv.vectors_lockf[frozen] = 0.0
    before = model.wv.vectors.copy()
    _fit(model, toy_sentences)
    np.testing.assert_array_equal(model.wv.vectors[frozen], before[frozen])
    free = np.setdiff1d(np.arange(V), frozen)
    assert (model.wv.vectors[free] != before[free]).any(axis=1).all()


@pytest.mark.parametrize("sg", [0, 1])
def test_lockf_is_read_cyclically_as_gensim(toy_sentences, sg):
    """gensim scales word ``i``'s update by ``lockf[i % len(lockf)]``: [0.] freezes every input vector (the
    output weights still train), [1., 0.] every odd row."""
    model = _built(toy_sentences, sg=sg, hs=1, negative=5)
    model.wv.vectors_lockf = np.zeros(1, dtype=np.float32)
    before = model.wv.vectors.copy()
    _fit(model, toy_sentences)
    np.testing.assert_array_equal(model.wv.vectors, before)
    assert model.syn1neg.any() and model.syn1.any()

    model = _built(toy_sentences, sg=sg, hs=0, negative=5)
    model.wv.vectors_lockf = np.array([1.0, 0.0], dtype=np.float32)
    before = model.wv.vectors.copy()
    _fit(model, toy_sentences)
    np.testing.assert_array_equal(model.wv.vectors[1::2], before[1::2])
    assert (model.wv.vectors[0::2] != before[0::2]).any(axis=1).all()


def test_lockf_scales_the_input_update(toy_sentences):
    """A lockf of 0.5 for every row moves the vectors less than 1.0 does after the same first step."""
    moved = {}
    for value in (1.0, 0.5):
        model = _built(toy_sentences, sg=1, hs=0, negative=5, epochs=1)
        model.wv.vectors_lockf = np.full(len(model.wv), value, dtype=np.float32)
        before = model.wv.vectors.copy()
        _fit(model, toy_sentences)
        moved[value] = np.linalg.norm(model.wv.vectors - before)
    assert moved[0.5] < moved[1.0]


# ----------------------------------------------------------------------------------- predict_output_word
@pytest.fixture(scope="module")
def lee_sg_neg():
    """Skip-gram with negative sampling on the Lee corpus (case kept, so names stay names)."""
    from gensim.models.word2vec import LineSentence
    lee = list(LineSentence(datapath("lee_background.cor")))
    return Word2Vec(lee, sg=1, hs=0, negative=5, min_count=2, epochs=10, seed=1, workers=1, device="cpu")


def test_predict_output_word_is_a_probability_distribution(lee_sg_neg):
    model = lee_sg_neg
    everything = model.predict_output_word(["Prime", "Minister"], topn=len(model.wv))
    probs = np.array([p for _, p in everything], dtype=np.float64)
    assert len(everything) == len(model.wv) and {w for w, _ in everything} == set(model.wv.index_to_key)
    assert (probs >= 0).all() and (probs <= 1).all() and abs(probs.sum() - 1.0) < 1e-4
    assert (np.diff(probs) <= 0).all(), "likeliest first"


def test_predict_output_word_equals_gensims_on_the_same_weights(lee_sg_neg):
    theirs_model = lee_sg_neg.to_gensim()
    for context in (["Prime", "John", "Howard"], ["Gaza", "West", "Bank"], ["bin", "Laden", "no-such-word"]):
        ours = lee_sg_neg.predict_output_word(context, topn=20)
        theirs = theirs_model.predict_output_word(context, topn=20)
        assert [w for w, _ in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose([p for _, p in ours], [p for _, p in theirs], rtol=1e-4)


# Calibration (skip-gram, negative=5, min_count=2, epochs=10, seeds 1-5): the expected word was the
# likeliest or second likeliest in every run ('Minister' for Prime/John/Howard: rank 0 in 5/5; 'South'
# for New/Wales: 0 in 5/5; 'bin' for Osama/Laden: 0 in 4/5, 1 in 1/5). CBOW with the default alpha is
# undertrained on this corpus in gensim as here (frequent words top every context), so it is not used.
@pytest.mark.parametrize("context, expected", [
    (["Prime", "John", "Howard"], "Minister"),
    (["New", "Wales"], "South"),
    (["Osama", "Laden"], "bin"),
])
def test_predict_output_word_gives_sensible_words_on_lee(lee_sg_neg, context, expected):
    top = [w for w, _ in lee_sg_neg.predict_output_word(context, topn=3)]
    assert expected in top, top


def test_predict_output_word_accepts_indices_and_handles_unknown_words(lee_sg_neg, caplog):
    model = lee_sg_neg
    words = ["Gaza", "Bank"]
    by_index = [model.wv.get_index(w) for w in words]
    assert model.predict_output_word(words, topn=5) == model.predict_output_word(by_index, topn=5)
    with caplog.at_level(logging.WARNING, logger="torch_w2v"):
        assert model.predict_output_word(["no-such-word"], topn=5) is None
    assert "out-of-vocabulary" in caplog.text


def test_predict_output_word_needs_negative_sampling_weights(toy_sentences):
    with pytest.raises(RuntimeError, match="negative sampling"):
        _fit(_built(toy_sentences, hs=1, negative=0), toy_sentences).predict_output_word(["cat"])
    bare = Word2Vec(device="cpu")
    bare.wv = _fit(_built(toy_sentences), toy_sentences).wv
    with pytest.raises(RuntimeError, match="syn1neg"):
        bare.predict_output_word(["cat"])


# ------------------------------------------------------------------------------------------------ score
def _exact_log_sigmoid(f):
    return -np.logaddexp(0.0, -f)


# gensim's LOG_TABLE (word2vec_inner.pyx): log σ at 1,000 points of [-6, 6), read at int((f + 6) * 83) (its
# compile-time EXP_TABLE_SIZE / MAX_EXP / 2 is an integer division: 83, not 83.3)
_GRID = np.exp((np.arange(1000) / np.float32(1000) * 2 - 1) * 6).astype(np.float32)
_GENSIM_LOG_TABLE = np.log((_GRID / (_GRID + 1)).astype(np.float32))


def _gensim_log_sigmoid(f):
    return float(_GENSIM_LOG_TABLE[int((np.float32(f) + 6) * 83)])


def reference_score(model, sentence, log_sigmoid=_exact_log_sigmoid) -> float:
    """gensim's score_sentence_sg / score_sentence_cbow (word2vec_inner.pyx), transcribed loop for loop."""
    wv = model.wv
    idx = [wv.key_to_index[w] for w in sentence if w in wv.key_to_index]
    codes, points = wv.expandos["code"], wv.expandos["point"]
    total = 0.0
    for i, word in enumerate(idx):
        window = [idx[j] for j in range(max(0, i - model.window), min(len(idx), i + model.window + 1)) if j != i]
        if model.sg:
            inputs = [wv.vectors[j].astype(np.float64) for j in window]
        else:
            h = np.sum([wv.vectors[j] for j in window], axis=0, dtype=np.float64) if window \
                else np.zeros(wv.vector_size)
            if model.cbow_mean and window:
                h /= len(window)
            inputs = [h]
        for l1 in inputs:
            for code, point in zip(codes[word], points[word]):
                f = float(l1 @ model.syn1[point]) * (-1.0) ** int(code)
                if abs(f) < 6.0:
                    total += log_sigmoid(f)
    return total


@pytest.mark.parametrize("sg, cbow_mean", [(1, 1), (0, 1), (0, 0)])
def test_score_reference_transcribes_gensim(lee_sentences, sg, cbow_mean):
    """With gensim's table in place of the exact log σ, the reference gives gensim's own scores."""
    sentences = lee_sentences[:40]
    model = Word2Vec(sentences, sg=sg, cbow_mean=cbow_mean, hs=1, negative=0, min_count=1, window=3, epochs=2,
                     seed=1, workers=1, device="cpu")
    theirs = model.to_gensim().score(sentences, len(sentences))
    expected = [reference_score(model, s, _gensim_log_sigmoid) for s in sentences]
    # gensim sums in float32 (and a score on a table-bin edge may fall either side): observed <= 1.2e-4
    np.testing.assert_allclose(theirs, expected, rtol=5e-4)


@pytest.mark.parametrize("sg, cbow_mean", [(1, 1), (0, 1), (0, 0)])
def test_score_equals_gensims_formula(toy_sentences, sg, cbow_mean):
    model = _fit(_built(toy_sentences, sg=sg, cbow_mean=cbow_mean, hs=1, negative=0, window=3), toy_sentences)
    sentences = toy_sentences[:20] + [["cat"], ["cat", "unknown", "dog", "saw"], ["unknown"], [],
                                      ["hammer", "cat", "drill", "cow", "saw", "mouse", "chisel", "dog"] * 3]
    scores = model.score(sentences, total_sentences=len(sentences))
    assert scores.dtype == np.float32 and scores.shape == (len(sentences),)
    expected = [reference_score(model, s) for s in sentences]
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-4)
    assert scores[-3] == 0.0 and scores[-2] == 0.0  # no known word: nothing to score, as gensim


@pytest.mark.parametrize("sg", [0, 1])
def test_score_is_close_to_gensims_table_based_score(lee_sentences, sg):
    """gensim's table reads log σ at or below the score (see _GENSIM_LOG_TABLE), so its scores are a little
    lower: on Lee (4 seeds, sg and CBOW) ours were higher by 1.9-2.1% of the score, never lower."""
    model = Word2Vec(lee_sentences, sg=sg, hs=1, negative=0, window=4, epochs=3, seed=1, workers=1, device="cpu")
    sentences = lee_sentences[:60]
    ours = model.score(sentences, len(sentences)).astype(np.float64)
    theirs = model.to_gensim().score(sentences, len(sentences)).astype(np.float64)
    assert (ours >= theirs - 1e-3).all()
    np.testing.assert_allclose(ours, theirs, rtol=0.03)


# Calibration (hs, window=4, epochs=10, seeds 1-4, sg and CBOW): each of the first 100 training sentences
# scored higher than the same words shuffled in 100% of cases, and the held-out Lee sentences (lee.cor)
# in 82-92%; the mean gain per word was 2.0 nats (sg) / 0.23 (CBOW) in-domain, 0.53-0.71 / 0.08-0.11 held out.
@pytest.mark.parametrize("sg", [0, 1])
def test_score_prefers_real_sentences_to_shuffled_words(lee_sentences, sg):
    model = Word2Vec(lee_sentences, sg=sg, hs=1, negative=0, window=4, epochs=10, seed=2, workers=1,
                     device="cpu")
    rng = random.Random(0)
    held_out = [line.split() for line in open(datapath("lee.cor"), encoding="latin-1")]
    for sentences, share in ((lee_sentences[:100], 0.95), (held_out, 0.7)):
        real = model.score(sentences, len(sentences))
        shuffled = model.score([rng.sample(s, len(s)) for s in sentences], len(sentences))
        assert np.isfinite(real).all() and (real <= 0).all() and (real < 0).mean() > 0.9
        assert (real > shuffled).mean() >= share
        assert real.sum() > shuffled.sum()


def test_score_options_and_errors(toy_sentences, caplog):
    model = _fit(_built(toy_sentences, hs=1, negative=5), toy_sentences)
    whole = model.score(toy_sentences, total_sentences=len(toy_sentences))
    np.testing.assert_array_equal(model.score(toy_sentences, len(toy_sentences), chunksize=7), whole)
    with caplog.at_level(logging.WARNING, logger="torch_w2v"):
        first = model.score(iter(toy_sentences), total_sentences=10)
    assert "terminating after 10 sentences" in caplog.text
    np.testing.assert_array_equal(first, whole[:10])
    with pytest.raises(RuntimeError, match="hierarchical softmax"):
        _fit(_built(toy_sentences, hs=0, negative=5), toy_sentences).score(toy_sentences)
    with pytest.raises(RuntimeError, match="build vocabulary"):
        Word2Vec(hs=1, negative=0, device="cpu").score(toy_sentences)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="torch_w2v"):   # gensim scores a str as its characters
        chars = model.score(["a plain string"])
    assert "should be a list of words" in caplog.text
    np.testing.assert_array_equal(chars, model.score([list("a plain string")]))


# ---------------------------------------------------------------------------------------------- reset_from
def test_reset_from_shares_the_vocabulary_and_redraws_the_weights(toy_sentences, lee_sentences):
    other = _fit(_built(toy_sentences, seed=3, hs=1, negative=5), toy_sentences)
    model = _fit(_built(lee_sentences[:50], seed=11, hs=1, negative=5), lee_sentences[:50])
    model.reset_from(other)
    assert model.wv.index_to_key is other.wv.index_to_key and model.wv.key_to_index is other.wv.key_to_index
    assert model.wv.expandos is other.wv.expandos
    assert model.cum_table is other.cum_table
    assert (model.corpus_count, model.corpus_total_words) == (other.corpus_count, other.corpus_total_words)
    np.testing.assert_array_equal(model.wv.vectors, init_vectors(len(other.wv), 16, 11))  # this model's seed
    assert not model.syn1.any() and not model.syn1neg.any()
    assert model.syn1.shape == model.syn1neg.shape == (len(other.wv), 16)
    before = model.wv.vectors.copy()
    _fit(model, toy_sentences)
    assert not np.allclose(model.wv.vectors, before)


# ----------------------------------------------------------------------------------- estimate_memory
@pytest.mark.parametrize("hs, negative", [(0, 5), (1, 0), (1, 5)])
@pytest.mark.parametrize("vector_size", [10, 100])
def test_estimate_memory_equals_gensims(lee_sentences, hs, negative, vector_size):
    kw = dict(hs=hs, negative=negative, vector_size=vector_size, min_count=3)
    ours, theirs = Word2Vec(device="cpu", **kw), gensim.models.Word2Vec(**kw)
    ours.build_vocab(lee_sentences)
    theirs.build_vocab(lee_sentences)
    assert ours.estimate_memory() == theirs.estimate_memory()
    assert ours.estimate_memory(vocab_size=12345) == theirs.estimate_memory(vocab_size=12345)
    assert ours.estimate_memory(report={"extra": 7}) == theirs.estimate_memory(report={"extra": 7})


# ------------------------------------------------------------------------------------------- null_word
def test_null_word_adds_a_trainable_nul_word_as_gensim(toy_sentences):
    model = _built(toy_sentences, null_word=1)
    theirs = gensim.models.Word2Vec(vector_size=16, min_count=1, null_word=1)
    theirs.build_vocab(toy_sentences)
    assert "\0" in model.wv and model.wv.get_vecattr("\0", "count") == 1
    assert model.wv.index_to_key == theirs.wv.index_to_key
    assert model.wv.vectors.shape == (11, 16)  # the toy corpus's 10 words and '\0'
    _fit(model, toy_sentences)
    assert "\0" not in _built(toy_sentences).wv


# ---------------------------------------------------------------------------------------------- workers
@pytest.mark.parametrize("engine", ENGINES)
def test_workers_sets_torch_threads_only_while_training(toy_sentences, engine):
    """The torch engine computes with `workers` torch threads (capped at the cores); the fused step runs its own
    `workers` threads and leaves torch's small ops around it on one."""
    seen = []

    class Probe(gensim.models.callbacks.CallbackAny2Vec):
        def on_epoch_begin(self, model):
            seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    model = _built(toy_sentences, workers=2, batch_words=100, engine=engine)  # 1,200 words: 12 jobs
    model.train(toy_sentences, total_examples=model.corpus_count, epochs=2, callbacks=[Probe()])
    expected = min(2, os.cpu_count()) if engine == "torch" else 1
    assert seen == [expected, expected] and torch.get_num_threads() == before


def test_training_threads_are_capped_by_cores_and_jobs(monkeypatch):
    from torch_w2v.training import trainer
    monkeypatch.setattr(trainer.os, "cpu_count", lambda: 4)
    assert trainer.training_threads(3, raw_words=100, batch_words=10000) == 1     # one job, as gensim
    assert trainer.training_threads(3, raw_words=25000, batch_words=10000) == 3   # three jobs
    assert trainer.training_threads(8, raw_words=10**6, batch_words=10000) == 4   # the cores
    assert trainer.training_threads(1, raw_words=10**6, batch_words=10000) == 1


def test_a_corpus_smaller_than_batch_words_is_reproducible_with_several_workers(toy_sentences):
    small = toy_sentences[:100]  # 600 words: one gensim job
    a = Word2Vec(small, min_count=1, workers=3, seed=5, device="cpu")
    b = Word2Vec(small, min_count=1, workers=3, seed=5, device="cpu")
    np.testing.assert_array_equal(a.wv.vectors, b.wv.vectors)


# ---------------------------------------------------------------------------------------------- quality
# gensim's sanity settings (gensim/test/test_word2vec.py: test_sg_hs, test_sg_neg, test_cbow_hs, ...) on its
# lee_corpus_list, plus hs and negative sampling together; the check is gensim's: 'bombings' among the 50
# nearest words of 'attacks'. Calibration, seeds 1-8, workers=2, rank of 'bombings':
#   mode                   torch_w2v                   gensim 4.4
#   sg_hs                  5 6 5 3 4 6 4 5             5 4 5 5 6 5 3 4
#   sg_neg                 18 14 11 25 14 20 25 18     14 17 8 17 14 16 16 18
#   cbow_hs                0 1 2 1 1 3 0 3             1 1 5 0 1 6 0 0
#   cbow_neg               7 1 3 1 7 2 2 2             7 19 2 7 11 15 5 19
#   sg_fixedwindow_neg     18 13 10 11 10 12 17 14     10 11 12 17 10 8 14 13
#   sg_fixedwindow_hs      4 3 6 3 5 4 5 3             3 3 3 3 2 3 3 1
#   cbow_fixedwindow_hs    0 0 0 0 4 0 1 0             0 0 0 0 0 0 0 0
#   cbow_fixedwindow_neg   6 4 1 4 5 6 14 4            3 1 3 5 1 5 1 2
#   sg_both                10 7 5 5 8 6 5 8            5 3 5 11 9 6 2 4
#   cbow_both              4 4 3 17 2 0 3 5            0 0 1 1 2 2 2 4
# The worst rank, 25, leaves a factor of 2 to the threshold. (CBOW with cbow_mean=0 and cbow_neg's alpha=0.05
# is erratic in both, 2-424 in gensim and 15-234 here, so it has no quality check; its training is checked
# above and by the fused-vs-torch tests.)
QUALITY = {
    "sg_hs": dict(sg=1, window=4, hs=1, negative=0, min_count=5, epochs=10),
    "sg_neg": dict(sg=1, window=4, hs=0, negative=15, min_count=5, epochs=10),
    "cbow_hs": dict(sg=0, cbow_mean=1, alpha=0.1, window=2, hs=1, negative=0, min_count=5, epochs=60,
                    batch_words=1000),
    "cbow_neg": dict(sg=0, cbow_mean=1, alpha=0.05, window=5, hs=0, negative=15, min_count=5, epochs=10,
                     sample=0),
    "sg_fixedwindow_neg": dict(sg=1, window=5, shrink_windows=False, hs=0, negative=15, min_count=5, epochs=10),
    "sg_fixedwindow_hs": dict(sg=1, window=5, shrink_windows=False, hs=1, negative=0, min_count=5, epochs=10),
    "cbow_fixedwindow_hs": dict(sg=0, cbow_mean=1, alpha=0.1, window=5, shrink_windows=False, hs=1, negative=0,
                                min_count=5, epochs=10),
    "cbow_fixedwindow_neg": dict(sg=0, cbow_mean=1, alpha=0.1, window=5, shrink_windows=False, hs=0,
                                 negative=15, min_count=5, epochs=10),
    "sg_both": dict(sg=1, window=4, hs=1, negative=5, min_count=5, epochs=10),
    "cbow_both": dict(sg=0, cbow_mean=1, alpha=0.05, window=5, hs=1, negative=5, min_count=5, epochs=10, sample=0),
}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 3])
@pytest.mark.parametrize("mode", QUALITY)
def test_lee_quality_per_mode_with_gensims_sanity_settings(mode, seed):
    model = Word2Vec(workers=2, seed=seed, device="cpu", **QUALITY[mode])
    model.build_vocab(lee_corpus_list)
    _fit(model, lee_corpus_list)
    ranked = [w for w, _ in model.wv.most_similar("attacks", topn=len(model.wv))]
    assert ranked.index("bombings") < 50
