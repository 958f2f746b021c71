"""Subclasses of Word2Vec (issue 22.3, 22.4): gensim's hooks that torch_w2v calls, those it refuses by name,
load() of a subclass whose __init__ takes other arguments, and isinstance against gensim's class.

The graph-embedding subclass is fastnode2vec's pattern (``Node2Vec``, louisabraham/fastnode2vec): start nodes
as the corpus, random walks made in ``_do_train_job`` and handed to ``super()._do_train_job``.
"""
import logging

import gensim.models
import numpy as np
import pytest

from torch_w2v import Word2Vec, hooks

SETTINGS = dict(vector_size=16, window=3, min_count=1, sg=1, workers=1, sample=0, device="cpu")


def _graph():
    """Two 10-node cliques joined by one edge: nodes of a clique should end up near each other."""
    edges = [(a, b) for part in (range(0, 10), range(10, 20)) for a in part for b in part if a < b] + [(9, 10)]
    neighbours = {}
    for a, b in edges:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    return neighbours


class Walks(Word2Vec):
    """fastnode2vec's way: its own __init__ arguments, a vocabulary of nodes, walks made per job."""

    def __init__(self, neighbours, dim, walk_length=20, seed=0):
        super().__init__(vector_size=dim, window=3, min_count=1, sg=1, epochs=2, workers=1, sample=0, seed=seed,
                         device="cpu")
        self.neighbours, self.walk_length, self.rng = neighbours, walk_length, np.random.default_rng(seed)
        self.build_vocab([[n] for n in sorted(neighbours)])

    def _walk(self, start):
        walk = [start]
        for _ in range(self.walk_length - 1):
            walk.append(self.rng.choice(self.neighbours[int(walk[-1])]))
        return np.array(walk)  # numpy integers, as numba-made walks are

    def _do_train_job(self, sentences, alpha, inits):
        return super()._do_train_job([self._walk(s[0]) for s in sentences], alpha, inits)

    def starts(self, repeats):
        """Dummy walks of the right length (gensim's job sizes and schedule count them), one per start."""
        return [[np.int64(n)] * self.walk_length for n in sorted(self.neighbours)] * repeats


def test_a_subclass_making_walks_in_do_train_job_trains_on_the_walks():
    """Issue 22.3: torch_w2v never called an overridden _do_train_job, so train() returned 0 effective words
    and no vector changed, silently. Now every job goes through it and its walks are trained: the cliques
    separate (mean cosine within a clique ~0.99 against ~0.1 across, seed 0; thresholds 0.8 / 0.5)."""
    model = Walks(_graph(), 16)
    before = model.wv.vectors.copy()
    starts = model.starts(10)
    trained, raw = model.train(starts, total_examples=len(starts), epochs=model.epochs)
    assert raw == 2 * len(starts) * model.walk_length and trained == raw  # sample=0, every node in vocabulary
    assert not np.array_equal(before, model.wv.vectors) and len(model.epoch_losses) == 2
    within = np.mean([model.wv.similarity(0, j) for j in range(1, 9)])
    across = np.mean([model.wv.similarity(0, j) for j in range(11, 19)])
    assert within > 0.8 and across < 0.5, (within, across)


def test_a_subclass_whose_init_takes_other_arguments_saves_and_loads(tmp_path, caplog):
    """Issue 22.3: load() called cls(**settings), which fails for Walks(neighbours, dim, ...). It builds the
    subclass without its __init__ (as gensim's unpickling does) and restores the attributes it added that are
    plain values or arrays; the others are named in a warning."""
    model = Walks(_graph(), 8)
    model.train(model.starts(2), total_examples=40, epochs=1)
    with caplog.at_level(logging.WARNING, logger="torch_w2v"):
        model.save(str(tmp_path / "walks.w2v"))
    assert "Walks's attributes rng (Generator) are not saved" in caplog.text
    loaded = Walks.load(str(tmp_path / "walks.w2v"))
    assert type(loaded) is Walks and np.array_equal(loaded.wv.vectors, model.wv.vectors)
    assert loaded.walk_length == 20 and loaded.neighbours == model.neighbours and not hasattr(loaded, "rng")
    loaded.rng = np.random.default_rng(1)
    assert loaded.train(loaded.starts(1), total_examples=20, epochs=1)[0] > 0


class Recorder:
    """Records the (sentences, alpha) of every _do_train_job call, for gensim's class or torch_w2v's."""

    @staticmethod
    def subclass(base):
        class Recording(base):
            def _do_train_job(self, sentences, alpha, inits):
                self.calls.append((len(sentences), sum(map(len, sentences)), round(alpha, 9), len(inits)))
                return super()._do_train_job(sentences, alpha, inits)
        return Recording


@pytest.mark.parametrize("by", ["total_examples", "total_words"])
def test_do_train_job_gets_gensims_jobs_and_learning_rates(by):
    """The jobs (sentences, words) and the alpha of each equal the calls gensim's own workers make (one
    worker: in order), over 3 epochs, the schedule counted by sentences or by words."""
    rng = np.random.default_rng(0)
    corpus = [[f"w{i}" for i in rng.integers(0, 30, rng.integers(1, 40))] for _ in range(200)]
    calls = {}
    for name, base, extra in (("gensim", gensim.models.Word2Vec, {}), ("ours", Word2Vec, {"device": "cpu"})):
        model = Recorder.subclass(base)(vector_size=8, min_count=1, workers=1, batch_words=300, **extra)
        model.build_vocab(corpus)
        model.calls = []
        count = {"total_examples": len(corpus)} if by == "total_examples" else {
            "total_words": model.corpus_total_words}
        model.train(corpus, epochs=3, **count)
        calls[name] = [c for c in model.calls if c[0]]  # gensim also pushes an empty job before a long sentence
    assert calls["ours"] == calls["gensim"] and len(calls["ours"]) > 20


def test_an_override_that_never_calls_super_is_refused_not_skipped():
    class OwnTraining(Word2Vec):
        def _do_train_job(self, sentences, alpha, inits):
            return 0, sum(len(s) for s in sentences)  # would train with gensim's Cython routines itself

    with pytest.raises(NotImplementedError, match=r"OwnTraining._do_train_job returned on all 1 jobs of epoch 0 "
                                                  r"without calling Word2Vec._do_train_job.*generate them"):
        OwnTraining([["a", "b", "c"]] * 5, **SETTINGS)


@pytest.mark.parametrize("hook", ["_train_epoch", "_job_producer", "_worker_loop", "_get_next_alpha"])
def test_overrides_of_gensims_thread_hooks_are_refused_by_name(hook):
    """Hooks of gensim's job threads have no counterpart: an override is refused at construction (which
    trains) and at train(), naming the class, the hook and the fix, rather than silently not called."""
    Sub = type("Sub", (Word2Vec,), {hook: lambda self, *a, **k: None})
    with pytest.raises(NotImplementedError, match=rf"Sub overrides Word2Vec.{hook}, which gensim calls .* never "
                                                  r"calls it.*pass them to train\(\) as the corpus"):
        Sub([["a", "b"]] * 5, **SETTINGS)
    model = Sub(**SETTINGS)
    model.build_vocab([["a", "b"]] * 5)
    with pytest.raises(NotImplementedError, match=hook):
        model.train([["a", "b"]] * 5, total_examples=5, epochs=1)


def test_corpus_file_hooks_are_refused_only_for_corpus_file(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b c\n" * 10)

    class FileHook(Word2Vec):
        def _do_train_epoch(self, *args, **kwargs):
            return 0, 0, 0

    with pytest.raises(NotImplementedError, match=r"FileHook overrides Word2Vec._do_train_epoch"):
        FileHook(corpus_file=str(path), **SETTINGS)
    assert FileHook([["a", "b", "c"]] * 10, **SETTINGS).train_count == 1  # gensim never calls it for iterables


def test_the_hooks_torch_w2v_calls_through_self_are_called(caplog):
    """_scan_vocab, _check_corpus_sanity, _clear_post_train, _check_training_sanity: overrides take effect;
    logging hooks, which are not called, are named in one warning."""
    seen = []

    class Hooked(Word2Vec):
        def _scan_vocab(self, sentences, progress_per, trim_rule):
            seen.append("scan")
            return super()._scan_vocab([[w.lower() for w in s] for s in sentences], progress_per, trim_rule)

        def _check_corpus_sanity(self, corpus_iterable=None, corpus_file=None, passes=1):
            seen.append("corpus")
            return super()._check_corpus_sanity(corpus_iterable, corpus_file, passes)

        def _clear_post_train(self):
            seen.append("clear")
            super()._clear_post_train()

        def _log_progress(self, *args):
            pass

    with caplog.at_level(logging.WARNING, logger="torch_w2v"):
        model = Hooked([["A", "B"], ["a", "b"]] * 5, **SETTINGS)
    assert sorted(model.wv.index_to_key) == ["a", "b"] and {"scan", "corpus", "clear"} <= set(seen)
    assert "Hooked overrides _log_progress, which torch_w2v does not call" in caplog.text


def test_do_train_job_of_the_base_class_trains_nothing_by_itself():
    model = Word2Vec([["a", "b"]] * 5, **SETTINGS)
    with pytest.raises(RuntimeError, match=r"trains nothing by itself.*Call train\(sentences"):
        model._do_train_job([["a", "b"]], 0.025, model._get_thread_working_mem())
    assert hooks.overrides(Word2Vec, "_do_train_job") is False


def test_checkpoints_are_refused_with_a_do_train_job_override(tmp_path):
    model = Walks(_graph(), 8)
    with pytest.raises(NotImplementedError, match="checkpoint= is not supported for Walks"):
        model.train(model.starts(1), total_examples=20, epochs=1, checkpoint=str(tmp_path / "c.ckpt"))


# ------------------------------------------------------------------- isinstance (issue 22.4)
def test_torch_w2v_is_not_a_gensim_word2vec_and_the_documented_workarounds_work():
    """Decision (docs/engine.md, 'Subclasses of Word2Vec'): torch_w2v's class does not subclass gensim's,
    whose 24 methods torch_w2v does not define would run gensim's training on torch_w2v's attributes. The
    workarounds the page gives: model.wv is gensim's KeyedVectors (what gensim's indexers read), a tuple in
    isinstance, to_gensim() for a real gensim model."""
    model = Word2Vec([["a", "b", "c"]] * 10, **SETTINGS)
    assert not isinstance(model, gensim.models.Word2Vec)
    assert gensim.models.Word2Vec not in type(model).__mro__
    assert isinstance(model, (gensim.models.Word2Vec, Word2Vec))
    assert isinstance(model.wv, gensim.models.KeyedVectors)
    converted = model.to_gensim()
    assert isinstance(converted, gensim.models.Word2Vec)
    assert np.array_equal(converted.wv.vectors, model.wv.vectors)
