"""Model files and every other output: checksums (issue 12.3), guarded targets (12.1) and OS errors (12.7).

Corruption is real bytes flipped in real files (property-based, hypothesis); a full disk is a real OS
failure: a process whose file-size limit (RLIMIT_FSIZE) makes writes fail with EFBIG, and, where this
runs as root, a tiny tmpfs that fills up (ENOSPC) and a read-only one.
"""
import os
import pickle
import shutil
import subprocess
import sys
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torch_w2v import Word2Vec, persist
from torch_w2v import checkpoint as checkpoint_mod

SETTINGS = dict(vector_size=12, min_count=1, epochs=2, workers=1, seed=3, sg=1, device="cpu", chunk_words=200)


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    words = [f"w{i}" for i in range(40)]
    rng = np.random.default_rng(0)
    path.write_text("\n".join(" ".join(rng.choice(words, 12)) for _ in range(120)) + "\n")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory, corpus_file):
    """A saved model and the final checkpoint of the same run, and the model itself."""
    folder = tmp_path_factory.mktemp("files")
    model = Word2Vec(**SETTINGS)
    model.build_vocab(corpus_file=str(corpus_file))
    model.train(corpus_file=str(corpus_file), total_examples=model.corpus_count, epochs=model.epochs,
                checkpoint=str(folder / "run.ckpt"), checkpoint_every=0)
    model.save(str(folder / "model.w2v"))
    return folder, model


def _same(a, b):
    return (a.wv.index_to_key == b.wv.index_to_key and np.array_equal(a.wv.vectors, b.wv.vectors)
            and np.array_equal(a.syn1neg, b.syn1neg) and list(a.wv.expandos["count"]) == list(b.wv.expandos["count"])
            and (a.vector_size, a.alpha, a.window, a.epochs) == (b.vector_size, b.alpha, b.window, b.epochs))


def _flip(data: bytes, start: int, xors: list) -> bytes:
    out = bytearray(data)
    for i, x in enumerate(xors):
        out[(start + i) % len(out)] ^= x
    return bytes(out)


# ------------------------------------------------------------------------------------------ checksums
def test_a_few_flipped_bytes_in_the_vectors_are_detected_on_every_load_path(files, tmp_path):
    """Issue 12.3: such a file loaded (also with mmap='r') with silently changed vectors."""
    folder, model = files
    data = (folder / "model.w2v").read_bytes()
    at = data.index(model.wv.vectors.tobytes()[:64])  # the vectors are stored raw in the archive
    broken = tmp_path / "broken.w2v"
    broken.write_bytes(_flip(data, at + 100, [0x10] * 200))
    for mmap in (None, "r"):
        with pytest.raises(ValueError, match=r"broken.w2v is corrupted: weights/vectors no longer match"):
            Word2Vec.load(str(broken), mmap=mmap)


def test_a_flipped_checkpoint_is_refused_by_resume(files, tmp_path, corpus_file):
    folder, model = files
    data = (folder / "run.ckpt").read_bytes()
    at = data.index(model.syn1neg.tobytes()[:64])
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(_flip(data, at, [0xFF] * 8))
    with pytest.raises(ValueError, match=r"broken.ckpt is corrupted: weights/syn1neg"):
        Word2Vec.resume(str(broken), corpus_file=str(corpus_file))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["model.w2v", "run.ckpt"]), mmap=st.sampled_from([None, "r"]),
       start=st.integers(0, 10**9), xors=st.lists(st.integers(1, 255), min_size=1, max_size=300))
def test_random_corruption_is_refused_with_the_files_name_or_changes_nothing(files, tmp_path, kind, mmap, start,
                                                                              xors):
    """Any run of up to 300 flipped bytes anywhere: an error naming the file, never other content."""
    folder, model = files
    data = (folder / kind).read_bytes()
    broken = tmp_path / f"flipped-{kind}"
    broken.write_bytes(_flip(data, start % len(data), xors))
    try:
        loaded = Word2Vec.load(str(broken), mmap=mmap)
    except ValueError as exc:
        assert str(broken) in str(exc)
        return
    original = Word2Vec.load(str(folder / kind))
    assert _same(loaded, original)  # the flip hit bytes that hold nothing (zip padding, a CRC field)


def test_a_version_1_file_without_checksums_still_loads_with_a_warning(files, tmp_path, caplog):
    import torch
    folder, model = files
    payload = persist.model_payload(model)
    payload["version"] = 1
    with open(tmp_path / "old.w2v", "wb") as handle:
        torch.save(payload, handle)  # as torch_w2v 0.1.0 wrote it
    loaded = Word2Vec.load(str(tmp_path / "old.w2v"))
    assert _same(loaded, model)
    assert "cannot be verified" in caplog.text


# ------------------------------------------------------------------------------------- guarded targets
def test_a_checkpoint_never_replaces_a_corpus_or_a_model(tmp_path, corpus_file, files):
    """Issue 12.1: train(checkpoint=PATH) replaced whatever PATH held with a checkpoint."""
    folder, _ = files
    corpus = tmp_path / "corpus.txt"
    shutil.copy(corpus_file, corpus)
    model_file = tmp_path / "model.w2v"
    shutil.copy(folder / "model.w2v", model_file)
    for target in (corpus, model_file, tmp_path):
        before = target.read_bytes() if target.is_file() else None
        model = Word2Vec(**SETTINGS)
        model.build_vocab(corpus_file=str(corpus_file))
        with pytest.raises((FileExistsError, IsADirectoryError), match=str(target)):
            model.train(corpus_file=str(corpus_file), total_examples=model.corpus_count, epochs=1,
                        checkpoint=str(target))
        if before is not None:
            assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt", "model.w2v"]


def test_a_checkpoint_of_another_run_is_refused_naming_each_difference(tmp_path, corpus_file, files):
    folder, _ = files
    ckpt = tmp_path / "run.ckpt"
    shutil.copy(folder / "run.ckpt", ckpt)
    before = ckpt.read_bytes()
    model = Word2Vec(**dict(SETTINGS, vector_size=20, window=3))
    model.build_vocab(corpus_file=str(corpus_file))
    with pytest.raises(FileExistsError, match=r"another run \(vector_size 12 there, 20 here; window 5 there, 3 here"):
        model.train(corpus_file=str(corpus_file), total_examples=model.corpus_count, epochs=SETTINGS["epochs"],
                    checkpoint=str(ckpt))
    assert ckpt.read_bytes() == before
    # the same run again (a restart) may replace its own checkpoint
    model = Word2Vec(**SETTINGS)
    model.build_vocab(corpus_file=str(corpus_file))
    model.train(corpus_file=str(corpus_file), total_examples=model.corpus_count, epochs=SETTINGS["epochs"],
                checkpoint=str(ckpt), checkpoint_every=0)
    checkpoint_mod.read(ckpt)


@pytest.mark.parametrize("existing", ["corpus", "vectors", "vocab", "model", "checkpoint", "pickle", "picture",
                                      "empty", "directory"])
@pytest.mark.parametrize("kind", sorted(persist.KINDS))
def test_each_output_kind_replaces_only_its_own_kind(tmp_path, files, existing, kind):
    """The rule behind issue 12.1 for every output: a path holding another kind of file is refused."""
    folder, model = files
    target = tmp_path / "target"
    if existing == "directory":
        target.mkdir()
    else:
        content = {"corpus": b"the quick brown fox\njumps over the lazy dog\n", "vectors": b"2 3\na 1 2 3\nb 4 5 6\n",
                   "vocab": b"</s> 2\nthe 10\nof 4\n", "model": (folder / "model.w2v").read_bytes(),
                   "checkpoint": (folder / "run.ckpt").read_bytes(), "pickle": b"\x80\x04\x95\x00",
                   "picture": b"\x89PNG\r\n\x1a\n\x00\x00", "empty": b""}[existing]
        target.write_bytes(content)
    allowed = existing == "empty" or existing in persist.REPLACES[kind]
    if allowed:
        persist.check_target(target, kind)
    else:
        with pytest.raises((FileExistsError, IsADirectoryError), match=str(target)):
            persist.check_target(target, kind)
        if existing != "directory":
            assert target.read_bytes() == content


def test_a_device_or_pipe_is_never_replaced_by_a_renamed_file(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    for path in ("/dev/null", tmp_path / "pipe"):
        with pytest.raises(FileExistsError, match="not a regular file"):
            persist.check_target(path, "vectors")


def test_save_refuses_to_replace_a_corpus(tmp_path, corpus_file, files):
    _, model = files
    corpus = tmp_path / "corpus.txt"
    shutil.copy(corpus_file, corpus)
    with pytest.raises(FileExistsError, match="corpus.txt already exists and holds a file of another kind"):
        model.save(str(corpus))
    assert corpus.read_bytes() == corpus_file.read_bytes()


# --------------------------------------------------------------------------------- a full disk, for real
FULL = """
import os, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # then a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
from torch_w2v import Word2Vec
model = Word2Vec.load({model!r})
try:
    {call}
except OSError as exc:
    print("OSError", exc.errno, exc)
"""


@pytest.mark.parametrize("call", [
    "model.save({target!r})",
    "model.train(corpus_file={corpus!r}, total_examples=model.corpus_count, epochs=1, checkpoint={target!r})",
])
@pytest.mark.slow
def test_a_write_past_the_file_size_limit_names_the_target_not_the_temporary_file(tmp_path, files, corpus_file,
                                                                                   call):
    """Issue 12.7: torch's "enforce fail at inline_container.cc ... unexpected pos" hid the OS error, and
    save() errors named the temporary file."""
    folder, _ = files
    target = tmp_path / "out.w2v"
    script = FULL.format(limit=4096, model=str(folder / "model.w2v"),
                         call=call.format(target=str(target), corpus=str(corpus_file)))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("OSError 27 ") and "File too large" in done.stdout  # EFBIG
    assert f"'{target}'" in done.stdout and "tmp" not in done.stdout.replace(str(tmp_path), "")
    assert "inline_container" not in done.stdout + done.stderr
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


@contextmanager
def tmpfs(path, options):
    """A real tmpfs mounted at ``path`` (needs root; skips otherwise)."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "torch_w2v_test", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_a_full_disk_under_save_names_the_target(tmp_path, files):
    folder, model = files
    with tmpfs(tmp_path / "small", "size=8k") as small:
        target = small / "model.w2v"
        with pytest.raises(OSError) as info:
            model.save(str(target))
        assert info.value.errno == 28 and str(target) in str(info.value)  # ENOSPC
        assert os.listdir(small) == []


# --------------------------------------------------------- vocabularies of any key type (issue 22.1)
class Token(str):
    """A str subclass, as tokenisers return."""


KEY_KINDS = {"str": str, "np.str_": np.str_, "str subclass": Token, "int": int, "np.int64": np.int64,
             "np.int32": np.int32, "np.uint16": np.uint16}


def _key(kind, n):
    return KEY_KINDS[kind](f"w{n}" if kind in ("str", "np.str_", "str subclass") else n)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(sorted(KEY_KINDS)), min_size=1, max_size=4),
       seed=st.integers(0, 2**16))
def test_every_key_type_gensim_accepts_saves_and_loads(tmp_path, kinds, seed):
    """Issue 22.1: a vocabulary of np.str_ (tokens from numpy or pandas), str subclasses or numpy integers
    trained and saved, then load() refused the file as "objects other than plain values". Vocabularies of
    each kind and of mixes save, load with the same keys (as str/int), vectors and counts, and the original
    tokens find their rows in the loaded model."""
    rng = np.random.default_rng(seed)
    tokens = [_key(kinds[n % len(kinds)], n) for n in range(12)]
    corpus = [[tokens[i] for i in rng.integers(0, len(tokens), 10)] for _ in range(30)]
    model = Word2Vec(corpus, **SETTINGS)
    path = tmp_path / f"keys{seed}.w2v"
    model.save(str(path))
    loaded = Word2Vec.load(str(path))
    assert _same(model, loaded)
    assert {type(k) for k in loaded.wv.index_to_key} <= {str, int}
    assert [type(k) for k in loaded.wv.index_to_key] == [type(k) for k in model.wv.index_to_key]
    for token in {t for s in corpus for t in s}:
        assert np.array_equal(loaded.wv[token], model.wv[token])
    loaded.train(corpus, total_examples=len(corpus), epochs=1)  # training goes on with the original tokens


def test_keys_a_file_cannot_hold_are_refused_at_save_naming_them(tmp_path):
    """A key gensim accepts but no plain value can hold (an arbitrary object) is refused when saving, with the
    key, its type and the fix; nothing is written, so no file exists that load() would refuse."""
    class Node:
        def __repr__(self):
            return "Node(7)"

    node = Node()
    model = Word2Vec([["a", node, "b"]] * 20, **SETTINGS)
    assert model.wv.get_vector(node).shape == (12,)  # training with such keys works, as in gensim
    with pytest.raises(TypeError, match=r"model.wv.index_to_key holds the key Node\(7\) of type Node, which a "
                                        r"torch_w2v model file cannot store.*Map the tokens to strings"):
        model.save(str(tmp_path / "node.w2v"))
    assert not (tmp_path / "node.w2v").exists()
    kept = Word2Vec(**SETTINGS)  # the raw vocabulary (keep_raw_vocab=True) is stored with plain keys too
    kept.build_vocab([[np.str_("a"), np.int64(5), Token("b")]] * 2, keep_raw_vocab=True)
    kept.save(str(tmp_path / "raw.w2v"))
    raw_vocab = Word2Vec.load(str(tmp_path / "raw.w2v")).raw_vocab
    assert raw_vocab == {"a": 2, 5: 2, "b": 2} and {type(k) for k in raw_vocab} == {str, int}


# ------------------------------------------------------- gensim's save() bookkeeping (issue 22.5)
@pytest.mark.parametrize("options", [{}, {"sep_limit": 1}, {"separately": ["syn1neg"], "ignore": ["random"]},
                                     {"ignore": frozenset({"syn1neg", "raw_vocab"})}])
def test_save_leaves_gensims_saveload_bookkeeping_on_the_model_and_wv(tmp_path, options):
    """Issue 22.5: gensim's save() leaves __numpys, __scipys, __ignoreds and __recursive_saveloads on the model
    and on model.wv (SaveLoad._save_specials), and libraries that export wv.__dict__ read them back. After
    torch_w2v's save() both objects hold them, with the values a real gensim model saved with the same
    options holds."""
    import gensim.models
    corpus = [["a", "b", "c", "d", "e"]] * 40
    common = dict(vector_size=12, min_count=1, epochs=1, workers=1, hs=1, negative=5)
    theirs = gensim.models.Word2Vec(corpus, **common)
    ours = Word2Vec(corpus, device="cpu", **common)
    theirs.save(str(tmp_path / "gensim.model"), **options)
    ours.save(str(tmp_path / "ours.w2v"), **options)
    names = ("__numpys", "__scipys", "__ignoreds", "__recursive_saveloads")
    for mine, ref in ((ours, theirs), (ours.wv, theirs.wv)):
        assert all(name in vars(mine) for name in names)
        assert {n: sorted(vars(mine)[n]) for n in names} == {n: sorted(vars(ref)[n]) for n in names}
    # a library's export of wv.__dict__, read back as gensim's loader would
    from gensim.models import KeyedVectors
    exported = pickle.loads(pickle.dumps(dict(vars(ours.wv))))
    kv = KeyedVectors.__new__(KeyedVectors)
    kv.__dict__.update(exported)
    assert kv.__dict__["__recursive_saveloads"] == [] and kv.most_similar("a", topn=1)[0][0] in "bcde"
    assert Word2Vec.load(str(tmp_path / "ours.w2v")).wv.index_to_key == ours.wv.index_to_key
