"""Corpus input: checking what the user passed, reading LineSentence files, encoding tokens to ids.

A corpus is either a re-iterable of token lists or a file in LineSentence format (one sentence per line,
tokens separated by whitespace, UTF-8), read through smart_open: plain, ``.gz``, ``.bz2`` or any URL it
understands. Unlike gensim, lines longer than 10,000 tokens are kept whole (gensim cuts them into pieces).

Training encodes the corpus once per ``train()`` call into an :class:`EncodedCorpus` (int32 ids of the
in-vocabulary tokens plus sentence bounds) and every epoch reads that, instead of re-tokenising.
"""
from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from types import GeneratorType

import numpy as np

logger = logging.getLogger("torch_w2v")

COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".lz4")


def _is_url(path: str) -> bool:
    return "://" in str(path)


def check(sentences=None, corpus_file=None, passes=1):
    """Raise ``TypeError`` for a corpus that cannot be trained on, with the fix in the message."""
    if sentences is None and corpus_file is None:
        raise TypeError("Either one of corpus_file or corpus_iterable value must be provided: "
                        "pass sentences=[[...tokens...], ...] or corpus_file='path/to/corpus.txt'.")
    if sentences is not None and corpus_file is not None:
        raise TypeError("Both corpus_file and corpus_iterable must not be provided at the same time: "
                        "pass only one of them.")
    if corpus_file is not None:
        if not isinstance(corpus_file, (str, os.PathLike)):
            raise TypeError(f"corpus_file must be a path or URL string, got {corpus_file!r}.")
        if not _is_url(corpus_file) and not os.path.isfile(corpus_file):
            raise TypeError(f"Parameter corpus_file must be a valid path to a file, got {corpus_file!r} "
                            f"instead: no such file.")
        return
    if isinstance(sentences, (str, bytes)) or not isinstance(sentences, Iterable):
        raise TypeError(f"The corpus_iterable must be an iterable of lists of strings, got {sentences!r} "
                        f"instead. Pass e.g. [['first', 'sentence'], ['second', 'one']].")
    if isinstance(sentences, GeneratorType) and passes > 1:
        raise TypeError(f"Using a generator as corpus_iterable can't support {passes} passes. "
                        f"Try a re-iterable sequence: a list, or a class whose __iter__ opens the data anew.")


def check_tokens(sentence, index: int):
    """Raise ``TypeError`` unless ``sentence`` is a list/tuple of str tokens (a str itself is refused)."""
    if isinstance(sentence, (str, bytes)) or not isinstance(sentence, (list, tuple)):
        raise TypeError(
            f"sentence #{index} of the corpus is {sentence!r} (type {type(sentence).__name__}), not a list of "
            f"tokens. Each item must be a list of words: pass [['hello', 'world'], ...] rather than "
            f"['hello world', ...]; for a text file use corpus_file= or torch_w2v.LineSentence(path).")


class Partial(list):
    """A piece of a line too long to hold as one token list; the next item continues the same sentence."""
    __slots__ = ()


def is_partial(sentence) -> bool:
    return type(sentence) is Partial


class LineSentence:
    """Iterate over a LineSentence-format file: one sentence per non-empty line, whitespace-separated.

    Reads plain, ``.gz`` and ``.bz2`` files and URLs through smart_open, in blocks, so memory does not
    grow with the length of a line. Unlike gensim's class of the same name, a long line stays one
    sentence (pass ``max_sentence_length`` to cut it as gensim does). Invalid UTF-8 raises ``ValueError``
    naming the file and line, unless ``errors="replace"``.
    """

    BLOCK = 1 << 20  # bytes read at a time; a line longer than this is handed on in pieces

    def __init__(self, source, max_sentence_length: int | None = None, limit: int | None = None,
                 errors: str = "strict"):
        self.source = os.fspath(source) if isinstance(source, os.PathLike) else source
        self.max_sentence_length = max_sentence_length
        self.limit = limit
        self.errors = errors

    def _raw_pieces(self):
        """``(bytes, ends_line, line_no)``: whole lines, or pieces of a long line cut at whitespace."""
        import smart_open
        with smart_open.open(self.source, "rb") as fin:
            carry, line_no = b"", 0
            while True:
                data = fin.read(self.BLOCK)
                if not data:
                    if carry:
                        yield carry, True, line_no + 1
                    return
                lines = (carry + data).split(b"\n")
                carry = lines.pop()
                for line in lines:
                    line_no += 1
                    yield line, True, line_no
                if len(carry) > self.BLOCK:  # no newline for a while: pass on all but the last token
                    cut = max(carry.rfind(b" "), carry.rfind(b"\t"), carry.rfind(b"\r"))
                    if cut > 0:
                        yield carry[:cut], False, line_no + 1
                        carry = carry[cut + 1:]

    def pieces(self):
        """Token lists of whole lines, with a very long line given as :class:`Partial` pieces then its
        last piece (a plain list). Memory stays bounded by the block size."""
        continuing = False
        for raw, ends_line, line_no in self._raw_pieces():
            if self.limit is not None and line_no > self.limit:
                return
            try:
                tokens = raw.decode("utf-8", errors=self.errors).split()
            except UnicodeDecodeError as exc:
                raise ValueError(
                    f"{self.source}, line {line_no}: not valid UTF-8 ({exc.reason} at byte {exc.start} of the "
                    f"line). Re-encode the file as UTF-8, or read it with "
                    f"torch_w2v.LineSentence(path, errors='replace').") from None
            if ends_line:
                if tokens or continuing:  # empty lines are no sentences, but an empty last piece ends one
                    yield tokens
                continuing = False
            elif tokens:
                yield Partial(tokens)
                continuing = True

    def __iter__(self):
        pending = []
        for piece in self.pieces():
            if is_partial(piece):
                pending.extend(piece)
                continue
            tokens = pending + piece if pending else piece
            pending = []
            if not tokens:
                continue
            step = self.max_sentence_length or len(tokens)
            for i in range(0, len(tokens), step):
                yield tokens[i:i + step]


class _Pieces:
    """A LineSentence read piecewise (see :meth:`LineSentence.pieces`), for scanning and encoding."""

    def __init__(self, line_sentence: LineSentence):
        self.line_sentence = line_sentence

    def __iter__(self):
        return self.line_sentence.pieces()


def sentences_of(sentences=None, corpus_file=None):
    """The corpus as an iterable of token lists (a file piecewise: see :class:`Partial`)."""
    return _Pieces(LineSentence(corpus_file)) if corpus_file is not None else sentences


@dataclass
class EncodedCorpus:
    """A corpus as ids: in-vocabulary tokens of all sentences, concatenated.

    ``ids`` (N,) int32 and ``bounds`` (S+1,) int64, sentence ``s`` being ``ids[bounds[s]:bounds[s+1]]``;
    ``raw_words`` (S,) int64 counts every token of each sentence, out-of-vocabulary ones included.
    Large corpora are held in memory-mapped temporary files (see :func:`encode`).
    """
    ids: np.ndarray
    bounds: np.ndarray
    raw_words: np.ndarray

    @property
    def n_sentences(self) -> int:
        return len(self.raw_words)

    @property
    def total_raw_words(self) -> int:
        return int(self.raw_words.sum())

    def chunks(self, chunk_words: int):
        """Yield the :class:`Span` s that cover the corpus in order, each of about ``chunk_words`` ids.

        Spans hold whole sentences, except that a sentence longer than ``chunk_words`` is cut into pieces
        of ``chunk_words``: windows stop at a cut, so at most ``window`` pairs are lost on each side of
        it (0.02% of a 64k-token piece's pairs), and memory stays bounded however long the sentence.
        """
        bounds, raw = self.bounds, self.raw_words
        s, n = 0, self.n_sentences
        while s < n:
            lo = int(bounds[s])
            e = int(np.searchsorted(bounds, lo + chunk_words, side="right")) - 1
            if e > s:
                yield Span(lo, int(bounds[e]), np.diff(bounds[s:e + 1]), e - s, int(raw[s:e].sum()))
                s = e
                continue
            length, total_raw = int(bounds[s + 1]) - lo, int(raw[s])
            for a in range(0, length, chunk_words):  # one sentence longer than a chunk: pieces
                b = min(a + chunk_words, length)
                raw_share = total_raw * b // length - total_raw * a // length
                yield Span(lo + a, lo + b, np.array([b - a]), int(b == length), raw_share)
            s += 1


@dataclass
class Span:
    """A stretch of an :class:`EncodedCorpus`: ids ``[lo, hi)`` in sentences (or a piece of one)."""
    lo: int
    hi: int
    lengths: np.ndarray     # (S,) ids per sentence in the span
    sentences: int          # sentences that end in this span
    raw_words: int          # raw tokens of the span (a long sentence's are shared among its pieces)


class _GrowingArray:
    """Append-only 1-D array that moves to a memory-mapped temporary file once it holds ``spill`` items."""

    def __init__(self, dtype, spill: int):
        self.dtype, self.spill = np.dtype(dtype), spill
        self.parts, self.n, self.file = [], 0, None

    def extend(self, values) -> None:
        block = np.asarray(values, dtype=self.dtype)
        self.n += len(block)
        if self.file is None and self.n >= self.spill:
            self.file = tempfile.TemporaryFile(prefix="torch_w2v_corpus_")
            for part in self.parts:
                self.file.write(part.tobytes())
            self.parts = []
        if self.file is not None:
            self.file.write(block.tobytes())
        else:
            self.parts.append(block)

    def finish(self) -> np.ndarray:
        if self.file is None or self.n == 0:
            return np.concatenate(self.parts) if self.parts else np.zeros(0, self.dtype)
        self.file.flush()
        return np.memmap(self.file, dtype=self.dtype, mode="r", shape=(self.n,))


def encode(sentences, key_to_index: dict, spill_words: int = 1 << 26) -> EncodedCorpus:
    """Map an iterable of token lists to an :class:`EncodedCorpus`; out-of-vocabulary tokens are dropped.

    Past ``spill_words`` ids (default 64M, 256 MB) the ids go to a memory-mapped temporary file, so
    memory stays bounded by the chunk size, not by the corpus size.
    """
    ids, lengths, raw = (_GrowingArray(np.int32, spill_words), _GrowingArray(np.int64, spill_words),
                         _GrowingArray(np.int64, spill_words))
    get = key_to_index.get
    buf, buf_len, buf_raw = [], [], []
    continuing = False  # the previous item was a Partial: this one extends the same sentence
    for index, sentence in enumerate(sentences):
        check_tokens(sentence, index)
        kept = [i for i in map(get, sentence) if i is not None]
        buf.extend(kept)
        if continuing:
            buf_len[-1] += len(kept)
            buf_raw[-1] += len(sentence)
        else:
            buf_len.append(len(kept))
            buf_raw.append(len(sentence))
        continuing = is_partial(sentence)
        if len(buf) >= 1 << 16:
            ids.extend(buf)
            buf = []
        if len(buf_len) >= 1 << 16 and not continuing:  # a sentence's length stays in the buffer until it ends
            lengths.extend(buf_len), raw.extend(buf_raw)
            buf_len, buf_raw = [], []
    ids.extend(buf), lengths.extend(buf_len), raw.extend(buf_raw)
    lengths = lengths.finish()
    bounds = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=bounds[1:])
    return EncodedCorpus(ids.finish(), bounds, np.asarray(raw.finish()))
