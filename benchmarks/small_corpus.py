"""Small-corpus speed: gensim against torch_w2v on gensim's Lee corpus (60k words), default settings.

Fixed costs (per call, per epoch, per step) decide the speed on a corpus this small, so this script times
``Word2Vec(sentences)`` end to end for both libraries, interleaved (gensim, torch_w2v, torch_w2v, gensim,
...) in one process, and prints each pair and the ratio; the machine may be busy with other work, so
only ratios within one invocation mean anything. With ``--phases`` it also splits torch_w2v's time into
build_vocab, corpus encoding, the training loop and the per-step cost (training loop / steps).

Usage (from the repository root)::

    python benchmarks/small_corpus.py                  # sg and cbow, 5 repeats each
    python benchmarks/small_corpus.py --modes cbow --repeats 9 --phases
"""
from __future__ import annotations

import argparse
import logging
import statistics
import time


def lee():
    from gensim.models.word2vec import LineSentence
    from gensim.test.utils import datapath
    return list(LineSentence(datapath("lee_background.cor")))


def run_gensim(sentences, sg: int) -> float:
    from gensim.models import Word2Vec
    start = time.perf_counter()
    Word2Vec(sentences, sg=sg)
    return time.perf_counter() - start


def run_torch_w2v(sentences, sg: int) -> float:
    from torch_w2v import Word2Vec
    start = time.perf_counter()
    Word2Vec(sentences, sg=sg)
    return time.perf_counter() - start


def phases(sentences, sg: int) -> dict:
    """torch_w2v's seconds per phase of one ``Word2Vec(sentences)`` (patched timers, same code path)."""
    from torch_w2v import Word2Vec, corpus
    from torch_w2v.training import engine, trainer
    seconds = dict(build_vocab=0.0, encode=0.0, epochs=0.0, steps=0)
    encode, run_epoch = corpus.encode, engine.Engine.run_epoch

    def timed_encode(*args, **kwargs):
        start = time.perf_counter()
        try:
            return encode(*args, **kwargs)
        finally:
            seconds["encode"] += time.perf_counter() - start

    def timed_epoch(self, *args, **kwargs):
        call = self.step.__class__.__call__

        def counted(step, batch):
            seconds["steps"] += 1
            return call(step, batch)
        self.step.__class__.__call__ = counted
        start = time.perf_counter()
        try:
            return run_epoch(self, *args, **kwargs)
        finally:
            seconds["epochs"] += time.perf_counter() - start
            self.step.__class__.__call__ = call

    trainer.corpus_mod.encode, engine.Engine.run_epoch = timed_encode, timed_epoch
    try:
        model = Word2Vec(sg=sg)
        start = time.perf_counter()
        model.build_vocab(sentences)
        seconds["build_vocab"] = time.perf_counter() - start
        start = time.perf_counter()
        model.train(sentences, total_examples=model.corpus_count, epochs=model.epochs)
        seconds["train"] = time.perf_counter() - start
    finally:
        trainer.corpus_mod.encode, engine.Engine.run_epoch = encode, run_epoch
    seconds["per_step_us"] = 1e6 * seconds["epochs"] / max(seconds["steps"], 1)
    return seconds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="sg,cbow", help="comma-separated: sg, cbow")
    parser.add_argument("--repeats", type=int, default=5, help="pairs of runs per mode")
    parser.add_argument("--phases", action="store_true", help="also split torch_w2v's time per phase")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    sentences = lee()
    print(f"Lee corpus: {len(sentences)} sentences, {sum(map(len, sentences))} words")
    run_gensim(sentences, 1), run_torch_w2v(sentences, 1)  # warm-up: imports, first-call costs
    for mode in args.modes.split(","):
        sg = {"sg": 1, "cbow": 0}[mode]
        ratios = []
        for r in range(args.repeats):
            if r % 2 == 0:
                g, t = run_gensim(sentences, sg), run_torch_w2v(sentences, sg)
            else:
                t, g = run_torch_w2v(sentences, sg), run_gensim(sentences, sg)
            ratios.append(t / g)
            print(f"{mode:5s} run {r}: gensim {g:.3f} s  torch_w2v {t:.3f} s  ratio {t / g:.2f}")
        print(f"{mode:5s} median ratio torch_w2v/gensim: {statistics.median(ratios):.2f}")
        if args.phases:
            p = phases(sentences, sg)
            print(f"{mode:5s} phases: build_vocab {p['build_vocab']:.3f} s, train {p['train']:.3f} s "
                  f"(encode {p['encode']:.3f} s, epochs {p['epochs']:.3f} s: {p['steps']} steps, "
                  f"{p['per_step_us']:.0f} us a step)")


if __name__ == "__main__":
    main()
