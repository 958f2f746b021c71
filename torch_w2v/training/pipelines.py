"""Pipelines: where a step's batches come from. One class per pipeline; the engine loops over any of them.

===========  ============================================================  ============  ===============
pipeline     a chunk is                                                    chunk (ids)   steps it feeds
===========  ============================================================  ============  ===============
``tokens``   a piece of each part of the epoch, as encoded: the step        2**21         fused
             draws downsampling, windows and noise itself, in text order
``host``     strided batches made by a CPU producer thread                  2**16         fused, torch
             (:mod:`.batching`)
``device``   a plan made on the training device, the corpus uploaded        2**20         triton, torch
             once (:mod:`.device_batches`)
===========  ============================================================  ============  ===============

A pipeline owns everything that differs between them: its default chunk size, how it cuts an epoch into
chunks (and parts), how it turns the schedule into each batch's learning rate, and what it counts. It
hands the engine :class:`Chunk` s, one typed protocol: a chunk's place in the epoch, its batches (each
carrying its learning rate) and the tokens the pipeline kept. A step reports the tokens it kept itself by
returning them (:class:`~torch_w2v.training.steps.Step`).

The run's layout (pipeline, chunk size, parts, batch size) is one frozen :class:`RunLayout`, resolved once
per ``train()`` by :func:`resolve` and read by the engine and the checkpoints. Adding a pipeline means a
class (here or in a module of its own), a line in :data:`torch_w2v.training.registry.PIPELINES`, and its
name in the ``pipelines`` of the steps that take it.
"""
from __future__ import annotations

import itertools
import queue
import threading
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from . import batching, device_batches, layout
from .registry import pipeline_class
from .seeds import PIPELINE_STREAM, chunk_generator
from .weights import expected_words

# Measured on gensim's Lee corpus (45k kept words per epoch): 2,048 centres per step (22 steps per
# epoch) lets CBOW with cbow_mean=0 diverge and skip-gram + hs lag gensim; 512 or fewer match gensim
# in every mode. 128 steps per epoch keeps small corpora in that range.
MIN_STEPS_PER_EPOCH = 128


@dataclass(frozen=True)
class RunLayout:
    """How one ``train()`` call cuts its epochs: resolved once (:func:`resolve`), recorded in checkpoints."""
    pipeline: str                  # a name of registry.PIPELINES
    chunk_words: int               # ids per chunk (the token pipeline: per chunk of all its parts)
    parts: int = 1                 # runs of the epoch trained side by side (token pipeline: one per thread)
    batch_size: int | None = None  # centres per step of a batched pipeline (its default worked out); the
    #                                token pipeline has no batches (None unless the user gave one)

    def record(self) -> dict:
        """What a checkpoint stores to lay a resumed epoch out the same way."""
        return dict(pipeline=self.pipeline, chunk_words=self.chunk_words, parts=self.parts,
                    batch_size=self.batch_size)


@dataclass
class Chunk:
    """The work between two engine hooks (progress, checkpoints, merges), as every pipeline hands it over."""
    index: int                     # its number in the epoch
    sentences: int                 # sentences that end in it
    raw_words: int                 # raw tokens in it, out-of-vocabulary ones included
    batches: list                  # the steps' batches in training order, each carrying its learning rate(s)
    kept: object = 0               # tokens the pipeline kept after downsampling (int, or a () device tensor:
    #                                read once per chunk); 0 where the step draws downsampling itself


def default_batch_size(device: torch.device, words_per_epoch: float | None = None, large: bool = False) -> int:
    """Centres per step: 16384 for steps with ``large_batches`` and on CUDA, 2048 for torch ops on the CPU
    (where larger steps gain no speed); small corpora get at least ``MIN_STEPS_PER_EPOCH`` steps per epoch
    (and never fewer than 64 centres per step)."""
    size = 16384 if (large or device.type == "cuda") else 2048
    if words_per_epoch is not None:
        size = min(size, max(64, int(words_per_epoch) // MIN_STEPS_PER_EPOCH))
    return size


class Pipeline:
    """The chunks of an epoch over ``corpus`` for one ``train()`` call (see the module docstring)."""
    name: ClassVar[str]
    chunk_words: ClassVar[int]              # the default chunk size
    unrecorded_chunk_words: ClassVar[int] = 1 << 16  # what checkpoints that recorded none were cut in
    batched: ClassVar[bool] = True          # cut into steps of batch_size centres (a default is worked out)

    def __init__(self, layout: RunLayout, corpus, tables, cfg, device: torch.device, seed: int,
                 prefetch: int = 1):
        self.layout, self.corpus, self.tables, self.device = layout, corpus, tables, device
        self.window, self.shrink_windows = int(cfg.window), bool(cfg.shrink_windows)
        self.seed, self.prefetch = int(seed), int(prefetch)

    @classmethod
    def parts_for(cls, threads: int) -> int:
        """The runs of an epoch trained side by side with ``threads`` threads."""
        return 1

    def chunk_count(self) -> int:
        """The chunks of an epoch."""
        return sum(1 for _ in layout.chunks(self.corpus, self.layout.chunk_words))

    def chunks(self, epoch: int, first_chunk: int, schedule):
        """Yield the :class:`Chunk` s of ``epoch`` from ``first_chunk`` on, their learning rates from
        ``schedule`` (:class:`~torch_w2v.training.engine.Schedule`)."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop whatever the pipeline runs in the background."""

    def _generator(self, epoch: int, index: int, device=None) -> torch.Generator:
        return chunk_generator(self.seed, epoch, index, PIPELINE_STREAM, device)

    def _spans(self, first_chunk: int, by_sentences: bool):
        """``(index, span, done)`` from ``first_chunk`` on; ``done``: the epoch's units before the span."""
        done = 0
        for index, span in enumerate(layout.chunks(self.corpus, self.layout.chunk_words)):
            if index >= first_chunk:
                yield index, span, done
            done += span.sentences if by_sentences else span.raw_words


class HostPipeline(Pipeline):
    """Strided batches made on the CPU by one producer thread for the remaining epochs of the call, so the
    next epoch's first chunk is made while this one trains (a corpus of one chunk, such as gensim's Lee,
    otherwise waits for it every epoch)."""
    name = "host"
    chunk_words = 1 << 16   # bounds the producer's working memory

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._ahead, self._ahead_at = None, None   # the producer, and the (epoch, chunk) it yields next
        # on the host once per call: a copy per chunk would make the producer wait for the device's steps
        sample_int = self.tables.sample_int
        self.sample_int = sample_int.cpu() if sample_int is not None else None

    def _chunk(self, epoch, index, span, done, schedule) -> Chunk:
        ids = torch.from_numpy(np.asarray(self.corpus.ids[span.lo:span.hi], dtype=np.int64))              # (N,)
        self.corpus.release(span.lo, span.hi)  # copied
        made = batching.make_chunk(
            ids, batching.sentence_numbers(span.lengths), sample_int=self.sample_int, window=self.window,
            shrink_windows=self.shrink_windows, batch_size=self.layout.batch_size,
            generator=self._generator(epoch, index))
        units = span.sentences if schedule.by_sentences else span.raw_words
        for batch in made.items:
            batch.lr = schedule.alpha(epoch, done + batch.position * units)
        return Chunk(index, span.sentences, span.raw_words, made.items, made.kept)

    def _epochs(self, epoch: int, first_chunk: int, schedule):
        """``(epoch, Chunk)`` from ``(epoch, first_chunk)`` to the last epoch, each epoch closed by
        ``(epoch, None)``."""
        for e in range(epoch, max(schedule.epochs, epoch + 1)):
            for index, span, done in self._spans(first_chunk if e == epoch else 0, schedule.by_sentences):
                yield e, self._chunk(e, index, span, done, schedule)
            yield e, None

    def chunks(self, epoch, first_chunk, schedule):
        if self._ahead_at != (epoch, first_chunk):  # first epoch of this train(), or a resumed one
            self.close()
            self._ahead = _prefetch(self._epochs(epoch, first_chunk, schedule), depth=self.prefetch)
        self._ahead_at = None  # mid-epoch: an epoch left unfinished (an error) makes the next call restart
        for _, chunk in self._ahead:
            if chunk is None:
                self._ahead_at = (epoch + 1, 0)
                return
            yield chunk

    def close(self) -> None:
        """Stop the producer (and drop the chunks it made ahead)."""
        if self._ahead is not None:
            self._ahead.close()
        self._ahead, self._ahead_at = None, None


class DevicePipeline(Pipeline):
    """A :class:`~.device_batches.Plan` per chunk, made on the training device; the corpus is uploaded on
    the first chunk and kept for the call. The kept count stays on the device until the chunk ends."""
    name = "device"
    chunk_words = 1 << 20   # one host sync per chunk, so chunks are larger
    unrecorded_chunk_words = 1 << 20
    segment = 1             # consecutive centres a batch slot holds

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.device_corpus = None

    def chunks(self, epoch, first_chunk, schedule):
        if self.device_corpus is None:
            self.device_corpus = device_batches.DeviceCorpus(self.corpus, self.device)
        for index, span, done in self._spans(first_chunk, schedule.by_sentences):
            ids, sentence_of = self.device_corpus.span(span)
            plan = device_batches.make_plan(
                ids, sentence_of, sample_int=self.tables.sample_int, window=self.window,
                shrink_windows=self.shrink_windows, batch_size=self.layout.batch_size,
                generator=self._generator(epoch, index, self.device), segment=self.segment)
            units = span.sentences if schedule.by_sentences else span.raw_words
            batches = [device_batches.PlanBatch(plan, t, schedule.alpha(epoch, done + t / plan.n_batches * units))
                       for t in range(plan.n_batches)]
            yield Chunk(index, span.sentences, span.raw_words, batches, plan.n)


class SegmentPipeline(DevicePipeline):
    """The device pipeline's plans cut into slots of :attr:`segment` consecutive centres, for a step whose
    programs each train a run of neighbouring centres in order (the segment kernel): a batch holds slots far
    apart in the text, each a run of the text."""
    name = "segments"
    segment = 32            # long enough that a window's rows are reused between neighbouring centres (from
    #                         L1/L2 on a GPU), short enough that a 2**20-token chunk has ~32k programs


@dataclass
class _Done:
    """Sentences and raw words: of a run of the corpus, or done of it."""
    sentences: int
    raw_words: int

    def share(self, total: _Done, by_sentences: bool) -> float:
        """This much of ``total``, by sentences or by raw words (the schedule's units), 0..1."""
        mine, whole = (self.sentences, total.sentences) if by_sentences else (self.raw_words, total.raw_words)
        return mine / whole if whole else 1.0


class TokenPipeline(Pipeline):
    """The encoded sentences as they are, for a step that draws downsampling, windows and noise itself.

    The epoch is cut into ``parts`` runs of whole sentences (one per thread, as gensim's ``corpus_file``
    workers each read their part of the file), each run into spans of ``chunk_words / parts`` ids; chunk k
    is the k-th span of every run, one :class:`~.batching.TokenBatch` (no memory of its own: views of the
    encoded corpus). Alpha falls across each run from the epoch's start, as a gensim worker's does: a
    piece's learning rates are the schedule's at its run's share done before and after it.
    """
    name = "tokens"
    # the runs' distance matters: Hogwild threads on nearby text update the same rows at once. CBOW on the
    # alphabetical benchmark corpus: 2**18-token chunks 11.05% (5 seeds) analogies, 2**21 11.66% (4), a whole
    # epoch 11.29% (4); gensim 11.5%
    chunk_words = 1 << 21
    batched = False

    @classmethod
    def parts_for(cls, threads: int) -> int:
        return max(1, int(threads))

    def _pieces(self, by_sentences: bool = False):
        """Per chunk, a list of ``(span, start, end)``: ``start``/``end`` the share of its run's units
        (sentences when ``by_sentences``, else raw words) done before and after it."""
        runs = layout.parts(self.corpus, self.layout.parts)
        size = max(1, self.layout.chunk_words // max(1, len(runs)))
        totals = [_Done(b - a, int(self.corpus.raw_words[a:b].sum())) for a, b in runs]
        done = [_Done(0, 0) for _ in runs]
        for group in itertools.zip_longest(*(layout.spans(self.corpus, a, b, size) for a, b in runs)):
            pieces = []
            for p, span in enumerate(group):
                if span is not None:
                    after = _Done(done[p].sentences + span.sentences, done[p].raw_words + span.raw_words)
                    pieces.append((span, done[p].share(totals[p], by_sentences),
                                   after.share(totals[p], by_sentences)))
                    done[p] = after
            yield pieces

    def chunk_count(self) -> int:
        return sum(1 for _ in self._pieces())

    def chunks(self, epoch, first_chunk, schedule):
        units = self.corpus.n_sentences if schedule.by_sentences else self.corpus.total_raw_words
        for index, pieces in enumerate(self._pieces(schedule.by_sentences)):
            if index < first_chunk:
                continue
            batch = batching.TokenBatch([
                batching.token_piece(self.corpus.ids[s.lo:s.hi], s.lengths, schedule.alpha(epoch, start * units),
                                     schedule.alpha(epoch, end * units))
                for s, start, end in pieces])
            yield Chunk(index, sum(s.sentences for s, _, _ in pieces), sum(s.raw_words for s, _, _ in pieces),
                        [batch])
            for s, _, _ in pieces:  # trained: a corpus mapped from a file is resident a chunk at a time
                self.corpus.release(s.lo, s.hi)


def resolve(cfg, step_class, pipeline: str, device: torch.device, threads: int, encoded, wv,
            parallel: bool = False, resume=None) -> RunLayout:
    """The :class:`RunLayout` of a call: ``pipeline`` (resolved by the step registry) with its chunk size
    (``cfg.chunk_words``, else its default; under torch.distributed at most ``cfg.sync_words``, since the
    ranks merge at chunk ends), its parts and its batch size. A resumed call (``resume``, a
    :class:`~torch_w2v.checkpoint.ResumeState`) is laid out as its checkpoint recorded."""
    cls = pipeline_class(pipeline)
    batch_size = cfg.batch_size
    if batch_size is None and cls.batched:
        batch_size = default_batch_size(device, expected_words(encoded, wv), step_class.large_batches)
    if resume is not None:
        if resume.pipeline is not None and resume.pipeline != pipeline:
            raise ValueError(
                f"the checkpoint was trained on the {resume.pipeline} pipeline, this run would take the {pipeline} "
                f"pipeline (engine={cfg.engine!r}, device={cfg.device!r} on this machine); its chunks count in the "
                f"other's. Resume with pipeline={resume.pipeline!r} and the engine and device it was trained with.")
        if resume.batch_size is not None:  # the batches it was trained with, whatever this machine's default
            batch_size = int(resume.batch_size)
        return RunLayout(pipeline, int(resume.chunk_words or cls.unrecorded_chunk_words), int(resume.parts or 1),
                         batch_size)
    chunk_words = cfg.chunk_words or (min(cls.chunk_words, int(cfg.sync_words)) if parallel else cls.chunk_words)
    return RunLayout(pipeline, int(chunk_words), cls.parts_for(threads), batch_size)


def build(run_layout: RunLayout, corpus, tables, cfg, device, seed: int, prefetch: int = 1) -> Pipeline:
    """The pipeline of ``run_layout`` over ``corpus``."""
    return pipeline_class(run_layout.pipeline)(run_layout, corpus, tables, cfg, device, seed, prefetch)


def _prefetch(iterator, depth: int = 1):
    """Run ``iterator`` in a background thread, ``depth`` items ahead; re-raise its errors here."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce():
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            q.put(exc)

    thread = threading.Thread(target=produce, name="torch_w2v-batches", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
