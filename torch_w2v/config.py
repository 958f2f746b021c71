"""The one source of training settings: gensim's keyword names and defaults, plus torch_w2v's own.

``Word2Vec.__init__`` takes its defaults from :data:`DEFAULTS`; the engine reads a frozen
:class:`TrainConfig`. Every field either changes what training does or is rejected by :func:`validate`.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass

from .training.registry import ENGINES, PIPELINE_NAMES

MAX_WORDS_IN_BATCH = 10000  # gensim's batch_words default and its per-sentence cut (not applied here)
MAX_EXP = 6.0               # gensim / word2vec.c skip a pair whose |score| reaches this (every step reads it)


@dataclass(frozen=True)
class TrainConfig:
    # --- gensim's Word2Vec keywords, same names and defaults -------------------------------------------
    vector_size: int = 100          # embedding dimension; time and memory grow linearly with it
    alpha: float = 0.025            # learning rate at the start of training
    window: int = 5                 # max distance centre<->context; each centre draws a window in [1, window]
    min_count: int = 5              # words rarer than this are dropped from the vocabulary
    max_vocab_size: int | None = None  # prune rare words while scanning when the raw vocabulary grows past
    #                                 this (None or 0, as in gensim: no pruning)
    sample: float = 1e-3            # downsampling threshold of frequent words (0 = off; >= 1 = a raw count)
    seed: int | None = 1            # seeds the initial vectors and every random draw of training; None (as
    #                                 in gensim) = a seed drawn from the OS once per model, kept in its files
    workers: int = 3                # CPU threads for torch ops (gensim: worker threads)
    min_alpha: float = 0.0001       # learning rate at the end, reached linearly
    sg: int = 0                     # 1 = skip-gram, 0 = CBOW
    hs: int = 0                     # 1 = hierarchical softmax output layer
    negative: int = 5               # noise words per positive example (0 = no negative sampling)
    ns_exponent: float = 0.75       # noise distribution is count ** ns_exponent
    cbow_mean: int = 1              # CBOW input: 1 = mean of context vectors, 0 = their sum
    epochs: int = 5                 # passes over the corpus
    null_word: int = 0              # 1 = add a '\0' padding word to the vocabulary (as gensim does)
    sorted_vocab: int = 1           # 1 = sort the vocabulary by descending count
    batch_words: int = MAX_WORDS_IN_BATCH  # gensim's job size; here it caps the CPU threads at one per
    #                                        batch_words words of the corpus (a tiny corpus trains on one
    #                                        thread, reproducibly, as in gensim; 0 acts as 1)
    compute_loss: bool = False      # accumulate the training loss (costs a few extra ops per step)
    max_final_vocab: int | None = None  # cap on the vocabulary size, by raising the effective min_count
    shrink_windows: bool = True     # draw a reduced window per centre (False: always the full window)
    # --- torch_w2v's own ---------------------------------------------------------------------------
    device: str | None = None       # "cpu", "cuda", "cuda:1", ...; None = CUDA when available, else CPU
    batch_size: int | None = None   # centre words per SGD step of batched pipelines; None = 16384 (fused
    #                                 CPU step, CUDA) or 2048 (torch ops on CPU), fewer for small corpora
    #                                 (>= 128 steps per epoch). Larger is faster; quality holds because a
    #                                 step's centres are spread across the corpus. The fused step's default
    #                                 token pipeline has no batches (each centre is a step, as in gensim):
    #                                 giving batch_size makes it train host batches of that size
    chunk_words: int | None = None  # corpus tokens between two progress/checkpoint points; bounds the
    #                                 pipeline's working memory. None = the pipeline's default
    #                                 (training/pipelines.py: 2**21 tokens, 2**16 host, 2**20 device)
    spill_words: int = 1 << 24      # the encoded corpus (2 bytes a token under 65,536 words, else 4) stays
    #                                 in memory up to this many tokens, beyond that in a memory-mapped file
    #                                 whose pages training drops chunk by chunk (EncodedCorpus.release)
    engine: str = "auto"            # the step (training/registry.py): "fused" (C on the CPU, built at
    #                                 install), "triton" (CUDA, or the CPU under TRITON_INTERPRET=1),
    #                                 "torch" (any device); "auto": fused on CPU, triton on CUDA, else torch
    pipeline: str = "auto"          # where batches come from (training/registry.py): "tokens" (the fused
    #                                 step reads the sentences and draws downsampling, windows and noise
    #                                 itself, in text order), "host" (a CPU producer thread, strided batches
    #                                 of batch_size centres) or "device" (made on the training device, no
    #                                 per-step host work); "auto": tokens for the fused step (host when
    #                                 batch_size is given), device on CUDA and for triton
    sync_words: int = 1 << 17       # torch.distributed: words each rank trains between merges of the ranks'
    #                                 weights (fewer = closer to single-process SGD, more communication)
    update_cap: int | None = 64     # steps that sum a batch's updates (torch, triton): a row updated by
    #                                 more pairs than this in one step gets its summed update scaled down
    #                                 to this many pairs' worth; keeps large steps stable on small
    #                                 vocabularies (None = off; no effect on rows below the cap)


DEFAULTS = TrainConfig()
FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig))


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}. Pass {name}={max(minimum, 1)} or more.")
    return value


def _check_real(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} of type {type(value).__name__}.")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}: training cannot use it. "
                         f"Pass {name}={getattr(DEFAULTS, name)!r} (the default) or another finite value.")
    return value


def check_seed(seed):
    """gensim's rule (``numpy.random.RandomState(seed)``): None or an integer in [0, 2**32 - 1]."""
    if seed is None:
        return seed
    if not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer or None, got {seed!r} of type {type(seed).__name__}.")
    if not 0 <= seed <= 2**32 - 1:
        raise ValueError(f"Seed must be between 0 and 2**32 - 1, got seed={seed}.")
    return seed


def gensim_int(name, value):
    """``int(value)``, as gensim's constructor stores ``sg``, ``hs``, ``negative``, ``cbow_mean`` and
    ``window`` (so ``window=2.0`` is 2), with an error naming ``name`` where ``int()`` fails."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}.") from None


def validate(cfg: TrainConfig) -> TrainConfig:
    """Raise a clear ``ValueError``/``TypeError`` for a setting that cannot work; return ``cfg``.

    Values gensim accepts are accepted with gensim's meaning (``sg=2`` is skip-gram, ``max_vocab_size=0``
    no pruning, ``seed=None`` a random seed); refused are only settings that cannot train (``alpha=inf``,
    NaN, ``workers=0``, ``alpha <= 0``: gensim runs those and trains nothing or garbage).
    """
    _check_int("vector_size", cfg.vector_size, 1)
    _check_int("window", cfg.window, 1)
    _check_real("min_count", cfg.min_count)
    if cfg.min_count < 0:
        raise ValueError(f"min_count must be >= 0, got {cfg.min_count}.")
    _check_int("epochs", cfg.epochs, 1)
    _check_int("negative", cfg.negative, 0)
    _check_int("workers", cfg.workers, 1)
    _check_int("batch_words", cfg.batch_words, 0)
    check_seed(cfg.seed)
    if cfg.chunk_words is not None:
        _check_int("chunk_words", cfg.chunk_words, 1)
    _check_int("spill_words", cfg.spill_words, 1)
    if cfg.engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(map(repr, ENGINES))}, got {cfg.engine!r}.")
    if cfg.pipeline not in PIPELINE_NAMES:
        raise ValueError(f"pipeline must be one of {', '.join(map(repr, PIPELINE_NAMES))}, got {cfg.pipeline!r}.")
    _check_int("sync_words", cfg.sync_words, 1)
    if cfg.update_cap is not None:
        _check_int("update_cap", cfg.update_cap, 1)
    if cfg.batch_size is not None:
        _check_int("batch_size", cfg.batch_size, 1)
    if cfg.max_vocab_size is not None:
        _check_int("max_vocab_size", cfg.max_vocab_size, 0)
    if cfg.max_final_vocab is not None:
        _check_int("max_final_vocab", cfg.max_final_vocab, 1)
    for name in ("alpha", "min_alpha", "sample", "ns_exponent"):
        _check_real(name, getattr(cfg, name))
    if cfg.alpha <= 0:
        raise ValueError(f"alpha must be > 0, got {cfg.alpha}. The usual value is 0.025 (skip-gram) or 0.05.")
    if cfg.min_alpha < 0:
        raise ValueError(f"min_alpha must be >= 0, got {cfg.min_alpha}.")
    if cfg.sample < 0:
        raise ValueError(f"sample must be >= 0, got {cfg.sample}. Use 0 to turn downsampling off.")
    for name in ("sg", "hs", "cbow_mean"):  # gensim stores int(value) and tests its truth: 2 means on
        if not isinstance(getattr(cfg, name), numbers.Integral):
            raise TypeError(f"{name} must be 0 or 1, got {getattr(cfg, name)!r}.")
    if not cfg.hs and not cfg.negative:
        raise ValueError(
            "You must set either 'hs' or 'negative' to be positive for proper training. "
            "When both 'hs=0' and 'negative=0', there will be no training. Pass negative=5 (the default).")
    return cfg


def replace(cfg: TrainConfig, **changes) -> TrainConfig:
    """A validated copy of ``cfg`` with ``changes`` applied."""
    return validate(dataclasses.replace(cfg, **changes))
