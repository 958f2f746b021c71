"""The fused step's token pipeline (``w2v_train_tokens``): sentences in, every draw made in C.

A pure-Python reference of the documented algorithm (per sentence: splitmix64 keyed by (seed, sentence),
integers below n as ``(32 random bits * n) >> 32``,
downsampling, reduced windows, shared noise words, the Huffman path, text order, alpha falling across the
chunk) must give the same weights as the C step, in every mode; the draws must not depend on how the
sentences are split between threads; the engine must hand the step whole chunks and the learning rates at
their ends.
"""
import os
import types

import numpy as np
import pytest
import torch

from torch_w2v import Word2Vec
from torch_w2v.config import MAX_EXP
from torch_w2v.training import batching
from torch_w2v.training.steps import fused
from torch_w2v.training.weights import ModelWeights

pytestmark = pytest.mark.skipif(not fused.available(), reason=f"the fused step is not built: "
                                                              f"{fused.unavailable_reason()}")
M64 = 2**64 - 1

# words 0..11; sentence 2 is empty (all its tokens out of vocabulary), sentence 3 has one token
SENTENCES = [[f"w{(7 * i + 3 * s) % 12}" for i in range(n)] for s, n in enumerate([14, 9, 0, 1, 17, 6])]


def splitmix64(state: int) -> tuple[int, int]:
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def _exp_table(size=1000):
    """gensim's EXP_TABLE (word2vec_inner.pyx): sigmoid at float32 points of [-MAX_EXP, MAX_EXP), exp in double."""
    x = (np.arange(size, dtype=np.float32) / np.float32(size) * np.float32(2) - np.float32(1)) * np.float32(MAX_EXP)
    e = np.exp(x.astype(np.float64)).astype(np.float32)
    return e / (e + np.float32(1))


EXP_TABLE = _exp_table()


def sigmoid(f):
    """gensim's lookup: index (int)((f + MAX_EXP) * (1000 / MAX_EXP / 2)), the factor an integer division (83)."""
    return EXP_TABLE[int((f + np.float32(MAX_EXP)) * np.float32(1000 // MAX_EXP // 2))]


def train_rows(heads, in_vec, work, lr):
    """Every row of every head scored first (the rows as the context finds them: a noise word drawn twice scores
    the same twice), then each row's update in order, work taking the row as the updates before left it."""
    moving = []
    for table, rows, labels in heads:
        for row, label in zip(rows, labels):
            f = np.float32(in_vec @ table[row])
            if abs(f) < MAX_EXP:
                moving.append((table[row], np.float32((label - sigmoid(f)) * lr)))
    for u, g in moving:
        work += g * u
        u += g * in_vec


def reference(cfg, w, t, ids, bounds, lr_start, lr_end, seed):
    """The token step in Python on numpy copies ``w`` (syn0, syn1neg, syn1); returns the kept count."""
    syn0, syn1neg, syn1 = w
    lockf = None if t.lockf is None else t.lockf.numpy().reshape(-1)
    sample = None if t.sample_int is None else t.sample_int.numpy()
    N, kept_total = len(ids), 0
    for s in range(len(bounds) - 1):
        state = seed ^ (((s + 1) * 0xD1B54A32D192ED03) & M64)
        kept = []
        for word in ids[bounds[s]:bounds[s + 1]]:
            if sample is not None:
                state, z = splitmix64(state)
                if sample[word] < (z >> 32):
                    continue
            kept.append(int(word))
        kept_total += len(kept)
        lr = np.float32(lr_start + (lr_end - lr_start) * np.float32(bounds[s] / N))
        for i, centre in enumerate(kept):
            w_i = cfg.window
            if cfg.shrink_windows:
                state, z = splitmix64(state)
                w_i = cfg.window - (((z >> 32) * cfg.window) >> 32)
            contexts = kept[max(0, i - w_i):i] + kept[i + 1:i + w_i + 1]
            heads = []
            if cfg.negative:
                threshold, alias, T = (t.noise[0].numpy(), t.noise[1].numpy(), t.noise[2])
                rows, labels = [centre], [1.0]
                for _ in range(cfg.negative):
                    state, z = splitmix64(state)
                    j, u = ((z >> 32) * len(threshold)) >> 32, ((z & 0xFFFFFFFF) * T) >> 32
                    word = j if u < threshold[j] else int(alias[j])
                    if word != centre:
                        rows.append(word)
                        labels.append(0.0)
                heads.append((syn1neg, rows, labels))
            if cfg.hs:
                n = int(t.code_valid[centre].sum())
                heads.append((syn1, t.points[centre, :n].tolist(), t.codes[centre, :n].tolist()))
            if cfg.sg:
                for c in contexts:
                    work = np.zeros_like(syn0[0])
                    train_rows(heads, syn0[c], work, lr)
                    syn0[c] += (1.0 if lockf is None else lockf[c]) * work
            elif contexts:
                hidden = syn0[contexts].sum(axis=0)
                if cfg.cbow_mean:
                    hidden /= len(contexts)
                work = np.zeros_like(hidden)
                train_rows(heads, hidden, work, lr)
                if not cfg.cbow_mean:
                    work /= len(contexts)
                for c in contexts:
                    syn0[c] += (1.0 if lockf is None else lockf[c]) * work
    return kept_total


def _model(vector_size=8, **settings):
    model = Word2Vec(min_count=1, vector_size=vector_size, seed=3, workers=1, **settings)
    model.build_vocab(SENTENCES)
    rng = np.random.default_rng(0)  # output weights start non-zero, so every path moves something
    for name in ("syn1neg", "syn1"):
        if getattr(model, name, None) is not None:
            setattr(model, name, rng.normal(0, 0.3, getattr(model, name).shape).astype(np.float32))
    return model


def _chunk(model):
    index = model.wv.key_to_index
    ids = np.array([index[w] for s in SENTENCES for w in s], dtype=np.int32)
    return batching.token_piece(ids, [len(s) for s in SENTENCES])


MODES = {
    "sg_ns": dict(sg=1, negative=3, hs=0),
    "sg_hs": dict(sg=1, negative=0, hs=1),
    "sg_both": dict(sg=1, negative=2, hs=1),
    "cbow_mean_ns": dict(sg=0, negative=3, hs=0, cbow_mean=1),
    "cbow_sum_both": dict(sg=0, negative=2, hs=1, cbow_mean=0),
    "cbow_mean_hs": dict(sg=0, negative=0, hs=1, cbow_mean=1),
}


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("variant", ["plain", "downsampled", "full_windows", "locked", "size100"])
def test_the_token_step_equals_the_reference(mode, variant):
    """Every mode; size100: a vector size the C step compiles a specialised copy for (csrc: W2V_SIZES)."""
    settings = dict(MODES[mode], window=3, alpha=0.05, sample=0.005 if variant == "downsampled" else 0)
    if variant == "full_windows":
        settings["shrink_windows"] = False
    size = 100 if variant == "size100" else 8
    model = _model(vector_size=size, **settings)
    if variant == "locked":
        model.wv.vectors_lockf = np.linspace(0.0, 1.0, len(model.wv), dtype=np.float32)
    chunk = _chunk(model)
    with ModelWeights(model, torch.device("cpu")) as weights:
        tables = weights.tables()
        if variant == "downsampled":
            assert tables.sample_int is not None and bool((tables.sample_int < 2**32 - 1).any())
        cfg = types.SimpleNamespace(window=3, negative=model.negative, hs=model.hs, sg=model.sg,
                                    cbow_mean=model.cbow_mean, compute_loss=False,
                                    shrink_windows=model.shrink_windows)
        before = weights.syn0.numpy().copy()
        expected = [w.numpy().copy() for w in (weights.syn0, weights.syn1neg if model.negative else weights.syn0,
                                               weights.syn1 if model.hs else weights.syn0)]
        kept = reference(cfg, expected, tables, chunk.ids, chunk.bounds, 0.05, 0.01, seed=12345)
        runner = fused.TokenSteps(fused.tokens_template(cfg, weights, tables, size), threads=1)
        try:
            loss, kept_c = runner.run([(chunk.ids, chunk.bounds, 0.05, 0.01)], seed=12345)
        finally:
            runner.close()
        assert kept_c == kept
        assert (kept < len(chunk.ids)) == (variant == "downsampled")
        np.testing.assert_allclose(weights.syn0.numpy(), expected[0], rtol=1e-4, atol=1e-6)
        if model.negative:
            np.testing.assert_allclose(weights.syn1neg.numpy(), expected[1], rtol=1e-4, atol=1e-6)
        if model.hs:
            np.testing.assert_allclose(weights.syn1.numpy(), expected[2], rtol=1e-4, atol=1e-6)
        assert np.abs(weights.syn0.numpy() - before).max() > 1e-3  # it trained


def test_the_draws_do_not_depend_on_the_thread_split():
    """The kept count (the downsampling draws) is the same on 1, 2 and 3 threads for the same seed."""
    model = _model(sg=1, negative=3, sample=0.005, window=3)
    chunk = _chunk(model)
    counts = []
    for threads in (1, 2, 3):
        with ModelWeights(model, torch.device("cpu")) as weights:
            cfg = types.SimpleNamespace(window=3, negative=3, hs=0, sg=1, cbow_mean=1, compute_loss=True,
                                        shrink_windows=True)
            runner = fused.TokenSteps(fused.tokens_template(cfg, weights, weights.tables(), 8), threads)
            try:
                assert len(runner.shares(chunk.bounds)) == min(threads, 3)
                loss, kept = runner.run([(chunk.ids, chunk.bounds, 0.025, 0.025)], seed=99)
            finally:
                runner.close()
        assert loss > 0
        counts.append(kept)
    assert counts[0] == counts[1] == counts[2] and 0 < counts[0] < len(chunk.ids)


@pytest.mark.parametrize("mode", ["sg_both", "cbow_sum_both"])
def test_two_byte_ids_train_what_four_byte_ids_do(mode):
    """The encoded corpus is uint16 under a vocabulary of at most 65,535 words (corpus.id_dtype): the step
    reads either width and trains the same weights, bit for bit."""
    model = _model(**MODES[mode], window=3, sample=0.005)
    chunk = _chunk(model)
    start = [a.copy() for a in (model.wv.vectors, model.syn1neg, model.syn1)]
    results = []
    for dtype in (np.int32, np.uint16):
        for array, initial in zip((model.wv.vectors, model.syn1neg, model.syn1), start):
            array[...] = initial  # on the CPU the step trains the model's arrays in place
        with ModelWeights(model, torch.device("cpu")) as weights:
            cfg = types.SimpleNamespace(window=3, negative=model.negative, hs=model.hs, sg=model.sg,
                                        cbow_mean=model.cbow_mean, compute_loss=True, shrink_windows=True)
            runner = fused.TokenSteps(fused.tokens_template(cfg, weights, weights.tables(), 8), threads=1)
            try:
                loss, kept = runner.run([(chunk.ids.astype(dtype), chunk.bounds, 0.05, 0.01)], seed=7)
            finally:
                runner.close()
            results.append((loss, kept, *(t.numpy().copy() for t in (weights.syn0, weights.syn1neg,
                                                                     weights.syn1))))
    (loss4, kept4, *w4), (loss2, kept2, *w2) = results
    assert (loss2, kept2) == (loss4, kept4) and 0 < kept4 < len(chunk.ids)
    for a, b in zip(w2, w4):
        np.testing.assert_array_equal(a, b)
    assert np.abs(w4[0] - start[0]).max() > 1e-3  # it trained


def test_shares_are_whole_sentences_about_equal_in_tokens():
    runner = fused.TokenSteps.__new__(fused.TokenSteps)
    runner.threads = 2
    bounds = np.array([0, 10, 20, 30, 40, 100], dtype=np.int64)
    assert runner.shares(bounds) == [(0, 4), (4, 5)]
    runner.threads = 4
    assert runner.shares(np.array([0, 5], dtype=np.int64)) == [(0, 1)]       # one sentence: one thread
    assert runner.shares(np.array([0, 25, 50, 75, 100], dtype=np.int64)) == [(0, 1), (1, 2), (2, 3), (3, 4)]


def test_bad_chunks_are_refused_naming_the_value():
    model = _model(sg=1, negative=3, window=3)
    with ModelWeights(model, torch.device("cpu")) as weights:
        cfg = types.SimpleNamespace(window=3, negative=3, hs=0, sg=1, cbow_mean=1, compute_loss=False,
                                    shrink_windows=True)
        runner = fused.TokenSteps(fused.tokens_template(cfg, weights, weights.tables(), 8), 1)
        with pytest.raises(TypeError, match="uint16 or int32 array, found int64"):
            runner.run([(np.zeros(4, dtype=np.int64), np.array([0, 4]), 0.1, 0.1)], 1)
        with pytest.raises(ValueError, match="from 0 to len"):
            runner.run([(np.zeros(4, dtype=np.int32), np.array([0, 3], dtype=np.int64), 0.1, 0.1)], 1)


def test_auto_trains_tokens_unless_a_batch_size_is_given(monkeypatch):
    """pipeline='auto' gives the fused step the token pipeline, or host batches when batch_size is set; the
    engine hands it whole chunks with alpha at both ends."""
    from torch_w2v.training.steps.fused import FusedBatchStep, FusedTokenStep
    calls = []

    for cls in (FusedTokenStep, FusedBatchStep):
        def spy(self, batch, original=cls.__call__):
            calls.append((type(self).__name__, type(batch).__name__,
                          [(p.lr_start, p.lr_end) for p in batch.pieces] if hasattr(batch, "pieces") else batch.lr))
            return original(self, batch)
        monkeypatch.setattr(cls, "__call__", spy)
    Word2Vec(SENTENCES * 20, min_count=1, vector_size=8, workers=1, epochs=2, engine="fused")
    assert {c[:2] for c in calls} == {("FusedTokenStep", "TokenBatch")}
    assert [len(c[2]) for c in calls] == [1, 1]  # one thread: one piece a chunk, with alpha at both ends
    (first_start, first_end), (second_start, _) = calls[0][2][0], calls[1][2][0]
    assert first_start > first_end >= second_start
    calls.clear()
    Word2Vec(SENTENCES * 20, min_count=1, vector_size=8, workers=1, epochs=1, engine="fused", batch_size=16)
    assert {c[:2] for c in calls} == {("FusedBatchStep", "Batch")}
    with pytest.raises(ValueError, match="pipeline='tokens' cannot feed the torch step"):
        Word2Vec(SENTENCES, min_count=1, vector_size=8, engine="torch", pipeline="tokens")


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="two training threads need two cores")
def test_each_thread_trains_its_own_part_of_the_epoch(monkeypatch, tmp_path):
    """With 2 threads the epoch is cut into 2 runs of whole sentences, as gensim's corpus_file workers read
    half of the file each; chunk k holds the k-th piece of each run, the pieces of a run follow each other
    and cover it once, and alpha falls across each run from the epoch's start, as a worker's does."""
    from torch_w2v.training.steps.fused import FusedTokenStep
    calls = []
    original = FusedTokenStep.__call__

    def spy(self, batch):
        calls.append(([(p.ids.copy(), p.bounds.copy()) for p in batch.pieces],
                      [(p.lr_start, p.lr_end) for p in batch.pieces]))
        return original(self, batch)
    monkeypatch.setattr(FusedTokenStep, "__call__", spy)
    sentences = [[f"w{(7 * i + j) % 50}" for j in range(10)] for i in range(4000)]  # 40,000 words: 2 threads
    path = tmp_path / "corpus.txt"
    path.write_text("".join(" ".join(s) + "\n" for s in sentences))
    model = Word2Vec(min_count=1, vector_size=8, workers=2, epochs=1, engine="fused", chunk_words=4000)
    model.build_vocab(corpus_file=str(path))
    model.train(corpus_file=str(path), total_examples=len(sentences), epochs=1)
    assert len(calls) == 10 and all(len(pieces) == 2 for pieces, _ in calls)  # 2 runs of 20,000 ids in 2,000s
    index = model.wv.key_to_index
    corpus = np.array([index[w] for s in sentences for w in s])
    runs = [np.concatenate([pieces[p][0] for pieces, _ in calls]) for p in (0, 1)]
    np.testing.assert_array_equal(np.concatenate(runs), corpus)
    assert len(runs[0]) == len(runs[1]) == 20000
    for p in (0, 1):
        alphas = [a for _, lr in calls for a in lr[p]]  # start, end of each piece, in order
        assert alphas[0] == pytest.approx(model.alpha) and all(x >= y for x, y in zip(alphas, alphas[1:]))
        assert all(lr[p][1] == pytest.approx(calls[k + 1][1][p][0]) for k, (_, lr) in enumerate(calls[:-1]))
    # gensim's corpus_file workers=2: each worker's alpha falls by its own progress, half of an epoch's step
    end_of_run = model.alpha - (model.alpha - model.min_alpha) * 0.5
    assert calls[-1][1][0][1] == pytest.approx(end_of_run) and calls[-1][1][1][1] == pytest.approx(end_of_run)


def test_pieces_beyond_the_threads_run_one_after_another():
    """Two pieces on one thread (no pool) or two: the same draws (kept tokens) either way."""
    model = _model(sg=1, negative=3, sample=0.005, window=3)
    chunk = _chunk(model)
    half = int(chunk.bounds[len(chunk.bounds) // 2])
    pieces = [(chunk.ids[:half], chunk.bounds[:len(chunk.bounds) // 2 + 1], 0.025, 0.02),
              (chunk.ids[half:], chunk.bounds[len(chunk.bounds) // 2:] - half, 0.025, 0.02)]
    kept = []
    for threads in (1, 2):
        with ModelWeights(model, torch.device("cpu")) as weights:
            cfg = types.SimpleNamespace(window=3, negative=3, hs=0, sg=1, cbow_mean=1, compute_loss=False,
                                        shrink_windows=True)
            runner = fused.TokenSteps(fused.tokens_template(cfg, weights, weights.tables(), 8), threads)
            try:
                kept.append(runner.run(pieces, seed=5)[1])
            finally:
                runner.close()
    assert kept[0] == kept[1] and 0 < kept[0] < len(chunk.ids)
