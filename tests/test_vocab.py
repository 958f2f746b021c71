"""Vocabulary parity with gensim 4.4: torch_w2v must build exactly gensim's vocabulary.

Every test builds the same vocabulary with ``torch_w2v.Word2Vec`` and ``gensim.models.Word2Vec`` (same corpus,
settings and seed) and compares, exactly: ``index_to_key``, ``key_to_index``, counts, ``sample_int``,
``cum_table``, ``corpus_count``, ``corpus_total_words``, ``effective_min_count``, ``raw_vocab``, the initial
vectors and ``syn1neg``; then online updates, ``build_vocab_from_freq``, ``prepare_vocab(dry_run=True)`` and
the Huffman tree. The corpora are gensim's bundled ``lee_background.cor`` and ``head500.noblanks.cor``.

Where gensim does something odd that torch_w2v deliberately does not copy, a test says so by name
(``test_gensim_oddity_...``) and checks both behaviours, so a change on either side is noticed.
"""
import functools

import gensim
import numpy as np
import pytest
from gensim import utils as gutils
from gensim.models import KeyedVectors
from gensim.models.word2vec import LineSentence, _assign_binary_codes
from gensim.test.utils import datapath

import torch_w2v
from torch_w2v import vocab as tv

CORPORA = {"lee": datapath("lee_background.cor"), "head500": datapath("head500.noblanks.cor")}
VECTOR_SIZE = 16  # small: the grid compares vectors too, and head500 has ~30k word types


@functools.lru_cache(maxsize=None)
def corpus(name):
    """The corpus as a list of token lists, read once (gensim's LineSentence); the models only read it."""
    return list(LineSentence(CORPORA[name]))


@functools.lru_cache(maxsize=None)
def n_types(name):
    return len({w for s in corpus(name) for w in s})


class TrimRule:
    """A trim_rule that discards frequent 3-letter words, keeps long words and words one short of min_count
    ending in 's'; it counts how often it overrode the default, so a test can check it mattered."""

    def __init__(self):
        self.overrides = 0

    def __call__(self, word, count, min_count):
        default = count >= min_count
        if len(word) == 3 and count >= 10:
            result = gutils.RULE_DISCARD
        elif len(word) >= 14:
            result = gutils.RULE_KEEP
        elif count == min_count - 1 and word.endswith("s"):
            result = gutils.RULE_KEEP
        else:
            return gutils.RULE_DEFAULT
        self.overrides += (result == gutils.RULE_KEEP) != default
        return result

    def __repr__(self):
        return "TrimRule()"


# ------------------------------------------------------------------------------------------ helpers
def make_pair(**model_kw):
    ours = torch_w2v.Word2Vec(sg=1, device="cpu", **model_kw)
    theirs = gensim.models.Word2Vec(sg=1, **model_kw)
    return ours, theirs


def build_pair(sentences=None, corpus_file=None, model_kw=None, build_kw=None, rule=False):
    """Both models built on the same input; a fresh TrimRule for each when ``rule`` (returned as 3rd item)."""
    model_kw = dict(dict(vector_size=VECTOR_SIZE), **(model_kw or {}))
    ours, theirs = make_pair(**model_kw)
    rules = []
    for model in (ours, theirs):
        kw = dict(build_kw or {})
        if rule:
            kw["trim_rule"] = TrimRule()
            rules.append(kw["trim_rule"])
        if corpus_file is not None:
            model.build_vocab(corpus_file=corpus_file, **kw)
        else:
            model.build_vocab(sentences, **kw)
    return ours, theirs, rules


def _first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"first difference at index {i}: ours {x!r} vs gensim {y!r}"
    return f"lengths differ: ours {len(a)} vs gensim {len(b)}"


def _array_diff(name, a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return f"{name}: shape ours {a.shape} vs gensim {b.shape}"
    bad = np.flatnonzero((a != b).reshape(len(a), -1).any(axis=1)) if a.size else []
    if len(bad):
        i = bad[0]
        return f"{name}: {len(bad)} rows differ, first at {i}: ours {a[i]!r} vs gensim {b[i]!r}"
    return f"{name}: dtype ours {a.dtype} vs gensim {b.dtype}"


def assert_same_array(name, a, b):
    assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), _array_diff(name, a, b)


def assert_same_vocab(ours, theirs, raw_vocab=None):
    """Keys, order, counts, sample_int, cum_table and corpus statistics exactly equal."""
    o, t = ours.wv, theirs.wv
    assert o.index_to_key == t.index_to_key, "index_to_key: " + _first_diff(o.index_to_key, t.index_to_key)
    assert o.key_to_index == t.key_to_index, "key_to_index differs: " + str(
        sorted((k, o.key_to_index.get(k), t.key_to_index.get(k)) for k in set(o.key_to_index) | set(t.key_to_index)
               if o.key_to_index.get(k) != t.key_to_index.get(k))[:5])
    assert set(o.expandos) == set(t.expandos), f"vecattrs: ours {set(o.expandos)} vs gensim {set(t.expandos)}"
    for name in ("count", "sample_int"):
        if name in t.expandos:
            assert_same_array(f"wv.expandos[{name!r}]", o.expandos[name], t.expandos[name])
    for key in t.index_to_key[:3] + t.index_to_key[-3:]:
        assert o.get_vecattr(key, "count") == t.get_vecattr(key, "count"), f"get_vecattr({key!r}, 'count')"
    if theirs.negative:
        assert_same_array("cum_table", ours.cum_table, theirs.cum_table)
    for name in ("corpus_count", "corpus_total_words", "effective_min_count", "min_count", "sample"):
        assert getattr(ours, name) == getattr(theirs, name), (
            f"{name}: ours {getattr(ours, name)!r} vs gensim {getattr(theirs, name)!r}")
    if raw_vocab is not None:
        if raw_vocab:
            assert list(ours.raw_vocab.items()) == list(theirs.raw_vocab.items()), (
                "raw_vocab (items in order): " + _first_diff(list(ours.raw_vocab.items()),
                                                              list(theirs.raw_vocab.items())))
        else:
            assert len(ours.raw_vocab) == len(theirs.raw_vocab) == 0, (
                f"raw_vocab not dropped: ours {len(ours.raw_vocab)} vs gensim {len(theirs.raw_vocab)} items")


def assert_same_weights(ours, theirs):
    assert_same_array("wv.vectors", ours.wv.vectors, theirs.wv.vectors)
    assert_same_array("syn1neg", ours.syn1neg, theirs.syn1neg)


# ------------------------------------------------------------------------- build_vocab: the grid
# (id, Word2Vec keywords, build_vocab keywords besides the corpus, trim_rule?, expectation to check it mattered)
GRID = [
    ("min_count=1", dict(min_count=1), {}, False, None),
    ("min_count=5", dict(min_count=5), {}, False, None),
    ("min_count=20", dict(min_count=20), {}, False, None),
    ("empty-vocabulary", dict(min_count=10**7), {}, False, "empty"),
    ("keep_raw_vocab=False", dict(min_count=5), dict(keep_raw_vocab=False), False, None),
    ("max_vocab_size=500", dict(min_count=1, max_vocab_size=500), {}, False, "pruned"),
    ("max_vocab_size=2000", dict(min_count=5, max_vocab_size=2000), {}, False, "pruned"),
    ("max_vocab_size=2000+trim_rule", dict(min_count=1, max_vocab_size=2000), {}, True, "pruned"),
    ("max_vocab_size=500+trim_rule,min_count=3", dict(min_count=3, max_vocab_size=500), {}, True, "pruned"),
    ("max_final_vocab=100,min_count=1", dict(min_count=1, max_final_vocab=100), {}, False, "calc"),
    ("max_final_vocab=1000,min_count=5", dict(min_count=5, max_final_vocab=1000), {}, False, "calc"),
    ("max_final_vocab=1000,min_count=400", dict(min_count=400, max_final_vocab=1000), {}, False, "min_count"),
    ("max_final_vocab=10**6", dict(min_count=2, max_final_vocab=10**6), {}, False, "min_count"),
    ("max_final_vocab=100+trim_rule", dict(min_count=1, max_final_vocab=100), {}, True, "calc"),
    ("max_final_vocab=1000+max_vocab_size=2000", dict(min_count=1, max_final_vocab=1000, max_vocab_size=2000),
     {}, False, "pruned"),
    ("trim_rule,min_count=5", dict(min_count=5), {}, True, None),
    ("trim_rule,min_count=1", dict(min_count=1), {}, True, None),
    ("sample=0", dict(sample=0), {}, False, None),
    ("sample=1e-3", dict(sample=1e-3, min_count=1), {}, False, "downsampled"),
    ("sample=1e-5", dict(sample=1e-5), {}, False, "downsampled"),
    ("sample=50", dict(sample=50), {}, False, "downsampled"),
    ("sample=1", dict(sample=1, min_count=1), {}, False, "downsampled"),
    ("sorted_vocab=0", dict(sorted_vocab=0, min_count=1), {}, False, "unsorted"),
    ("null_word=1", dict(null_word=1, min_count=1), {}, False, "null"),
    ("null_word=1,sorted_vocab=0", dict(null_word=1, sorted_vocab=0), {}, False, "null"),
    ("ns_exponent=0", dict(ns_exponent=0.0, min_count=1), {}, False, None),
    ("ns_exponent=-0.5", dict(ns_exponent=-0.5, min_count=1), {}, False, None),
    ("ns_exponent=1.0", dict(ns_exponent=1.0), {}, False, None),
    ("ns_exponent=0.5,negative=15", dict(ns_exponent=0.5, negative=15), {}, False, None),
]
CASES = [pytest.param(c, name, *case, id=f"{name}-{c}") for c in CORPORA for (name, *case) in GRID]


def check_it_mattered(expect, ours, theirs, name, model_kw, rules):
    """Make sure the case exercises what it names (against gensim's result), so it could catch a difference."""
    if rules:
        assert rules[1].overrides > 0, "the trim_rule never overrode the default: the case tests nothing"
    if expect == "empty":
        assert len(theirs.wv) == 0
    elif expect == "pruned":
        assert len(theirs.raw_vocab) < n_types(name), "max_vocab_size did not prune"
    elif expect == "calc":
        assert theirs.effective_min_count > model_kw["min_count"]
    elif expect == "min_count":
        assert theirs.effective_min_count == model_kw["min_count"]
    elif expect == "downsampled":
        assert (theirs.wv.expandos["sample_int"] < 2**32 - 1).any()
    elif expect == "unsorted":
        counts = theirs.wv.expandos["count"]
        assert (np.diff(counts) > 0).any()
    elif expect == "null":
        assert "\0" in theirs.wv.key_to_index
    if expect != "empty":
        assert len(theirs.wv) > 0


@pytest.mark.parametrize("corpus_name, setting, model_kw, build_kw, rule, expect", CASES)
def test_build_vocab_matches_gensim(corpus_name, setting, model_kw, build_kw, rule, expect):
    build_kw = dict(dict(keep_raw_vocab=True), **build_kw)
    ours, theirs, rules = build_pair(corpus(corpus_name), model_kw=model_kw, build_kw=build_kw, rule=rule)
    check_it_mattered(expect, ours, theirs, corpus_name, model_kw, rules)
    assert_same_vocab(ours, theirs, raw_vocab=build_kw["keep_raw_vocab"])
    assert_same_weights(ours, theirs)
    assert not ours.syn1neg.any(), "syn1neg must start at zero"
    if rules:
        assert rules[0].overrides == rules[1].overrides, (
            f"trim_rule overrode the default {rules[0].overrides} times for ours, {rules[1].overrides} for gensim")


FILE_CASES = [("lee", "min_count=5"), ("lee", "max_vocab_size=500+trim_rule,min_count=3"), ("lee", "null_word=1"),
              ("lee", "max_final_vocab=100,min_count=1"), ("head500", "max_vocab_size=2000")]


@pytest.mark.parametrize("corpus_name, setting", FILE_CASES, ids=[f"{s}-{c}" for c, s in FILE_CASES])
def test_build_vocab_from_corpus_file_matches_gensim(corpus_name, setting):
    _, model_kw, build_kw, rule, _ = next(case for case in GRID if case[0] == setting)
    build_kw = dict(dict(keep_raw_vocab=True), **build_kw)
    ours, theirs, _ = build_pair(corpus_file=CORPORA[corpus_name], model_kw=model_kw, build_kw=build_kw, rule=rule)
    assert len(theirs.wv) > 0
    assert_same_vocab(ours, theirs, raw_vocab=True)
    assert_same_weights(ours, theirs)


# ------------------------------------------------------------------------------- initial vectors
@pytest.mark.parametrize("seed", [1, 42])
@pytest.mark.parametrize("vector_size", [100, 7])
def test_initial_vectors_match_gensim(seed, vector_size):
    ours, theirs, _ = build_pair(corpus("lee"), model_kw=dict(seed=seed, vector_size=vector_size, min_count=2))
    assert_same_weights(ours, theirs)
    assert ours.wv.vectors.shape == (len(theirs.wv), vector_size)
    assert ours.syn1neg.shape == (len(theirs.wv), vector_size) and not ours.syn1neg.any()
    bound = 1.0 / vector_size
    assert ours.wv.vectors.min() >= -bound and ours.wv.vectors.max() < bound
    other, _, _ = build_pair(corpus("lee"), model_kw=dict(seed=seed + 1, vector_size=vector_size, min_count=2))
    assert not np.array_equal(other.wv.vectors, ours.wv.vectors), "the seed does not change the vectors"


# --------------------------------------------------------------------------------- online update
def _new_words_corpus(sentences):
    """Other half of lee plus sentences with new words (some frequent, some rare) mixed with known ones."""
    extra = []
    for i in range(40):
        extra.append([f"zzneu{i % 7}", "the", f"zzneu{(i * 3) % 11}", "economy", f"zzrare{i}", f"zzneu{i % 5}s"])
    return list(sentences) + extra


UPDATE_CASES = [
    ("min_count=1", dict(min_count=1), False),
    ("min_count=5", dict(min_count=5), False),
    ("sample=0", dict(sample=0, min_count=2), False),
    ("sample=1e-5", dict(sample=1e-5, min_count=3), False),
    ("sample=50", dict(sample=50), False),
    ("max_final_vocab=1000", dict(max_final_vocab=1000, min_count=1), False),
    ("max_vocab_size=2000", dict(max_vocab_size=2000, min_count=2), False),
    ("trim_rule", dict(min_count=5), True),
    ("sorted_vocab=0", dict(sorted_vocab=0, min_count=3), False),
    ("null_word=1", dict(null_word=1, min_count=3), False),
    ("ns_exponent=-0.5", dict(ns_exponent=-0.5), False),
    ("seed=42", dict(seed=42, min_count=2), False),
]


def _perturb(model, offset):
    """Stand-in for training: distinct, deterministic weights, so a redraw of old rows would show."""
    v = model.wv.vectors
    model.wv.vectors = (np.arange(v.size, dtype=np.float32).reshape(v.shape) % 97) / 97 + offset
    s = model.syn1neg
    model.syn1neg = (np.arange(s.size, dtype=np.float32).reshape(s.shape) % 89) / 89 - offset


def assert_update_matches(ours, theirs, old_len, old_vectors, old_syn1neg):
    assert len(theirs.wv) > old_len, "the update added no word: the case tests nothing"
    assert_same_vocab(ours, theirs)
    assert_same_weights(ours, theirs)
    assert np.array_equal(ours.wv.vectors[:old_len], old_vectors), "old rows of wv.vectors were not kept"
    assert np.array_equal(ours.syn1neg[:old_len], old_syn1neg), "old rows of syn1neg were not kept"
    assert not ours.syn1neg[old_len:].any(), "new rows of syn1neg are not zero"


@pytest.mark.parametrize("setting, model_kw, rule", UPDATE_CASES, ids=[c[0] for c in UPDATE_CASES])
def test_online_update_matches_gensim(setting, model_kw, rule):
    lee = corpus("lee")
    first, second = lee[:150], _new_words_corpus(lee[150:])
    ours, theirs, rules = build_pair(first, model_kw=model_kw, rule=rule)
    assert_same_vocab(ours, theirs)
    for offset, model in ((0.25, ours), (0.25, theirs)):
        _perturb(model, offset)
    old_len, old_vectors, old_syn1neg = len(ours.wv), ours.wv.vectors.copy(), ours.syn1neg.copy()
    for model in (ours, theirs):
        model.build_vocab(second, update=True, **({"trim_rule": TrimRule()} if rule else {}))
    assert_update_matches(ours, theirs, old_len, old_vectors, old_syn1neg)
    # a second update, with words that are new again
    third = [[f"zzdritte{i % 4}", f"zzneu{i % 3}", "economy"] for i in range(30)]
    old_len, old_vectors, old_syn1neg = len(ours.wv), ours.wv.vectors.copy(), ours.syn1neg.copy()
    for model in (ours, theirs):
        model.build_vocab(third, update=True)
    assert_update_matches(ours, theirs, old_len, old_vectors, old_syn1neg)


def test_online_update_from_corpus_files_matches_gensim(tmp_path):
    lee = corpus("lee")
    paths = []
    for name, part in (("first.txt", lee[:150]), ("second.txt", _new_words_corpus(lee[150:]))):
        path = tmp_path / name
        path.write_text("".join(" ".join(s) + "\n" for s in part), encoding="utf-8")
        paths.append(str(path))
    ours, theirs, _ = build_pair(corpus_file=paths[0], model_kw=dict(min_count=2))
    _perturb(ours, 0.5), _perturb(theirs, 0.5)
    old_len, old_vectors, old_syn1neg = len(ours.wv), ours.wv.vectors.copy(), ours.syn1neg.copy()
    for model in (ours, theirs):
        model.build_vocab(corpus_file=paths[1], update=True)
    assert_update_matches(ours, theirs, old_len, old_vectors, old_syn1neg)


def test_update_without_prior_vocabulary_fails_as_gensim():
    ours, theirs = make_pair(vector_size=8)
    with pytest.raises(RuntimeError):
        theirs.build_vocab([["a", "b"]] * 5, update=True)
    with pytest.raises(RuntimeError):
        ours.build_vocab([["a", "b"]] * 5, update=True)


# ------------------------------------------------------------------------------ build_vocab_from_freq
def _freq():
    """300 words in a scrambled order with many tied counts, plus a few frequent ones."""
    freq = {f"w{(i * 37) % 300}": (i * 7) % 13 + 1 for i in range(300)}
    freq.update({"alpha": 5000, "beta": 800, "gamma": 800, "delta": 120})
    return freq


FREQ_CASES = [
    ("min_count=1", dict(min_count=1), {}, False),
    ("min_count=5", dict(min_count=5), {}, False),
    ("sample=0", dict(sample=0, min_count=1), {}, False),
    ("sample=1e-2", dict(sample=1e-2, min_count=2), {}, False),
    ("sample=10", dict(sample=10, min_count=2), {}, False),
    ("max_final_vocab=50", dict(max_final_vocab=50, min_count=1), {}, False),
    ("trim_rule", dict(min_count=5), {}, True),
    ("corpus_count=123+keep_raw_vocab", dict(min_count=3), dict(corpus_count=123, keep_raw_vocab=True), False),
    ("sorted_vocab=0", dict(sorted_vocab=0, min_count=2), {}, False),
    ("null_word=1", dict(null_word=1, min_count=2), {}, False),
    ("ns_exponent=0", dict(ns_exponent=0.0, min_count=2), {}, False),
]


@pytest.mark.parametrize("setting, model_kw, build_kw, rule", FREQ_CASES, ids=[c[0] for c in FREQ_CASES])
def test_build_vocab_from_freq_matches_gensim(setting, model_kw, build_kw, rule):
    ours, theirs = make_pair(vector_size=VECTOR_SIZE, **model_kw)
    for model in (ours, theirs):
        model.build_vocab_from_freq(_freq(), **build_kw, **({"trim_rule": TrimRule()} if rule else {}))
    assert len(theirs.wv) > 0
    assert_same_vocab(ours, theirs, raw_vocab=build_kw.get("keep_raw_vocab", False))
    assert_same_weights(ours, theirs)
    # and an online update from frequencies: new words, more counts for old ones
    more = {"alpha": 10, "w3": 9, "w4": 1, "new1": 7, "new2": 7, "new3": 1, "epsilon": 40}
    _perturb(ours, 1.0), _perturb(theirs, 1.0)
    old_len, old_vectors, old_syn1neg = len(ours.wv), ours.wv.vectors.copy(), ours.syn1neg.copy()
    for model in (ours, theirs):
        model.build_vocab_from_freq(dict(more), update=True)
    assert_update_matches(ours, theirs, old_len, old_vectors, old_syn1neg)


def _pairwise_total(counts, sample):
    """downsample_total as np.sum would give it: the sum the huge-count tests must tell from gensim's."""
    c = np.asarray(counts, dtype=np.float64)
    t = sample * c.sum()
    p = (np.sqrt(c / t) + 1) * (t / c)
    return int(np.where(p < 1, p * c, c).sum())


def test_build_vocab_from_freq_with_huge_counts_matches_gensim():
    """Web-scale counts (~1e13-1e14, as from n-gram tables): the report's downsample_total must be gensim's
    sequential float sum; a pairwise sum (np.sum) differs from it in the last unit here."""
    rng = np.random.default_rng(0)
    for _ in range(9):
        counts = rng.integers(10**12, 10**14, int(rng.integers(10, 60)))
    freq = {f"w{i}": int(c) for i, c in enumerate(counts)}
    ours, theirs = make_pair(vector_size=4, sample=1e-3, min_count=1)
    for model in (ours, theirs):
        model.build_vocab_from_freq(dict(freq), keep_raw_vocab=True)
    assert_same_vocab(ours, theirs, raw_vocab=True)
    for kw in (dict(), dict(sample=5e-2), dict(sample=0), dict(sample=1e6)):
        report_ours, report_theirs = ours.prepare_vocab(dry_run=True, **kw), theirs.prepare_vocab(dry_run=True, **kw)
        assert report_ours == report_theirs, f"dry-run report with {kw}: ours {report_ours} vs gensim {report_theirs}"
    assert _pairwise_total(counts, 1e-3) != ours.prepare_vocab(dry_run=True)["downsample_total"], (
        "the case no longer tells a pairwise sum from gensim's sequential one")


def test_update_dry_run_with_huge_counts_sums_in_gensims_order():
    """In an update, gensim sums downsample_total over the new words first, then the known ones."""
    rng = np.random.default_rng(0)
    for _ in range(4):
        n = int(rng.integers(10, 60))
        counts, is_new = rng.integers(10**12, 10**14, n), rng.random(n) < 0.5
    ours, theirs = make_pair(vector_size=4, sample=1e-3, min_count=1)
    for model in (ours, theirs):
        model.build_vocab_from_freq({f"u{i}": 1 for i in np.flatnonzero(~is_new)})
        model.raw_vocab = {f"u{i}": int(c) for i, c in enumerate(counts)}  # known and new words interleaved
    reports = [m.prepare_vocab(update=True, dry_run=True) for m in (ours, theirs)]
    assert reports[0] == reports[1], f"update dry-run report: ours {reports[0]} vs gensim {reports[1]}"
    known_first = np.concatenate([counts[~is_new], counts[is_new]])
    assert int(tv.downsample_ints(known_first, 1e-3, int(counts.sum()))[1]) != reports[1]["downsample_total"], (
        "the case no longer depends on the order of the sum")


# --------------------------------------------------------------------------------- dry run
DRY_CASES = [
    ("defaults", dict(), {}, False),
    ("min_count=2", dict(), dict(min_count=2), False),
    ("min_count=30,sample=1e-5", dict(), dict(min_count=30, sample=1e-5), False),
    ("sample=50", dict(), dict(sample=50), False),
    ("max_final_vocab=500,min_count=40", dict(max_final_vocab=500), dict(min_count=40), False),
    ("max_final_vocab=500,min_count=1", dict(max_final_vocab=500), dict(min_count=1), False),
    ("trim_rule", dict(), dict(min_count=3), True),
]


def _state(model):
    wv = model.wv
    return (list(wv.index_to_key), dict(wv.key_to_index), {k: v.copy() for k, v in wv.expandos.items()},
            wv.vectors.copy(), model.syn1neg.copy(), model.cum_table.copy(), model.min_count, model.sample,
            list(model.raw_vocab.items()), len(wv))


def assert_state_unchanged(before, model, who):
    after = _state(model)
    names = ("index_to_key", "key_to_index", "expandos", "vectors", "syn1neg", "cum_table", "min_count", "sample",
             "raw_vocab", "len(wv)")
    for name, b, a in zip(names, before, after):
        if isinstance(b, dict) and name == "expandos":
            same = b.keys() == a.keys() and all(np.array_equal(b[k], a[k]) for k in b)
        elif isinstance(b, np.ndarray):
            same = np.array_equal(a, b)
        else:
            same = a == b
        assert same, f"prepare_vocab(dry_run=True) changed {who}'s {name}"


@pytest.mark.parametrize("setting, model_kw, dry_kw, rule", DRY_CASES, ids=[c[0] for c in DRY_CASES])
def test_dry_run_reports_as_gensim_and_changes_nothing(setting, model_kw, dry_kw, rule):
    # sorted_vocab=0: gensim's dry run re-sorts a sorted vocabulary (see the oddity test below)
    ours, theirs, _ = build_pair(corpus("lee"), model_kw=dict(min_count=5, sorted_vocab=0, **model_kw),
                                 build_kw=dict(keep_raw_vocab=True))
    before = {"ours": _state(ours), "gensim": _state(theirs)}
    reports = [m.prepare_vocab(dry_run=True, **dry_kw, **({"trim_rule": TrimRule()} if rule else {}))
               for m in (ours, theirs)]
    assert reports[0] == reports[1], f"dry-run report: ours {reports[0]} vs gensim {reports[1]}"
    assert reports[1]["num_retained_words"] > 0
    if dry_kw and "max_final_vocab" not in model_kw:
        assert reports[1]["num_retained_words"] != len(theirs.wv) or setting.startswith("sample") or rule, (
            "the dry run's settings change nothing: the case tests nothing")
    assert ours.effective_min_count == theirs.effective_min_count, (
        f"effective_min_count after dry run: ours {ours.effective_min_count} vs gensim {theirs.effective_min_count}")
    assert_state_unchanged(before["ours"], ours, "ours")
    assert_state_unchanged(before["gensim"], theirs, "gensim")
    assert_same_vocab(ours, theirs, raw_vocab=True)


def test_dry_run_of_an_update_reports_as_gensim():
    lee = corpus("lee")
    ours, theirs, _ = build_pair(lee[:150], model_kw=dict(min_count=3, sorted_vocab=0))
    before = {"ours": _state(ours), "gensim": _state(theirs)}
    scans = [m.scan_vocab(_new_words_corpus(lee[150:])) for m in (ours, theirs)]
    assert scans[0] == scans[1], f"scan_vocab (total_words, corpus_count): ours {scans[0]} vs gensim {scans[1]}"
    assert list(ours.raw_vocab.items()) == list(theirs.raw_vocab.items()), "raw_vocab after scan_vocab"
    for sample in (None, 1e-5):
        reports = [m.prepare_vocab(update=True, dry_run=True, sample=sample) for m in (ours, theirs)]
        assert reports[0] == reports[1], f"update dry-run report: ours {reports[0]} vs gensim {reports[1]}"
    for who, model in (("ours", ours), ("gensim", theirs)):
        b = before[who]
        assert model.wv.index_to_key == b[0], f"update dry run changed {who}'s index_to_key"
        assert np.array_equal(model.wv.expandos["count"], b[2]["count"]), f"update dry run changed {who}'s counts"


def test_gensim_oddity_dry_run_resorts_gensims_vocabulary_but_not_ours():
    """gensim 4.4's prepare_vocab(dry_run=True) still runs its tail: with sorted_vocab it sorts the sorted
    vocabulary again, which reverses the order of tied words (lexsort puts ties in reverse order of position)
    and permutes the vectors alike (logging "sorting after vectors have been allocated"). torch_w2v's dry run
    changes nothing."""
    ours, theirs, _ = build_pair(corpus("lee"), model_kw=dict(min_count=5), build_kw=dict(keep_raw_vocab=True))
    assert_same_vocab(ours, theirs, raw_vocab=True)
    before_ours, keys_theirs = _state(ours), list(theirs.wv.index_to_key)
    counts = theirs.wv.expandos["count"].copy()
    assert ours.prepare_vocab(dry_run=True) == theirs.prepare_vocab(dry_run=True)
    assert_state_unchanged(before_ours, ours, "ours")
    assert theirs.wv.index_to_key != keys_theirs, "gensim's dry run no longer re-sorts: drop this oddity test"
    tied = counts == counts[-1]
    assert theirs.wv.index_to_key[-tied.sum():] == keys_theirs[-tied.sum():][::-1]


def test_gensim_oddity_dry_run_with_null_word_breaks_gensims_model_but_not_ours():
    """With null_word=1, gensim's dry run appends a second '\\0' to index_to_key and then fails to sort
    (IndexError: one more key than vectors), leaving the model inconsistent. torch_w2v's changes nothing."""
    ours, theirs, _ = build_pair(corpus("lee"), model_kw=dict(min_count=5, null_word=1),
                                 build_kw=dict(keep_raw_vocab=True))
    assert_same_vocab(ours, theirs, raw_vocab=True)
    before_ours = _state(ours)
    report = ours.prepare_vocab(dry_run=True)
    assert report["num_retained_words"] == len(ours.wv) - 1
    assert_state_unchanged(before_ours, ours, "ours")
    with pytest.raises(IndexError):
        theirs.prepare_vocab(dry_run=True)
    assert theirs.wv.index_to_key.count("\0") == 2


# ----------------------------------------------------------------------------- rebuilding
@pytest.mark.parametrize("first", ["smaller", "same", "larger"])
def test_second_build_vocab_equals_a_fresh_gensim_build(first):
    """A second build_vocab (no update) gives a fresh vocabulary and fresh vectors. gensim keeps (permuted) old
    vectors when the size is unchanged and raises IndexError when the vocabulary grows; torch_w2v starts afresh."""
    lee = corpus("lee")
    first_corpus = {"smaller": lee[:50], "same": lee, "larger": lee + _new_words_corpus([])}[first]
    ours = torch_w2v.Word2Vec(sg=1, device="cpu", vector_size=VECTOR_SIZE, min_count=3)
    ours.build_vocab(first_corpus)
    ours.wv.vectors += 1.0
    ours.build_vocab(lee, keep_raw_vocab=True)
    _, fresh, _ = build_pair(lee, model_kw=dict(min_count=3), build_kw=dict(keep_raw_vocab=True))
    assert_same_vocab(ours, fresh, raw_vocab=True)
    assert_same_weights(ours, fresh)


# ---------------------------------------------------------------------------------------- Huffman
def _gensim_kv(counts):
    kv = KeyedVectors(4)
    kv.index_to_key = [f"k{i}" for i in range(len(counts))]
    kv.key_to_index = {k: i for i, k in enumerate(kv.index_to_key)}
    kv.allocate_vecattrs(attrs=["count"], types=[int])
    kv.expandos["count"][:] = np.asarray(counts, dtype=np.int64)
    return kv


def assert_same_codes(codes, points, wv):
    n = len(wv)
    assert len(codes) == len(points) == n
    if n == 0:
        return
    for i in range(n):
        c, p = wv.expandos["code"][i], wv.expandos["point"][i]
        assert np.array_equal(codes[i], c), f"code of word {i} ({wv.index_to_key[i]!r}): ours {codes[i]} vs gensim {c}"
        assert np.array_equal(points[i], p), f"point of word {i} ({wv.index_to_key[i]!r}): ours {points[i]} vs {p}"
        if len(c):
            assert codes[i].dtype == c.dtype == np.uint8 and points[i].dtype == p.dtype == np.uint32, (
                f"dtypes of word {i}: ours {codes[i].dtype}/{points[i].dtype} vs gensim {c.dtype}/{p.dtype}")


@pytest.mark.parametrize("model_kw", [dict(min_count=1), dict(min_count=5), dict(min_count=3, null_word=1),
                                      dict(min_count=2, sorted_vocab=0)], ids=str)
def test_huffman_matches_gensim_on_lee(model_kw):
    theirs = gensim.models.Word2Vec(sg=1, hs=1, negative=0, vector_size=4, **model_kw)
    theirs.build_vocab(corpus("lee"))
    ours = torch_w2v.Word2Vec(sg=1, device="cpu", vector_size=4, **model_kw)
    ours.build_vocab(corpus("lee"))
    assert ours.wv.index_to_key == theirs.wv.index_to_key
    codes, points = tv.huffman(ours.wv.expandos["count"])
    assert_same_codes(codes, points, theirs.wv)
    tv.set_huffman(ours.wv)
    assert_same_codes(list(ours.wv.expandos["code"]), list(ours.wv.expandos["point"]), theirs.wv)
    assert max(len(c) for c in codes) > 10


TIED = {
    "all-equal-64": [1] * 64,
    "all-equal-100": [7] * 100,
    "few-values-sorted": sorted(np.random.default_rng(0).integers(1, 4, 500).tolist(), reverse=True),
    "few-values-scrambled": np.random.default_rng(1).integers(1, 4, 500).tolist(),
    "powers-of-two": [2 ** (i // 3) for i in range(30)][::-1],
    "lee-like-ties": sorted(np.random.default_rng(2).zipf(1.6, 3000).clip(1, 10**6).tolist(), reverse=True),
    "two": [3, 3], "three": [1, 1, 1], "one": [5], "none": [],
}


@pytest.mark.parametrize("name", list(TIED))
def test_huffman_matches_gensim_with_tied_counts(name):
    counts = TIED[name]
    kv = _gensim_kv(counts)
    _assign_binary_codes(kv)
    codes, points = tv.huffman(np.asarray(counts, dtype=np.int64))
    if len(counts) == 0:
        assert codes == [] and points == [] and "code" not in kv.expandos
        return
    assert_same_codes(codes, points, kv)
    mine = _gensim_kv(counts)
    tv.set_huffman(mine)
    assert_same_codes(list(mine.expandos["code"]), list(mine.expandos["point"]), kv)


# ------------------------------------------------------------------------- the table functions
@pytest.mark.parametrize("ns_exponent", [0.75, 0.0, -0.5, 1.0, 0.5, 2.0])
def test_make_cum_table_is_bit_identical_to_gensim(ns_exponent):
    counts = TIED["lee-like-ties"] + [10**9, 3, 10**12]
    kv = _gensim_kv(counts)
    model = gensim.models.Word2Vec(sg=1, ns_exponent=ns_exponent)
    model.wv = kv
    model.make_cum_table()
    ours = tv.make_cum_table(np.asarray(counts, dtype=np.int64), ns_exponent)
    assert_same_array("cum_table", ours, model.cum_table)


def test_sort_permutation_puts_ties_in_reverse_order_as_gensim():
    counts = np.array([3, 1, 3, 2, 1, 3], dtype=np.int64)
    kv = _gensim_kv(counts)
    kv.sort_by_descending_frequency()
    order = tv.sort_permutation(counts)
    assert [f"k{i}" for i in order] == kv.index_to_key == ["k5", "k2", "k0", "k3", "k4", "k1"]


# ------------------------------------------------------- keys of other types than str (issue 22.1)
class Token(str):
    """A str subclass, as tokenisers return (with a different __str__, which must not leak into the key)."""

    def __str__(self):
        return f"Token({str.__str__(self)})"


def test_keys_become_plain_types_that_equal_and_hash_as_the_originals():
    from collections import namedtuple
    Pair = namedtuple("Pair", "a b")
    for key, plain_type in [(np.str_("cat"), str), (Token("cat"), str), (np.int64(7), int), (np.uint8(7), int),
                            (True, bool), (np.bool_(True), bool), (np.float32(0.5), float), (np.bytes_(b"x"), bytes),
                            (Pair(np.str_("a"), np.int32(1)), tuple), ("cat", str), (7, int), (None, type(None))]:
        plain = tv.plain_key(key)
        assert type(plain) is plain_type and plain == key and hash(plain) == hash(key), key
        assert tv.is_plain_key(plain)
    assert tv.plain_key(Token("cat")) == "cat" and str(tv.plain_key(Token("cat"))) == "cat"
    assert type(tv.plain_key(Pair(np.str_("a"), np.int32(1)))[1]) is int
    odd = object()
    assert tv.plain_key(odd) is odd and not tv.is_plain_key(odd)


def test_a_vocabulary_of_numpy_and_subclass_keys_is_gensims_with_plain_keys():
    """Issue 22.1: the vocabulary held np.str_ keys as they came, which the model file could not store. Now it
    holds str/int, in gensim's order with gensim's counts, and the original tokens still find their rows."""
    words = [np.str_("cat"), Token("dog"), np.int64(3), 4, np.str_("dog"), "cat", np.int32(3)]
    corpus = [words[i:] + words[:i] for i in range(len(words))] * 3
    ours = torch_w2v.Word2Vec(min_count=1, vector_size=8, device="cpu")
    ours.build_vocab(corpus)
    theirs = gensim.models.Word2Vec(min_count=1, vector_size=8)
    theirs.build_vocab(corpus)
    assert ours.wv.index_to_key == theirs.wv.index_to_key
    assert [type(k) for k in ours.wv.index_to_key] == [type(tv.plain_key(k)) for k in theirs.wv.index_to_key]
    assert {type(k) for k in ours.wv.index_to_key} <= {str, int}
    assert list(ours.wv.expandos["count"]) == list(theirs.wv.expandos["count"])
    for token in words:
        assert ours.wv.key_to_index[token] == theirs.wv.key_to_index[token]
    ours.build_vocab([[np.str_("bird"), np.int64(3)]] * 2, update=True)  # the online update converts too
    assert type(ours.wv.index_to_key[-1]) is str and ours.wv.get_index(np.str_("bird")) == len(ours.wv) - 1
