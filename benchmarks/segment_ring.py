"""The segment kernel with and without skip-gram's window of input rows on chip (triton_segments.RING), side by
side on one GPU: words/s and quality of one skip-gram epoch each, alternating, on the benchmark corpus.

    python benchmarks/segment_ring.py [--corpus PATH] [--repeats 2]

The ring reads and writes each input row once per window pass instead of once per centre that uses it, and
takes about twice the registers (kernel_report: 112 against 61 at D=100, 25% occupancy against 50%); which
is faster is what this measures. Needs CUDA.
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import bench  # noqa: E402
import corpus  # noqa: E402

from torch_w2v import Word2Vec  # noqa: E402
from torch_w2v.training.steps import triton_segments  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=None, help="a LineSentence file (default: the GCIDE benchmark corpus)")
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    path = args.corpus or str(corpus.build_gcide().path)
    for repeat in range(args.repeats):
        for ring in (False, True):
            triton_segments.RING = ring
            trial = Word2Vec(sg=1, vector_size=100, window=5, negative=5, min_count=5, sample=1e-3, epochs=1,
                             engine="triton", pipeline="segments", device="cuda", seed=1 + repeat)
            trial.build_vocab(corpus_file=path)
            start = time.perf_counter()
            trained, raw = trial.train(corpus_file=path, total_words=trial.corpus_total_words, epochs=1)
            seconds = time.perf_counter() - start
            print(json.dumps(dict(ring=ring, repeat=repeat, seconds=round(seconds, 2), words_per_s=round(raw / seconds),
                                  **bench.quality(trial.wv))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
