"""Export to gensim: to_keyed_vectors (from a model, a tensor or an array), word2vec-format round trips,
errors, a trained model's neighbours, and copy_keyed_vectors."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from gensim.models import KeyedVectors

from torch_w2v import NegativeSamplingLoss, SkipGramNeg, to_keyed_vectors
from torch_w2v.export import copy_keyed_vectors

KEYS = ["the", "cat", "sat", "on", "mat", "dog", "ran", "far"]
COUNTS = [3, 40, 7, 12, 1, 25, 9, 5]                        # distinct, so the descending order is unambiguous
GROUPS = (("cat", "dog", "mouse", "horse", "cow"), ("hammer", "saw", "drill", "wrench", "chisel"))


@pytest.fixture
def model():
    torch.manual_seed(0)
    return SkipGramNeg(len(KEYS), 5)


@pytest.fixture
def kv(model):
    return to_keyed_vectors(model, KEYS, COUNTS)


def _weights(model):
    return model.in_embed.weight.detach().numpy()


# ----------------------------------------------------------------------------------------- to_keyed_vectors
def test_keyed_vectors_hold_the_input_embeddings_and_counts(model, kv):
    assert type(kv) is KeyedVectors
    assert kv.index_to_key == KEYS
    assert kv.vectors.shape == (len(KEYS), 5) and kv.vectors.dtype == np.float32
    np.testing.assert_array_equal(kv.vectors, _weights(model))
    for i, (key, count) in enumerate(zip(KEYS, COUNTS)):
        assert kv.key_to_index[key] == i
        np.testing.assert_array_equal(kv[key], _weights(model)[i])
        assert kv.get_vecattr(key, "count") == count
    assert not np.array_equal(kv.vectors, model.out_embed.weight.detach().numpy())


def test_keyed_vectors_are_a_copy_of_the_weights(model, kv):
    before = kv.vectors.copy()
    with torch.no_grad():
        model.in_embed.weight.add_(1.0)
    np.testing.assert_array_equal(kv.vectors, before)


def test_most_similar_ranks_by_cosine(model, kv):
    w = F.normalize(model.in_embed.weight.detach(), dim=1).numpy()
    cos = w @ w[KEYS.index("cat")]
    order = [KEYS[i] for i in np.argsort(-cos) if KEYS[i] != "cat"]
    result = kv.most_similar("cat", topn=4)
    assert [word for word, _ in result] == order[:4]
    for word, score in result:
        assert score == pytest.approx(float(cos[KEYS.index(word)]), abs=1e-5)


def test_without_counts_rows_keep_their_order(model):
    kv = to_keyed_vectors(model, KEYS)
    assert kv.index_to_key == KEYS
    assert "count" not in kv.expandos


def test_works_with_a_tensor_and_a_numpy_array():
    torch.manual_seed(1)
    tensor = torch.randn(4, 3, requires_grad=True)
    kv_t = to_keyed_vectors(tensor, ["a", "b", "c", "d"], counts=np.array([4, 3, 2, 1]))
    np.testing.assert_array_equal(kv_t.vectors, tensor.detach().numpy())
    assert kv_t.get_vecattr("c", "count") == 2

    array = np.random.default_rng(0).normal(size=(4, 3))                            # float64 in
    kv_a = to_keyed_vectors(array, ["a", "b", "c", "d"])
    assert kv_a.vectors.dtype == np.float32
    np.testing.assert_array_equal(kv_a.vectors, array.astype(np.float32))
    array[0, 0] = 99.0
    assert kv_a.vectors[0, 0] != 99.0


def test_works_with_a_float64_model():
    torch.manual_seed(2)
    model = SkipGramNeg(3, 4).to(torch.float64)
    kv = to_keyed_vectors(model, ["x", "y", "z"])
    np.testing.assert_array_equal(kv.vectors, model.in_embed.weight.detach().float().numpy())


@pytest.mark.parametrize("keys, counts, shown", [
    (KEYS[:-1], None, "7 entries"),                                                  # one key short
    (KEYS + ["extra"], None, "9 entries"),                                           # one key too many
    (KEYS[:-1] + ["the"], None, "duplicates"),
    (KEYS, COUNTS[:-1], "(7,)"),
    (KEYS, [COUNTS], "(1, 8)"),
])
def test_bad_keys_or_counts_are_refused(model, keys, counts, shown):
    with pytest.raises(ValueError) as info:
        to_keyed_vectors(model, keys, counts)
    assert shown in str(info.value)


def test_one_dimensional_vectors_are_refused():
    with pytest.raises(ValueError, match=r"\(4,\)"):
        to_keyed_vectors(np.zeros(4), ["a", "b", "c", "d"])


# ----------------------------------------------------------------------------------------- word2vec format
def test_binary_round_trip_is_exact_and_sorted_by_descending_count(kv, tmp_path):
    path = tmp_path / "vectors.bin"
    kv.save_word2vec_format(str(path), binary=True)
    loaded = KeyedVectors.load_word2vec_format(str(path), binary=True)
    by_count = [k for _, k in sorted(zip(COUNTS, KEYS), reverse=True)]
    assert loaded.index_to_key == by_count
    assert by_count[0] == "cat" and by_count[-1] == "mat"
    for key in KEYS:
        np.testing.assert_array_equal(loaded[key], kv[key])


def test_text_round_trip_is_close_and_sorted(kv, tmp_path):
    path = tmp_path / "vectors.txt"
    kv.save_word2vec_format(str(path), binary=False)
    header = path.read_text().splitlines()[0]
    assert header == f"{len(KEYS)} 5"
    loaded = KeyedVectors.load_word2vec_format(str(path), binary=False)
    assert loaded.index_to_key == [k for _, k in sorted(zip(COUNTS, KEYS), reverse=True)]
    for key in KEYS:
        np.testing.assert_allclose(loaded[key], kv[key], atol=1e-6, rtol=0)


# ----------------------------------------------------------------------------------------- trained model
def _train_two_groups(seed=0, steps=300, n_embed=16, n_samples=5, lr=0.05):
    """Same lesson-style loop as tests/test_model.py::train_two_groups (kept local: tests mirror modules)."""
    torch.manual_seed(seed)
    n = sum(len(g) for g in GROUPS)
    model = SkipGramNeg(n, n_embed)
    criterion = NegativeSamplingLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    pairs = [(a, b) for g in range(len(GROUPS)) for a in range(g * 5, g * 5 + 5) for b in range(g * 5, g * 5 + 5)
             if a != b]
    centres, contexts = (torch.tensor(x) for x in zip(*pairs))
    for _ in range(steps):
        loss = criterion(model.forward_input(centres),                               # (B, D)
                         model.forward_output(contexts),                             # (B, D)
                         model.forward_noise(len(centres), n_samples))               # (B, K, D)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def test_trained_model_exports_and_neighbours_stay_in_their_group(tmp_path):
    model = _train_two_groups(seed=0)
    keys = [w for g in GROUPS for w in g]
    kv = to_keyed_vectors(model, keys, counts=list(range(100, 100 - len(keys), -1)))
    group_of = {w: g for g, words in enumerate(GROUPS) for w in words}
    # calibration, seeds 0-49: every word's nearest neighbour was in its group, by a cosine margin of
    # at least 0.14 over the best word of the other group (mean margin 0.27).
    for word in keys:
        first, _ = kv.most_similar(word, topn=1)[0]
        assert group_of[first] == group_of[word], (word, kv.most_similar(word, topn=3))
    path = tmp_path / "trained.bin"
    kv.save_word2vec_format(str(path), binary=True)
    loaded = KeyedVectors.load_word2vec_format(str(path), binary=True)
    assert group_of[loaded.most_similar("cat", topn=1)[0][0]] == group_of["cat"]


# ----------------------------------------------------------------------------------------- copy_keyed_vectors
def test_copy_is_equal_and_independent(kv):
    original_vectors = kv.vectors.copy()
    original_keys = list(kv.index_to_key)
    copy = copy_keyed_vectors(kv)
    assert type(copy) is KeyedVectors
    assert copy.index_to_key == kv.index_to_key and copy.key_to_index == kv.key_to_index
    np.testing.assert_array_equal(copy.vectors, kv.vectors)
    assert copy.get_vecattr("dog", "count") == 25
    assert copy.most_similar("cat", topn=3) == kv.most_similar("cat", topn=3)

    copy.vectors[0] += 1.0
    copy.set_vecattr("dog", "count", 999)
    copy.index_to_key[1] = "changed"
    copy.key_to_index["new"] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)                                  # gensim: "grows by one"
        copy.add_vector("added", np.ones(5, dtype=np.float32))

    np.testing.assert_array_equal(kv.vectors, original_vectors)
    assert kv.get_vecattr("dog", "count") == 25
    assert kv.index_to_key == original_keys
    assert "new" not in kv.key_to_index and "added" not in kv.key_to_index
    assert len(kv) == len(KEYS)
    assert copy.index_to_key[-1] == "added" and copy.vectors.shape == (len(KEYS) + 1, 5)


def test_to_gensim_returns_gensims_class_when_torch_w2v_stands_in_for_it(toy_sentences, monkeypatch):
    """Issue 12.13: the usual way to put torch_w2v under a library is to assign gensim.models.Word2Vec;
    to_gensim() then returned a torch_w2v model."""
    import gensim.models
    import gensim.models.word2vec
    from gensim.models.word2vec import Word2Vec as GensimWord2Vec

    from torch_w2v import Word2Vec

    model = Word2Vec(toy_sentences, vector_size=8, min_count=1, epochs=1, device="cpu")
    monkeypatch.setattr(gensim.models, "Word2Vec", Word2Vec)
    monkeypatch.setattr(gensim.models.word2vec, "Word2Vec", Word2Vec)
    out = model.to_gensim()
    assert type(out) is GensimWord2Vec
    np.testing.assert_array_equal(out.wv.vectors, model.wv.vectors)


def test_gensims_class_is_found_even_if_replaced_before_torch_w2v_was_imported(monkeypatch):
    from gensim.models.word2vec import Word2Vec as GensimWord2Vec

    from torch_w2v import Word2Vec, export
    monkeypatch.setattr(export, "_GENSIM_WORD2VEC", Word2Vec)  # what the import would have captured then
    assert export.gensim_word2vec_class() is GensimWord2Vec
