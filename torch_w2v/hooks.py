"""gensim's overridable training hooks: which ones torch_w2v calls, and the job loop that calls ``_do_train_job``.

Libraries subclass gensim's ``Word2Vec`` and override its private methods; the graph-embedding ones override
``_do_train_job(sentences, alpha, inits)`` to turn each job's start nodes into random walks and hand those
to ``super()._do_train_job``. torch_w2v trains a whole encoded corpus at once, with no job threads, so:

* ``_do_train_job`` (iterable corpora) is honoured: :func:`train_jobs` cuts every epoch into gensim's jobs
  (up to ``batch_words`` words, by ``_raw_word_count``), calls the hook on each with gensim's learning rate
  and ``_get_thread_working_mem()``, collects what the override passes to ``Word2Vec._do_train_job``, and
  trains that epoch's collected sentences. With ``corpus_file`` gensim calls ``_do_train_epoch`` instead, and
  so the override has no effect there, in both libraries.
* Hooks of gensim's job threads that have no counterpart here (:data:`REFUSED`) are refused with
  ``NotImplementedError`` when ``train()`` would have gensim call them: an override would otherwise be
  silently skipped.
* Logging hooks (:data:`NOT_CALLED`) are not called; a warning says so once per class.

docs/engine.md ("Subclasses of Word2Vec") lists every hook and the reasons.
"""
from __future__ import annotations

import dataclasses
import logging

import numpy as np

from .corpus import tokens_of

logger = logging.getLogger("torch_w2v")

# hook -> (when gensim calls it, the fix); refused where train() would have gensim call it
_JOB = "override _do_train_job, which torch_w2v calls on every job, to change what a job trains"
REFUSED = {
    "_train_epoch": ("for each epoch of an iterable corpus", _JOB),
    "_job_producer": ("to cut an iterable corpus into jobs", _JOB),
    "_worker_loop": ("in each worker thread of an iterable corpus", _JOB),
    "_get_next_alpha": ("for each job of an iterable corpus", "pass start_alpha/end_alpha to train() to shape the "
                                                            "learning rate"),
    "_train_epoch_corpusfile": ("for each epoch of a corpus_file", "pass the corpus as an iterable and " + _JOB),
    "_worker_loop_corpusfile": ("in each worker thread of a corpus_file", "pass the corpus as an iterable and "
                                + _JOB),
    "_do_train_epoch": ("for each worker's part of a corpus_file", "pass the corpus as an iterable and " + _JOB),
}
FILE_ONLY = {"_train_epoch_corpusfile", "_worker_loop_corpusfile", "_do_train_epoch"}
NOT_CALLED = ("_log_progress", "_log_epoch_end", "_log_train_end", "_log_epoch_progress")
_warned = set()  # classes already warned about their logging hooks


def overrides(cls, name: str) -> bool:
    """Whether ``cls`` (a subclass of torch_w2v's Word2Vec) defines ``name`` itself, below Word2Vec."""
    from .word2vec import Word2Vec
    for klass in cls.__mro__:
        if klass is Word2Vec:
            return False
        if name in vars(klass):
            return True
    return False


def check(cls, corpus_file) -> None:
    """Refuse (``NotImplementedError``) a training hook of ``cls`` that gensim would call for this corpus and
    torch_w2v cannot; warn once about logging hooks that are not called."""
    for name, (when, fix) in REFUSED.items():
        if (name in FILE_ONLY) == (corpus_file is not None) and overrides(cls, name):
            raise NotImplementedError(
                f"{cls.__name__} overrides Word2Vec.{name}, which gensim calls {when}; torch_w2v trains without "
                f"gensim's job threads and never calls it, so the override would have no effect. Instead, {fix}; "
                f"or generate the sentences (e.g. the random walks) first and pass them to train() as the corpus. "
                f"See docs/engine.md, 'Subclasses of Word2Vec'.")
    ignored = [name for name in NOT_CALLED if overrides(cls, name)]
    if ignored and cls not in _warned:
        _warned.add(cls)
        logger.warning("%s overrides %s, which torch_w2v does not call (it logs progress itself); pass callbacks "
                       "to train() to follow the training.", cls.__name__, ", ".join(ignored))


class JobCollector:
    """What an overridden ``_do_train_job`` hands to ``Word2Vec._do_train_job`` in one epoch: the sentences
    to train, as token lists."""

    def __init__(self, key_to_index):
        self.key_to_index = key_to_index
        self.sentences, self.calls = [], 0

    def take(self, sentences) -> tuple[int, int]:
        """Keep ``sentences``; gensim's ``(effective, raw)`` words of the job (effective: in-vocabulary tokens;
        downsampling happens when they are trained)."""
        self.calls += 1
        tokens = [tokens_of(sentence, len(self.sentences) + i) for i, sentence in enumerate(sentences)]
        self.sentences.extend(tokens)
        known = self.key_to_index
        return sum(w in known for s in tokens for w in s), sum(len(s) for s in tokens)


def _jobs(model, corpus):
    """gensim's ``_job_producer``'s jobs: runs of sentences of at most ``batch_words`` raw words (a longer
    sentence is a job of its own; gensim also emits an empty job before it, which trains nothing)."""
    job, words = [], 0
    for sentence in corpus:
        n = model._raw_word_count([sentence])
        if words + n <= model.batch_words:
            job.append(sentence)
            words += n
        else:
            if job:
                yield job
            job, words = [sentence], n
    if job:
        yield job


def epoch_sentences(model, request, epoch: int) -> list:
    """The sentences an overridden ``_do_train_job`` hands on in ``epoch``, calling it on every job of the
    corpus as gensim's workers do, with gensim's learning rate for that job."""
    collector = JobCollector(model.wv.key_to_index)
    inits = model._get_thread_working_mem()
    start, end, epochs = request.start_alpha, request.end_alpha, request.epochs
    pushed_examples = pushed_words = jobs = 0
    progress = 0.0
    model._job_collector = collector
    try:
        for job in _jobs(model, request.corpus_iterable):
            alpha = max(end, start - (start - end) * (epoch + progress) / epochs)  # gensim's _get_next_alpha
            model._do_train_job(job, alpha, inits)
            jobs += 1
            if request.total_examples:
                pushed_examples += len(job)
                progress = pushed_examples / request.total_examples
            else:
                pushed_words += model._raw_word_count(job)
                progress = pushed_words / max(request.total_words or 1, 1)
    finally:
        del model._job_collector
    if jobs and not collector.calls:
        cls = type(model).__name__
        raise NotImplementedError(
            f"{cls}._do_train_job returned on all {jobs} jobs of epoch {epoch} without calling "
            f"Word2Vec._do_train_job, so nothing would be trained: torch_w2v trains the sentences an override "
            f"passes to super()._do_train_job(sentences, alpha, inits), and cannot run gensim's per-job Cython "
            f"routines. Call super()._do_train_job with the sentences to train, or generate them (e.g. the "
            f"random walks) first and pass them to train() as the corpus.")
    return collector.sentences


class _EpochCallbacks:
    """A callback seen through one epoch's run: its epoch hooks only (train begin/end are the call's)."""

    def __init__(self, callback):
        self.callback = callback

    def on_train_begin(self, model):
        pass

    def on_epoch_begin(self, model):
        self.callback.on_epoch_begin(model)

    def on_epoch_end(self, model):
        self.callback.on_epoch_end(model)


def train_jobs(model, request, run, report=None) -> tuple[int, int]:
    """Train ``request`` (a ``TrainRequest`` on an iterable corpus) through ``model``'s overridden
    ``_do_train_job``: each epoch's collected sentences are trained by ``run(model, request)`` (the trainer) as
    one epoch, with that epoch's part of the learning-rate schedule and its own random draws (``report``: see
    :func:`torch_w2v.training.trainer.run`). Returns ``(effective_words, raw_words)`` summed over the epochs."""
    if request.checkpoint is not None:
        raise NotImplementedError(
            f"checkpoint= is not supported for {type(model).__name__}, which overrides _do_train_job: a resumed "
            f"run could not draw the same sentences again. Train without checkpoint=, or generate the sentences "
            f"first and pass them to train() as the corpus.")
    for callback in request.callbacks:
        callback.on_train_begin(model)
    epoch_callbacks = tuple(_EpochCallbacks(c) for c in request.callbacks)
    start, end, epochs = request.start_alpha, request.end_alpha, request.epochs
    trained = raw = 0
    for epoch in range(epochs):
        sentences = epoch_sentences(model, request, epoch)
        one = dataclasses.replace(
            request, corpus_iterable=sentences, total_examples=len(sentences), total_words=None, epochs=1,
            start_alpha=start - (start - end) * epoch / epochs,
            end_alpha=start - (start - end) * (epoch + 1) / epochs,
            callbacks=epoch_callbacks, subpass=epoch + 1)
        if not sentences:
            continue
        t, r = run(model, one, None, report)
        trained, raw = trained + t, raw + r
    return trained, raw


def working_memory(layer1_size: int) -> tuple[np.ndarray, np.ndarray]:
    """gensim's ``_get_thread_working_mem()``: two float32 vectors of ``layer1_size`` (``work``, ``neu1``)."""
    return np.zeros(layer1_size, dtype=np.float32), np.zeros(layer1_size, dtype=np.float32)
