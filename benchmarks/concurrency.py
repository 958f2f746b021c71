"""Quality when many centres are trained at once from the same weights, as thousands of GPU programs do.

The torch step (engine="torch") sums a whole batch's updates computed from the same weights: a batch of B
centres stands for B centres in flight at once. The segment kernel keeps about (SMs x resident blocks) = 500-1000
centres in flight on an H100 (132 SMs, 4-8 blocks of 8 warps); the batch kernel 16,384 a step. This trains
skip-gram on the GCIDE corpus (benchmarks/corpus.py) with the fused step (one centre at a time per thread) and
with the torch step at those batch sizes, with and without the update cap, and prints each run's quality.

    python benchmarks/concurrency.py [--seeds 2] [--epochs 5]
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batches", default="1024,16384")
    args = p.parse_args(argv)
    path = str(corpus.build_gcide().path)
    configs = [("fused", None, None)] + [("torch", int(b), cap) for b in args.batches.split(",") for cap in (None, 64)]
    for seed in range(1, args.seeds + 1):
        for engine, batch, cap in configs:
            start = time.time()
            extra = dict(batch_size=batch, update_cap=cap, pipeline="host") if engine == "torch" else {}
            model = Word2Vec(corpus_file=path, sg=1, vector_size=100, window=5, negative=5, min_count=5, sample=1e-3,
                             epochs=args.epochs, engine=engine, workers=2, seed=seed, **extra)
            print(json.dumps(dict(engine=engine, batch=batch, cap=cap, seed=seed, secs=round(time.time() - start, 1),
                                  **bench.quality(model.wv))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
