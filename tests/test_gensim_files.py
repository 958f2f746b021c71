"""torch_w2v/gensim_files.py: models saved by gensim (4.4 here, 0.12-3.8 in gensim's own test data) load as
torch_w2v models through Word2Vec.load without running code from the file, equal to what gensim's own load
gives, and keep training; Word2Vec.from_gensim / to_gensim round-trip every array; planted payloads in every
place a gensim file can hold one are refused naming the file and the global, and none runs."""
import codecs
import collections
import os
import pickle
import random
import sys

import numpy as np
import pytest
from gensim.models import KeyedVectors
from gensim.models import word2vec as gensim_word2vec
from gensim.test.utils import datapath

from torch_w2v import Word2Vec, gensim_files
from torch_w2v.evaluate import load_vectors
from torch_w2v.export import gensim_word2vec_class
from torch_w2v.persist import NotAModelFile

GensimWord2Vec = gensim_word2vec_class()
# gensim's test data: what gensim 4.4 itself loads (0.13.4 on), and what it refuses (no `wv` before 0.13.4)
GENSIM_LOADS = ["word2vec_old", "word2vec_old_sep", "word2vec_3.3", "model-from-gensim-3.8.0.w2v"] + [
    f"old_w2v_models/w2v_{v}.mdl" for v in ("0.13.4", "1.0.0", "1.0.1", "2.0.0", "2.1.0", "2.2.0", "2.3.0",
                                            "3.0.0", "3.1.0", "3.2.0", "3.3.0", "3.4.0")]
GENSIM_REFUSES = ["w2v-lee-v0.12.0", "word2vec_pre_kv_py2", "word2vec_pre_kv_py3", "word2vec_pre_kv_py3_4",
                  "word2vec_pre_kv_sep_py2"] + [
    f"old_w2v_models/w2v_{v}.mdl" for v in ("0.12.0", "0.12.1", "0.12.2", "0.12.3", "0.12.4", "0.13.0",
                                            "0.13.1", "0.13.2", "0.13.3")]
SETTINGS = ("vector_size", "sg", "hs", "negative", "window", "alpha", "min_alpha", "min_count", "sample", "epochs",
            "cbow_mean", "ns_exponent", "corpus_count", "corpus_total_words")


def _same_model(ours, theirs):
    assert ours.wv.index_to_key == theirs.wv.index_to_key
    np.testing.assert_array_equal(ours.wv.vectors, theirs.wv.vectors)
    for name in ("count", "sample_int"):
        np.testing.assert_array_equal(ours.wv.expandos[name], theirs.wv.expandos[name])
    for name in ("syn1neg", "syn1", "cum_table"):
        if getattr(theirs, name, None) is not None:
            np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name), err_msg=name)
    np.testing.assert_array_equal(ours.wv.vectors_lockf, theirs.wv.vectors_lockf)
    for name in SETTINGS:
        assert getattr(ours, name) == getattr(theirs, name), name


@pytest.mark.parametrize("name", GENSIM_LOADS)
def test_a_file_gensim_loads_loads_as_gensim_loads_it(name):
    ours, theirs = Word2Vec.load(datapath(name)), GensimWord2Vec.load(datapath(name))
    assert type(ours) is Word2Vec
    _same_model(ours, theirs)
    if theirs.hs:
        for name in ("code", "point"):
            for a, b in zip(ours.wv.expandos[name], theirs.wv.expandos[name]):
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", GENSIM_REFUSES)
def test_files_older_than_gensim_loads_are_read_too(name):
    """0.12-0.13.3 kept the vectors on the model; gensim 4.4 fails on them with an AttributeError."""
    with pytest.raises(AttributeError):
        GensimWord2Vec.load(datapath(name))
    model = Word2Vec.load(datapath(name))
    stored = vars(gensim_files.read_pickle(datapath(name)))
    if "syn0" in stored:   # the vectors inline; the _sep file keeps them beside it
        np.testing.assert_array_equal(model.wv.vectors, stored["syn0"])
    assert len(model.wv) == len(stored["index2word"]) and model.wv.index_to_key == list(stored["index2word"])
    assert model.wv.most_similar(model.wv.index_to_key[0], topn=1)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["word2vec_old", "model-from-gensim-3.8.0.w2v", "old_w2v_models/w2v_1.0.0.mdl",
                                  "old_w2v_models/w2v_0.12.0.mdl"])
def test_an_old_model_keeps_training_on_new_words(name, lee_sentences):
    """gensim's onlineSanity: grow the vocabulary, train, the vectors move and a new word has a vector."""
    model = Word2Vec.load(datapath(name))
    before = len(model.wv)
    model.build_vocab(lee_sentences, update=True)
    trained, raw = model.train(lee_sentences, total_examples=model.corpus_count, epochs=1)
    assert len(model.wv) > before and 0 < trained <= raw and "war" in model.wv
    assert np.isfinite(model.wv.vectors).all()


def _gensim_model(lee_sentences, **settings):
    return GensimWord2Vec(lee_sentences, **{**dict(vector_size=24, min_count=2, seed=3, workers=1, epochs=1),
                                             **settings})


@pytest.mark.parametrize("settings", [dict(sg=1), dict(sg=0, hs=1, negative=0), dict(sg=1, hs=1, negative=3)])
@pytest.mark.parametrize("separately", [False, True])
def test_a_gensim_44_file_loads_equal_to_gensims_load(lee_sentences, tmp_path, settings, separately):
    """Inline arrays, or every array in a .npy beside the file (sep_limit=0)."""
    path = tmp_path / "g.model"
    _gensim_model(lee_sentences, **settings).save(str(path), sep_limit=0 if separately else 10 * 1024**2)
    assert (tmp_path / "g.model.wv.vectors.npy").exists() == separately
    _same_model(Word2Vec.load(path), GensimWord2Vec.load(str(path)))
    mapped = Word2Vec.load(path, mmap="r")
    if separately:
        assert isinstance(mapped.wv.vectors, np.memmap)


def test_a_compressed_gensim_file_loads(lee_sentences, tmp_path):
    path = str(tmp_path / "g.model.gz")
    _gensim_model(lee_sentences).save(path, sep_limit=0)
    _same_model(Word2Vec.load(path), GensimWord2Vec.load(path))


@pytest.mark.slow
@pytest.mark.parametrize("sg", [1, 0])
def test_a_gensim_model_keeps_training_in_torch_w2v_to_gensims_quality(lee_sentences, tmp_path, sg):
    """An under-trained gensim model (1 epoch), saved, loaded and trained 10 more epochs by torch_w2v passes
    gensim's Lee sanity check ('bombings' among the 50 nearest of 'attacks'; gensim calibrated it over >200
    runs), as the same file trained on by gensim does."""
    path = str(tmp_path / "g.model")
    _gensim_model(lee_sentences, sg=sg, vector_size=50).save(path)
    ranks = {}
    for name, model in (("torch_w2v", Word2Vec.load(path)), ("gensim", GensimWord2Vec.load(path))):
        model.train(lee_sentences, total_examples=model.corpus_count, epochs=10)
        ranked = [w for w, _ in model.wv.most_similar("attacks", topn=len(model.wv))]
        ranks[name] = ranked.index("bombings")
    assert ranks["torch_w2v"] < 50 and ranks["gensim"] < 50, ranks


@pytest.mark.parametrize("settings", [dict(sg=1), dict(sg=0, cbow_mean=0), dict(hs=1, negative=0),
                                      dict(sg=1, hs=1, negative=7, ns_exponent=0.5)])
def test_from_gensim_and_to_gensim_round_trip_every_array_bit_for_bit(lee_sentences, settings):
    theirs = _gensim_model(lee_sentences, **settings)
    theirs.wv.vectors_lockf = np.linspace(0, 1, len(theirs.wv)).astype(np.float32)
    ours = Word2Vec.from_gensim(theirs)
    _same_model(ours, theirs)
    assert ours.wv.vectors is not theirs.wv.vectors   # copied: training one does not move the other
    back = ours.to_gensim()
    _same_model(back, theirs)
    again = Word2Vec.from_gensim(back)
    _same_model(again, ours)
    before = theirs.wv.vectors.copy()
    ours.train(lee_sentences, total_examples=ours.corpus_count, epochs=1)
    np.testing.assert_array_equal(theirs.wv.vectors, before)
    assert not np.array_equal(ours.wv.vectors, before)


def test_from_gensim_refuses_what_is_not_a_gensim_model():
    with pytest.raises(TypeError, match="takes a gensim Word2Vec model, not list"):
        Word2Vec.from_gensim([["a", "b"]])


def test_a_saved_keyed_vectors_reads_as_vectors_not_as_a_model(lee_sentences, tmp_path):
    path = str(tmp_path / "g.kv")
    theirs = _gensim_model(lee_sentences).wv
    theirs.save(path)
    with pytest.raises(NotAModelFile, match="holds a gensim gensim.models.keyedvectors.KeyedVectors, not a Word2Vec"):
        Word2Vec.load(path)
    with pytest.raises(AttributeError):   # what gensim's Word2Vec.load raises there
        Word2Vec.load(path)
    kv = load_vectors(path)
    assert isinstance(kv, KeyedVectors) and kv.index_to_key == theirs.index_to_key
    np.testing.assert_array_equal(kv.vectors, theirs.vectors)


def test_the_command_line_evaluates_and_queries_a_gensim_model(lee_sentences, tmp_path):
    """Real processes: torch-w2v eval and similar on a file saved by gensim."""
    import subprocess
    path = str(tmp_path / "g.model")
    _gensim_model(lee_sentences, vector_size=16).save(path)
    cli = [sys.executable, "-m", "torch_w2v"]
    out = subprocess.run(cli + ["similar", path, "attacks", "-n", "3"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "attacks" in out.stdout and len(out.stdout.splitlines()) == 4, out.stderr
    out = subprocess.run(cli + ["eval", path], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "wordsim353" in out.stdout, out.stderr


@pytest.mark.slow
@pytest.mark.parametrize("saved_by", ["gensim", "torch_w2v"])
def test_the_command_line_goes_on_training_a_saved_model(lee_sentences, lee_path, tmp_path, saved_by):
    """torch-w2v train CORPUS --init MODEL: the model's vocabulary grows by the corpus's words, its settings
    stay, and it trains; a flag that would change the model is refused naming it."""
    import subprocess
    path, out = str(tmp_path / "g.model"), str(tmp_path / "v.txt")
    first = lee_sentences[:150]
    if saved_by == "gensim":
        _gensim_model(first, vector_size=16, sg=1).save(path)
    else:
        Word2Vec(first, vector_size=16, sg=1, min_count=2, epochs=1, workers=1, seed=3).save(path)
    before = Word2Vec.load(path)
    cli = [sys.executable, "-m", "torch_w2v", "train", lee_path, "--init", path]
    done = subprocess.run(cli + ["-o", out, "--epochs", "1", "--save-model", str(tmp_path / "m2")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    after = Word2Vec.load(str(tmp_path / "m2"))
    assert after.vector_size == 16 and after.sg == 1 and len(after.wv) > len(before.wv)
    assert after.wv.index_to_key[:len(before.wv)] == before.wv.index_to_key
    assert KeyedVectors.load_word2vec_format(out).vectors.shape == (len(after.wv), 16)
    refused = subprocess.run(cli + ["-o", out, "-size", "50"], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "keeps the model's settings; drop vector_size" in refused.stderr
    assert "Traceback" not in refused.stderr


# ------------------------------------------------------------------------------------------ security
class Payload:
    """Makes a folder when unpickled by a trusting reader (os.mkdir through REDUCE)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


class PlainCallback:
    """A user's callback class: harmless, but no gensim file may construct it."""


def _refused(path, marker, name):
    with pytest.raises(gensim_files.UnsafeModelFile) as info:
        Word2Vec.load(path)
    assert str(path) in str(info.value) and name in str(info.value), str(info.value)
    assert not os.path.exists(marker)
    return str(info.value)


def test_a_payload_at_the_top_of_the_file_is_refused_and_never_runs(tmp_path):
    path, marker = tmp_path / "g.model", tmp_path / "ran"
    path.write_bytes(pickle.dumps(Payload(marker), protocol=2))
    _refused(path, marker, "posix.mkdir" if os.name == "posix" else "mkdir")
    pickle.loads(path.read_bytes())    # the payload is live: a trusting reader runs it
    assert marker.exists()


@pytest.mark.parametrize("where", ["wv attribute", "model attribute", "callbacks list", "raw_vocab value"])
def test_a_payload_inside_a_real_gensim_file_is_refused_and_never_runs(lee_sentences, tmp_path, where):
    """gensim's own save() writes the planted object into the pickle; nothing of it runs on load."""
    path, marker = tmp_path / "g.model", tmp_path / "ran"
    model = _gensim_model(lee_sentences[:50])
    payload = Payload(marker)
    if where == "wv attribute":
        model.wv.extra = {"nested": [payload]}
    elif where == "model attribute":
        model.extra = payload
    elif where == "callbacks list":
        model.callbacks = (PlainCallback(), payload)
    else:
        model.raw_vocab = collections.defaultdict(int, {"word": payload})
    model.save(str(path))
    message = _refused(path, marker, "posix.mkdir" if where != "callbacks list" else "PlainCallback")
    assert "nothing of it ran" in message


def test_a_plain_class_of_the_users_module_is_refused_unimported(lee_sentences, tmp_path):
    path = tmp_path / "g.model"
    model = _gensim_model(lee_sentences[:50])
    model.callbacks = (PlainCallback(),)
    model.save(str(path))
    data = path.read_bytes().replace(b"test_gensim_files", b"antigravity_xyz__")   # a module never imported
    path.write_bytes(data)
    _refused(path, tmp_path / "none", "antigravity_xyz__.PlainCallback")
    assert "antigravity_xyz__" not in sys.modules


def test_an_object_array_beside_the_file_is_refused_unread(lee_sentences, tmp_path):
    path, marker = tmp_path / "g.model", tmp_path / "ran"
    _gensim_model(lee_sentences[:50]).save(str(path), sep_limit=0)
    companion = tmp_path / "g.model.wv.vectors.npy"
    np.save(companion, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    message = _refused(path, marker, "g.model.wv.vectors.npy")
    assert "allow_pickle" in message


class _Call:
    """Pickles as a call of ``fn`` with ``args`` (a REDUCE of an allowed callable)."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


@pytest.mark.parametrize("fn, args, named", [
    (codecs.encode, ("x", "rot13"), "_codecs.encode"),
    (codecs.encode, (b"x", "zlib_codec"), "_codecs.encode"),
    (collections.defaultdict, (hash,), "defaultdict"),
    (np.dtype, ("V8",), "numpy.dtype"),
    (gensim_word2vec.Word2Vec, ((), "sentences"), "gensim.models.word2vec.Word2Vec"),
    (KeyedVectors, (100,), "gensim.models.keyedvectors.KeyedVectors"),
])
def test_an_allowed_callable_called_with_hostile_arguments_is_refused(tmp_path, fn, args, named):
    path = tmp_path / "g.model"
    path.write_bytes(pickle.dumps({"x": _Call(fn, args)}, protocol=2))
    _refused(path, tmp_path / "none", named)


def test_numpys_reconstruct_of_anything_but_an_array_is_refused(tmp_path):
    from numpy.core.multiarray import _reconstruct
    path = tmp_path / "g.model"
    path.write_bytes(pickle.dumps(_Call(_reconstruct, (KeyedVectors, (0,), b"b")), protocol=2))
    _refused(path, tmp_path / "none", "_reconstruct")


def test_a_stored_array_name_cannot_leave_the_files_folder(lee_sentences, tmp_path):
    (tmp_path / "in").mkdir()
    path = tmp_path / "in" / "g.model"
    _gensim_model(lee_sentences[:50]).save(str(path), sep_limit=0)
    (tmp_path / "in" / "g.model.syn1neg.npy").rename(tmp_path / "x.npy")
    data = path.read_bytes()
    assert b"syn1neg" in data                     # its name in __numpys (memoised for its other uses)
    path.write_bytes(data.replace(b"syn1neg", b"../../x"))
    _refused(path, tmp_path / "none", "'../../x'")


def test_random_byte_flips_end_in_a_clear_error_or_a_correct_model(lee_sentences, tmp_path):
    """300 files with 1-3 bytes changed (seeded): each loads, or raises a ValueError (torch_w2v's errors for
    a damaged or refused file), never another exception and never a model that differs in its vocabulary."""
    path = tmp_path / "g.model"
    model = _gensim_model(lee_sentences[:40], vector_size=4)
    model.save(str(path))
    good, data = Word2Vec.load(path), bytearray(path.read_bytes())
    rng = random.Random(5)
    outcomes = collections.Counter()
    for _ in range(300):
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        path.write_bytes(bytes(flipped))
        try:
            loaded = Word2Vec.load(path)
        except ValueError as exc:
            outcomes[type(exc).__name__] += 1
            assert str(path) in str(exc) or "refused" in str(exc), exc
            continue
        outcomes["loaded"] += 1
        assert loaded.wv.vectors.shape[1] == good.wv.vectors.shape[1]
    assert outcomes["loaded"] and sum(outcomes.values()) - outcomes["loaded"], outcomes


def test_the_allow_list_names_a_release_for_every_entry():
    for name, (release, stand_in) in gensim_files.ALLOWED.items():
        assert release and stand_in is not None, name
    # nothing on it runs arbitrary code: no builtins but the three values files name, no os/subprocess/eval
    assert not [n for n in gensim_files.ALLOWED if n.split(".")[0] in ("os", "posix", "subprocess", "sys")]
    assert {n for n in gensim_files.ALLOWED if n.startswith("builtins.")} == {"builtins.hash", "builtins.int"}

