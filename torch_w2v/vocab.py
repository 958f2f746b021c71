"""Vocabulary: counting, pruning, trimming, sorting, downsampling, noise and Huffman tables.

Each rule reproduces gensim 4.4 (``gensim/models/word2vec.py`` and ``keyedvectors.py``) exactly, so that
the same corpus and settings give the same ``index_to_key``, counts, ``sample_int`` and ``cum_table``;
``tests/test_vocab.py`` compares against gensim itself. The vocabulary lives in a gensim
``KeyedVectors`` (``index_to_key``, ``key_to_index`` and the ``count`` / ``sample_int`` / ``code`` /
``point`` vecattrs), so ``model.wv`` is the real gensim object.
"""
from __future__ import annotations

import array
import heapq
import itertools
import logging
import operator
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
from gensim import utils as gensim_utils

from .corpus import RecordBlocks, RecordedCorpus, is_partial, tokens_of
from .sources import open_input

SENTENCE_END = "</s>"  # word2vec.c's end-of-sentence token: the first line of its vocabulary files
RECORD_BLOCK = 1 << 20  # raw ids per block of scan(record=...) (4 MB)

logger = logging.getLogger("torch_w2v")


@dataclass
class ScanResult:
    raw_vocab: dict                 # word -> count, in order of first appearance (pruned if max_vocab_size)
    total_words: int                # raw tokens seen, pruned words included
    corpus_count: int               # sentences seen
    min_reduce: int = 1             # the pruning threshold reached (1 = never pruned)
    recorded: RecordedCorpus | None = None  # the corpus as raw ids (scan(record=...)), None if not kept


@dataclass
class VocabReport:
    drop_unique: int = 0
    retain_total: int = 0
    downsample_unique: int = 0
    downsample_total: int = 0
    num_retained_words: int = 0
    messages: list = field(default_factory=list)

    def as_dict(self):
        return {"drop_unique": self.drop_unique, "retain_total": self.retain_total,
                "downsample_unique": self.downsample_unique, "downsample_total": self.downsample_total,
                "num_retained_words": self.num_retained_words}


def scan(sentences, max_vocab_size=None, trim_rule=None, progress_per=10000, record: int = 0,
         memory: int | None = None) -> ScanResult:
    """Count words of an iterable of token lists, pruning as gensim does when over ``max_vocab_size``.

    Pruning: whenever the raw vocabulary grows past ``max_vocab_size``, words with a count below
    ``min_reduce`` (subject to ``trim_rule``) are removed and ``min_reduce`` grows by one.

    ``record`` > 0 (and no ``max_vocab_size``): also keep the corpus as raw ids (each word's index in order
    of first appearance) while it holds at most ``record`` tokens, so that training can encode it without
    reading it again (:func:`torch_w2v.corpus.encode_recorded`), past ``memory`` ids in a temporary file. The
    words are then counted from those ids.
    """
    vocab = Counter()
    index = defaultdict(itertools.count().__next__) if record and not max_vocab_size else None
    kept = RecordBlocks(record, RECORD_BLOCK, memory) if index is not None else None
    # a sentence's raw ids and length go to these arrays, handed to `kept` a block at a time
    ids, lengths = array.array("i"), array.array("q")
    continuing = False
    total_words = 0
    min_reduce = 1
    sentence_no = -1
    pieces = 0  # items that continue into the next one (pieces of a long line): not sentences of their own
    for item_no, sentence in enumerate(sentences):
        sentence_no = item_no - pieces
        if is_partial(sentence):
            pieces += 1
        if item_no == 0 and isinstance(sentence, str):
            logger.warning(
                "Each 'sentences' item should be a list of words (usually unicode strings). "
                "First item here is instead plain %s.", type(sentence))
        if progress_per and sentence_no % progress_per == 0:
            logger.info("PROGRESS: at sentence #%i, processed %i words, keeping %i word types",
                        sentence_no, total_words, len(vocab) if index is None else len(index))
        if not isinstance(sentence, (list, tuple, str)):  # a str is counted by characters, as gensim does
            sentence = tokens_of(sentence, sentence_no)
        try:
            if index is not None:
                n = len(ids)
                ids.extend(map(index.__getitem__, sentence))  # a new word gets the next id
                n = len(ids) - n
            else:
                vocab.update(sentence)
                n = len(sentence)
            total_words += n
        except TypeError:
            raise TypeError(
                f"sentence #{sentence_no} of the corpus is {sentence!r} (type {type(sentence).__name__}), "
                f"not a list of string tokens. Pass an iterable of token lists, e.g. [['hello', 'world'], ...], "
                f"or a LineSentence-format file as corpus_file=...") from None
        if index is not None:
            if continuing:
                lengths[-1] += n
            else:
                lengths.append(n)
            continuing = is_partial(sentence)
            if (len(ids) >= RECORD_BLOCK and not continuing) or total_words > record:
                seen = kept.add(np.frombuffer(ids, dtype=np.int32), np.frombuffer(lengths, dtype=np.int64),
                                continuing, len(index))
                ids, lengths = array.array("i"), array.array("q")
                if seen is not None:  # too large to keep: count the ids so far, go on counting words
                    vocab = Counter(_counted(index, seen))
                    index = kept = None
        if max_vocab_size and len(vocab) > max_vocab_size:
            gensim_utils.prune_vocab(vocab, min_reduce, trim_rule=trim_rule)
            min_reduce += 1
    if index is None:
        return ScanResult(dict(vocab), total_words, sentence_no + 1, min_reduce)
    if len(lengths):
        kept.add(np.frombuffer(ids, dtype=np.int32), np.frombuffer(lengths, dtype=np.int64), False, len(index))
    keys = list(index)
    recorded = kept.finish(keys)
    counts = _counted(index, [raw for raw, _ in recorded.blocks])
    return ScanResult(counts, total_words, sentence_no + 1, min_reduce, recorded)


def _counted(index: defaultdict, blocks: list) -> dict:
    """``index`` (word -> raw id) turned in place into word -> count of the raw ids in ``blocks`` (arrays),
    in its order (no second dict of every distinct word)."""
    counts = np.zeros(len(index), dtype=np.int64)
    for block in blocks:
        counts += np.bincount(block, minlength=len(index))
    index.default_factory = None
    for word, count in zip(list(index), counts.tolist()):
        index[word] = count
    return index


PLAIN_KEYS = (str, int, float, bool, bytes, complex, type(None))  # what a model file stores (see persist.py)


def plain_key(word):
    """``word`` as the plain type a model file stores: a subclass of str (``numpy.str_``) as ``str``, a numpy or
    other integer as ``int``, numpy floats and bools as ``float``/``bool``, bytes subclasses as ``bytes``,
    tuples element by element. The plain key equals and hashes as ``word`` does, so lookups with the original
    tokens still find it. Any other key is returned as it is (a file cannot store it: see
    :func:`torch_w2v.persist.model_payload`)."""
    kind = type(word)
    if kind in PLAIN_KEYS:
        return word
    if isinstance(word, str):
        return str.__str__(word)  # an exact str, whatever the subclass's __str__ says
    if isinstance(word, (bool, np.bool_)):
        return bool(word)
    if isinstance(word, (int, np.integer)):
        return operator.index(word)
    if isinstance(word, (float, np.floating)):
        return float(word)
    if isinstance(word, (bytes, np.bytes_)):
        return bytes(word)
    if isinstance(word, (complex, np.complexfloating)):
        return complex(word)
    if isinstance(word, tuple):
        return tuple(plain_key(w) for w in word)
    return word


def is_plain_key(word) -> bool:
    """Whether ``word`` is of a type a model file stores exactly (:data:`PLAIN_KEYS`, or a tuple of them)."""
    kind = type(word)
    return kind in PLAIN_KEYS or (kind is tuple and all(is_plain_key(w) for w in word))


def effective_min_count(raw_vocab: dict, min_count: int, max_final_vocab: int | None) -> int:
    """``min_count`` raised so that at most ``max_final_vocab`` words survive (gensim's rule)."""
    if max_final_vocab is None:
        return min_count
    calc_min_count = 1
    if max_final_vocab < len(raw_vocab):
        ranked = sorted(raw_vocab.values(), reverse=True)
        calc_min_count = ranked[max_final_vocab] + 1
    return max(calc_min_count, min_count)


def keep(word, count, min_count, trim_rule=None) -> bool:
    """gensim's ``keep_vocab_item``: ``trim_rule`` may force keep/discard, else ``count >= min_count``."""
    return gensim_utils.keep_vocab_item(word, count, min_count, trim_rule)


def downsample_ints(counts: np.ndarray, sample: float, retain_total: int) -> tuple[np.ndarray, float, int]:
    """Per-word keep probability scaled to uint32, as gensim's ``sample_int``.

    ``p = (sqrt(c / t) + 1) * t / c`` capped at 1, with ``t = sample * retain_total`` (``sample < 1``),
    ``t = int(sample * (3 + sqrt 5) / 2)`` (``sample >= 1``) or no downsampling (``sample == 0``).
    Returns ``(sample_int, downsample_total, downsample_unique)``; ``downsample_total`` is summed in gensim's
    order and types (exact ints until the first downsampled word, then sequential float64 additions), so
    ``int(downsample_total)`` is gensim's to the unit even for web-scale counts.
    """
    counts_int = np.asarray(counts, dtype=np.int64)
    counts_f = counts_int.astype(np.float64)
    if not sample:
        threshold = int(retain_total)
    elif sample < 1.0:
        threshold = sample * retain_total
    else:
        threshold = int(sample * (3 + np.sqrt(5)) / 2)
    big = 2**53  # past this an int is not a float64: gensim's int / int true division is then not ours
    if isinstance(threshold, int) and len(counts_int) and (threshold >= big or counts_int.max() >= big):
        prob = np.array([(np.sqrt(c / threshold) + 1) * (threshold / c) for c in counts_int.tolist()],
                        dtype=np.float64)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            prob = (np.sqrt(counts_f / threshold) + 1) * (threshold / counts_f)
    below = prob < 1.0
    prob = np.where(below, prob, 1.0)
    first = int(np.argmax(below)) if below.any() else len(counts_int)
    downsample_total = sum(counts_int[:first].tolist())  # a Python int, as gensim's until its first float term
    if first < len(counts_int):
        terms = np.concatenate([[float(downsample_total)], np.where(below, prob * counts_f, counts_f)[first:]])
        downsample_total = float(np.cumsum(terms)[-1])  # sequential, as gensim's loop (np.sum is pairwise)
    return (prob * (2**32 - 1)).astype(np.uint32), downsample_total, int(below.sum())


def sort_permutation(counts: np.ndarray) -> np.ndarray:
    """gensim's descending-count order: ties end up in *reverse* order of first appearance."""
    counts = np.asarray(counts, dtype=np.int64)
    indices = np.arange(len(counts))
    return np.lexsort((-indices, -counts))


def make_cum_table(counts: np.ndarray, ns_exponent: float, domain: int = 2**31 - 1) -> np.ndarray:
    """Cumulative ``count ** ns_exponent`` scaled to ``domain`` (uint32), bit-identical to gensim's."""
    powered = np.array([int(c) ** float(ns_exponent) for c in counts], dtype=np.float64)
    cumulative = np.cumsum(powered)  # sequential float64 sums, as gensim's Python loop
    if len(cumulative) == 0:
        return np.zeros(0, dtype=np.uint32)
    total = cumulative[-1]
    return np.array([round(x) for x in (cumulative / total * domain)], dtype=np.uint32)


class _Node(tuple):
    """A Huffman heap entry ``(count, index, left, right)`` ordered by count alone, as gensim's Heapitem
    (so ties fall where heapq's sift puts them, which the codes depend on)."""
    __slots__ = ()

    def __lt__(self, other):
        return self[0] < other[0]


def huffman(counts: np.ndarray) -> tuple[list, list]:
    """Huffman codes (uint8 arrays) and inner-node points (uint32 arrays) per word, as gensim builds them."""
    n = len(counts)
    heap = [_Node((int(c), i, None, None)) for i, c in enumerate(counts)]
    heapq.heapify(heap)
    for i in range(n - 1):
        min1, min2 = heapq.heappop(heap), heapq.heappop(heap)
        heapq.heappush(heap, _Node((min1[0] + min2[0], i + n, min1, min2)))
    codes = [None] * n
    points = [None] * n
    if not heap:
        return codes, points
    stack = [(heap[0], np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.uint32))]
    while stack:
        node, code, point = stack.pop()
        if node[1] < n:
            codes[node[1]], points[node[1]] = code, point
        else:
            point = np.append(point, np.uint32(node[1] - n)).astype(np.uint32)
            stack.append((node[2], np.append(code, np.uint8(0)).astype(np.uint8), point))
            stack.append((node[3], np.append(code, np.uint8(1)).astype(np.uint8), point))
    return codes, points


def prepare(wv, raw_vocab: dict, *, min_count: int, sample: float, max_final_vocab=None, trim_rule=None,
            null_word=0, sorted_vocab=1, update=False, dry_run=False) -> tuple[VocabReport, int]:
    """Apply ``min_count``/``trim_rule``/``max_final_vocab``, counts and ``sample_int`` to ``wv``.

    ``update=True`` adds new words after the existing ones and adds counts, as gensim's online update.
    Returns the report and the effective min_count. ``wv`` is untouched when ``dry_run``.
    """
    report = VocabReport()
    min_count_eff = effective_min_count(raw_vocab, min_count, max_final_vocab)
    retain_words = []
    if not update:
        keys = []
        for word, v in raw_vocab.items():
            if keep(word, v, min_count_eff, trim_rule):
                keys.append(word)
                report.retain_total += v
            else:
                report.drop_unique += 1
        retain_words = keys
        if not dry_run:
            # fresh copies of the kept words: the scan's strings of every distinct word then die together and
            # Python can return their memory (kept and dropped words share its pages otherwise: ~13 MB
            # resident through training on the 5M-word benchmark corpus)
            # other keys become plain str/int/... (plain_key), which a model file can store
            wv.index_to_key = [w.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")
                               if type(w) is str else plain_key(w) for w in keys]
            wv.key_to_index = {w: i for i, w in enumerate(wv.index_to_key)}
            if keys:  # gensim creates the vecattrs with the first word's: an empty vocabulary has none
                wv.allocate_vecattrs(attrs=["count"], types=[int])
                wv.expandos["count"][:] = np.array([raw_vocab[w] for w in keys], dtype=np.int64)
    else:
        new_words, pre_exist = [], []
        for word, v in raw_vocab.items():
            if keep(word, v, min_count_eff, trim_rule):
                (pre_exist if wv.has_index_for(word) else new_words).append(word)
                report.retain_total += v
            else:
                report.drop_unique += 1
        retain_words = new_words + pre_exist
        if not dry_run:
            for word in map(plain_key, new_words):
                wv.key_to_index[word] = len(wv.index_to_key)
                wv.index_to_key.append(word)
            wv.allocate_vecattrs(attrs=["count"], types=[int])
            added = np.array([raw_vocab.get(w, 0) for w in wv.index_to_key], dtype=np.int64)
            wv.expandos["count"][:] = wv.expandos["count"] + added
    report.num_retained_words = len(retain_words)

    retained_counts = np.array([raw_vocab[w] for w in retain_words], dtype=np.int64)
    sample_int, report.downsample_total, report.downsample_unique = downsample_ints(
        retained_counts, sample, report.retain_total)
    if not dry_run:
        if retain_words:
            wv.allocate_vecattrs(attrs=["sample_int"], types=[np.uint32])
            rows = np.array([wv.key_to_index[w] for w in retain_words], dtype=np.int64)
            wv.expandos["sample_int"][rows] = sample_int
        if null_word:
            word = "\0"
            wv.key_to_index[word] = len(wv)
            wv.index_to_key.append(word)
            wv.set_vecattr(word, "count", 1)
        if sorted_vocab and not update:
            _sort(wv)
    report.downsample_total = int(report.downsample_total)
    return report, min_count_eff


def _sort(wv):
    """Reorder ``wv``'s keys and vecattrs into gensim's descending-count order (no vectors yet)."""
    if not len(wv):
        return
    order = sort_permutation(wv.expandos["count"])
    wv.index_to_key = [wv.index_to_key[i] for i in order]
    wv.allocate_vecattrs()
    for name in wv.expandos:
        wv.expandos[name] = wv.expandos[name][order]
    if len(wv.vectors) == len(order):  # a rebuild over a different vocabulary redraws them anyway
        wv.vectors = wv.vectors[order]
    wv.key_to_index = {w: i for i, w in enumerate(wv.index_to_key)}


def set_huffman(wv):
    """Store Huffman ``code`` and ``point`` vecattrs on ``wv`` (for hierarchical softmax)."""
    if not len(wv):
        return  # an empty vocabulary has no tree (gensim logs depth 0 and stores nothing either)
    codes, points = huffman(wv.expandos["count"])
    wv.allocate_vecattrs(attrs=["code", "point"], types=[object, object])
    for i in range(len(wv)):
        wv.expandos["code"][i] = codes[i]
        wv.expandos["point"][i] = points[i]
    logger.info("built huffman tree with maximum node depth %i", max((len(c) for c in codes), default=0))


def init_vectors(n_words: int, vector_size: int, seed: int, prior: np.ndarray | None = None) -> np.ndarray:
    """gensim 4.4's initial input vectors: ``default_rng(seed)`` uniform in [-1/d, 1/d); prior rows kept."""
    rng = np.random.default_rng(seed=seed)
    vectors = rng.random((n_words, vector_size), dtype=np.float32)  # (V, D) in [0, 1)
    vectors *= 2.0
    vectors -= 1.0
    vectors /= vector_size
    if prior is not None and len(prior):
        vectors[: prior.shape[0], : prior.shape[1]] = prior
    return vectors


# ------------------------------------------------------------------------- tables the training steps read
def alias_table(cum_table) -> tuple[np.ndarray, np.ndarray, int]:
    """Walker/Vose alias table with the exact noise distribution of gensim's ``cum_table``.

    Word ``j`` has weight ``w_j = cum[j] - cum[j-1]`` out of ``T = cum[-1]``. A draw is one integer
    ``r`` uniform in [0, V*T): ``i = r // T``, ``u = r % T``, noise = ``i`` if ``u < threshold[i]``
    else ``alias[i]``; in integers, so ``P(j) = w_j / T`` exactly. (gensim's bisection gives word 0
    one extra value of its 2**31 and the last word one fewer.) O(1) per draw, where a bisection of
    ``cum_table`` costs ~17 cache misses. Returns ``(threshold (V,) int64, alias (V,) int64, T)``.
    """
    cum = np.asarray(cum_table, dtype=np.int64)
    weights = np.diff(cum, prepend=0)
    V, T = len(weights), int(cum[-1])
    scaled = (weights * V).tolist()          # compare against T: below = "small"
    threshold = np.full(V, T, dtype=np.int64)
    alias = np.arange(V, dtype=np.int64)
    small = [i for i, p in enumerate(scaled) if p < T]
    large = [i for i, p in enumerate(scaled) if p >= T]
    while small and large:
        s, g = small.pop(), large.pop()
        threshold[s], alias[s] = scaled[s], g
        scaled[g] -= T - scaled[s]
        (small if scaled[g] < T else large).append(g)
    return threshold, alias, T


def huffman_table(codes, points) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """gensim's per-word ``code``/``point`` lists padded into ``(V, L)`` arrays.

    Returns ``points`` int64 (inner-node ids, 0-padded), ``labels`` float32 (``1 - code``, the hs
    targets) and ``valid`` float32 (1 where the path has a node).
    """
    lengths = np.array([len(c) for c in codes], dtype=np.int64)
    L = max(int(lengths.max()) if len(lengths) else 0, 1)
    pts = np.zeros((len(codes), L), dtype=np.int64)
    lab = np.zeros((len(codes), L), dtype=np.float32)
    for i, (c, p) in enumerate(zip(codes, points)):
        pts[i, : len(p)] = p
        lab[i, : len(c)] = 1.0 - np.asarray(c, dtype=np.float32)
    valid = (np.arange(L)[None, :] < lengths[:, None]).astype(np.float32)
    return pts, lab, valid
# ------------------------------------------------------------------------------- word2vec.c's files
def write_vocab(wv, path, sentences: int = 0) -> None:
    """Write the vocabulary as word2vec.c's ``-save-vocab`` does: ``word count`` per line.

    The first line is word2vec.c's end-of-sentence token, ``</s> <sentences>``: its ``-read-vocab`` takes
    the first line for that token, whatever it holds, so without it the most frequent word would end
    every sentence and never be trained. word2vec.c counts one ``</s>`` per newline of the corpus;
    ``sentences`` (the model's ``corpus_count``: non-empty lines) stands for it. The words follow in
    vocabulary order (descending count).
    """
    from .persist import atomic_write

    counts = wv.expandos["count"] if len(wv) else []
    with atomic_write(path, "wb", kind="vocab") as handle:
        handle.write(f"{SENTENCE_END} {int(sentences)}\n".encode("utf-8"))
        for word, count in zip(wv.index_to_key, counts):
            handle.write(f"{word} {int(count)}\n".encode("utf-8"))


def read_vocab(path) -> dict:
    """Read a word2vec.c vocabulary file (``word count`` per line) into ``{word: count}``, in file order.

    word2vec.c's end-of-sentence token ``</s>`` is skipped (torch_w2v's sentences have none).
    """
    freq = {}
    with open_input(path) as handle:
        for line_no, raw in enumerate(handle, 1):
            fields = raw.decode("utf-8", errors="replace").split()
            if not fields:
                continue
            try:
                if len(fields) != 2:
                    raise ValueError
                word, count = fields[0], int(fields[1])
                if count < 0:
                    raise ValueError
            except ValueError:
                shown = raw[:80].decode("utf-8", errors="replace").rstrip()
                raise ValueError(f"{os.fspath(path)}, line {line_no}: expected 'word count' (a word and a count "
                                 f">= 0), got {shown!r}. Pass a file written by -save-vocab.") from None
            if word != SENTENCE_END:
                freq[word] = freq.get(word, 0) + count
    if not freq:
        raise ValueError(f"{os.fspath(path)} holds no 'word count' lines; pass a file written by -save-vocab.")
    return freq
