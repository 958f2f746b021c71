"""Progress of a training run: gensim-style log lines, and a tqdm bar when asked for.

Log lines go to ``logging.getLogger("torch_w2v")`` every ``report_delay`` seconds
(``EPOCH 1 - PROGRESS: at 41.20% words, 512000 words/s, alpha 0.01823``) and at each epoch end, with
gensim's warnings when the corpus did not match the ``total_examples``/``total_words`` given.
"""
from __future__ import annotations

import logging
import time

logger = logging.getLogger("torch_w2v")


class Progress:
    def __init__(self, model, epochs: int, encoded, total_words: int, report_delay: float = 1.0,
                 bar: bool = False):
        self.model, self.epochs = model, epochs
        self.total_words = max(int(total_words), 1)
        self.report_delay = float(report_delay)
        self.bar = None
        if bar:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                raise ImportError("progress=True needs tqdm: pip install tqdm") from None
            self.bar = tqdm(total=self.total_words * epochs, unit="w", unit_scale=True, dynamic_ncols=True,
                            desc="torch_w2v")
        self.start = time.perf_counter()
        self.epoch = 0
        self.epoch_start = self.last_log = self.start
        self.bar_words = 0

    def epoch_begin(self, epoch: int):
        self.epoch = epoch
        self.epoch_start = self.last_log = time.perf_counter()
        self.epoch_words_seen = 0

    def update(self, stats, alpha: float):
        now = time.perf_counter()
        if self.bar is not None:
            done = self.epoch * self.total_words + stats.raw_words
            self.bar.update(max(0, done - self.bar_words))
            self.bar_words = max(self.bar_words, done)
            rate = stats.raw_words / max(now - self.epoch_start, 1e-9)
            postfix = {"lr": f"{alpha:.5f}", "words/s": f"{rate:,.0f}"}
            if self.model.epoch_losses:
                postfix["loss"] = f"{self.model.epoch_losses[-1]:.4g}"
            self.bar.set_postfix(postfix, refresh=False)
        if now - self.last_log >= self.report_delay:
            self.last_log = now
            logger.info("EPOCH %i - PROGRESS: at %.2f%% words, %.0f words/s, alpha %.5f", self.epoch,
                        100.0 * stats.raw_words / self.total_words,
                        stats.raw_words / max(now - self.epoch_start, 1e-9), alpha)

    def epoch_end(self, epoch: int, stats, total_examples=None, total_words=None, is_corpus_file=False):
        logger.info("EPOCH %i: training on %i raw words (%i effective words) took %.1fs, %.0f effective words/s%s",
                    epoch, stats.raw_words, stats.effective_words, stats.seconds,
                    stats.effective_words / max(stats.seconds, 1e-9),
                    f", loss {stats.loss:.6g}" if self.model.compute_loss else "")
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
