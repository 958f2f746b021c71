"""The cost of a checkpoint of a distributed run against a merge, under torchrun (gloo on CPU).

A model of the benchmark's size (46,000 words x 100, syn0 and syn1neg) is merged (ModelAverager.merge: an
all_reduce of both matrices) and checkpointed (Checkpointer.save: the ranks' positions gathered, rank 0 writing the
file with its SHA-256 checksums, atomically), each timed on rank 0::

    torchrun --nproc_per_node=2 benchmarks/checkpoint_cost.py /tmp/ck.bin
"""
import os
import sys
import time

import numpy as np
import torch

from torch_w2v import Word2Vec, checkpoint, distributed
from torch_w2v.training.engine import EpochStats

V, D = 46_000, 100   # the GCIDE benchmark's vocabulary and vector size


class _Encoded:   # the corpus fingerprint a checkpoint records
    n_sentences, total_raw_words = 1000, 10**6


class _Layout:    # the run layout a checkpoint records
    def record(self):
        return dict(chunk_words=1 << 16, parts=1, pipeline="tokens", batch_size=None)


def _timed(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(path):
    if not distributed.init_from_env("cpu"):
        sys.exit("run under torchrun: torchrun --nproc_per_node=2 benchmarks/checkpoint_cost.py PATH")
    model = Word2Vec(vector_size=D, min_count=1, workers=1, seed=1)
    model.build_vocab_from_freq({f"w{i}": 1000 - i % 997 for i in range(V)})
    averager = distributed.ModelAverager([torch.from_numpy(model.wv.vectors), torch.from_numpy(model.syn1neg)], 8)
    merge = _timed(averager.merge, 5)
    saver = checkpoint.Checkpointer(model, path, 0.0, dict(epochs=1), _Encoded(), _Layout())
    save = _timed(lambda: saver.save(0, EpochStats(chunks=1), 0, 0), 3)
    if distributed.rank() == 0:
        print(f"model {V} x {D}, syn0 and syn1neg, {distributed.world_size()} ranks: merge {merge * 1e3:.0f} ms, "
              f"checkpoint {save * 1e3:.0f} ms, file {os.path.getsize(path) / 1e6:.1f} MB (medians)")


if __name__ == "__main__":
    main(sys.argv[1])
