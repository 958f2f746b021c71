"""``torch_w2v.Word2Vec``: gensim 4's Word2Vec API over the PyTorch engine.

The class keeps gensim's constructor, attributes and methods so that existing programs run unchanged;
the work is delegated: vocabulary rules to :mod:`torch_w2v.vocab`, corpus reading to
:mod:`torch_w2v.corpus`, training to :mod:`torch_w2v.training`, files to :mod:`torch_w2v.persist`.
``model.wv`` is a real ``gensim.models.KeyedVectors``.
"""
from __future__ import annotations

import itertools
import logging
import time
from collections import defaultdict

import numpy as np
import torch
from gensim import matutils
from gensim.models import KeyedVectors
from gensim.utils import call_on_class_only

from . import checkpoint as checkpoint_mod
from . import config as config_mod
from . import corpus as corpus_mod
from . import distributed, file_scan, gensim_files, hooks, persist, scoring
from . import vocab as vocab_mod
from .config import DEFAULTS as D
from .config import TrainConfig
from .export import to_gensim
from .memory import release_freed_memory
from .model import SkipGramNeg
from .training import trainer
from .training.engine import resolve_device, torch_threads
from .training.trainer import TrainRequest
from .training.weights import writeable

logger = logging.getLogger("torch_w2v")


class Word2Vec:
    """Train word2vec with PyTorch; a drop-in replacement for ``gensim.models.Word2Vec``.

    Takes gensim 4's keywords, in the same order and with the same defaults (see gensim's documentation
    for each; ``workers``, whose meaning differs, is described below), plus torch_w2v's keyword-only
    options.

    Parameters
    ----------
    workers : int, optional
        CPU threads that train (default 3): the fused step's threads, or torch's intra-op threads with
        ``engine="torch"``, set for the ``train()`` (and ``score()``) call and restored afterwards. Capped
        at the core count (``os.cpu_count()``) and, as in gensim, whose threads each take a job of
        ``batch_words`` words, at one thread per ``batch_words`` words of the corpus: a corpus smaller
        than ``batch_words`` trains on one thread, so the same ``seed`` gives the same vectors. With
        several threads the fused step is Hogwild, so runs differ slightly (as gensim's do); ``workers=1``
        is reproducible. On CUDA it sets only the threads of the CPU-side work.
    device : str, optional
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; default: CUDA when available, else CPU.
    batch_size : int, optional
        Centre words per SGD step of a batched pipeline (default 16384; 2048 for ``engine="torch"`` on
        CPU; fewer for small corpora, which get at least 128 steps per epoch). The fused engine's default
        token pipeline has no batches; giving ``batch_size`` makes it train host batches of that size.
    chunk_words : int, optional
        Corpus tokens between two progress and checkpoint points (default: the pipeline's, 2**21 on the
        token pipeline, 2**16 on the host pipeline, 2**20 on the device pipeline); bounds the pipeline's
        working memory.
    engine : {"auto", "fused", "triton", "torch"}, optional
        ``"fused"``: a C step per centre on the CPU, built at install (fastest on CPU);
        ``"triton"``: a Triton kernel per step (CUDA; on the CPU only under ``TRITON_INTERPRET=1``);
        ``"torch"``: batched torch ops on any device; ``"auto"`` (default): fused on CPU, triton on
        CUDA, torch where those cannot run. See :mod:`torch_w2v.training.steps`.
    pipeline : {"auto", "tokens", "host", "device"}, optional
        Where batches come from: ``"tokens"`` (the encoded sentences as they are; the fused engine's
        default), ``"host"`` (strided batches made by a CPU thread) or ``"device"`` (the corpus uploaded to
        the training device, no per-step host work; the default on CUDA and for triton).
        See :mod:`torch_w2v.training.pipelines`.
    spill_words : int, optional
        The corpus, encoded as 2-byte ids (under 65,536 words; else 4-byte) for training, stays in memory up
        to this many tokens (default 2**24) and goes to a memory-mapped temporary file beyond, whose pages
        training drops from memory chunk by chunk, so memory does not grow with the corpus (the file takes
        2 or 4 bytes a token of temporary disk space; a ``corpus_file`` scanned by ``build_vocab`` is kept
        there as raw ids too until training encodes it).
    sync_words : int, optional
        With torch.distributed: words each rank trains between merges of the ranks' weights
        (default 131072); see :mod:`torch_w2v.distributed`.
    update_cap : int or None, optional
        Most pair-updates one row takes at full strength in one step of a step that sums a batch's
        updates (default 64; the torch and triton engines); see :class:`~torch_w2v.config.TrainConfig`.
    progress : bool, optional
        Show a progress bar (tqdm) while training, besides the log lines.

    Examples
    --------
    >>> from torch_w2v import Word2Vec
    >>> sentences = [["cat", "say", "meow"], ["dog", "say", "woof"]]
    >>> model = Word2Vec(sentences, vector_size=10, min_count=1, sg=1, epochs=2, device="cpu")
    >>> model.wv["cat"].shape
    (10,)
    """

    def __init__(self, sentences=None, corpus_file=None, vector_size=D.vector_size, alpha=D.alpha,
                 window=D.window, min_count=D.min_count, max_vocab_size=D.max_vocab_size, sample=D.sample,
                 seed=D.seed, workers=D.workers, min_alpha=D.min_alpha, sg=D.sg, hs=D.hs, negative=D.negative,
                 ns_exponent=D.ns_exponent, cbow_mean=D.cbow_mean, hashfxn=hash, epochs=D.epochs,
                 null_word=D.null_word, trim_rule=None, sorted_vocab=D.sorted_vocab,
                 batch_words=D.batch_words, compute_loss=D.compute_loss, callbacks=(), comment=None,
                 max_final_vocab=D.max_final_vocab, shrink_windows=D.shrink_windows, *,
                 device=D.device, batch_size=D.batch_size, chunk_words=D.chunk_words, update_cap=D.update_cap,
                 engine=D.engine, pipeline=D.pipeline, sync_words=D.sync_words, spill_words=D.spill_words,
                 progress=False):
        gensim_int = config_mod.gensim_int  # gensim stores these as int(value): window=2.0 is 2, sg=True is 1
        self.vector_size = vector_size
        self.layer1_size = vector_size
        self.alpha, self.min_alpha = float(alpha), float(min_alpha)
        self.window, self.shrink_windows = gensim_int("window", window), bool(shrink_windows)
        self.min_count, self.max_vocab_size, self.max_final_vocab = min_count, max_vocab_size, max_final_vocab
        self.sample, self.seed, self.workers = sample, config_mod.check_seed(seed), workers
        self.sg, self.hs, self.negative = gensim_int("sg", sg), gensim_int("hs", hs), gensim_int("negative", negative)
        self.ns_exponent, self.cbow_mean = ns_exponent, gensim_int("cbow_mean", cbow_mean)
        self.hashfxn, self.epochs, self.null_word = hashfxn, epochs, null_word
        self.sorted_vocab, self.batch_words = sorted_vocab, batch_words
        self.compute_loss, self.comment = bool(compute_loss), comment
        self.device, self.batch_size, self.chunk_words = device, batch_size, chunk_words
        self.update_cap, self.engine, self.sync_words = update_cap, engine, sync_words
        self.spill_words, self.pipeline = spill_words, pipeline
        self.progress = progress
        self._config()  # validates every setting now, before any work
        if self.device is not None:
            resolve_device(self.device)

        self.running_training_loss = 0.0
        self.epoch_losses = []
        self.min_alpha_yet_reached = float(alpha)
        self.corpus_count = 0
        self.corpus_total_words = 0
        self.effective_min_count = min_count
        self.train_count = 0
        self.total_train_time = 0.0
        self.cum_table = None
        self.raw_vocab = None
        self._recorded = self._encoded = None  # a scanned corpus_file as raw ids / encoded (see take_encoded)
        self.syn1neg = None
        self.syn1 = None
        self.lifecycle_events = []
        self._drawn_seed = None  # the seed used for seed=None (see _seed_value)
        self.random = np.random.default_rng(seed)
        self.wv = KeyedVectors(vector_size)
        self.wv.vectors_lockf = np.ones(1, dtype=np.float32)  # 0.0 freezes a word's input vector
        self.load = call_on_class_only  # gensim: load() is a classmethod; calling it on an instance fails

        if sentences is not None or corpus_file is not None:
            self._check_corpus_sanity(sentences, corpus_file, passes=epochs + 1)
            self.build_vocab(sentences, corpus_file, trim_rule=trim_rule)
            self.train(sentences, corpus_file, total_examples=self.corpus_count,
                       total_words=self.corpus_total_words, epochs=self.epochs, start_alpha=self.alpha,
                       end_alpha=self.min_alpha, compute_loss=self.compute_loss, callbacks=callbacks)
        else:
            if trim_rule is not None:
                logger.warning(
                    "The rule, if given, is only used to prune vocabulary during build_vocab() "
                    "and is not stored as part of the model. Model initialized without sentences. "
                    "trim_rule provided, if any, will be ignored.")
            if callbacks:
                logger.warning(
                    "Callbacks are no longer retained by the model, so must be provided whenever "
                    "training is triggered, as in initialization with a corpus or calling `train()`. "
                    "The callbacks provided in this initialization without triggering train will "
                    "be ignored.")
        self.add_lifecycle_event("created", params=str(self))

    # ------------------------------------------------------------------------------------ settings
    def _config(self) -> TrainConfig:
        """The current settings as a validated, frozen :class:`TrainConfig`."""
        values = {name: getattr(self, name) for name in config_mod.FIELDS}
        return config_mod.validate(TrainConfig(**values))

    def _seed_value(self) -> int:
        """``seed``; for ``seed=None`` (gensim: a random seed) one drawn from the OS at first use and kept, in
        saved models and checkpoints too, so that a resumed or continued run goes on with the same draws."""
        if self.seed is not None:
            return int(self.seed)
        if self._drawn_seed is None:
            self._drawn_seed = int(np.random.SeedSequence().entropy % 2**32)
        return self._drawn_seed

    def add_lifecycle_event(self, event_name, log_level=logging.INFO, **event):
        """Record an event in ``lifecycle_events`` (kept in saved models) and log it, as gensim does."""
        event = dict(event, event=event_name)
        self.lifecycle_events.append(event)
        if log_level:
            logger.log(log_level, "%s lifecycle event %s", type(self).__name__, event)

    def __str__(self):
        return "%s<vocab=%s, vector_size=%s, alpha=%s>" % (
            type(self).__name__, len(self.wv.index_to_key), self.wv.vector_size, self.alpha)

    __repr__ = __str__

    # ----------------------------------------------------------------------------------- vocabulary
    def build_vocab(self, corpus_iterable=None, corpus_file=None, update=False, progress_per=10000,
                    keep_raw_vocab=False, trim_rule=None, **kwargs):
        """Scan the corpus and build the vocabulary and initial weights, exactly as gensim does.

        ``update=True`` adds the corpus's new words to an existing vocabulary, keeping trained rows.
        A sentence is any iterable of tokens (a list, a tuple, a document object, a numpy array), not a string.
        Keys are held as plain values: ``numpy.str_`` and other subclasses of str as ``str``, numpy integers as
        ``int`` (they equal and hash alike, so the original tokens still index ``wv``), as a model file needs.
        """
        self._check_corpus_sanity(corpus_iterable, corpus_file, passes=1)
        if distributed.rank() == 0:  # with torch.distributed, rank 0 builds and broadcasts (see distributed.py)
            total_words, corpus_count = self.scan_vocab(corpus_iterable, corpus_file, progress_per=progress_per,
                                                        trim_rule=trim_rule)
            self.corpus_count, self.corpus_total_words = corpus_count, total_words
            report = self.prepare_vocab(update=update, keep_raw_vocab=keep_raw_vocab, trim_rule=trim_rule,
                                        **kwargs)
            report["memory"] = self.estimate_memory(vocab_size=report["num_retained_words"])
            self._encoded = None
            if getattr(self, "_recorded", None) is not None:  # encode the scanned file once, now, before
                identity, recorded = self._recorded          # the weights: its word list dies first
                self._recorded = None
                encoded = corpus_mod.encode_recorded(recorded, self.wv.key_to_index, self.spill_words)
                self._encoded = (identity, len(self.wv), encoded)
            release_freed_memory()  # the scan's dict of every distinct word is gone: give its pages back
            self.prepare_weights(update=update)
        if distributed.is_active():
            distributed.broadcast_vocab(self, update=update)
        self.add_lifecycle_event("build_vocab", update=update, trim_rule=str(trim_rule))
        if not len(self.wv):
            logger.warning("the vocabulary is empty: none of the %i words of the corpus occurs min_count=%s "
                           "times; lower min_count or pass a larger corpus.", self.corpus_total_words,
                           self.min_count)

    def take_encoded(self, corpus_file):
        """The corpus build_vocab encoded while scanning ``corpus_file``, once: None if it was another corpus,
        the file changed since, or the vocabulary did (train() then encodes the corpus itself)."""
        kept, self._encoded = getattr(self, "_encoded", None), None
        if kept is None or corpus_file is None:
            return None
        identity, words, encoded = kept
        if identity != corpus_mod.file_identity(corpus_file) or words != len(self.wv):
            return None
        return encoded

    def scan_vocab(self, corpus_iterable=None, corpus_file=None, progress_per=10000, workers=None,
                   trim_rule=None):
        logger.info("collecting all words and their counts")
        if corpus_file is None:  # through gensim's hook, which a subclass may override
            self._recorded = None
            total_words, corpus_count = self._scan_vocab(corpus_iterable, progress_per, trim_rule)
        else:
            # a local corpus_file is kept as raw ids (past spill_words in a temporary file), so that train() on
            # the same file need not read it again
            identity = corpus_mod.file_identity(corpus_file) if not distributed.is_active() else None
            record = corpus_mod.RECORD_ALL if identity is not None else 0
            result = None
            if not self.max_vocab_size:  # pruning as it counts is the Python scan's
                result = file_scan.scan_file(corpus_file, progress_per, record,  # None: no library, not UTF-8
                                             memory=self.spill_words)
            if result is None:
                result = vocab_mod.scan(corpus_mod.sentences_of(None, corpus_file), self.max_vocab_size,
                                        trim_rule, progress_per, record, memory=self.spill_words)
            self.raw_vocab = result.raw_vocab
            self._recorded = (identity, result.recorded) if result.recorded is not None else None
            total_words, corpus_count = result.total_words, result.corpus_count
        logger.info("collected %i word types from a corpus of %i raw words and %i sentences",
                    len(self.raw_vocab), total_words, corpus_count)
        return total_words, corpus_count

    def _scan_vocab(self, sentences, progress_per, trim_rule):
        """Count the words of an iterable corpus into ``raw_vocab``; returns ``(total_words, corpus_count)``
        (gensim's hook: a subclass's override is called)."""
        result = vocab_mod.scan(sentences, self.max_vocab_size, trim_rule, progress_per)
        self.raw_vocab = result.raw_vocab
        return result.total_words, result.corpus_count

    def build_vocab_from_freq(self, word_freq, keep_raw_vocab=False, corpus_count=None, trim_rule=None,
                              update=False):
        """Build the vocabulary from a ``{word: count}`` dict instead of a corpus."""
        logger.info("Processing provided word frequencies")
        self.raw_vocab = dict(word_freq)
        logger.info("collected %i unique word types, with total frequency of %i",
                    len(self.raw_vocab), sum(self.raw_vocab.values()))
        self.corpus_count = corpus_count or 0
        report = self.prepare_vocab(keep_raw_vocab=keep_raw_vocab, trim_rule=trim_rule, update=update)
        report["memory"] = self.estimate_memory(vocab_size=report["num_retained_words"])
        self.prepare_weights(update=update)

    def prepare_vocab(self, update=False, keep_raw_vocab=False, trim_rule=None, min_count=None, sample=None,
                      dry_run=False):
        """Apply ``min_count``, ``trim_rule``, ``max_final_vocab``, ``sample`` and sorting to the raw counts."""
        min_count = min_count or self.min_count
        sample = sample or self.sample
        if not update and not dry_run:
            self.min_count, self.sample = min_count, sample
        if update and not len(self.wv):
            raise RuntimeError(
                "You cannot do an online vocabulary-update of a model which has no prior vocabulary. "
                "First build the vocabulary of your model with a corpus before doing an online update.")
        report, self.effective_min_count = vocab_mod.prepare(
            self.wv, self.raw_vocab, min_count=min_count, sample=sample, max_final_vocab=self.max_final_vocab,
            trim_rule=trim_rule, null_word=self.null_word, sorted_vocab=self.sorted_vocab, update=update,
            dry_run=dry_run)
        logger.info("effective_min_count=%i retains %i unique words (drops %i)",
                    self.effective_min_count, report.num_retained_words, report.drop_unique)
        logger.info("sample=%g downsamples %i most-common words", sample, report.downsample_unique)
        if not dry_run and not keep_raw_vocab:
            self.raw_vocab = defaultdict(int)
        if not dry_run:
            if self.hs:
                self.create_binary_tree()
            if self.negative:
                self.make_cum_table()
        return report.as_dict()

    def make_cum_table(self, domain=2**31 - 1):
        """The noise table: cumulative ``count ** ns_exponent`` scaled to ``domain`` (uint32)."""
        self.cum_table = vocab_mod.make_cum_table(self.wv.expandos.get("count", np.zeros(0, np.int64)),
                                                  self.ns_exponent, domain)

    def create_binary_tree(self):
        vocab_mod.set_huffman(self.wv)

    def estimate_memory(self, vocab_size=None, report=None):
        """Bytes needed for the vocabulary and weights of ``vocab_size`` words (gensim's estimate)."""
        vocab_size = vocab_size or len(self.wv)
        report = report or {}
        report["vocab"] = vocab_size * (700 if self.hs else 500)
        report["vectors"] = vocab_size * self.vector_size * 4
        if self.hs:
            report["syn1"] = vocab_size * self.layer1_size * 4
        if self.negative:
            report["syn1neg"] = vocab_size * self.layer1_size * 4
        report["total"] = sum(report.values())
        logger.info("estimated required memory for %i words and %i dimensions: %i bytes",
                    vocab_size, self.vector_size, report["total"])
        return report

    def prepare_weights(self, update=False):
        if not update:
            self.init_weights()
        else:
            self.update_weights()

    def init_weights(self):
        """Initial weights: input vectors drawn as gensim 4.4 draws them, output weights zero."""
        logger.info("resetting layer weights")
        self.wv.vectors = vocab_mod.init_vectors(len(self.wv), self.vector_size, self._seed_value())
        self.wv.norms = None
        self.wv.allocate_vecattrs()
        if self.hs:
            self.syn1 = np.zeros((len(self.wv), self.layer1_size), dtype=np.float32)
        if self.negative:
            self.syn1neg = np.zeros((len(self.wv), self.layer1_size), dtype=np.float32)

    def update_weights(self):
        """Grow the weights after a vocabulary update: old rows kept, new rows drawn fresh."""
        logger.info("updating layer weights")
        if not len(self.wv.vectors):
            raise RuntimeError(
                "You cannot do an online vocabulary-update of a model which has no prior vocabulary. "
                "First build the vocabulary of your model with a corpus before doing an online update.")
        old = len(self.wv.vectors)
        self.wv.vectors = vocab_mod.init_vectors(len(self.wv), self.vector_size, self._seed_value(),
                                                 prior=self.wv.vectors)
        self.wv.norms = None
        self.wv.allocate_vecattrs()
        gained = len(self.wv.vectors) - old
        if self.hs:
            self.syn1 = np.vstack([self.syn1, np.zeros((gained, self.layer1_size), dtype=np.float32)])
        if self.negative:
            self.syn1neg = np.vstack([self.syn1neg, np.zeros((gained, self.layer1_size), dtype=np.float32)])

    # ------------------------------------------------------------------------------------- training
    def _check_training_sanity(self, epochs=None, total_examples=None, total_words=None):
        if not self.hs and not self.negative:
            raise ValueError(
                "You must set either 'hs' or 'negative' to be positive for proper training. "
                "When both 'hs=0' and 'negative=0', there will be no training.")
        if self.hs and self.negative:
            logger.warning(
                "Both hierarchical softmax and negative sampling are activated. This is probably a mistake. "
                "You should set either 'hs=0' or 'negative=0' to disable one of them. ")
        if self.alpha > self.min_alpha_yet_reached:  # (resume() goes on mid-schedule and skips these checks)
            logger.warning("Effective 'alpha' higher than previous training cycles")
        if not self.wv.key_to_index:
            raise RuntimeError(
                "you must first build vocabulary before training the model: the vocabulary is empty. Call "
                "build_vocab(corpus) first; if you did, no word reached min_count=%s, so lower min_count or "
                "pass a larger corpus." % self.min_count)
        if not len(self.wv.vectors):
            raise RuntimeError("you must initialize vectors before training the model")
        if total_words is None and total_examples is None:
            raise ValueError(
                "You must specify either total_examples or total_words, for proper learning-rate "
                "and progress calculations. If you've just built the vocabulary using the same corpus, using "
                "the count cached in the model is sufficient: total_examples=model.corpus_count.")
        if epochs is None or epochs <= 0:
            raise ValueError(f"You must specify an explicit epochs count (got epochs={epochs!r}). "
                             f"The usual value is epochs=model.epochs.")

    def train(self, corpus_iterable=None, corpus_file=None, total_examples=None, total_words=None, epochs=None,
              start_alpha=None, end_alpha=None, word_count=0, queue_factor=2, report_delay=1.0,
              compute_loss=False, callbacks=(), *, checkpoint=None, checkpoint_every=600.0):
        """Train the weights on a corpus; returns ``(effective_words, raw_words)`` summed over epochs.

        As in gensim, ``epochs`` and one of ``total_examples`` (sentences) or ``total_words`` (raw words)
        are required; the learning rate falls linearly from ``start_alpha`` (default ``alpha``) to
        ``end_alpha`` (default ``min_alpha``) over all epochs of this call. ``queue_factor`` sets how many
        chunks of batches are prepared ahead; ``report_delay`` is the seconds between progress log lines.

        ``checkpoint``: a path where the full training state is saved every ``checkpoint_every`` seconds
        (0 = after every chunk), at each epoch end and on SIGINT/SIGTERM (then training stops with
        :class:`~torch_w2v.checkpoint.TrainingInterrupted`); continue with :meth:`resume`.
        """
        self.alpha = start_alpha or self.alpha
        self.min_alpha = end_alpha or self.min_alpha
        self.epochs = epochs
        self._check_training_sanity(epochs=epochs, total_examples=total_examples, total_words=total_words)
        self._check_corpus_sanity(corpus_iterable, corpus_file, passes=epochs)
        hooks.check(type(self), corpus_file)
        if word_count:
            raise NotImplementedError(f"word_count={word_count!r} is not supported (gensim 4 ignores it too); "
                                      f"leave it at 0 and pass start_alpha/end_alpha to shape the schedule.")
        if int(queue_factor) < 1:
            raise ValueError(f"queue_factor must be >= 1, got {queue_factor!r}.")
        self.compute_loss = bool(compute_loss)
        request = TrainRequest(corpus_iterable, corpus_file, total_examples, total_words, epochs, self.alpha,
                               self.min_alpha, int(queue_factor), report_delay, bool(compute_loss),
                               tuple(callbacks), checkpoint, checkpoint_every)
        return self._train(request)

    def _train(self, request: TrainRequest, resume=None):
        """Run ``request`` (from :meth:`train` or :meth:`resume`) through the trainer, with gensim's bookkeeping."""
        if resume is None:
            self.running_training_loss = 0.0
            self.epoch_losses = []
        self.add_lifecycle_event(
            "train", msg=(f"training model with {self.workers} workers on {len(self.wv)} vocabulary and "
                          f"{self.layer1_size} features, using sg={self.sg} hs={self.hs} sample={self.sample} "
                          f"negative={self.negative} window={self.window} shrink_windows={self.shrink_windows}"))
        start = time.perf_counter()
        report = {}
        if request.corpus_iterable is not None and hooks.overrides(type(self), "_do_train_job"):
            trained, raw = hooks.train_jobs(self, request, trainer.run, report)  # each job through the override
        else:
            trained, raw = trainer.run(self, request, resume, report)
        elapsed = time.perf_counter() - start
        self.total_train_time += elapsed
        self.add_lifecycle_event("train", msg=(
            f"training on {raw} raw words ({trained} effective words) took {elapsed:.1f}s, "
            f"{trained / max(elapsed, 1e-9):.0f} effective words/s"))
        self.train_count += 1
        self._clear_post_train()
        if not trained:
            self._warn_nothing_trained(raw, report.get("in_vocabulary", 0), request)
        for callback in request.callbacks:
            callback.on_train_end(self)
        return trained, raw

    def _warn_nothing_trained(self, raw, in_vocabulary, request):
        """Log why a ``train()`` call trained no word (gensim is silent; nobody means it)."""
        if not raw:
            logger.warning(
                "train() trained no word: the corpus yielded no tokens (0 raw words over %i epochs). A one-shot "
                "iterator (a generator, iter(...), map(...), an open file) already used up, e.g. by build_vocab(), "
                "yields nothing; pass a list, or a class whose __iter__ reads the data anew, e.g. "
                "torch_w2v.LineSentence(path).", request.epochs)
        elif not in_vocabulary:
            logger.warning(
                "train() trained no word: none of the %i raw words (over %i epochs) is in the vocabulary of %i "
                "words (e.g. %s), so every token was dropped. Train on the corpus the vocabulary was built from, "
                "grow the vocabulary with build_vocab(corpus, update=True), or check that the tokens have the "
                "vocabulary's type and spelling.", raw, request.epochs, len(self.wv), self.wv.index_to_key[:3])
        else:
            logger.warning(
                "train() trained no word: downsampling (sample=%g) dropped all %i in-vocabulary tokens of the %i "
                "raw words (over %i epochs), as it does on a corpus this small, whose every word counts as "
                "frequent. Pass sample=0 to train on a small corpus.", self.sample, in_vocabulary, raw,
                request.epochs)

    # ------------------------------------------------------------------------ gensim's overridable hooks
    # What train() and build_vocab() call through self, so that a subclass's override takes effect; see
    # torch_w2v.hooks and docs/engine.md ("Subclasses of Word2Vec") for the others.
    def _check_corpus_sanity(self, corpus_iterable=None, corpus_file=None, passes=1):
        """Raise ``TypeError`` for a corpus that cannot be trained on (gensim's hook; see :func:`corpus.check`)."""
        corpus_mod.check(corpus_iterable, corpus_file, passes=passes)

    def _clear_post_train(self):
        """Clear what training made stale: the cached vector norms (gensim's hook)."""
        self.wv.norms = None

    def _do_train_job(self, sentences, alpha, inits):
        """gensim's per-job hook, called by ``train()`` only for a subclass that overrides it: the sentences the
        override passes here are what that epoch trains (see :mod:`torch_w2v.hooks`). Returns gensim's
        ``(effective_words, raw_words)`` of the job."""
        collector = getattr(self, "_job_collector", None)
        if collector is None:
            raise RuntimeError(
                "Word2Vec._do_train_job trains nothing by itself in torch_w2v: train() calls it, on every job of "
                "an iterable corpus, when a subclass overrides it, and then trains what it is given. Call "
                "train(sentences, total_examples=..., epochs=...) instead.")
        return collector.take(sentences)

    def _get_thread_working_mem(self):
        """gensim's per-thread scratch ``(work, neu1)``, handed to an overridden ``_do_train_job`` as ``inits``."""
        return hooks.working_memory(self.layer1_size)

    def _raw_word_count(self, job):
        """Raw words of a job of sentences (gensim's hook; cuts the jobs an overridden _do_train_job gets)."""
        return sum(len(sentence) for sentence in job)

    @classmethod
    def resume(cls, checkpoint, corpus_iterable=None, corpus_file=None, callbacks=(), checkpoint_every=600.0):
        """Finish the training that wrote ``checkpoint``, on the same corpus; returns the model.

        The remaining schedule is the interrupted ``train()`` call's: same epochs, learning rates and
        random draws, so on CPU with ``workers=1`` (or ``engine='torch'``) the vectors equal those of an
        uninterrupted run. Further checkpoints go to the same file.
        """
        payload, state = checkpoint_mod.read(checkpoint)
        model = persist.model_from_payload(cls, payload, checkpoint)
        args = dict(state.train_args)
        model.alpha, model.min_alpha, model.epochs = args["start_alpha"], args["end_alpha"], args["epochs"]
        model._check_corpus_sanity(corpus_iterable, corpus_file, passes=model.epochs)
        hooks.check(cls, corpus_file)
        model.compute_loss = bool(args["compute_loss"])
        model._train(TrainRequest(corpus_iterable, corpus_file, callbacks=tuple(callbacks), checkpoint=checkpoint,
                                  checkpoint_every=checkpoint_every, **args), resume=state)
        return model

    def get_latest_training_loss(self):
        """Loss summed over all epochs of the latest ``train()`` call (float64; needs ``compute_loss=True``)."""
        return self.running_training_loss

    # -------------------------------------------------------------------------------- using the model
    def score(self, sentences, total_sentences=int(1e6), chunksize=100, queue_factor=2, report_delay=1):
        """Log-probability of each sentence under the model's hierarchical softmax (gensim's ``score``).

        Needs ``hs=1`` (as in gensim; ``negative`` may be set too). Skip-gram models sum
        ``log P(word | context word)`` over every pair in the full window, CBOW models
        ``log P(word | context mean or sum)`` over every word; see :mod:`torch_w2v.scoring`. The model is
        not changed. Scores are comparable between sentences of one model, not between models.

        Parameters
        ----------
        sentences : iterable of list of str
            Token lists; out-of-vocabulary tokens are dropped (a sentence of them scores 0.0).
        total_sentences : int, optional
            Score at most this many sentences (default 1,000,000); a warning says when more were given.
        chunksize : int, optional
            Sentences read and scored together (default 100); the result does not depend on it.
        queue_factor : int, optional
            Accepted for gensim compatibility; scoring runs in this thread (no job queue).
        report_delay : float, optional
            Seconds between progress log lines.

        Returns
        -------
        numpy.ndarray
            float32 ``(n,)``, one log-probability (<= 0) per sentence scored, in input order.

        Examples
        --------
        >>> model = Word2Vec([["a", "b", "c"]] * 50, min_count=1, hs=1, negative=0, device="cpu")
        >>> model.score([["a", "b", "c"], ["c", "b", "a"]]).shape
        (2,)
        """
        logger.info("scoring sentences with %i workers on %i vocabulary and %i features, "
                    "using sg=%s hs=%s sample=%s and negative=%s",
                    self.workers, len(self.wv), self.layer1_size, self.sg, self.hs, self.sample, self.negative)
        if not self.wv.key_to_index:
            raise RuntimeError("you must first build vocabulary before scoring new data")
        if not self.hs:
            raise RuntimeError(
                "score() is only implemented for the hierarchical softmax scheme (as in gensim), and this model "
                "has hs=0; train one with hs=1 (negative may stay > 0) to score sentences.")
        if self.syn1 is None or len(self.syn1) != len(self.wv):
            raise RuntimeError(f"the model has no hierarchical-softmax weights (syn1) for its {len(self.wv)} words; "
                               f"call build_vocab() and train() first.")
        if isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
            raise ValueError(f"chunksize must be a positive int, got {chunksize!r}.")
        if "code" not in self.wv.expandos:
            self.create_binary_tree()
        points, labels, valid = (torch.from_numpy(x) for x in
                                 vocab_mod.huffman_table(self.wv.expandos["code"], self.wv.expandos["point"]))
        start = next_report = time.perf_counter()
        scores, count, total_sentences = [], 0, int(total_sentences)
        iterator = iter(sentences)
        with torch_threads(self.workers), torch.no_grad():
            while count < total_sentences:
                batch = list(itertools.islice(iterator, min(chunksize, total_sentences - count)))
                if not batch:
                    break
                if any(isinstance(sentence, str) for sentence in batch):
                    # gensim scores a str as the sequence of its characters; so here, with its warning
                    logger.warning("Each 'sentences' item should be a list of words (usually unicode strings). "
                                   "First item here is instead plain %s.", type(batch[0]))
                    batch = [list(sentence) if isinstance(sentence, str) else sentence for sentence in batch]
                encoded = corpus_mod.encode(batch, self.wv.key_to_index)
                scores.append(scoring.score_sentences(
                    encoded.ids, encoded.bounds, self.wv.vectors, self.syn1, points, labels, valid,
                    sg=bool(self.sg), window=self.window, cbow_mean=bool(self.cbow_mean)))
                count += len(batch)
                now = time.perf_counter()
                if now >= next_report + report_delay:
                    logger.info("PROGRESS: scored %i sentences, %.0f sentences/s", count, count / (now - start))
                    next_report = now
            if count >= total_sentences and next(iterator, None) is not None:
                logger.warning("terminating after %i sentences (set higher total_sentences if you want more).",
                               total_sentences)
        elapsed = time.perf_counter() - start
        self.wv.norms = None
        logger.info("scoring %i sentences took %.1fs, %.0f sentences/s", count, elapsed, count / max(elapsed, 1e-9))
        return np.concatenate(scores) if scores else np.zeros(0, dtype=np.float32)

    def predict_output_word(self, context_words_list, topn=10):
        """The ``topn`` likeliest centre words given context words, by the negative-sampling weights.

        As gensim's: a CBOW-style pass (mean of the context vectors if ``cbow_mean``, else their sum, even
        for skip-gram models) and a softmax over all words of ``syn1neg``; a crude predictor, since training
        never normalises over the vocabulary.

        Parameters
        ----------
        context_words_list : list of (str or int)
            Context words, or their indices in ``wv``; unknown ones are ignored.
        topn : int, optional
            How many words to return (default 10).

        Returns
        -------
        list of (str, float) or None
            ``(word, probability)``, likeliest first; None (with a warning) if no context word is known.
        """
        if not self.negative:
            raise RuntimeError(
                "We have currently only implemented predict_output_word for the negative sampling scheme, "
                "so you need to have run word2vec with negative > 0 for this to work.")
        syn1neg = getattr(self, "syn1neg", None)
        if getattr(self.wv, "vectors", None) is None or syn1neg is None or len(syn1neg) != len(self.wv):
            raise RuntimeError("Parameters required for predicting the output words not found: the model "
                               "needs its negative-sampling weights (syn1neg) for every word of wv; build_vocab() "
                               "and train() it (a KeyedVectors loaded from a word2vec file has none).")
        word2_indices = [self.wv.get_index(w) for w in context_words_list if w in self.wv]
        if not word2_indices:
            logger.warning("All the input context words are out-of-vocabulary for the current model.")
            return None
        probs = scoring.predict_centre(self.wv.vectors, syn1neg, word2_indices, bool(self.cbow_mean))
        top = matutils.argsort(probs, topn=topn, reverse=True)
        return [(self.wv.index_to_key[i], probs[i]) for i in top]

    def reset_from(self, other_model):
        """Share ``other_model``'s vocabulary and noise table, and reset this model's weights (as gensim).

        Copied: the vocabulary (``index_to_key``, ``key_to_index`` and the per-word vecattrs, *shared*, not
        copied: neither model should grow its vocabulary afterwards), ``cum_table``, ``corpus_count`` and
        ``corpus_total_words``. The weights are drawn anew from this model's ``seed``.
        """
        self.wv = KeyedVectors(self.vector_size)
        self.wv.index_to_key = other_model.wv.index_to_key
        self.wv.key_to_index = other_model.wv.key_to_index
        self.wv.expandos = other_model.wv.expandos
        self.wv.vectors_lockf = np.ones(1, dtype=np.float32)
        self.cum_table = other_model.cum_table
        self.corpus_count = other_model.corpus_count
        self.corpus_total_words = other_model.corpus_total_words
        if self.negative and self.cum_table is None:
            self.make_cum_table()
        self.init_weights()

    # ------------------------------------------------------------------------------------- the model
    @property
    def module(self) -> SkipGramNeg:
        """The weights as a :class:`SkipGramNeg` whose tensors share memory with ``wv.vectors``/``syn1neg``."""
        counts = torch.as_tensor(self.wv.expandos["count"], dtype=torch.float64) if len(self.wv) else None
        noise = counts.pow(self.ns_exponent).float() if counts is not None else None
        if self.syn1neg is None:
            raise RuntimeError("the model has no negative-sampling output weights (syn1neg): it needs "
                               "negative > 0 and build_vocab() first.")
        return SkipGramNeg.from_weights(torch.from_numpy(writeable(self.wv, "vectors")),
                                        torch.from_numpy(writeable(self, "syn1neg")), noise_dist=noise)

    def to_gensim(self):
        """This model as a ``gensim.models.Word2Vec`` (settings, vocabulary, weights), trainable by gensim."""
        return to_gensim(self)

    @classmethod
    def from_gensim(cls, model):
        """A torch_w2v model from a live ``gensim.models.Word2Vec``: its settings, vocabulary (counts, sampling
        thresholds, Huffman codes), weights (``wv.vectors``, ``syn1neg``, ``syn1``, ``vectors_lockf``, copied)
        and counters, so that :meth:`train` continues where gensim's would. The inverse of :meth:`to_gensim`.
        """
        if not hasattr(model, "wv") or not hasattr(model, "negative"):
            raise TypeError(f"from_gensim() takes a gensim Word2Vec model, not {type(model).__name__}; for "
                            f"KeyedVectors alone use torch_w2v.evaluate / gensim's own methods.")
        return gensim_files.build(cls, gensim_files.from_gensim(model), f"gensim {type(model).__name__}")

    # ------------------------------------------------------------------------------------ persistence
    def save(self, fname, **gensim_options):
        """Save the whole model to ``fname`` in torch_w2v's safe format (see :mod:`torch_w2v.persist`).

        ``fname`` may already hold a model (torch_w2v's or a gensim pickle), which is replaced atomically;
        a file of another kind (a corpus, a checkpoint, vectors) is refused with ``FileExistsError``.
        An ``OSError`` (disk full, permission denied) names ``fname``.

        gensim's storage options (``separately``, ``sep_limit``, ``ignore``, ``pickle_protocol``) concern its
        pickle layout and do not change this format; as gensim's ``save()``, this one leaves the bookkeeping
        of that layout (``__numpys``, ``__scipys``, ``__ignoreds``, ``__recursive_saveloads``) on the model
        and ``model.wv``, with the values gensim's would have (see :func:`torch_w2v.persist.leave_gensim_marks`).

        Vocabulary keys are stored as plain values: ``numpy.str_`` and other subclasses of str as ``str``,
        numpy integers as ``int`` (the vocabulary holds them so from ``build_vocab()`` on); a key no plain value
        can hold (an arbitrary object) raises ``TypeError`` naming it. Attributes a subclass adds are saved
        when they are plain values or numeric arrays; others are named in a warning.
        """
        unknown = set(gensim_options) - {"separately", "sep_limit", "ignore", "pickle_protocol"}
        if unknown:
            raise TypeError(f"save() got unexpected keyword argument(s) {sorted(unknown)}.")
        persist.save_payload(persist.model_payload(self), fname)
        persist.leave_gensim_marks(self, gensim_options.get("separately"),
                                   gensim_options.get("sep_limit", 10 * 1024**2), gensim_options.get("ignore", ()))

    @classmethod
    def load(cls, fname, mmap=None, **kwargs):
        """Load a model written by :meth:`save`, or by gensim's ``Word2Vec.save`` (any release from 0.12 on).

        torch_w2v's files: every stored array and the rest of the file are checked against the SHA-256
        checksums written with them; a changed byte raises ``ValueError`` naming the file and the part.
        ``mmap='r'`` memory-maps the weights instead of reading them into memory; verifying still reads the
        mapped file once (about 1 s per GB from disk), as shared page cache rather than private memory.

        gensim's files (a pickle, with ``.npy`` files beside it) are read without running code from them
        (:mod:`torch_w2v.gensim_files`: only the classes and functions gensim's Word2Vec files name, as inert
        stand-ins; anything else is refused naming it) and upgraded as gensim 4.4's own ``load`` does; the
        model keeps the whole training state, so :meth:`train` continues as gensim's would. ``mmap`` applies
        to the ``.npy`` files.
        """
        if kwargs:
            raise TypeError(f"load() got unexpected keyword argument(s) {sorted(kwargs)}.")
        if gensim_files.is_pickle(fname):
            return gensim_files.build(cls, gensim_files.load(fname, mmap), fname)
        payload = persist.load_payload(fname, (persist.FORMAT, checkpoint_mod.FORMAT), mmap=mmap is not None)
        return persist.model_from_payload(cls, payload, fname)
