"""Reliability: hostile corpora (property-based), bounded memory, huge lines, corrupt files, divergence."""
import os
import subprocess
import sys

import gensim
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torch_w2v import LineSentence, Word2Vec
from torch_w2v import corpus as corpus_mod

SG = dict(sg=1, device="cpu", workers=1)

tokens = st.one_of(
    st.sampled_from(["the", "cat", "sat", "on", "mat", "a", "dog"]),          # frequent words
    st.text(min_size=1, max_size=12).filter(lambda t: t.split() == [t]),      # any unicode token
    st.text(alphabet="xyz", min_size=200, max_size=2000),                    # huge tokens
)
corpora = st.lists(st.lists(tokens, max_size=40), max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpus=corpora, min_count=st.integers(1, 3), sample=st.sampled_from([0, 1e-3, 1e-1]))
def test_vocabulary_equals_gensims_on_random_corpora(corpus, min_count, sample):
    ours = Word2Vec(min_count=min_count, sample=sample, vector_size=8, **SG)
    theirs = gensim.models.Word2Vec(min_count=min_count, sample=sample, vector_size=8, sg=1)
    ours.build_vocab(corpus)
    theirs.build_vocab(corpus)
    assert ours.wv.index_to_key == theirs.wv.index_to_key
    assert ours.corpus_count == theirs.corpus_count and ours.corpus_total_words == theirs.corpus_total_words
    if len(theirs.wv):
        np.testing.assert_array_equal(ours.wv.expandos["count"], theirs.wv.expandos["count"])
        np.testing.assert_array_equal(ours.wv.expandos["sample_int"], theirs.wv.expandos["sample_int"])
        np.testing.assert_array_equal(ours.wv.vectors, theirs.wv.vectors)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpus=corpora, sg=st.integers(0, 1), hs=st.integers(0, 1), alpha=st.sampled_from([0.025, 0.5]))
def test_training_on_random_corpora_ends_in_vectors_or_a_clear_error(corpus, sg, hs, alpha):
    try:
        model = Word2Vec(corpus, min_count=1, vector_size=8, epochs=2, sg=sg, hs=hs, negative=0 if hs else 5,
                         alpha=alpha, device="cpu", workers=1)
    except RuntimeError as exc:  # no word at all: the one refusal a valid corpus can get
        assert "vocabulary is empty" in str(exc)
        assert sum(len(s) for s in corpus) == 0
        return
    assert np.isfinite(model.wv.vectors).all()
    assert len(model.wv) == len({t for s in corpus for t in s})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000))
def test_reader_on_arbitrary_bytes_gives_tokens_or_names_the_line(tmp_path, data):
    path = tmp_path / "bytes.txt"
    path.write_bytes(data)
    try:
        lines = list(LineSentence(path))
    except ValueError as exc:
        assert str(path) in str(exc) and "line" in str(exc) and "errors='replace'" in str(exc)
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        return
    assert lines == [line.split() for line in data.decode("utf-8").split("\n") if line.split()]
    assert list(LineSentence(path, errors="replace")) == lines


def test_invalid_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good line\nbad \xff\xfe bytes\n")
    with pytest.raises(ValueError, match=r"bad\.txt, line 2: not valid UTF-8"):
        Word2Vec(corpus_file=str(path), min_count=1, **SG)
    replaced = list(LineSentence(path, errors="replace"))
    assert replaced[1] == ["bad", "\ufffd\ufffd", "bytes"]


def test_only_out_of_vocabulary_words_train_nothing_but_work(toy_sentences):
    model = Word2Vec(toy_sentences, min_count=1, epochs=1, **SG)
    before = model.wv.vectors.copy()
    trained, raw = model.train([["unknown", "words"]] * 10, total_examples=10, epochs=1)
    assert (trained, raw) == (0, 20)
    np.testing.assert_array_equal(before, model.wv.vectors)


def test_single_word_corpus(tmp_path):
    model = Word2Vec([["solo"]] * 5, min_count=1, epochs=2, **SG)
    assert model.wv.index_to_key == ["solo"] and np.isfinite(model.wv.vectors).all()


def test_divergence_is_detected_and_explained(toy_sentences):
    with pytest.raises(FloatingPointError, match=r"diverged.*alpha=1e\+30"):
        Word2Vec(toy_sentences, min_count=1, alpha=1e30, sample=0, epochs=1, engine="torch", **SG)


@pytest.mark.slow
def test_a_line_of_millions_of_tokens_without_newline(tmp_path):
    """3M tokens on one line (no newline at all): read in 1 MB blocks, trained in full, bounded memory."""
    path = tmp_path / "one_line.txt"
    words = [f"w{i}" for i in range(500)]
    rng = np.random.default_rng(0)
    with open(path, "w") as f:
        for _ in range(30):
            f.write(" ".join(rng.choice(words, 100_000)) + " ")
    script = f"""
import resource
from torch_w2v import Word2Vec
import torch
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
m = Word2Vec(corpus_file={str(path)!r}, min_count=1, vector_size=16, epochs=1, sg=1, sample=0, workers=1)
print(m.corpus_count, m.corpus_total_words, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    count, words_total, growth_mb = map(int, out.stdout.split())
    assert (count, words_total) == (1, 3_000_000)
    # Calibration: a 3M-token line read whole as a Python list costs ~250 MB; read in blocks the run
    # grew by ~60 MB (the vocabulary scan, 12 MB of ids, the training chunks).
    assert growth_mb < 150, growth_mb


LIMITED = """
import resource, sys
from torch_w2v import Word2Vec
import torch
torch.zeros(1) + 1  # finish the imports' own allocations before capping memory

def vm_data():
    for line in open("/proc/self/status"):
        if line.startswith("VmData:"):
            return int(line.split()[1]) * 1024
cap = vm_data() + {cap_mb} * 2**20
resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
try:
    m = Word2Vec(corpus_file={path!r}, min_count=1, vector_size=8, epochs=1, sg=1, workers=1,
                 spill_words={spill}, chunk_words=1 << 15)
    print("trained", m.corpus_total_words)
except MemoryError:
    print("out of memory")
"""


@pytest.mark.slow
def test_a_corpus_larger_than_the_memory_cap_trains(tmp_path):
    """12M tokens of a 70,000-word vocabulary (encoded: 48 MB of int32 ids; text: 78 MB) under a 40 MB cap
    on the process's data segment.

    RLIMIT_DATA caps private memory; the encoded corpus (and the vocabulary scan's record of it) goes to a
    memory-mapped temporary file once it passes spill_words, so it does not count. The same run holding the
    corpus in memory must fail, which shows the cap really bites: the vocabulary is past 65,535 words so
    that ids take 4 bytes (under it they take 2, 24 MB here, which the cap would not catch).
    """
    path = tmp_path / "big.txt"
    words = np.array([f"t{i}" for i in range(70_000)])
    rng = np.random.default_rng(1)
    with open(path, "w") as f:
        for _ in range(12_000):
            f.write(" ".join(rng.choice(words, 1000)) + "\n")
    assert os.path.getsize(path) > 75 * 2**20

    def run(spill):
        script = LIMITED.format(cap_mb=40, path=str(path), spill=spill)
        return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=900)

    spilled = run(1 << 20)
    assert spilled.returncode == 0 and "trained 12000000" in spilled.stdout, spilled.stderr[-2000:]
    in_memory = run(1 << 30)
    assert "trained" not in in_memory.stdout
    assert "out of memory" in in_memory.stdout or in_memory.returncode != 0


def test_truncated_model_file_is_refused_with_its_name(tmp_path, toy_sentences):
    model = Word2Vec(toy_sentences, min_count=1, epochs=1, **SG)
    path = tmp_path / "m.w2v"
    model.save(str(path))
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 100, 10):
        broken = tmp_path / f"cut{cut}.w2v"
        broken.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=f"cut{cut}.w2v"):
            Word2Vec.load(str(broken))


def test_a_failed_save_leaves_the_previous_file_intact(tmp_path, toy_sentences, monkeypatch):
    model = Word2Vec(toy_sentences, min_count=1, epochs=1, **SG)
    path = tmp_path / "m.w2v"
    model.save(str(path))
    before = path.read_bytes()
    import torch

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        model.save(str(path))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.w2v"]  # no temporary file left behind


FULL_DISK = """
import resource, signal
from torch_w2v import Word2Vec
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # past the limit a write fails with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
try:
    Word2Vec(corpus_file={path!r}, min_count=1, vector_size=8, epochs=1, workers=1, spill_words=1000)
except OSError as exc:
    print("OSError:", exc)
"""


def test_a_full_temporary_directory_says_where_and_how_to_make_room(tmp_path):
    """A corpus past spill_words goes to temporary files: when they cannot grow (a real file size limit in a
    real process, which fails writes as a full disk does), the error names the directory and the fixes."""
    path = tmp_path / "c.txt"
    path.write_text("a b c d e f g h\n" * 100_000)                  # 800k tokens: 1.6 MB of uint16 ids
    proc = subprocess.run([sys.executable, "-c", FULL_DISK.format(path=str(path))], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "no room for the corpus's temporary file in" in proc.stdout and "TMPDIR" in proc.stdout, proc.stdout
    assert "spill_words" in proc.stdout


def test_encoded_corpus_spills_to_disk_past_the_threshold(tmp_path):
    sentences = [["a", "b", "c"]] * 1000
    small = corpus_mod.encode(sentences, {"a": 0, "b": 1, "c": 2}, spill_words=10**9)
    spilled = corpus_mod.encode(sentences, {"a": 0, "b": 1, "c": 2}, spill_words=100)
    assert small.mapping is None and spilled.mapping is not None  # the ids are read from a mapped file
    np.testing.assert_array_equal(small.ids, spilled.ids)
    np.testing.assert_array_equal(small.bounds, spilled.bounds)
