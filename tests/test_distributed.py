"""Data-parallel training: real torchrun processes on loopback with gloo, and the corpus split."""
import json
import socket
import subprocess
import sys

import numpy as np
import pytest

from torch_w2v import Word2Vec
from torch_w2v.distributed import ByteRangeLineSentence

SETTINGS = dict(sg=1, window=4, negative=15, min_count=5, epochs=10, workers=1, seed=1, device="cpu")

WORKER = """
import json, sys
import numpy as np
from torch_w2v import Word2Vec, distributed
assert distributed.init_from_env("cpu")
settings = json.loads(sys.argv[3])
model = Word2Vec(corpus_file=sys.argv[1], **settings)
rank = distributed.rank()
np.save(f"{sys.argv[2]}/vectors{rank}.npy", model.wv.vectors)
ranked = [w for w, _ in model.wv.most_similar("attacks", topn=len(model.wv))]
with open(f"{sys.argv[2]}/report{rank}.json", "w") as f:
    json.dump({"keys": model.wv.index_to_key, "corpus_count": model.corpus_count,
               "total_words": model.corpus_total_words, "rank_bombings": ranked.index("bombings"),
               "world": distributed.world_size()}, f)
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lee_file(tmp_path, lee_sentences):
    path = tmp_path / "lee.txt"
    path.write_text("\n".join(" ".join(s) for s in lee_sentences) + "\n")
    return path


@pytest.mark.slow
def test_two_gloo_processes_agree_and_match_single_process_quality(tmp_path, lee_file):
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={_free_port()}", str(worker), str(lee_file),
           str(tmp_path), json.dumps(SETTINGS)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    reports = [json.loads((tmp_path / f"report{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world"] == 2 for r in reports)
    np.testing.assert_array_equal(np.load(tmp_path / "vectors0.npy"), np.load(tmp_path / "vectors1.npy"))
    single = Word2Vec(corpus_file=str(lee_file), **SETTINGS)
    # one vocabulary, the single-process one, on every rank
    assert reports[0]["keys"] == reports[1]["keys"] == single.wv.index_to_key
    assert reports[0]["corpus_count"] == single.corpus_count
    assert reports[0]["total_words"] == single.corpus_total_words
    # quality: gensim's sanity check. Calibration: 2 ranks ranked 'bombings' 30 with seed 1 (single
    # process: 13-28 over seeds 1-8); 50 is gensim's own threshold for this check.
    assert reports[0]["rank_bombings"] < 50


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7])
def test_byte_ranges_cover_every_line_once(tmp_path, n):
    lines = [f"w{i} " * (1 + i % 5) for i in range(101)] + ["", "  ", "last line no newline"]
    path = tmp_path / "c.txt"
    path.write_text("\n".join(lines))
    size = path.stat().st_size
    got = []
    for r in range(n):
        got.extend(ByteRangeLineSentence(path, size * r // n, size * (r + 1) // n))
    assert got == [line.split() for line in lines if line.split()]


def test_single_process_ignores_distributed_machinery(toy_sentences):
    from torch_w2v import distributed
    assert not distributed.is_active() and distributed.rank() == 0 and distributed.world_size() == 1
    model = Word2Vec(toy_sentences, min_count=1, sg=1, epochs=1, device="cpu")
    assert len(model.wv) == 10
