"""Progress reporting: log lines, the tqdm bar, and what the CLI shows on a terminal and on a pipe.

The terminal tests run ``torch-w2v train`` under a real pseudo-terminal (util-linux ``script``, or
Python's ``pty`` where ``script`` is missing) and check the bar's characters; the pipe test checks that
the same command writes gensim-style log lines and no bar.
"""
import io
import logging
import os
import pty
import select
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest

from torch_w2v import Word2Vec
from torch_w2v.progress import Progress, _bar_size
from torch_w2v.training.engine import EpochStats

BAR_CHARS = ("%|", "█")


def _stats(raw, sentences=10, loss=0.0, alpha=0.02):
    return EpochStats(chunks=1, effective_words=raw // 2, raw_words=raw, sentences=sentences, loss=loss,
                      seconds=0.5, last_alpha=alpha)


def _model(compute_loss=True):
    return SimpleNamespace(compute_loss=compute_loss, epoch_losses=[])


# ------------------------------------------------------------------------------------------ unit
def test_log_lines_at_report_delay_and_epoch_end(caplog):
    progress = Progress(_model(compute_loss=False), epochs=2, encoded=None, total_words=1000, report_delay=0.0)
    with caplog.at_level(logging.INFO, logger="torch_w2v"):
        progress.epoch_begin(0)
        progress.update(_stats(400), alpha=0.02)
        progress.epoch_end(0, _stats(1000), total_examples=10, total_words=1000)
        progress.close()
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("EPOCH 0 - PROGRESS: at 40.00% words,") and messages[0].endswith("alpha 0.02000")
    assert messages[1].startswith("EPOCH 0: training on 1000 raw words (500 effective words) took 0.5s")
    assert "loss" not in messages[1] and not any(r.levelno >= logging.WARNING for r in caplog.records)


def test_warnings_when_the_corpus_differs_from_the_totals(caplog):
    progress = Progress(_model(), epochs=1, encoded=None, total_words=1000)
    with caplog.at_level(logging.INFO, logger="torch_w2v"):
        progress.epoch_end(0, _stats(900, sentences=9, loss=12.5), total_examples=10, total_words=1000)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["EPOCH 0: supplied example count (9) did not equal expected count (10)",
                        "EPOCH 0: supplied raw word count (900) did not equal expected count (1000)"]
    assert ", loss 12.5" in caplog.records[0].getMessage()


def test_bar_shows_epoch_rate_lr_loss_and_eta():
    out = io.StringIO()
    progress = Progress(_model(), epochs=2, encoded=None, total_words=1000, bar=True, file=out,
                        loss=lambda: 42.0)
    progress.epoch_begin(0)
    progress.update(_stats(500), alpha=0.0125)
    assert progress.bar.postfix == "lr=0.0125, loss=42"  # drawn at tqdm's next refresh (at most 10 per second)
    progress.epoch_end(0, _stats(1000, loss=80.0, alpha=0.0125))
    progress.epoch_begin(1)
    progress.update(_stats(1000), alpha=0.0001)
    progress.close()
    text = out.getvalue()
    for piece in ("epoch 1/2", "epoch 2/2", "words/s", "lr=0.0125", "loss=80", "100%", "2.00k/2.00k", "<"):
        assert piece in text, piece


def test_bar_routes_console_log_records_through_tqdm_and_restores_handlers(capsys):
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    root.addHandler(handler)
    try:
        progress = Progress(_model(), epochs=1, encoded=None, total_words=10, bar=True)
        assert handler not in root.handlers  # replaced by tqdm's handler while the bar is shown
        logging.getLogger("torch_w2v").warning("a message during training")
        progress.close()
        assert handler in root.handlers
    finally:
        root.removeHandler(handler)
    assert "a message during training" in capsys.readouterr().err


def test_bar_has_a_size_on_a_terminal_that_reports_none():
    """A fresh pseudo-terminal reports 0 x 0; tqdm would then draw nothing."""
    leader, follower = pty.openpty()
    try:
        with os.fdopen(follower, "w", closefd=False) as tty:
            assert _bar_size(tty) == {"ncols": 100, "nrows": 20}
    finally:
        os.close(leader)
        os.close(follower)
    assert _bar_size(io.StringIO()) == {"dynamic_ncols": True}


def test_word2vec_progress_true_draws_a_bar(capsys, toy_sentences):
    Word2Vec(toy_sentences, vector_size=8, min_count=1, sg=1, epochs=2, workers=1, progress=True, compute_loss=True)
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and "100%" in err and "loss=" in err


# ---------------------------------------------------------------------------------- the real CLI
def _train_command(corpus):
    return [sys.executable, "-m", "torch_w2v", "train", corpus, "-o", "v.bin", "-binary", "1", "-size", "20",
            "-min-count", "2", "-iter", "2", "-cbow", "0", "-threads", "2", "--compute-loss"]


def _run_in_terminal(command, cwd, columns=100, rows=30):
    """Run ``command`` with stdin, stdout and stderr on a pseudo-terminal; returns (exit code, output)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if shutil.which("script"):
        line = f"stty cols {columns} rows {rows}; exec " + " ".join(_quote(c) for c in command)
        result = subprocess.run(["script", "-qec", line, "/dev/null"], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                capture_output=True, timeout=180)
        return result.returncode, result.stdout.decode("utf-8", errors="replace")
    leader, follower = pty.openpty()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 180)
        try:
            data = os.read(leader, 65536) if ready else b""
        except OSError:  # EIO: the child closed the terminal
            data = b""
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return process.wait(timeout=60), b"".join(chunks).decode("utf-8", errors="replace")


def _quote(arg):
    import shlex
    return shlex.quote(arg)


@pytest.mark.slow
def test_cli_on_a_terminal_shows_the_bar_and_no_log_lines(tmp_path, lee_path):
    code, output = _run_in_terminal(_train_command(lee_path), cwd=tmp_path)
    assert code == 0, output[-3000:]
    assert all(c in output for c in BAR_CHARS), output[-3000:]
    for piece in ("epoch 1/2", "epoch 2/2", "words/s", "lr=", "loss=", "100%"):
        assert piece in output, piece
    assert " : INFO : " not in output
    assert "torch-w2v: wrote" in output and (tmp_path / "v.bin").stat().st_size > 0


@pytest.mark.slow
def test_cli_on_a_pipe_logs_gensim_style_lines_and_no_bar(tmp_path, lee_path):
    result = subprocess.run(_train_command(lee_path), cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stderr.splitlines()
    assert any(" : INFO : EPOCH 0: training on 59890 raw words" in line for line in lines)
    assert any(" : INFO : EPOCH 1: training on 59890 raw words" in line and ", loss " in line for line in lines)
    assert any(" : INFO : collected 10781 word types" in line for line in lines)
    assert not any(c in result.stderr for c in BAR_CHARS) and "\r" not in result.stderr
    assert result.stdout == ""


@pytest.mark.slow
def test_cli_no_progress_on_a_terminal_logs_instead(tmp_path, lee_path):
    code, output = _run_in_terminal(_train_command(lee_path) + ["--no-progress"], cwd=tmp_path)
    assert code == 0, output[-3000:]
    assert " : INFO : EPOCH 1: training on 59890 raw words" in output
    assert "%|" not in output


@pytest.mark.slow
def test_cli_progress_quiet_on_a_pipe_draws_only_the_bar(tmp_path, lee_path):
    result = subprocess.run(_train_command(lee_path) + ["--progress", "--quiet"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "%|" in result.stderr and "epoch 2/2" in result.stderr
    assert " : INFO : " not in result.stderr and "torch-w2v:" not in result.stderr
