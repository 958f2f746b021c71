"""Corpus input: checking what the user passed, reading LineSentence files, encoding tokens to ids.

A corpus is either a re-iterable of token lists or a file in LineSentence format (one sentence per line,
tokens separated by whitespace, UTF-8), read through :mod:`torch_w2v.sources`: plain, ``.gz``, ``.bz2`` or
a URL. Unlike gensim, lines longer than 10,000 tokens are kept whole (gensim cuts them into pieces).

Training encodes the corpus once per ``train()`` call into an :class:`EncodedCorpus` (ids of the
in-vocabulary tokens, 2 bytes each under a vocabulary of at most 65,535 words and 4 bytes otherwise, plus
sentence bounds) and every epoch reads that, instead of re-tokenising.
"""
from __future__ import annotations

import logging
import mmap
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import GeneratorType

import numpy as np

from .memory import release_freed_memory
from .sources import is_url, read_blocks

logger = logging.getLogger("torch_w2v")


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
        if not is_url(corpus_file) and not os.path.isfile(corpus_file):
            what = "it is a directory; pass a file inside it" if os.path.isdir(corpus_file) else "no such file"
            raise TypeError(f"Parameter corpus_file must be a valid path to a file, got {corpus_file!r} "
                            f"instead: {what}.")
        return
    if isinstance(sentences, (str, bytes)) or not isinstance(sentences, Iterable):
        raise TypeError(f"The corpus_iterable must be an iterable of lists of strings, got {sentences!r} "
                        f"instead. Pass e.g. [['first', 'sentence'], ['second', 'one']].")
    if isinstance(sentences, GeneratorType) and passes > 1:
        raise TypeError(f"Using a generator as corpus_iterable can't support {passes} passes. "
                        f"Try a re-iterable sequence: a list, or a class whose __iter__ opens the data anew.")
    if isinstance(sentences, Iterator) and passes > 1:  # iter(list), map(...), an open file: read only once
        raise TypeError(f"The corpus_iterable {type(sentences).__name__} is a one-shot iterator, which can't "
                        f"support {passes} passes (the vocabulary scan and training each read the corpus). "
                        f"Try a re-iterable sequence: a list, or a class whose __iter__ opens the data anew.")


def check_not_exhausted(encoded, expected, parallel=False) -> None:
    """Raise ``ValueError`` if ``train()`` read no sentence although ``expected`` (its total_examples or
    total_words) says the corpus has some: a one-shot iterator already consumed by ``build_vocab()``."""
    if encoded.n_sentences == 0 and expected and not parallel:
        raise ValueError(
            f"the corpus given to train() yielded no sentences, though {expected} were expected. A one-shot "
            f"iterator (a generator, iter(...), map(...), an open file) is used up by build_vocab(); pass a "
            f"list, or a class whose __iter__ reads the data anew, e.g. torch_w2v.LineSentence(path).")


def tokens_of(sentence, index: int):
    """``sentence`` (item ``index`` of the corpus) as a list or tuple of tokens, as gensim takes any iterable
    of tokens: a list or tuple as it is, any other iterable (a document object, a numpy array, a generator)
    read once into a list. A ``str`` or ``bytes``, which gensim would read as characters, and anything that
    is not iterable raise ``TypeError`` with the fix."""
    if isinstance(sentence, (list, tuple)):
        return sentence
    if not isinstance(sentence, (str, bytes, bytearray)):
        try:
            tokens = iter(sentence)
        except TypeError:
            pass
        else:
            return list(tokens)
    what = ("a string, which would be read as its characters" if isinstance(sentence, (str, bytes, bytearray))
            else "not iterable")
    raise TypeError(
        f"sentence #{index} of the corpus is {sentence!r} (type {type(sentence).__name__}), not a list of "
        f"tokens: it is {what}. Each item must be a list (or other iterable) of words: pass "
        f"[['hello', 'world'], ...] rather than ['hello world', ...]; for a text file use corpus_file= or "
        f"torch_w2v.LineSentence(path).")


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
        carry, line_no = b"", 0
        # the lambda reads line_no when a read fails (late binding on purpose): the line reached so far
        for data in read_blocks(self.source, self.BLOCK, lambda: line_no):  # noqa: B023
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
        if carry:
            yield carry, True, line_no + 1

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


def count_corpus(path) -> tuple:
    """``(sentences, words)`` of a LineSentence file: what the learning-rate schedule needs."""
    sentences = words = 0
    for sentence in LineSentence(path):
        sentences += 1
        words += len(sentence)
    return sentences, words


class _Pieces:
    """A LineSentence read piecewise (see :meth:`LineSentence.pieces`), for scanning and encoding."""

    def __init__(self, line_sentence: LineSentence):
        self.line_sentence = line_sentence

    def __iter__(self):
        return self.line_sentence.pieces()


def sentences_of(sentences=None, corpus_file=None):
    """The corpus as an iterable of token lists (a file piecewise: see :class:`Partial`)."""
    return _Pieces(LineSentence(corpus_file)) if corpus_file is not None else sentences


RECORD_ALL = 1 << 62  # a record limit no corpus reaches: the scan keeps all of it (in a file past its memory)
SHORT_IDS = (1 << 16) - 1  # vocabularies of at most this many words encode to uint16 ids (one value spare)


def id_dtype(vocab_size: int) -> np.dtype:
    """The dtype of a corpus's encoded ids: uint16 for a vocabulary of at most :data:`SHORT_IDS` words (half
    the memory of int32; 65,535 stays free to mark a dropped token while encoding), else int32."""
    return np.dtype(np.uint16 if vocab_size <= SHORT_IDS else np.int32)


@dataclass
class EncodedCorpus:
    """A corpus as ids: in-vocabulary tokens of all sentences, concatenated.

    ``ids`` (N,) of :func:`id_dtype` (uint16 or int32) and ``bounds`` (S+1,) int64, sentence ``s`` being
    ``ids[bounds[s]:bounds[s+1]]``; ``raw_words`` (S,) int64 counts every token of each sentence,
    out-of-vocabulary ones included.
    Large corpora are held in memory-mapped temporary files (see :func:`encode`): ``mapping`` is then the
    ``mmap`` the ids are read from, and :meth:`release` drops the pages of a trained range from the process.
    """
    ids: np.ndarray
    bounds: np.ndarray
    raw_words: np.ndarray
    mapping: mmap.mmap | None = None

    def release(self, lo: int, hi: int) -> None:
        """Drop ``ids[lo:hi]`` from this process's resident memory where the ids are mapped from a file
        (nothing otherwise): they stay in the file (and the page cache) and are read again when next used,
        so a corpus larger than memory is resident only a chunk at a time."""
        if self.mapping is None or hi <= lo:
            return
        size = self.ids.itemsize
        start = (lo * size) // mmap.PAGESIZE * mmap.PAGESIZE
        end = min(len(self.mapping), -(-hi * size // mmap.PAGESIZE) * mmap.PAGESIZE)
        if end > start:
            self.mapping.madvise(mmap.MADV_DONTNEED, start, end - start)

    @property
    def n_sentences(self) -> int:
        return len(self.raw_words)

    @property
    def total_raw_words(self) -> int:
        return int(self.raw_words.sum())


def _append(file, data: bytes | None = None) -> None:
    """Write ``data`` to a temporary ``file`` of the corpus (None: flush it); a full disk (or a file size
    limit) says where the file is and how to make room."""
    try:
        if data is not None:
            file.write(data)
        file.flush()
    except OSError as exc:
        raise OSError(exc.errno, f"no room for the corpus's temporary file in {tempfile.gettempdir()} "
                                 f"({exc.strerror}): free space there, set TMPDIR to a directory with room for "
                                 f"4 bytes a token, or raise spill_words to keep the corpus in memory") from None


class _GrowingArray:
    """Append-only 1-D array that moves to a memory-mapped temporary file once it holds ``spill`` items
    (at once when ``capacity``, the expected size, is larger).

    In memory it is one buffer, ``capacity`` items to start with (the expected size, when known) and
    doubled when full, so the ids are never held twice as a list of blocks and their concatenation.
    In a file, :meth:`finish` maps it read-only and ``mapping`` is the ``mmap``."""

    def __init__(self, dtype, spill: int, capacity: int = 1 << 16):
        self.dtype, self.spill = np.dtype(dtype), spill
        self.n, self.file, self.mapping = 0, None, None
        if capacity > spill:
            self.buffer, self.file = None, tempfile.TemporaryFile(prefix="torch_w2v_corpus_")
        else:
            self.buffer = np.empty(max(1, int(capacity)), self.dtype)

    def extend(self, values) -> None:
        block = np.asarray(values, dtype=self.dtype)
        if self.file is None and self.n + len(block) >= self.spill:
            self.file = tempfile.TemporaryFile(prefix="torch_w2v_corpus_")
            _append(self.file, self.buffer[:self.n].tobytes())
            self.buffer = None
        if self.file is not None:
            _append(self.file, block.tobytes())
        else:
            if self.n + len(block) > len(self.buffer):
                grown = np.empty(max(2 * len(self.buffer), self.n + len(block)), self.dtype)
                grown[:self.n] = self.buffer[:self.n]
                self.buffer = grown
            self.buffer[self.n:self.n + len(block)] = block
        self.n += len(block)

    def finish(self) -> np.ndarray:
        if self.file is None:
            return self.buffer[:self.n]
        _append(self.file)
        if self.n == 0:
            return np.zeros(0, self.dtype)
        self.mapping = mmap.mmap(self.file.fileno(), self.n * self.dtype.itemsize, access=mmap.ACCESS_READ)
        return np.frombuffer(self.mapping, dtype=self.dtype, count=self.n)


class SpilledArray:
    """A 1-D array appended to a temporary file (:class:`SpillFile`), read back whole when used
    (``np.asarray``), so that it is in memory only while it is used."""

    def __init__(self, spill: SpillFile, offset: int, count: int, dtype):
        self.spill, self.offset, self.count, self.dtype = spill, offset, count, np.dtype(dtype)

    def __len__(self) -> int:
        return self.count

    def __array__(self, dtype=None, copy=None):
        data = os.pread(self.spill.file.fileno(), self.count * self.dtype.itemsize, self.offset)
        array = np.frombuffer(bytearray(data), dtype=self.dtype)
        return array if dtype is None else array.astype(dtype, copy=False)


class SpillFile:
    """An anonymous temporary file that arrays are appended to (:meth:`put`); deleted when closed or
    collected."""

    def __init__(self):
        self.file, self.size = tempfile.TemporaryFile(prefix="torch_w2v_record_"), 0

    def put(self, array: np.ndarray) -> SpilledArray:
        self.file.seek(self.size)
        _append(self.file, array.tobytes())
        spilled = SpilledArray(self, self.size, len(array), array.dtype)
        self.size += array.nbytes
        return spilled


@dataclass
class RecordedCorpus:
    """A corpus kept by the vocabulary scan as raw ids: ``blocks`` of whole sentences, each ``(raw_ids,
    lengths)``: (n,) indexes into ``keys`` (every distinct word, in order of first appearance), uint16 or
    int32, and (s,) int64 tokens per sentence."""
    blocks: list
    keys: list


class RecordBlocks:
    """The vocabulary scan's record of a corpus as raw ids, gathered into blocks of whole sentences of at
    least ``block_ids`` ids while the corpus holds at most ``limit`` tokens (past it nothing is kept). Ids
    are stored as uint16 while the scan has seen at most 65,536 distinct words (every raw id fits), then
    as int32. Blocks are never copied into a larger one, so the corpus is never held twice. Past ``memory``
    ids held in memory (default: ``limit``), the blocks go to a temporary file (:class:`SpilledArray`)."""

    def __init__(self, limit: int, block_ids: int, memory: int | None = None):
        self.limit, self.block_ids = limit, block_ids
        self.memory, self.resident, self.spill = limit if memory is None else memory, 0, None
        self.blocks, self.ids, self.lengths, self.pending, self.total = [], [], [], 0, 0

    def add(self, ids: np.ndarray, lengths: np.ndarray, sentence_open: bool, distinct: int) -> list | None:
        """Keep the raw ids (n,) of sentences of ``lengths`` (s,) tokens, ``distinct`` words seen so far
        (``sentence_open``: the last sentence goes on in the next call). Returns None, or, the first time
        the corpus passes ``limit``, every raw id array seen so far (``ids`` last; to count words from),
        and from then on keeps nothing."""
        if self.blocks is None:
            return None
        self.total += len(ids)
        if self.total > self.limit:
            seen = [raw for raw, _ in self.blocks] + self.ids + [ids]
            self.blocks = self.ids = self.lengths = None
            return seen
        self.ids.append(ids.astype(np.uint16 if distinct <= 1 << 16 else np.int32))
        self.lengths.append(np.array(lengths, dtype=np.int64))
        self.pending += len(ids)
        if self.pending >= self.block_ids and not sentence_open:
            self._flush()
        return None

    def _flush(self) -> None:
        if self.ids:
            raw = np.concatenate(self.ids)
            if self.resident + len(raw) > self.memory:
                self.spill = self.spill or SpillFile()
                raw = self.spill.put(raw)
            else:
                self.resident += len(raw)
            self.blocks.append((raw, np.concatenate(self.lengths)))
            self.ids, self.lengths, self.pending = [], [], 0

    def finish(self, keys: list) -> RecordedCorpus | None:
        """The :class:`RecordedCorpus` under the raw vocabulary ``keys``, or None past the limit."""
        if self.blocks is None:
            return None
        self._flush()
        return RecordedCorpus(self.blocks, keys)


def encode_recorded(recorded: RecordedCorpus, key_to_index: dict, spill_words: int = 1 << 24) -> EncodedCorpus:
    """The :class:`EncodedCorpus` of a recorded corpus under the vocabulary ``key_to_index``: what
    :func:`encode` gives for the same sentences (past ``spill_words`` kept ids, in a memory-mapped temporary
    file). Two passes over the blocks: the first counts the kept tokens of every sentence, the second copies
    them into one array of exactly the kept tokens, freeing each block once copied, so the corpus is never
    held twice (the peak is the raw blocks in memory plus one block's temporaries)."""
    dtype = id_dtype(len(key_to_index))
    dropped = np.iinfo(dtype).max if dtype == np.uint16 else -1
    table = np.fromiter((key_to_index.get(w, dropped) for w in recorded.keys), dtype=dtype,
                        count=len(recorded.keys))                                                  # (V_raw,)
    recorded.keys = []
    kept_lengths, raw_lengths, total = [], [], 0
    for raw, lengths in recorded.blocks:
        kept_before = np.zeros(len(raw) + 1, dtype=np.int32)  # a block holds < 2**31 ids
        np.cumsum(table[np.asarray(raw)] != dropped, out=kept_before[1:])                          # (n + 1,)
        ends = np.cumsum(lengths)                                                                  # (s,)
        kept_lengths.append(kept_before[ends] - kept_before[ends - lengths])
        raw_lengths.append(lengths.copy())
        total += int(kept_before[-1])
        del kept_before
    ids = _GrowingArray(dtype, spill_words, total)  # in memory: its pages become resident as blocks are freed
    while recorded.blocks:
        raw, _ = recorded.blocks.pop(0)
        mapped = table[np.asarray(raw)]                                                           # (n,)
        del raw
        ids.extend(mapped[mapped != dropped])
        del mapped
        release_freed_memory()  # a block freed inside the C heap stays resident until trimmed
    lengths = np.concatenate(kept_lengths) if kept_lengths else np.zeros(0, dtype=np.int64)
    bounds = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=bounds[1:])
    raw_words = np.concatenate(raw_lengths) if raw_lengths else np.zeros(0, dtype=np.int64)
    array = ids.finish()
    return EncodedCorpus(array, bounds, raw_words, ids.mapping)


def file_identity(path) -> tuple | None:
    """``(real path, size, mtime_ns)`` of a local file, to tell whether it changed; None for a URL."""
    if path is None or is_url(path):
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return os.path.realpath(path), st.st_size, st.st_mtime_ns


def encode(sentences, key_to_index: dict, spill_words: int = 1 << 24, expected_words: int | None = None,
           expected_sentences: int | None = None) -> EncodedCorpus:
    """Map an iterable of token lists to an :class:`EncodedCorpus`; out-of-vocabulary tokens are dropped.

    Past ``spill_words`` ids (default 16M: 32 MB of uint16, 64 MB of int32) the ids go to a memory-mapped
    temporary file (at once when ``expected_words`` is larger), and training releases each chunk's pages
    (:meth:`EncodedCorpus.release`), so memory stays bounded by the chunk size, not by the corpus size.
    ``expected_words`` and ``expected_sentences`` (the vocabulary scan's counts) size the buffers at once.
    """
    words, sentences_hint = int(expected_words or 1 << 16), int(expected_sentences or 1 << 12)
    ids = _GrowingArray(id_dtype(len(key_to_index)), spill_words, words)
    lengths, raw = (_GrowingArray(np.int64, spill_words, sentences_hint) for _ in range(2))
    get = key_to_index.get
    buf, buf_len, buf_raw = [], [], []
    continuing = False  # the previous item was a Partial: this one extends the same sentence
    for index, sentence in enumerate(sentences):
        sentence = tokens_of(sentence, index)
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
    return EncodedCorpus(ids.finish(), bounds, np.asarray(raw.finish()), ids.mapping)
