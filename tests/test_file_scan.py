"""The C scan of a corpus file (torch_w2v/file_scan.py, csrc/w2v_scan.c) against the Python scan of the same
file (vocab.scan of LineSentence pieces): same words in the same order, counts, totals and recorded ids."""
import bz2
import gzip
import logging
import sys

import numpy as np
import pytest

from torch_w2v import Word2Vec, clib, file_scan, vocab
from torch_w2v import corpus as corpus_mod

pytestmark = pytest.mark.skipif(not clib.available(), reason=f"the C library is not built: "
                                f"{clib.unavailable_reason()}")

# every character str.split() splits at, from Python itself (29 in Unicode 14), and some that look alike
# but are not whitespace (zero-width space, Mongolian vowel separator, BOM, word joiner)
SPACES = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace() and chr(c) != "\n"]
NOT_SPACES = ["\u200b", "\u180e", "\ufeff", "\u2060", "\x00", "\x7f"]


def _python(path, record=0):
    return vocab.scan(corpus_mod.sentences_of(None, str(path)), record=record)


def _assert_same(c, py):
    assert list(c.raw_vocab.items()) == list(py.raw_vocab.items())  # same words, counts and order
    assert (c.total_words, c.corpus_count, c.min_reduce) == (py.total_words, py.corpus_count, py.min_reduce)
    assert (c.recorded is None) == (py.recorded is None)
    if c.recorded is not None:
        assert c.recorded.keys == py.recorded.keys
        for part in (0, 1):  # the raw ids, then the tokens of each sentence
            np.testing.assert_array_equal(np.concatenate([b[part] for b in c.recorded.blocks]),
                                          np.concatenate([b[part] for b in py.recorded.blocks]))


def _tricky(tmp_path):
    """Unicode whitespace of every kind, multi-byte words, empty and blank lines, CRLF, a long line, and
    no newline at the end."""
    rng = np.random.default_rng(0)
    words = ["a", "b", "é", "日本", "𝄞x", "a\u200bb", "\ufeffbom", "x\x00y", "naïve", "\u2060"] + NOT_SPACES
    lines = []
    for i in range(400):
        n = int(rng.integers(0, 12))
        seps = rng.choice(SPACES + [" "] * 20, size=n)
        lines.append("".join(str(rng.choice(words)) + str(s) for s in seps))
        if i % 37 == 0:
            lines.append("")
        if i % 53 == 0:
            lines.append(" \t\u3000 ")
    lines.append(" ".join(f"w{i % 97}" for i in range(3000)))  # longer than a small block
    text = "\n".join(lines).replace("\n", "\r\n", 7) + "\ufeff last"
    path = tmp_path / "tricky.txt"
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize("block", [1 << 20, 64, 7])
def test_the_c_scan_counts_and_records_what_the_python_scan_does(tmp_path, monkeypatch, block):
    """Blocks of 7 and 64 bytes cut lines, tokens and multi-byte characters everywhere: the carried rest
    must never change a token."""
    monkeypatch.setattr(corpus_mod.LineSentence, "BLOCK", block)
    path = _tricky(tmp_path)
    c, py = file_scan.scan_file(path, record=10**6, block_ids=50), _python(path, record=10**6)
    assert c is not None and len(c.raw_vocab) > 100
    _assert_same(c, py)
    for ids, lengths in c.recorded.blocks:  # blocks of whole sentences
        assert int(lengths.sum()) == len(ids)
    if block == 64:
        assert len(c.recorded.blocks) > 3  # blocks of 50 ids or more close at the end of a read


def test_every_unicode_space_splits_and_look_alikes_do_not(tmp_path):
    path = tmp_path / "spaces.txt"
    path.write_text("".join(f"L{i}{s}R{i}\n" for i, s in enumerate(SPACES)) +
                    "".join(f"N{i}{s}M\n" for i, s in enumerate(NOT_SPACES)), encoding="utf-8")
    c = file_scan.scan_file(path)
    for i in range(len(SPACES)):
        assert c.raw_vocab[f"L{i}"] == c.raw_vocab[f"R{i}"] == 1
    for i, s in enumerate(NOT_SPACES):
        assert c.raw_vocab[f"N{i}{s}M"] == 1
    assert len(SPACES) == 28 and c.corpus_count == len(SPACES) + len(NOT_SPACES)  # "\n" ends the lines


@pytest.mark.parametrize("suffix,opener", [(".gz", gzip.open), (".bz2", bz2.open)])
def test_compressed_files_are_scanned_in_c(tmp_path, suffix, opener):
    plain = _tricky(tmp_path)
    packed = tmp_path / f"tricky.txt{suffix}"
    with opener(packed, "wb") as f:
        f.write(plain.read_bytes())
    c = file_scan.scan_file(packed, record=10**6)
    assert c is not None
    _assert_same(c, _python(packed, record=10**6))


@pytest.mark.parametrize("bad", [b"\x80", b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xed\xa0\x80",
                                 b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xff", b"\xe2\x82", b"\xc3 x"])
def test_invalid_utf8_is_left_to_the_python_scan_which_names_the_line(tmp_path, bad):
    """Every sequence Python's strict decoder refuses (stray continuation, overlong, surrogate, past
    U+10FFFF, truncated) stops the C scan; Word2Vec then raises the Python reader's error."""
    with pytest.raises(UnicodeDecodeError):
        bad.decode("utf-8")
    path = tmp_path / "bad.txt"
    path.write_bytes(b"fine words\nmore fine\nx" + bad + b"y z\n")
    assert file_scan.scan_file(path) is None
    with pytest.raises(ValueError, match=r"bad.txt, line 3: not valid UTF-8"):
        Word2Vec(corpus_file=str(path), min_count=1)


def test_valid_edge_sequences_are_accepted(tmp_path):
    """The first and last code points of each UTF-8 length, and the ones beside the surrogates."""
    text = "\x01 \x7f \u0080 \u07ff \u0800 \ud7ff \ue000 \uffff \U00010000 \U0010ffff\n"
    path = tmp_path / "edges.txt"
    path.write_text(text, encoding="utf-8")
    c = file_scan.scan_file(path)
    assert c is not None and list(c.raw_vocab) == text.split()


def test_past_the_record_limit_the_c_scan_counts_without_keeping(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("".join(f"w{i % 13} w{i % 5} w{i}\n" for i in range(40000)))
    limited = file_scan.scan_file(path, record=70000)  # 120,000 tokens
    assert limited.recorded is None
    _assert_same(limited, _python(path))


def test_the_c_scan_logs_progress(tmp_path, caplog):
    path = tmp_path / "c.txt"
    path.write_text("a b\n" * 25)
    with caplog.at_level(logging.INFO, logger="torch_w2v"):
        file_scan.scan_file(path, progress_per=10)
    assert "PROGRESS: at sentence #25, processed 50 words, keeping 2 word types" in caplog.text


def test_build_vocab_from_a_file_scans_it_in_c_and_trains_on_the_record(tmp_path, lee_path):
    """Word2Vec's vocabulary from corpus_file equals the one from the same sentences as an iterable (the
    Python scan), and train() takes the C scan's record instead of reading the file again."""
    from_file = Word2Vec(vector_size=10, min_count=2, workers=1)
    from_file.build_vocab(corpus_file=str(lee_path))
    from_iterable = Word2Vec(vector_size=10, min_count=2, workers=1)
    from_iterable.build_vocab(corpus_mod.LineSentence(lee_path))
    assert from_file.wv.index_to_key == from_iterable.wv.index_to_key
    assert (from_file.corpus_count, from_file.corpus_total_words) == (from_iterable.corpus_count,
                                                                        from_iterable.corpus_total_words)
    assert from_file._recorded is not None or from_file._encoded is not None
    assert from_file.take_encoded(str(lee_path)) is not None


def test_raw_ids_are_kept_in_two_bytes_until_the_scan_passes_65536_words(tmp_path, monkeypatch):
    """A record's blocks are uint16 while every raw id fits and int32 after, and their concatenation is still
    the Python scan's record; encoding it (vocabularies on either side of the uint16 limit) equals encode()
    of the file."""
    monkeypatch.setattr(corpus_mod.LineSentence, "BLOCK", 1 << 16)  # many reads, so blocks on both sides
    path = tmp_path / "many.txt"
    path.write_text("".join(f"w{i} c{i % 3}\n" for i in range(70000)))  # 70,003 distinct words
    c = file_scan.scan_file(path, record=10**6, block_ids=5000)
    _assert_same(c, _python(path, record=10**6))
    dtypes = [ids.dtype for ids, _ in c.recorded.blocks]
    assert dtypes[0] == np.uint16 and dtypes[-1] == np.int32, dtypes
    for ids, _ in c.recorded.blocks:
        assert ids.dtype == np.int32 or int(ids.max()) < 1 << 16
    for vocab_size in (65535, 65536):  # the first words (w0..w65532 and the c's), then one more
        key_to_index = {w: i for i, w in enumerate(list(c.raw_vocab)[:vocab_size])}
        recorded = file_scan.scan_file(path, record=10**6, block_ids=5000).recorded
        got = corpus_mod.encode_recorded(recorded, key_to_index)
        expected = corpus_mod.encode(corpus_mod.sentences_of(None, str(path)), key_to_index)
        assert got.ids.dtype == expected.ids.dtype == corpus_mod.id_dtype(vocab_size)
        assert int(got.ids.max()) == vocab_size - 1  # the largest id survives (65,534 is not the drop mark)
        for name in ("ids", "bounds", "raw_words"):
            np.testing.assert_array_equal(getattr(got, name), getattr(expected, name))
