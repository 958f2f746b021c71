"""gensim's own Word2Vec test suite, run against ``torch_w2v.Word2Vec``.

``gensim.test.test_word2vec`` calls ``word2vec.Word2Vec(...)`` through its module-level name ``word2vec``.
We give that module a stand-in for ``gensim.models.word2vec`` whose ``Word2Vec`` is torch_w2v's (everything
else, ``LineSentence`` included, is gensim's), only while this module's tests run: a module-scoped autouse
fixture installs it and puts gensim's back afterwards. Replacing ``gensim.models.word2vec.Word2Vec``
itself would break gensim's own ``super(Word2Vec, self)`` calls, so gensim's module is never touched.

The test classes are subclasses of gensim's, so pytest collects every gensim test under this module;
the few that cannot apply are listed in ``EXCLUDED`` with the reason and skipped.
"""
import types
import unittest

import gensim.models.word2vec as gensim_word2vec
import gensim.test.test_word2vec as gensim_suite
import pytest

import torch_w2v

# gensim tests that do not apply to torch_w2v, and why. Everything else must pass.
EXCLUDED = {
    # Tests gensim's Cython corpus reader (gensim.models.word2vec_corpusfile), which torch_w2v does not use
    # (its corpus_file reader is torch_w2v.corpus); no torch_w2v code runs.
    "test_cython_line_sentence_works_with_filename": "tests gensim's Cython LineSentence reader",
    # Skipped by gensim itself unless BULK_TEST_REPS is set (a local calibration helper).
    "test_method_in_bulk": "gensim's local calibration helper, skipped by gensim itself",
}
# Not collected at all: TestWord2VecScripts runs gensim's stand-alone script (gensim.scripts.
# word2vec_standalone, gensim's own Word2Vec in a subprocess), and TestWMD tests KeyedVectors.wmdistance
# (needs POT, skipped when absent); neither exercises torch_w2v.


def _stand_in_module() -> types.ModuleType:
    """A copy of ``gensim.models.word2vec``'s namespace with ``Word2Vec`` = torch_w2v's."""
    module = types.ModuleType("gensim.models.word2vec", gensim_word2vec.__doc__)
    module.__dict__.update({k: v for k, v in vars(gensim_word2vec).items() if not k.startswith("__")})
    module.Word2Vec = torch_w2v.Word2Vec
    return module


@pytest.fixture(scope="module", autouse=True)
def _torch_w2v_in_gensim_suite():
    """Point gensim's test module at torch_w2v for this module's tests; restore it afterwards."""
    original = gensim_suite.word2vec
    gensim_suite.word2vec = _stand_in_module()
    try:
        yield
    finally:
        gensim_suite.word2vec = original


def _excluding(cls):
    """Replace the EXCLUDED tests of gensim's class ``cls`` by skips that give the reason."""
    for name, reason in EXCLUDED.items():
        if hasattr(cls, name):
            @unittest.skip(f"excluded: {reason}")
            def excluded(self):
                pass
            excluded.__name__ = name
            setattr(cls, name, excluded)
    return cls


class _OnTorchW2V:
    """Fails a test up front if the stand-in is not in place (so it could not silently test gensim)."""

    def setUp(self):
        assert gensim_suite.word2vec.Word2Vec is torch_w2v.Word2Vec, "the stand-in module is not in place"
        super().setUp()


@_excluding
class TestWord2VecModel(_OnTorchW2V, gensim_suite.TestWord2VecModel):
    """gensim's ``TestWord2VecModel``, every test run against torch_w2v.Word2Vec."""


@_excluding
class TestWord2VecSentenceIterators(_OnTorchW2V, gensim_suite.TestWord2VecSentenceIterators):
    """gensim's ``TestWord2VecSentenceIterators`` (its readers feed torch_w2v in the model tests)."""


def test_the_stand_in_is_in_effect():
    """The suite above really runs torch_w2v: gensim's test module sees our class, gensim's does not."""
    assert gensim_suite.word2vec.Word2Vec is torch_w2v.Word2Vec
    assert gensim_word2vec.Word2Vec is not torch_w2v.Word2Vec
    assert gensim_suite.word2vec.LineSentence is gensim_word2vec.LineSentence
