"""torch_w2v.config: one source of defaults, and validation that names the value and the fix."""
import dataclasses

import pytest

from torch_w2v import config


def test_every_field_has_a_default_and_the_defaults_validate():
    assert config.validate(config.DEFAULTS) is config.DEFAULTS
    assert config.FIELDS == tuple(f.name for f in dataclasses.fields(config.TrainConfig))


@pytest.mark.parametrize("change, exc, words", [
    (dict(engine="cuda"), ValueError, "engine must be one of"),
    (dict(pipeline="gpu"), ValueError, "pipeline must be one of"),
    (dict(window=0), ValueError, "window must be >= 1, got 0"),
    (dict(vector_size=2.5), TypeError, "vector_size must be an integer"),
    (dict(alpha=float("nan")), ValueError, "alpha must be a finite number, got nan"),
    (dict(hs=0, negative=0), ValueError, "You must set either 'hs' or 'negative'"),
    (dict(chunk_words=0), ValueError, "chunk_words must be >= 1"),
])
def test_bad_values_are_refused_by_name(change, exc, words):
    with pytest.raises(exc, match=words):
        config.replace(config.DEFAULTS, **change)


def test_chunk_words_none_means_the_pipelines_default():
    assert config.replace(config.DEFAULTS, chunk_words=None).chunk_words is None
