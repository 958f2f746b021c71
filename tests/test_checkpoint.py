"""Checkpoints: periodic and on-signal saves, resume after SIGKILL equals an uninterrupted run."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from torch_w2v import Word2Vec
from torch_w2v.checkpoint import TrainingInterrupted

# Deterministic settings: one thread (the fused step is Hogwild with more), several chunks per epoch.
SETTINGS = dict(sg=1, vector_size=32, min_count=2, epochs=3, workers=1, seed=5, chunk_words=4000,
                device="cpu")


@pytest.fixture
def corpus_file(tmp_path, lee_sentences):
    path = tmp_path / "lee.txt"
    path.write_text("\n".join(" ".join(s) for s in lee_sentences) + "\n")
    return path


def _train(corpus_file, **extra):
    model = Word2Vec(**SETTINGS)
    model.build_vocab(corpus_file=str(corpus_file))
    model.train(corpus_file=str(corpus_file), total_words=model.corpus_total_words, epochs=model.epochs,
                compute_loss=True, **extra)
    return model


TRAINER = """
import sys, time
from torch_w2v import Word2Vec
settings = {settings!r}

class Slow:  # slows training down so that the parent can kill it mid-epoch
    def on_train_begin(self, m): pass
    def on_epoch_begin(self, m): pass
    def on_epoch_end(self, m): pass
    def on_train_end(self, m): pass

from torch_w2v.training.steps import fused, torch_step
for step_class in (fused.FusedTokenStep, fused.FusedBatchStep, torch_step.TorchStep):
    def slow_step(self, batch, original=step_class.__call__):
        time.sleep(0.01)
        return original(self, batch)
    step_class.__call__ = slow_step

model = Word2Vec(**settings)
model.build_vocab(corpus_file={corpus!r})
print("training", flush=True)
model.train(corpus_file={corpus!r}, total_words=model.corpus_total_words, epochs=model.epochs,
            compute_loss=True, callbacks=[Slow()], checkpoint={checkpoint!r}, checkpoint_every=0)
print("finished", flush=True)
"""


def _start_trainer(tmp_path, corpus_file, checkpoint, settings=SETTINGS):
    script = TRAINER.format(settings=settings, corpus=str(corpus_file), checkpoint=str(checkpoint))
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)


def _wait_for_epoch(checkpoint, epoch, proc, timeout=120):
    """Wait until the checkpoint file says training is inside ``epoch`` (past its first chunk)."""
    from torch_w2v import checkpoint as ck
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if checkpoint.exists():
            try:
                _, state = ck.read(checkpoint)
            except ValueError:
                state = None  # never happens with atomic writes, but don't fail on it here
            if state is not None and state.epoch == epoch and state.stats["chunks"] >= 2:
                return state
        time.sleep(0.05)
    raise AssertionError("the trainer did not reach the expected epoch in time")


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path, corpus_file):
    reference = _train(corpus_file)
    checkpoint = tmp_path / "run.ckpt"
    proc = _start_trainer(tmp_path, corpus_file, checkpoint)
    state = _wait_for_epoch(checkpoint, 1, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert 0 < state.stats["chunks"] and (state.chunk_words, state.parts) == (4000, 1)  # the layout resumed
    resumed = Word2Vec.resume(str(checkpoint), corpus_file=str(corpus_file))
    np.testing.assert_array_equal(resumed.wv.vectors, reference.wv.vectors)
    np.testing.assert_array_equal(resumed.syn1neg, reference.syn1neg)
    assert resumed.epoch_losses == pytest.approx(reference.epoch_losses, rel=1e-9)
    assert resumed.wv.index_to_key == reference.wv.index_to_key


@pytest.mark.slow
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="two training threads need two cores")
def test_a_two_thread_run_resumes_with_its_layout(tmp_path, corpus_file):
    """With 2 threads each trains its own part of the epoch (a piece of each per chunk); the checkpoint
    records that, and the resumed run lays the epoch out the same way: its downsampling draws, keyed by
    chunk and piece, keep exactly the tokens an uninterrupted run keeps (the vectors themselves differ
    between any two 2-thread runs: Hogwild)."""
    from torch_w2v import checkpoint as ck
    settings = dict(SETTINGS, workers=2)
    reference = tmp_path / "reference.ckpt"
    model = Word2Vec(**settings)
    model.build_vocab(corpus_file=str(corpus_file))
    model.train(corpus_file=str(corpus_file), total_words=model.corpus_total_words, epochs=model.epochs,
                checkpoint=str(reference), checkpoint_every=1e9)
    _, done = ck.read(reference)
    checkpoint = tmp_path / "run.ckpt"
    proc = _start_trainer(tmp_path, corpus_file, checkpoint, settings)
    state = _wait_for_epoch(checkpoint, 1, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert (state.chunk_words, state.parts) == (4000, 2)
    Word2Vec.resume(str(checkpoint), corpus_file=str(corpus_file))
    _, resumed = ck.read(checkpoint)
    assert resumed.epoch == done.epoch == SETTINGS["epochs"]
    assert (resumed.trained, resumed.raw) == (done.trained, done.raw) and 0 < done.trained < done.raw


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_exits_143(tmp_path, corpus_file):
    checkpoint = tmp_path / "run.ckpt"
    proc = _start_trainer(tmp_path, corpus_file, checkpoint)
    _wait_for_epoch(checkpoint, 0, proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "finished" not in out
    assert "SIGTERM received" in err
    from torch_w2v import checkpoint as ck
    _, state = ck.read(checkpoint)
    assert state.epoch < SETTINGS["epochs"]
    resumed = Word2Vec.resume(str(checkpoint), corpus_file=str(corpus_file))
    np.testing.assert_array_equal(resumed.wv.vectors, _train(corpus_file).wv.vectors)


def test_sigint_in_process_raises_after_checkpoint(tmp_path, corpus_file):
    checkpoint = tmp_path / "run.ckpt"
    model = Word2Vec(**SETTINGS)
    model.build_vocab(corpus_file=str(corpus_file))
    before = signal.getsignal(signal.SIGINT)   # default_int_handler, or SIG_IGN in a background job

    class Interrupt:
        def on_train_begin(self, m):
            pass

        def on_epoch_begin(self, m):
            pass

        def on_epoch_end(self, m):
            os.kill(os.getpid(), signal.SIGINT)  # arrives during the next epoch's first chunk

        def on_train_end(self, m):
            pass

    with pytest.raises(TrainingInterrupted, match="resume"):
        model.train(corpus_file=str(corpus_file), total_words=model.corpus_total_words, epochs=3,
                    callbacks=[Interrupt()], checkpoint=str(checkpoint), checkpoint_every=1e9)
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored
    resumed = Word2Vec.resume(str(checkpoint), corpus_file=str(corpus_file))
    assert resumed.train_count == 1
    np.testing.assert_array_equal(resumed.wv.vectors, _train_plain(corpus_file).wv.vectors)


def _train_plain(corpus_file):
    model = Word2Vec(**SETTINGS)
    model.build_vocab(corpus_file=str(corpus_file))
    model.train(corpus_file=str(corpus_file), total_words=model.corpus_total_words, epochs=3)
    return model


def test_resume_refuses_another_corpus(tmp_path, corpus_file, lee_sentences):
    checkpoint = tmp_path / "run.ckpt"
    _train(corpus_file, checkpoint=str(checkpoint), checkpoint_every=0)
    other = tmp_path / "other.txt"
    other.write_text("\n".join(" ".join(s) for s in lee_sentences[:100]) + "\n")
    with pytest.raises(ValueError, match="differs from the one it was trained on"):
        Word2Vec.resume(str(checkpoint), corpus_file=str(other))


def test_checkpoint_loads_as_a_model_and_final_checkpoint_is_complete(tmp_path, corpus_file):
    checkpoint = tmp_path / "run.ckpt"
    model = _train(corpus_file, checkpoint=str(checkpoint), checkpoint_every=1e9)
    loaded = Word2Vec.load(str(checkpoint))
    np.testing.assert_array_equal(loaded.wv.vectors, model.wv.vectors)
    from torch_w2v import checkpoint as ck
    _, state = ck.read(checkpoint)
    assert state.epoch == SETTINGS["epochs"]  # the last save marks the schedule as done
    again = Word2Vec.resume(str(checkpoint), corpus_file=str(corpus_file))  # nothing left to train
    np.testing.assert_array_equal(again.wv.vectors, model.wv.vectors)


def test_negative_checkpoint_every_is_refused(tmp_path, corpus_file):
    model = Word2Vec(**SETTINGS)
    model.build_vocab(corpus_file=str(corpus_file))
    with pytest.raises(ValueError, match="checkpoint_every"):
        model.train(corpus_file=str(corpus_file), total_words=model.corpus_total_words, epochs=1,
                    checkpoint=str(tmp_path / "c"), checkpoint_every=-1)
