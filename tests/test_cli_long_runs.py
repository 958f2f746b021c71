"""The CLI for long runs: --checkpoint/--resume across a SIGTERM, and torchrun with two processes."""
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from gensim.models import KeyedVectors

FLAGS = ["-cbow", "0", "-size", "24", "-iter", "4", "-threads", "1", "-min-count", "2", "--no-progress"]


@pytest.fixture
def corpus(tmp_path, lee_sentences):
    path = tmp_path / "lee10.txt"
    path.write_text("\n".join(" ".join(s) for s in lee_sentences * 10) + "\n")  # ~600k words
    return path


def _cli(*args, **kwargs):
    return [sys.executable, "-m", "torch_w2v", "train", *map(str, args)]


@pytest.mark.slow
def test_sigterm_then_resume_gives_the_uninterrupted_vectors(tmp_path, corpus):
    ref = tmp_path / "ref.txt"
    done = subprocess.run(_cli(corpus, "-o", ref, *FLAGS), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]

    out, ckpt = tmp_path / "out.txt", tmp_path / "run.ckpt"
    proc = subprocess.Popen(_cli(corpus, "-o", out, *FLAGS, "--checkpoint", ckpt, "--checkpoint-every", "0"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not ckpt.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    assert not out.exists()

    resumed = subprocess.run(_cli(corpus, "-o", out, *FLAGS, "--checkpoint", ckpt, "--resume"),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, b = KeyedVectors.load_word2vec_format(str(ref)), KeyedVectors.load_word2vec_format(str(out))
    assert a.index_to_key == b.index_to_key
    np.testing.assert_array_equal(a.vectors, b.vectors)


def test_resume_without_a_checkpoint_is_refused(tmp_path, corpus):
    run = subprocess.run(_cli(corpus, "-o", tmp_path / "v.txt", "--resume"), capture_output=True, text=True)
    assert run.returncode == 2 and "--resume needs --checkpoint" in run.stderr
    run = subprocess.run(_cli(corpus, "-o", tmp_path / "v.txt", "--resume", "--checkpoint", tmp_path / "nope"),
                         capture_output=True, text=True)
    assert run.returncode == 1 and "no checkpoint at" in run.stderr


@pytest.mark.slow
def test_torchrun_two_processes_write_one_output(tmp_path, lee_sentences):
    corpus = tmp_path / "lee.txt"
    corpus.write_text("\n".join(" ".join(s) for s in lee_sentences) + "\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "vectors.bin"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={port}", "-m", "torch_w2v", "train", str(corpus),
           "-o", str(out), "-binary", "1", "-cbow", "0", "-iter", "3", "-threads", "1", "--no-progress"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    kv = KeyedVectors.load_word2vec_format(str(out), binary=True)
    from torch_w2v import Word2Vec
    single = Word2Vec(min_count=5, sg=1)
    single.build_vocab(corpus_file=str(corpus))
    assert kv.index_to_key == single.wv.index_to_key
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("vectors")] == ["vectors.bin"]
