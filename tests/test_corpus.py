"""Reading inputs: URLs with a timeout (issue 12.2), damaged archives (12.6), directories and one-shot
iterators (12.11). Servers are real sockets on 127.0.0.1."""
import bz2
import functools
import gzip
import http.server
import lzma
import socket
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from gensim.test.utils import datapath
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torch_w2v import LineSentence, Word2Vec, sources
from torch_w2v import corpus as corpus_mod
from torch_w2v.evaluate import load_vectors
from torch_w2v.vocab import read_vocab

SG = dict(sg=1, vector_size=8, workers=1, device="cpu")


@pytest.fixture
def silent_url():
    """A server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)  # the kernel completes the handshakes; nobody ever reads or writes
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


@pytest.fixture
def stalling_url():
    """A server that sends the headers and a first line, then goes silent mid-body."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    stop = threading.Event()
    held = []

    def serve():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nfirst line of the corpus\n")
            held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture
def file_server(tmp_path):
    """An http server for the files of ``tmp_path``."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.slow
@pytest.mark.parametrize("reader", ["corpus_file", "LineSentence", "load_vectors", "read_vocab"])
@pytest.mark.parametrize("server", ["silent_url", "stalling_url"])
def test_a_silent_server_times_out_naming_the_url(reader, server, request, monkeypatch):
    """Issue 12.2: reading a URL had no timeout; a server that never answers hung forever."""
    monkeypatch.setenv("TORCH_W2V_URL_TIMEOUT", "1")
    url = request.getfixturevalue(server) + "/corpus.txt"
    calls = {"corpus_file": lambda: Word2Vec(corpus_file=url, min_count=1, **SG),
             "LineSentence": lambda: list(LineSentence(url)),
             "load_vectors": lambda: load_vectors(url),
             "read_vocab": lambda: read_vocab(url)}
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=f"{url}: the server sent nothing for 1 s") as info:
        calls[reader]()
    assert time.monotonic() - start < 20
    assert "TORCH_W2V_URL_TIMEOUT" in str(info.value)


def test_url_timeout_default_and_bad_values(monkeypatch):
    monkeypatch.delenv("TORCH_W2V_URL_TIMEOUT", raising=False)
    assert sources.url_timeout() == sources.URL_TIMEOUT == 60.0
    for bad in ("0", "-1", "inf", "soon"):
        monkeypatch.setenv("TORCH_W2V_URL_TIMEOUT", bad)
        with pytest.raises(ValueError, match="TORCH_W2V_URL_TIMEOUT must be a number of seconds > 0"):
            sources.url_timeout()


def test_training_and_vectors_from_a_url(tmp_path, file_server, toy_sentences):
    """http(s) is read by the standard library: no extra package, compressed files too."""
    text = "\n".join(" ".join(s) for s in toy_sentences) + "\n"
    (tmp_path / "c.txt").write_text(text)
    (tmp_path / "c.txt.gz").write_bytes(gzip.compress(text.encode()))
    local = Word2Vec(corpus_file=str(tmp_path / "c.txt"), min_count=1, epochs=1, **SG)
    for name in ("c.txt", "c.txt.gz"):
        remote = Word2Vec(corpus_file=f"{file_server}/{name}", min_count=1, epochs=1, **SG)
        np.testing.assert_array_equal(remote.wv.vectors, local.wv.vectors)
    local.wv.save_word2vec_format(str(tmp_path / "v.bin"), binary=True)
    np.testing.assert_array_equal(load_vectors(f"{file_server}/v.bin").vectors, local.wv.vectors)
    with pytest.raises(FileNotFoundError, match=r"/missing.txt: the server answered 404"):
        list(LineSentence(f"{file_server}/missing.txt"))


# ------------------------------------------------------------------------------------ damaged archives
COMPRESS = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ext=st.sampled_from(sorted(COMPRESS)), cut=st.floats(0.05, 0.95))
def test_a_truncated_compressed_corpus_names_the_file(tmp_path, toy_sentences, ext, cut):
    """Issue 12.6: a bare EOFError without the file's name."""
    text = ("\n".join(" ".join(s) for s in toy_sentences * 20) + "\n").encode()
    data = COMPRESS[ext](text)
    path = tmp_path / f"corpus{ext}"
    path.write_bytes(data[:int(len(data) * cut)])
    with pytest.raises(ValueError, match=rf"corpus{ext}: the compressed file is truncated or damaged"):
        list(LineSentence(path))
    with pytest.raises(ValueError, match=rf"corpus{ext}: the compressed file is truncated or damaged"):
        Word2Vec(corpus_file=str(path), min_count=1, **SG)


# ------------------------------------------------------------------------------ directories, iterators
def test_a_directory_is_named_as_a_directory(tmp_path):
    """Issue 12.11: a directory given as corpus or model said 'no such file'."""
    with pytest.raises(TypeError, match="it is a directory"):
        Word2Vec(corpus_file=str(tmp_path), **SG)
    with pytest.raises(IsADirectoryError, match="is a directory, not a file"):
        Word2Vec.load(str(tmp_path))
    with pytest.raises(IsADirectoryError, match="is a directory, not a file"):
        load_vectors(tmp_path)


@pytest.mark.parametrize("make", [iter, lambda s: map(list, s), lambda s: (x for x in s)],
                         ids=["iter", "map", "generator"])
def test_a_one_shot_iterator_is_refused_where_it_would_train_nothing(toy_sentences, make):
    """Issue 12.11: a one-shot iterator read by build_vocab() and then by train() trained nothing, with
    only a count warning."""
    with pytest.raises(TypeError, match="can't support 6 passes"):
        Word2Vec(make(toy_sentences), min_count=1, epochs=5, **SG)
    model = Word2Vec(min_count=1, epochs=2, **SG)
    sentences = make(toy_sentences)
    model.build_vocab(sentences)
    before = model.wv.vectors.copy()
    with pytest.raises((ValueError, TypeError), match="one-shot|generator"):
        model.train(sentences, total_examples=model.corpus_count, epochs=1)
    np.testing.assert_array_equal(model.wv.vectors, before)
    model.train(make(toy_sentences), total_examples=model.corpus_count, epochs=1)  # a fresh one is fine
    assert not np.array_equal(model.wv.vectors, before)


# ------------------------------------------------------------------ the scan's recorded corpus
def _recorded_case(tmp_path):
    path = tmp_path / "c.txt"
    # an empty line, a line of one rare word, and one line long enough to be read in pieces
    long_line = " ".join(f"w{i % 7}" for i in range(5000))
    path.write_text("a b c a\n\nrare\n" + long_line + "\nb a x y\n")
    return path


def test_the_scan_records_the_corpus_that_encode_would_make(tmp_path, monkeypatch):
    """Counting from recorded ids gives the same counts as counting words; encoding the record in place
    gives what encode() gives reading the file again, long lines read in pieces included."""
    from torch_w2v import vocab
    monkeypatch.setattr(corpus_mod.LineSentence, "BLOCK", 64)  # the long line arrives as many pieces
    monkeypatch.setattr(vocab, "RECORD_BLOCK", 3)                 # and the record holds several blocks
    path = _recorded_case(tmp_path)
    plain = vocab.scan(corpus_mod.sentences_of(None, str(path)))
    recorded = vocab.scan(corpus_mod.sentences_of(None, str(path)), record=10**6)
    assert recorded.raw_vocab == plain.raw_vocab and list(recorded.raw_vocab) == list(plain.raw_vocab)
    assert (recorded.total_words, recorded.corpus_count) == (plain.total_words, plain.corpus_count)
    blocks = recorded.recorded.blocks
    assert [lengths.tolist() for _, lengths in blocks] == [[4], [1, 5000], [4]]  # whole sentences a block
    key_to_index = {w: i for i, w in enumerate(["a", "b", "w3", "w0", "x"])}  # "c", "rare", "y", ... unknown
    expected = corpus_mod.encode(corpus_mod.sentences_of(None, str(path)), key_to_index)
    got = corpus_mod.encode_recorded(recorded.recorded, key_to_index)
    for name in ("ids", "bounds", "raw_words"):
        np.testing.assert_array_equal(getattr(got, name), getattr(expected, name))
    assert recorded.recorded.keys == [] and recorded.recorded.blocks == []  # dropped once used


@pytest.mark.parametrize("scanner", ["python", "c"])
def test_a_record_past_its_memory_goes_to_a_file_and_encodes_the_same(tmp_path, monkeypatch, scanner):
    """Past ``memory`` recorded ids the scan's blocks go to a temporary file, read back one at a time; the
    encoded corpus past ``spill_words`` is mapped from a file: both give what encode() gives in memory."""
    from torch_w2v import file_scan, vocab
    monkeypatch.setattr(corpus_mod.LineSentence, "BLOCK", 64)
    monkeypatch.setattr(vocab, "RECORD_BLOCK", 3)
    path = _recorded_case(tmp_path)
    sentences = corpus_mod.sentences_of(None, str(path))
    if scanner == "python":
        result = vocab.scan(sentences, record=corpus_mod.RECORD_ALL, memory=4)
    else:
        result = file_scan.scan_file(str(path), record=corpus_mod.RECORD_ALL, block_ids=3, memory=4)
    assert result.raw_vocab == vocab.scan(sentences).raw_vocab
    raw = [block for block, _ in result.recorded.blocks]
    in_memory = [b for b in raw if isinstance(b, np.ndarray)]
    assert sum(map(len, in_memory)) <= 4 and len(in_memory) < len(raw)   # the rest in the file
    assert all(isinstance(b, corpus_mod.SpilledArray) for b in raw if not isinstance(b, np.ndarray))
    key_to_index = {w: i for i, w in enumerate(["a", "b", "w3", "w0", "x"])}
    expected = corpus_mod.encode(sentences, key_to_index)
    got = corpus_mod.encode_recorded(result.recorded, key_to_index, spill_words=100)
    assert expected.mapping is None and got.mapping is not None      # 2,142 kept ids > 100: in a file
    for name in ("ids", "bounds", "raw_words"):
        np.testing.assert_array_equal(getattr(got, name), getattr(expected, name))


def _resident_kb(array) -> int:
    """Resident KB of the mapping that holds ``array`` (Linux's /proc/self/smaps)."""
    address, rss, inside = array.ctypes.data, None, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = (int(x, 16) for x in head.split("-"))
                inside = lo <= address < hi
            elif inside and head == "Rss:":
                rss = int(line.split()[1])
    return rss


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc/self/smaps")
def test_release_drops_a_trained_range_of_a_mapped_corpus_from_memory():
    """A corpus in a file is resident only where it is read: release() gives a range's pages back, and
    the ids read the same afterwards (from the file)."""
    vocabulary = {str(i): i for i in range(70_000)}                       # > 65,535 words: int32 ids
    encoded = corpus_mod.encode([[str(i) for i in range(j, 70_000, 70)] for j in range(1000)], vocabulary,
                                spill_words=1 << 16)
    assert encoded.mapping is not None and encoded.ids.nbytes > 3_900_000         # ~1M int32 ids
    total = int(encoded.ids.sum(dtype=np.int64))                          # every page read
    assert _resident_kb(encoded.ids) > 3_800
    encoded.release(0, len(encoded.ids) // 2)
    assert 1_800 < _resident_kb(encoded.ids) < 2_200                      # the second half only
    encoded.release(len(encoded.ids) // 2, len(encoded.ids))
    assert _resident_kb(encoded.ids) < 100
    assert int(encoded.ids.sum(dtype=np.int64)) == total
    in_memory = corpus_mod.encode([["1", "2"]], {"1": 0, "2": 1})
    in_memory.release(0, 2)                                               # held in memory: nothing to drop
    assert in_memory.ids.tolist() == [0, 1]


def test_training_from_a_corpus_in_files_equals_training_from_memory(tmp_path):
    """spill_words small enough that the scan's record and the encoded corpus both go to files (and each
    trained chunk is released): the same vectors as with the corpus in memory, the same seed and thread."""
    path = tmp_path / "lee.txt"
    path.write_text(Path(datapath("lee_background.cor")).read_text())
    common = dict(corpus_file=str(path), vector_size=16, min_count=2, epochs=2, workers=1, seed=3,
                  chunk_words=1 << 12)
    in_memory = Word2Vec(**common)
    in_files = Word2Vec(spill_words=1000, **common)
    np.testing.assert_array_equal(in_files.wv.vectors, in_memory.wv.vectors)


def test_ids_take_two_bytes_under_a_vocabulary_of_at_most_65535_words():
    assert corpus_mod.id_dtype(0) == corpus_mod.id_dtype(65535) == np.uint16
    assert corpus_mod.id_dtype(65536) == corpus_mod.id_dtype(10**7) == np.int32
    small = corpus_mod.encode([["a", "x", "b"], ["b"]], {"a": 0, "b": 1})
    assert small.ids.dtype == np.uint16 and small.ids.tolist() == [0, 1, 1]


@pytest.mark.parametrize("block", [1 << 20, 1000])
def test_a_corpus_larger_than_the_record_limit_is_counted_not_kept(tmp_path, monkeypatch, block):
    """Past the limit the scan counts what it recorded (in one block or several) and goes on counting."""
    from torch_w2v import vocab
    monkeypatch.setattr(vocab, "RECORD_BLOCK", block)
    path = tmp_path / "c.txt"
    path.write_text("".join(f"w{i % 13} w{i % 5} w{i}\n" for i in range(40000)))
    plain = vocab.scan(corpus_mod.sentences_of(None, str(path)))
    limited = vocab.scan(corpus_mod.sentences_of(None, str(path)), record=70000)  # 120,000 tokens
    assert limited.recorded is None and limited.raw_vocab == plain.raw_vocab
    assert limited.total_words == plain.total_words == 120000


def test_train_uses_the_scanned_file_only_while_it_is_unchanged(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b c a b\nb c a d e\n" * 50)
    model = Word2Vec(min_count=1, vector_size=8, epochs=1, workers=1)
    model.build_vocab(corpus_file=str(path))
    assert model.take_encoded(str(tmp_path / "other.txt")) is None      # another corpus: not this one
    model.build_vocab(corpus_file=str(path))
    encoded = model.take_encoded(str(path))
    assert encoded is not None and len(encoded.ids) == 500
    assert model.take_encoded(str(path)) is None                        # given once
    model.build_vocab(corpus_file=str(path))
    path.write_text("a b c a b\nb c a d e\n" * 51)                        # the file changed since the scan
    assert model.take_encoded(str(path)) is None
    model.build_vocab(corpus_iterable=[["a", "b"]] * 10)                   # an iterable is not recorded
    assert model.take_encoded(None) is None


# ------------------------------------------------------------------ sentences of any iterable (issue 22.2)
class Doc:
    """A document object as NLP libraries have them: it iterates over its words, and knows its length."""

    def __init__(self, words):
        self.words = list(words)

    def __iter__(self):
        return iter(self.words)

    def __len__(self):
        return len(self.words)


class Indexed:
    """An old-style sequence: iterable through __getitem__ alone (no __iter__), as Python's for loop allows."""

    def __init__(self, words):
        self.words = list(words)

    def __getitem__(self, i):
        return self.words[i]


WRAPPERS = {"list": list, "tuple": tuple, "doc": Doc, "indexed": Indexed, "array": np.array,
            "generator": lambda words: (w for w in words), "dict": dict.fromkeys}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpus=st.lists(st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), max_size=12), max_size=20),
       kinds=st.lists(st.sampled_from(sorted(WRAPPERS)), min_size=1))
def test_any_iterable_of_tokens_is_a_sentence_and_encodes_as_its_list(corpus, kinds):
    """Issue 22.2: a sentence that was not a list or tuple was refused ("not a list of tokens"), where gensim
    trains on any iterable of tokens. Each sentence wrapped in another kind of iterable encodes exactly as
    the list of its tokens (dict.fromkeys: a corpus without repeated words in a sentence, as a dict's keys)."""
    vocab = {w: i for i, w in enumerate("abcdf")}  # "e" is out of the vocabulary
    wrapped, plain = [], []
    for i, sentence in enumerate(corpus):
        kind = kinds[i % len(kinds)]
        words = list(dict.fromkeys(sentence)) if kind == "dict" else sentence
        wrapped.append(WRAPPERS[kind](words))
        plain.append(words)
    got, want = corpus_mod.encode(wrapped, vocab), corpus_mod.encode(plain, vocab)
    assert np.array_equal(got.ids, want.ids) and np.array_equal(got.bounds, want.bounds)
    assert np.array_equal(got.raw_words, want.raw_words)


def test_lists_and_tuples_are_used_as_they_are():
    """The fast path: a list or tuple sentence is not copied (other iterables are read once into a list)."""
    sentence, pair = ["a", "b"], ("a", "b")
    assert corpus_mod.tokens_of(sentence, 0) is sentence and corpus_mod.tokens_of(pair, 0) is pair
    assert corpus_mod.tokens_of(Doc(["a"]), 0) == ["a"]


@pytest.mark.parametrize("sentence, why", [
    ("human interface", "a string, which would be read as its characters"),
    (b"human interface", "a string, which would be read as its characters"),
    (np.str_("human"), "a string, which would be read as its characters"),
    (42, "not iterable"),
    (None, "not iterable"),
])
def test_a_sentence_that_is_a_string_or_not_iterable_is_refused_with_the_fix(sentence, why):
    with pytest.raises(TypeError, match=r"sentence #3 of the corpus is .* not a list of tokens: it is " + why
                       + r".*\[\['hello', 'world'\], \.\.\.\]"):
        corpus_mod.tokens_of(sentence, 3)


def test_a_corpus_of_document_objects_trains_as_the_same_corpus_of_lists(toy_sentences):
    """Issue 22.2 end to end: the vocabulary scan and training take Doc objects; same seed, same vectors."""
    docs = [Doc(s) for s in toy_sentences]
    a = Word2Vec(docs, min_count=1, epochs=2, seed=5, **SG)
    b = Word2Vec(toy_sentences, min_count=1, epochs=2, seed=5, **SG)
    assert a.wv.index_to_key == b.wv.index_to_key and a.corpus_total_words == b.corpus_total_words
    assert np.array_equal(a.wv.vectors, b.wv.vectors)
    with pytest.raises(TypeError, match="sentence #1 of the corpus is b'bytes'"):
        Word2Vec([["ok"], b"bytes"], min_count=1, **SG)
