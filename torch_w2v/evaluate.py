"""Word-vector files and their quality: load word2vec C files (binary or text, detected), score them.

:func:`load_vectors` reads what ``torch-w2v train`` writes (and what word2vec.c, gensim and fastText write):
the word2vec C format, binary or text, plain or compressed, telling the two apart from the first records
without guessing (a header that disagrees with the rows is an error naming the line), or a full
torch_w2v model file (``--save-model``, :meth:`torch_w2v.Word2Vec.save`).

:func:`evaluate` runs gensim's own benchmarks on a ``KeyedVectors`` and returns plain numbers:

* analogies (``questions-words.txt``, word2vec.c's ``compute-accuracy``): accuracy of ``b - a + c``
  among the ``restrict_vocab`` most frequent words, questions with unknown words skipped;
* word pairs (``wordsim353.tsv``, ``simlex999.txt``): Spearman (and Pearson) correlation of the cosine
  similarities with human judgements, pairs with unknown words skipped.

Words whose vectors hold NaN or inf (a diverged run) cannot be compared: :func:`evaluate` leaves them
out, counts them in its report and logs a warning (:func:`finite_only`).

All the scoring is gensim's (``KeyedVectors.evaluate_word_analogies`` / ``evaluate_word_pairs``), so the
numbers are the ones a gensim user would get for the same vectors.
"""
from __future__ import annotations

import logging
import math
import os
import zipfile

import numpy as np
from gensim.models import KeyedVectors

from . import gensim_files
from .sources import _DAMAGED, check_input, is_damage, is_url, local_path, open_input

logger = logging.getLogger("torch_w2v")

RESTRICT_VOCAB = 300_000   # gensim's default: questions are answered among this many most frequent words
_PROBE_BYTES = 1 << 20     # most bytes read to tell a text record from a binary one
_PROBE_RECORDS = 50        # binary records checked against the header's dimensions


def gensim_data(name: str) -> str:
    """Path of a file bundled with gensim's test data (``questions-words.txt``, ``wordsim353.tsv``, ...)."""
    from gensim.test.utils import datapath
    return datapath(name)


def default_pairs() -> dict:
    """The word-similarity benchmarks :func:`evaluate` runs by default: ``{name: path}``."""
    return {"wordsim353": gensim_data("wordsim353.tsv"), "simlex999": gensim_data("simlex999.txt")}


# ------------------------------------------------------------------------------------------- loading
def detect_binary(path) -> bool:
    """Whether the word2vec C file ``path`` is binary (True) or text (False), from its first records.

    Text: after the ``"<count> <dims>"`` header every line is a word and ``dims`` numbers. Binary: a word,
    a space and ``dims`` raw float32 values per record. Nothing is guessed: the second line must read as
    a text row of exactly ``dims`` numbers, or the first records (up to 50) must fit the binary layout
    (``dims * 4`` bytes after each word, every word free of control characters). A text row with another
    number of values, or records that fit neither, raise ``ValueError`` naming the line or record.

    Raises
    ------
    ValueError
        If the file does not start with a word2vec C header, or its header disagrees with its rows.
    """
    path = os.fspath(path)
    with open_input(path) as handle:
        header = handle.readline(256)
        count, dims = _parse_header(header, path)
        if dims is None:
            return False
        probe = handle.read(_PROBE_BYTES)
    if not probe:
        return False  # an empty vocabulary reads the same either way
    line = probe.split(b"\n", 1)[0]
    numbers = _text_row(line)
    if numbers is not None:
        if numbers == dims:
            return False
        shown = line[:60].decode("utf-8", errors="replace")
        raise ValueError(
            f"{path}, line 2: the header says {dims} dimensions but this row has {numbers} numbers "
            f"({shown!r}...). The header disagrees with the rows: correct its second number to {numbers} "
            f"(gensim refuses this file too).")
    _check_binary_records(probe, count, dims, path)
    return True


def _text_row(line: bytes):
    """The count of numbers after the word if ``line`` reads as a text row (``word n1 n2 ...``), else None."""
    try:
        fields = line.decode("utf-8").rstrip("\r").split(" ")
        if len(fields) < 2 or not fields[0]:
            return None
        values = [float(x) for x in fields[1:] if x]
    except (UnicodeDecodeError, ValueError):
        return None
    return len(values) or None


def _check_binary_records(probe: bytes, count: int, dims: int, path):
    """Raise ValueError unless the first records of ``probe`` fit the binary layout for ``dims``."""
    size, at = 4 * dims, 0
    for record in range(1, min(count, _PROBE_RECORDS) + 1):
        while probe[at:at + 1] == b"\n":  # word2vec.c ends each vector with a newline; gensim does not
            at += 1
        space = probe.find(b" ", at)
        if space < 0 or space - at > 1000:
            if len(probe) < _PROBE_BYTES and space < 0:
                raise ValueError(f"{path} ends inside record {record}: the file is truncated, or its header "
                                 f"(count {count}, {dims} dimensions) is wrong.")
            return  # a very long word, or the end of the probe: nothing contradicts the header so far
        word = probe[at:space]
        if not word or (word != b"\0" and any(b < 0x20 for b in word)):  # "\0": gensim's null_word
            raise ValueError(
                f"{path}, record {record}: read as binary with the header's {dims} dimensions, the word "
                f"would be {word[:40]!r}. The header disagrees with the records, or the file is neither "
                f"text nor binary word2vec C format (pass --text or --binary to force one).")
        at = space + 1 + size
        if at > len(probe):
            if len(probe) < _PROBE_BYTES:
                raise ValueError(f"{path} ends inside record {record}: the file is truncated, or its header "
                                 f"(count {count}, {dims} dimensions) is wrong.")
            return
    if count <= _PROBE_RECORDS and len(probe) < _PROBE_BYTES and probe[at:].strip(b"\n"):
        raise ValueError(f"{path}: {len(probe) - at} bytes follow the {count} records of {dims} dimensions that "
                         f"the header announces. The header disagrees with the records (or pass --text if "
                         f"the file is text).")


def _parse_header(header: bytes, path):
    """``(count, dims)`` from a word2vec C header line; ValueError naming the file otherwise."""
    try:
        count, dims = (int(x) for x in header.decode("ascii").split())
        if count < 0 or dims <= 0:
            raise ValueError
    except (UnicodeDecodeError, ValueError):
        shown = header[:60].decode("utf-8", errors="replace").strip()
        raise ValueError(
            f"{os.fspath(path)} is not a word2vec C file: its first line should be '<words> <dimensions>' "
            f"(e.g. '71291 200'), got {shown!r}. Pass a file written by torch-w2v train -output, word2vec.c "
            f"or KeyedVectors.save_word2vec_format, or a model saved with --save-model or gensim's save().") from None
    return count, (dims if count else None)


def load_vectors(path, binary: bool | None = None) -> KeyedVectors:
    """Load word vectors from ``path``: a word2vec C file (binary or text), a torch_w2v model file, or a
    gensim Word2Vec or KeyedVectors file (read without running code: :mod:`torch_w2v.gensim_files`).

    Parameters
    ----------
    path : str or os.PathLike
        A local path or a URL (http(s) with a timeout, see :func:`torch_w2v.sources.open_input`);
        ``.gz``/``.bz2`` files are decompressed.
    binary : bool, optional
        The word2vec C variant; None (default) detects it (:func:`detect_binary`).

    Returns
    -------
    gensim.models.KeyedVectors
    """
    path = os.fspath(path)
    check_input(path, "vectors to load")
    if not is_url(path) and zipfile.is_zipfile(path):
        from .word2vec import Word2Vec  # a model written by Word2Vec.save / --save-model
        return Word2Vec.load(path).wv
    if not is_url(path) and gensim_files.is_pickle(path):
        return gensim_files.load_vectors(path)  # saved by gensim's Word2Vec.save or KeyedVectors.save
    if binary is None:
        binary = detect_binary(path)
    try:
        with local_path(path) as local:  # an http(s) URL: a copy read with the timeout
            return KeyedVectors.load_word2vec_format(local, binary=binary, unicode_errors="replace")
    except (ValueError, EOFError, UnicodeDecodeError, OSError, *_DAMAGED) as exc:
        if isinstance(exc, OSError) and not is_damage(exc, path):
            raise
        kind, other = ("binary", "--text") if binary else ("text", "--binary")
        raise ValueError(f"{path} could not be read as a {kind} word2vec C file ({exc}). It may be truncated; "
                         f"if it is in the other variant, pass {other}.") from None


def non_finite_words(kv) -> list:
    """The words of ``kv`` whose vectors hold NaN or inf (they cannot be compared with any other)."""
    vectors = np.asarray(kv.vectors)
    if not vectors.size:
        return []
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    return [kv.index_to_key[i] for i in bad]


def finite_only(kv, bad=None):
    """``kv`` without the words whose vectors hold NaN or inf (``kv`` itself when there are none)."""
    bad = non_finite_words(kv) if bad is None else bad
    if not bad:
        return kv
    from .export import to_keyed_vectors
    drop = set(bad)
    rows = [i for i, w in enumerate(kv.index_to_key) if w not in drop]
    counts = kv.expandos["count"][rows] if "count" in kv.expandos else None
    return to_keyed_vectors(np.asarray(kv.vectors)[rows], [kv.index_to_key[i] for i in rows], counts)


# ----------------------------------------------------------------------------------------- evaluating
def evaluate(kv: KeyedVectors, analogies: str | None = "default", pairs: dict | None = None,
             restrict_vocab: int = RESTRICT_VOCAB, case_insensitive: bool = True) -> dict:
    """Score word vectors on analogy and word-similarity benchmarks, as gensim does.

    Parameters
    ----------
    kv : gensim.models.KeyedVectors
        The vectors, e.g. ``model.wv`` or :func:`load_vectors`'s result.
    analogies : str or None, optional
        An analogy file in word2vec.c's ``questions-words.txt`` format; ``"default"`` is gensim's copy of
        it, None skips analogies.
    pairs : dict of {str: str}, optional
        Word-pair similarity files by name (tab-separated ``word1 word2 score``, ``#`` comments); default
        :func:`default_pairs` (WordSim353 and SimLex-999). ``{}`` skips them.
    restrict_vocab : int, optional
        Only the this-many most frequent words are used (gensim's default 300,000; word2vec.c's
        ``compute-accuracy`` uses 30,000).
    case_insensitive : bool, optional
        Compare words upper-cased (gensim's default), taking the most frequent casing of each word.

    Returns
    -------
    dict
        ``{"vocab_size", "vector_size", "analogies": {...} or None, "pairs": {name: {...}}}``. An analogy
        entry has ``file, accuracy, correct, total`` (questions answered), ``questions`` (all),
        ``oov_ratio`` (share skipped, 0..1) and ``sections`` (the same per section); a pair entry has
        ``file, spearman, spearman_pvalue, pearson, pairs`` (pairs scored) and ``oov_ratio`` (0..1).
        A score is None when no question had all its words in the vocabulary, or fewer than two pairs
        did (a correlation needs two). ``non_finite_words`` counts the words left out because their
        vectors hold NaN or inf.

    Examples
    --------
    >>> from torch_w2v import Word2Vec
    >>> model = Word2Vec([["a", "b", "c"]] * 50, vector_size=8, min_count=1, sg=1, epochs=1)
    >>> report = evaluate(model.wv)
    >>> report["analogies"]["accuracy"] is None   # no analogy question uses only 'a', 'b' and 'c'
    True
    """
    if restrict_vocab is None or int(restrict_vocab) < 1:
        raise ValueError(f"restrict_vocab must be a positive number of words, got {restrict_vocab!r}.")
    if analogies == "default":
        analogies = gensim_data("questions-words.txt")
    pairs = default_pairs() if pairs is None else dict(pairs)
    bad = non_finite_words(kv)
    report = {"vocab_size": len(kv), "vector_size": kv.vector_size, "restrict_vocab": int(restrict_vocab),
              "non_finite_words": len(bad), "analogies": None, "pairs": {}}
    if bad:
        logger.warning("%i words have NaN or inf in their vectors and are left out of the evaluation (%s%s); "
                       "the vectors probably come from a diverged training run.", len(bad),
                       ", ".join(repr(w) for w in bad[:5]), ", ..." if len(bad) > 5 else "")
        kv = finite_only(kv, bad)
    if analogies is not None:
        report["analogies"] = evaluate_analogies(kv, analogies, restrict_vocab, case_insensitive)
    for name, path in pairs.items():
        report["pairs"][name] = evaluate_pairs(kv, path, restrict_vocab, case_insensitive)
    return report


def evaluate_analogies(kv, path, restrict_vocab=RESTRICT_VOCAB, case_insensitive=True) -> dict:
    """Analogy accuracy on ``path`` (see :func:`evaluate`)."""
    check_input(path, "analogy benchmark file")
    questions = sum(1 for _ in _analogy_questions(path))
    sections = []
    if len(kv) and questions:  # gensim divides by the question count
        with local_path(path) as local:
            _, sections = kv.evaluate_word_analogies(local, restrict_vocab=int(restrict_vocab),
                                                     case_insensitive=case_insensitive)
    rows = [_section_row(s) for s in sections if s["section"] != "Total accuracy"]
    correct = sum(r["correct"] for r in rows)
    total = sum(r["total"] for r in rows)
    return {"file": os.fspath(path), "accuracy": correct / total if total else None, "correct": correct,
            "total": total, "questions": questions,
            "oov_ratio": (questions - total) / questions if questions else None, "sections": rows}


def evaluate_pairs(kv, path, restrict_vocab=RESTRICT_VOCAB, case_insensitive=True) -> dict:
    """Correlation with human similarity judgements on ``path`` (see :func:`evaluate`)."""
    check_input(path, "word-pair benchmark file")
    lines = sum(1 for _ in _pair_lines(path))
    empty = {"file": os.fspath(path), "spearman": None, "spearman_pvalue": None, "pearson": None,
             "pairs": 0, "oov_ratio": 1.0 if lines else None}
    if not len(kv):
        return empty
    try:
        with local_path(path) as local:
            pearson, spearman, oov_percent = kv.evaluate_word_pairs(
                local, restrict_vocab=int(restrict_vocab), case_insensitive=case_insensitive)
    except ValueError as exc:
        if "No valid similarity judgements" in str(exc):
            return empty  # every pair has an unknown word
        if "at least 2" in str(exc):  # scipy: one known pair has no correlation
            return dict(empty, pairs=1, oov_ratio=(lines - 1) / lines if lines else None)
        raise
    oov = oov_percent / 100.0
    return {"file": os.fspath(path), "spearman": _number(spearman[0]), "spearman_pvalue": _number(spearman[1]),
            "pearson": _number(pearson[0]), "pairs": round(lines * (1.0 - oov)), "oov_ratio": oov}


def _section_row(section) -> dict:
    correct, total = len(section["correct"]), len(section["correct"]) + len(section["incorrect"])
    return {"section": section["section"], "accuracy": correct / total if total else None,
            "correct": correct, "total": total}


def _number(value):
    """A finite float, or None for NaN (a constant similarity column has no correlation)."""
    value = float(value)
    return value if math.isfinite(value) else None


def _lines(path):
    import io
    with open_input(path) as raw, io.TextIOWrapper(raw, encoding="utf-8", errors="replace") as handle:
        yield from handle


def _pair_lines(path):
    """The lines gensim's ``evaluate_word_pairs`` scores: ``word<TAB>word<TAB>number``."""
    for line in _lines(path):
        fields = line.split("\t")
        if line.startswith("#") or len(fields) != 3:
            continue
        try:
            float(fields[2])
        except ValueError:
            continue
        yield line


def _analogy_questions(path):
    for line in _lines(path):
        if not line.startswith(": ") and len(line.split()) == 4:
            yield line
