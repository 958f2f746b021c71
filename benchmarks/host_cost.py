"""The host-side cost of each training path, visible without a GPU.

A GPU trains only as fast as the host issues its work. This script trains a corpus for one epoch on the
CPU through each (step, pipeline) pair and counts, per SGD step, the aten ops that run on the training
thread (each one a kernel launch on a GPU; views, which launch nothing, are left out; the host pipeline's
producer thread is not counted, its work is CPU work on any device) and the Triton launches, and reports
host seconds per million trained words. The CUDA code path is the Triton step on
the device pipeline; on the CPU its kernel runs under Triton's interpreter, so its seconds include the
kernel itself (interpreted, slow) and only its op counts carry over to a GPU.

Usage (from the repository root)::

    python benchmarks/host_cost.py                    # gensim's Lee corpus
    python benchmarks/host_cost.py --corpus FILE --paths triton/device,torch/device,torch/host

A change that brings per-step host work back to the CUDA path shows up here as more ops per step.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter

os.environ.setdefault("TRITON_INTERPRET", "1")  # before torch_w2v imports triton: kernels run on the CPU here

from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

PATHS = ("triton/device", "torch/device", "torch/host", "fused/host")


class OpCounter(TorchDispatchMode):
    """Counts the aten ops dispatched on this thread, views excluded."""

    def __init__(self):
        super().__init__()
        self.ops = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not getattr(func, "is_view", False):
            self.ops[str(func.overloadpacket.__name__)] += 1
        return func(*args, **(kwargs or {}))


def measure(sentences, path: str, epochs: int = 1) -> dict:
    import torch

    from torch_w2v import Word2Vec
    from torch_w2v.training import steps as registry
    engine, pipeline = path.split("/")
    model = Word2Vec(min_count=5, sg=1, negative=5, window=5, vector_size=100, epochs=epochs, seed=1,
                     workers=1, device="cpu", engine=engine, pipeline=pipeline)
    model.build_vocab(sentences)
    cls, _ = registry.select(engine, torch.device("cpu"), pipeline, model)
    call, steps, launches = cls.__call__, [0], [0]

    def counted(self, batch):
        steps[0] += 1
        return call(self, batch)

    patched = [(cls, "__call__", call)]
    cls.__call__ = counted
    if engine == "triton":  # the interpreter's own tensor copies inside a kernel launch are not host work
        from torch_w2v.training.steps import triton_step
        for name in ("_w2v_kernel", "_count_kernel"):
            kernel = getattr(triton_step, name)
            patched.append((triton_step, name, kernel))
            setattr(triton_step, name, _Uncounted(kernel, launches))
    counter = OpCounter()
    start = time.perf_counter()
    try:
        with counter:
            trained, _ = model.train(sentences, total_examples=model.corpus_count, epochs=epochs)
    finally:
        for owner, name, original in patched:
            setattr(owner, name, original)
    seconds = time.perf_counter() - start
    n = max(steps[0], 1)
    ops = sum(counter.ops.values())
    return dict(path=path, steps=steps[0], words=trained, aten_ops_per_step=ops / n,
                triton_launches_per_step=launches[0] / n,
                host_seconds_per_million_words=seconds / max(trained, 1) * 1e6,
                top_ops=counter.ops.most_common(6))


class _Uncounted:
    """A Triton kernel whose launches run with the op counter paused, counted in ``launches[0]``."""

    def __init__(self, kernel, launches: list):
        self.kernel, self.launches = kernel, launches

    def __getitem__(self, grid):
        from torch.utils._python_dispatch import _disable_current_modes
        launcher = self.kernel[grid]

        def run(*args, **kwargs):
            self.launches[0] += 1
            with _disable_current_modes():
                return launcher(*args, **kwargs)
        return run


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="aten ops and Triton launches per step, host time per million words")
    p.add_argument("--corpus", help="a LineSentence file (default: gensim's Lee corpus)")
    p.add_argument("--paths", default=",".join(PATHS), help=f"step/pipeline pairs (default {','.join(PATHS)})")
    args = p.parse_args(argv)
    from gensim.models.word2vec import LineSentence
    from gensim.test.utils import datapath
    sentences = list(LineSentence(args.corpus or datapath("lee_background.cor")))
    print(f"corpus: {args.corpus or 'lee_background.cor'}, {sum(map(len, sentences)):,} words; one epoch, "
          f"sg=1 negative=5 window=5 vector_size=100, CPU, TRITON_INTERPRET={os.environ['TRITON_INTERPRET']}")
    print("| step/pipeline | steps | aten ops per step | Triton launches per step | host s per 1M words | most "
          "frequent ops |")
    print("|---|---|---|---|---|---|")
    for path in args.paths.split(","):
        r = measure(sentences, path.strip())
        top = ", ".join(f"{name} {count / max(r['steps'], 1):.1f}" for name, count in r["top_ops"])
        print(f"| {r['path']} | {r['steps']} | {r['aten_ops_per_step']:.1f} | {r['triton_launches_per_step']:.1f} "
              f"| {r['host_seconds_per_million_words']:.2f} | {top} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
