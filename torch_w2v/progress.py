"""Progress of a training run: gensim-style log lines, and a tqdm bar when asked for.

Log lines go to ``logging.getLogger("torch_w2v")`` every ``report_delay`` seconds
(``EPOCH 1 - PROGRESS: at 41.20% words, 512000 words/s, alpha 0.01823``) and at each epoch end, with
gensim's warnings when the corpus did not match the ``total_examples``/``total_words`` given.

The bar (``Word2Vec(..., progress=True)``; the CLI's default on a terminal) counts raw words over all
epochs and shows the epoch, words/s, the learning rate, the loss (with ``compute_loss``) and the ETA::

    epoch 2/5:  31%|███▏      | 93.4k/300k [00:01<00:02, 71.2k words/s, lr=0.0173, loss=1.83e+05]

While it is shown, log records that console handlers would print are routed through ``tqdm.write``,
so they appear above the bar instead of breaking it.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import time

logger = logging.getLogger("torch_w2v")


def _bar_size(file) -> dict:
    """tqdm's size options: follow the terminal, or a fixed size where it reports none (a fresh pty has
    0 rows and 0 columns, and tqdm then draws nothing)."""
    try:
        columns, lines = os.get_terminal_size((file or sys.stderr).fileno())
    except (AttributeError, ValueError, OSError):
        return {"dynamic_ncols": True}
    if columns and lines:
        return {"dynamic_ncols": True}
    return {"ncols": columns or 100, "nrows": lines or 20}


class Progress:
    """Reports a training run's progress; the engine calls :meth:`update` after each chunk.

    Parameters
    ----------
    model : torch_w2v.Word2Vec
        Read for ``compute_loss`` and ``epoch_losses``.
    epochs : int
        Epochs of this ``train()`` call.
    encoded : torch_w2v.corpus.EncodedCorpus
        The corpus being trained on (unused here; kept for callers that pass it).
    total_words : int
        Raw words per epoch, the 100% of the progress lines and of the bar.
    report_delay : float, optional
        Seconds between two progress log lines (gensim's default 1.0).
    bar : bool, optional
        Show a tqdm bar.
    loss : callable, optional
        Returns the loss of the current epoch so far (a host sync: it is called at most every
        ``bar_interval`` seconds); without it the bar shows the last finished epoch's loss.
    file : file object, optional
        Where the bar is drawn (default: ``sys.stderr``).
    """

    bar_interval = 0.5  # seconds between two refreshes of the bar's loss (each is a host sync on GPU)

    def __init__(self, model, epochs: int, encoded, total_words: int, report_delay: float = 1.0,
                 bar: bool = False, loss=None, file=None):
        self.model, self.epochs = model, epochs
        self.total_words = max(int(total_words), 1)
        self.report_delay = float(report_delay)
        self.loss = loss
        self.bar = None
        self._redirect = contextlib.ExitStack()
        if bar:
            try:
                from tqdm.auto import tqdm
                from tqdm.contrib.logging import logging_redirect_tqdm
            except ImportError:
                raise ImportError("progress=True needs tqdm: pip install tqdm") from None
            self.bar = tqdm(total=self.total_words * epochs, unit=" words", unit_scale=True, desc=self._desc(0),
                            file=file, smoothing=0.1, **_bar_size(file))
            self._redirect.enter_context(logging_redirect_tqdm(loggers=[logging.root, logger],
                                                               tqdm_class=type(self.bar)))
        self.start = time.perf_counter()
        self.epoch = 0
        self.epoch_start = self.last_log = self.start
        self.last_bar = 0.0
        self.bar_words = 0

    def _desc(self, epoch: int) -> str:
        return f"epoch {epoch + 1}/{self.epochs}"

    def epoch_begin(self, epoch: int):
        self.epoch = epoch
        self.epoch_start = self.last_log = time.perf_counter()
        if self.bar is not None:
            self.bar.set_description(self._desc(epoch), refresh=False)

    def update(self, stats, alpha: float):
        """Called by the engine after each chunk with the epoch's :class:`~torch_w2v.training.engine.EpochStats`."""
        now = time.perf_counter()
        if self.bar is not None:
            done = self.epoch * self.total_words + stats.raw_words
            postfix = {"lr": f"{alpha:.4g}"}
            loss = self._bar_loss(now)
            if loss is not None:
                postfix["loss"] = f"{loss:.3g}"
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(max(0, done - self.bar_words))
            self.bar_words = max(self.bar_words, done)
        if now - self.last_log >= self.report_delay:
            self.last_log = now
            logger.info("EPOCH %i - PROGRESS: at %.2f%% words, %.0f words/s, alpha %.5f", self.epoch,
                        100.0 * stats.raw_words / self.total_words,
                        stats.raw_words / max(now - self.epoch_start, 1e-9), alpha)

    def _bar_loss(self, now):
        """The loss to show: the current epoch's so far when a getter was given, else the last epoch's."""
        if not self.model.compute_loss:
            return None
        if self.loss is not None:
            if now - self.last_bar >= self.bar_interval:
                self.last_bar = now
                self._shown_loss = float(self.loss())
            return getattr(self, "_shown_loss", None)
        return self.model.epoch_losses[-1] if self.model.epoch_losses else None

    def epoch_end(self, epoch: int, stats, total_examples=None, total_words=None, is_corpus_file=False):
        logger.info("EPOCH %i: training on %i raw words (%i effective words) took %.1fs, %.0f effective words/s%s",
                    epoch, stats.raw_words, stats.effective_words, stats.seconds,
                    stats.effective_words / max(stats.seconds, 1e-9),
                    f", loss {stats.loss:.6g}" if self.model.compute_loss else "")
        if self.bar is not None:
            # the bar's 100% is total_words per epoch; a corpus that differs still ends the epoch in place
            done = (epoch + 1) * self.total_words
            self.bar.update(max(0, done - self.bar_words))
            self.bar_words = max(self.bar_words, done)
            if self.model.compute_loss:
                self._shown_loss = float(stats.loss)
                self.bar.set_postfix({"lr": f"{stats.last_alpha:.4g}", "loss": f"{stats.loss:.3g}"})
        if is_corpus_file:
            return
        if total_examples and total_examples != stats.sentences:
            logger.warning("EPOCH %i: supplied example count (%i) did not equal expected count (%i)",
                           epoch, stats.sentences, total_examples)
        if total_words and total_words != stats.raw_words:
            logger.warning("EPOCH %i: supplied raw word count (%i) did not equal expected count (%i)",
                           epoch, stats.raw_words, total_words)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self._redirect.close()
