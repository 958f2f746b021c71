"""The torch-w2v command, end to end: real processes (``python -m torch_w2v``) on gensim's Lee corpus.

One training run (word2vec.c's flags, module fixture) writes the vectors, the vocabulary, the model and
the loss plot; the other tests read those files or run the other subcommands on them. Parsing errors are
also checked in-process through ``cli.main``, which is cheaper than a process per case.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from gensim.models import KeyedVectors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torch_w2v import Word2Vec, cli
from torch_w2v.evaluate import detect_binary, evaluate, load_vectors
from torch_w2v.export import save_vectors
from torch_w2v.vocab import read_vocab

try:
    import matplotlib  # noqa: F401
    HAVE_MPL = True
except ImportError:
    HAVE_MPL = False

HIDE = "import sys; sys.modules[{!r}] = None; import runpy; runpy.run_module('torch_w2v', run_name='__main__')"


def run_cli(*args, cwd, hide=None, stdin=None, timeout=180):
    """``python -m torch_w2v ARGS`` in a fresh process (with module ``hide`` made unimportable)."""
    command = [sys.executable, "-c", HIDE.format(hide), *args] if hide else [sys.executable, "-m", "torch_w2v", *args]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(command, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=timeout)


def report(result):
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, lee_path):
    """One run with word2vec.c's flags (skip-gram) writing vectors, vocabulary, model and loss plot."""
    folder = tmp_path_factory.mktemp("cli")
    extra = ["--plot-loss", "loss.png"] if HAVE_MPL else ["--compute-loss"]
    result = run_cli("train", "-train", lee_path, "-output", "v.bin", "-size", "20", "-window", "3", "-min-count", "2",
                     "-iter", "2", "-binary", "1", "-cbow", "0", "-threads", "2", "-save-vocab", "vocab.txt",
                     "--save-model", "model.w2v", *extra, cwd=folder)
    assert result.returncode == 0, report(result)
    return folder, result


@pytest.fixture(scope="module")
def reference_vocab(lee_path):
    """What torch_w2v.Word2Vec builds on the corpus with min_count=2."""
    model = Word2Vec(min_count=2, vector_size=20, sg=1)
    model.build_vocab(corpus_file=lee_path)
    return model.wv


# ------------------------------------------------------------------------------------------ train
@pytest.mark.slow
def test_train_writes_binary_vectors_gensim_loads(trained, reference_vocab):
    folder, result = trained
    with open(folder / "v.bin", "rb") as handle:
        assert handle.readline() == f"{len(reference_vocab)} 20\n".encode()
    kv = KeyedVectors.load_word2vec_format(str(folder / "v.bin"), binary=True)
    assert kv.index_to_key == reference_vocab.index_to_key
    assert kv.vectors.shape == (len(reference_vocab), 20)
    assert np.isfinite(kv.vectors).all()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["v.bin", "vocab.txt", "model.w2v"] + (["loss.png"] if HAVE_MPL else []))  # no temporary files left
    assert " : INFO : " in result.stderr and "EPOCH 1:" in result.stderr  # a pipe: log lines, no bar
    assert "\r" not in result.stderr


def test_save_vocab_is_word2vec_c_format(trained, reference_vocab):
    """word2vec.c's -read-vocab takes the first line for its end-of-sentence token '</s>' (issue 12.14): without
    it the most frequent word would end every sentence there and never be trained."""
    folder, _ = trained
    first, *lines = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert first == "</s> 300"  # one end of sentence per line of the corpus, as word2vec.c counts it
    assert [line.split(" ")[0] for line in lines] == reference_vocab.index_to_key
    assert [int(line.split(" ")[1]) for line in lines] == [
        reference_vocab.get_vecattr(w, "count") for w in reference_vocab.index_to_key]


def test_save_model_loads_with_word2vec_load(trained):
    folder, _ = trained
    model = Word2Vec.load(str(folder / "model.w2v"))
    assert (model.sg, model.vector_size, model.window, model.epochs, model.min_count) == (1, 20, 3, 2, 2)
    assert model.alpha == pytest.approx(0.025)  # word2vec.c's skip-gram default
    assert len(model.epoch_losses) == 2 and model.compute_loss  # --plot-loss / --compute-loss
    kv = KeyedVectors.load_word2vec_format(str(folder / "v.bin"), binary=True)
    np.testing.assert_array_equal(model.wv[kv.index_to_key], kv.vectors)


@pytest.mark.skipif(not HAVE_MPL, reason="needs matplotlib (pip install torch-w2v[plot])")
def test_plot_loss_writes_png(trained):
    folder, _ = trained
    data = (folder / "loss.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


@pytest.mark.slow
def test_read_vocab_round_trip_word2vec_c_form(trained, tmp_path, lee_path):
    """No subcommand (word2vec.c's command line), -read-vocab, text output with autodetected format."""
    folder, _ = trained
    result = run_cli("-train", lee_path, "-read-vocab", str(folder / "vocab.txt"), "-output", "v.txt", "-size", "10",
                     "-min-count", "2", "-iter", "1", "-cbow", "0", "-binary", "0", "-q", cwd=tmp_path)
    assert result.returncode == 0, report(result)
    assert result.stderr == ""  # --quiet
    kv = load_vectors(tmp_path / "v.txt")
    first = load_vectors(folder / "model.w2v")
    # the same words in the same order of counts; words of equal count may swap places, as in gensim and
    # word2vec.c, whose vocabulary sorts are not stable
    assert sorted(kv.index_to_key) == sorted(first.index_to_key)
    assert [first.get_vecattr(w, "count") for w in kv.index_to_key] == list(first.expandos["count"])
    assert detect_binary(tmp_path / "v.txt") is False and detect_binary(folder / "v.bin") is True


@pytest.mark.slow
def test_train_without_corpus_trains_on_lee_and_shows_neighbours(tmp_path):
    """The demo mode; the default is CBOW (word2vec.c's -cbow 1)."""
    result = run_cli("train", "-size", "30", "-iter", "3", "-q", cwd=tmp_path)
    assert result.returncode == 0, report(result)
    assert "Trained CBOW on gensim's bundled Lee corpus" in result.stdout
    assert "Nearest neighbours" in result.stdout and "police" in result.stdout
    assert list(tmp_path.iterdir()) == []  # nothing written without -o


# ------------------------------------------------------------------------------------------- eval
@pytest.mark.slow
def test_eval_table_and_json(trained):
    folder, _ = trained
    table = run_cli("eval", "v.bin", cwd=folder)
    assert table.returncode == 0, report(table)
    for word in ("analogies", "wordsim353", "simlex999", "accuracy", "spearman", "/19544 questions", "/353 pairs"):
        assert word in table.stdout
    as_json = run_cli("eval", "v.bin", "--json", "--no-analogies", cwd=folder)
    assert as_json.returncode == 0, report(as_json)
    report_ = json.loads(as_json.stdout)
    assert report_["analogies"] is None and report_["vocab_size"] > 1000
    kv = KeyedVectors.load_word2vec_format(str(folder / "v.bin"), binary=True)
    _, spearman, oov = kv.evaluate_word_pairs(report_["pairs"]["wordsim353"]["file"])  # gensim's own numbers
    assert report_["pairs"]["wordsim353"]["spearman"] == pytest.approx(spearman[0])
    assert report_["pairs"]["wordsim353"]["oov_ratio"] == pytest.approx(oov / 100)


def test_evaluate_function(trained):
    folder, _ = trained
    kv = load_vectors(folder / "model.w2v")  # a --save-model file works as VECTORS too
    result = evaluate(kv, pairs={})
    a = result["analogies"]
    assert a["questions"] == 19544 and 0 < a["total"] < a["questions"]
    assert a["correct"] == sum(s["correct"] for s in a["sections"])
    assert 0.0 <= a["accuracy"] <= 1.0 and result["pairs"] == {}


# ---------------------------------------------------------------------------------------- similar
def test_similar_matches_gensim(trained):
    folder, _ = trained
    kv = KeyedVectors.load_word2vec_format(str(folder / "v.bin"), binary=True)
    result = run_cli("similar", "v.bin", "police", "--topn", "5", cwd=folder)
    assert result.returncode == 0, report(result)
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert [r[1] for r in rows] == [w for w, _ in kv.most_similar("police", topn=5)]

    analogy = run_cli("similar", "v.bin", "Sydney", "Afghanistan", "--negative", "Australia", "--json", cwd=folder)
    assert analogy.returncode == 0, report(analogy)
    expected = kv.most_similar(positive=["Sydney", "Afghanistan"], negative=["Australia"], topn=10)
    assert [r["word"] for r in json.loads(analogy.stdout)["results"]] == [w for w, _ in expected]



def test_similar_reads_queries_from_stdin_and_reports_unknown_words(trained):
    folder, _ = trained
    queries = "police\nSydney Afghanistan -Australia\npolice zzzq POLICE\n"
    result = run_cli("similar", "v.bin", "-n", "3", cwd=folder, stdin=queries)
    assert result.returncode == 1  # one query failed; the others were answered
    assert "police  (cosine similarity)" in result.stdout
    assert "Sydney + Afghanistan - Australia" in result.stdout
    assert "not in the vocabulary of v.bin (" in result.stderr and "zzzq" in result.stderr
    assert "POLICE (did you mean 'police'?)" in result.stderr and "Traceback" not in result.stderr


# ------------------------------------------------------------------------------------------- plot
@pytest.mark.slow
@pytest.mark.skipif(not HAVE_MPL, reason="needs matplotlib (pip install torch-w2v[plot])")
def test_plot_writes_png(trained, tmp_path):
    folder, _ = trained
    out = tmp_path / "map.png"
    result = run_cli("plot", str(folder / "v.bin"), "--words", "police", "fire", "Australia", "Sydney", "-o", str(out),
                     cwd=tmp_path)
    assert result.returncode == 0, report(result)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


def test_plot_without_matplotlib_names_the_extra(trained, tmp_path):
    folder, _ = trained
    result = run_cli("plot", str(folder / "v.bin"), "-o", "map.png", cwd=tmp_path, hide="matplotlib")
    assert result.returncode == 1
    assert "pip install torch-w2v[plot]" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_plot_loss_without_matplotlib_fails_before_training(tmp_path, lee_path):
    result = run_cli("train", lee_path, "-o", "v.bin", "--plot-loss", "loss.png", cwd=tmp_path, hide="matplotlib")
    assert result.returncode == 1
    assert "pip install torch-w2v[plot]" in result.stderr and "EPOCH" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_pca_projection_is_deterministic_and_separates_directions():
    from torch_w2v.plot import project_2d
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=16), rng.normal(size=16)
    vectors = np.stack([a + 0.01 * rng.normal(size=16) for _ in range(5)] + [b + 0.01 * rng.normal(size=16)
                                                                             for _ in range(5)])
    xy = project_2d(vectors)
    assert xy.shape == (10, 2)
    np.testing.assert_array_equal(xy, project_2d(vectors))
    assert np.linalg.norm(xy[:5].mean(0) - xy[5:].mean(0)) > 10 * xy[:5].std(0).max()
    with pytest.raises(ValueError, match="method must be one of"):
        project_2d(vectors, method="umap")


# ----------------------------------------------------------------------------------------- errors
def test_missing_corpus_and_bad_flag_value_in_real_processes(tmp_path):
    missing = run_cli("train", "no-such-corpus.txt", "-o", "v.bin", cwd=tmp_path)
    assert missing.returncode == 1
    assert "corpus file not found: no-such-corpus.txt" in missing.stderr and "Traceback" not in missing.stderr
    bad = run_cli("-train", "x.txt", "-output", "v.bin", "-size", "zero", cwd=tmp_path)
    assert bad.returncode == 2
    assert "argument -size/--vector-size/--size: invalid integer value: 'zero'" in bad.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, message", [
    (["train", "c.txt", "-o", "v", "-binary", "2"], "argument -binary: must be 0 or 1, got '2'"),
    (["train", "c.txt", "-o", "v", "-window", "0"], "argument -window/--window: must be an integer >= 1, got '0'"),
    (["train", "c.txt", "-o", "v", "-alpha", "0"], "argument -alpha/--alpha: must be a finite number > 0, got '0'"),
    (["train", "c.txt", "-o", "v", "-alpha", "inf"], "argument -alpha/--alpha: must be a finite number > 0, got 'inf'"),
    (["train", "c.txt", "-o", "v", "-alpha", "nan"], "argument -alpha/--alpha: must be a finite number > 0, got 'nan'"),
    (["train", "c.txt", "-o", "v", "-sample", "inf"], "argument -sample/--sample: must be a finite number >= 0"),
    (["train", "c.txt", "-o", "v", "--ns-exponent", "inf"], "argument --ns-exponent: must be a finite number"),
    (["train", "c.txt", "-o", "v", "-cbow", "1", "--sg", "1"], "-cbow 1 and --sg 1 contradict each other"),
    (["train", "c.txt"], "nothing would be written: pass -output/-o FILE"),
    (["train", "c.txt", "-train", "d.txt", "-o", "v"], "two corpora given"),
    (["train", "c.txt", "-o", "v", "-classes", "10"], "k-means clustering is not supported"),
    (["plot", "v.bin", "-o", "m.png", "--method", "umap"], "argument --method: invalid choice: 'umap'"),
    (["similar", "v.bin", "x", "--topn", "0"], "argument --topn/-n: must be an integer >= 1, got '0'"),
])
def test_usage_errors_name_the_flag_and_value(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["train", "{corpus}", "-o", "nofolder/v.bin"], "-output nofolder/v.bin: the folder"),
    (["train", "{corpus}", "-o", "v.bin", "-read-vocab", "none.txt"], "-read-vocab file not found: none.txt"),
    (["eval", "none.bin"], "none.bin: no such file"),
    (["eval", "{corpus}"], "is not a word2vec C file: its first line should be '<words> <dimensions>'"),
    (["similar", "none.bin", "x"], "none.bin: no such file"),
])
def test_runtime_errors_exit_1_with_the_path(argv, message, capsys, tmp_path, lee_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "_setup_logging", lambda level: None)  # leave pytest's logging alone
    assert cli.main([a.format(corpus=lee_path) for a in argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("torch-w2v: error: ") and message in err


def test_read_vocab_rejects_a_malformed_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("the 10\nof ten\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"vocab.txt, line 2: expected 'word count'.*'of ten'"):
        read_vocab(path)
    path.write_text("</s> 300\nthe 10\nof 4\n", encoding="utf-8")
    assert read_vocab(path) == {"the": 10, "of": 4}  # word2vec.c's end-of-sentence token is skipped


def test_detect_binary_and_load_vectors_on_compressed_text(tmp_path):
    kv = KeyedVectors(3)
    kv.add_vectors(["a", "b"], np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32))
    kv.save_word2vec_format(str(tmp_path / "v.txt.gz"), binary=False)
    kv.save_word2vec_format(str(tmp_path / "v.bin"), binary=True)
    assert detect_binary(tmp_path / "v.txt.gz") is False and detect_binary(tmp_path / "v.bin") is True
    np.testing.assert_array_equal(load_vectors(tmp_path / "v.txt.gz").vectors, kv.vectors)
    np.testing.assert_array_equal(load_vectors(tmp_path / "v.bin").vectors, kv.vectors)
    save_vectors(kv, tmp_path / "out.bin", binary=True)
    assert (tmp_path / "out.bin").read_bytes() == (tmp_path / "v.bin").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin", "v.bin", "v.txt.gz"]


# ------------------------------------------------------------------------- issue 12: what users hit
def one_error_line(result, *fragments):
    """The run failed with exit 1 and one 'torch-w2v: error:' line holding each fragment; no traceback."""
    assert result.returncode == 1, report(result)
    assert "Traceback" not in result.stderr, report(result)
    errors = [line for line in result.stderr.splitlines() if line.startswith("torch-w2v: error: ")]
    assert len(errors) == 1, report(result)
    for fragment in fragments:
        assert fragment in errors[0], report(result)
    return errors[0]


@pytest.fixture
def small_corpus(tmp_path, toy_sentences):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(s) for s in toy_sentences) + "\n")
    return path


SMALL = ["-size", "8", "-iter", "2", "-min-count", "1", "-threads", "1", "-q"]


@pytest.mark.slow
def test_checkpoint_and_outputs_never_replace_the_corpus_or_a_file_of_another_kind(tmp_path, small_corpus):
    """Issue 12.1: --checkpoint PATH replaced whatever PATH held (a corpus, a model), exit 0, no word."""
    before = small_corpus.read_bytes()
    run = run_cli("train", small_corpus, "-o", "v.txt", "--checkpoint", small_corpus, *SMALL, cwd=tmp_path)
    one_error_line(run, f"--checkpoint {small_corpus} is the same file as the corpus")
    (tmp_path / "notes.txt").write_text("my notes, not a checkpoint\n")
    run = run_cli("train", small_corpus, "-o", "v.txt", "--checkpoint", "notes.txt", *SMALL, cwd=tmp_path)
    one_error_line(run, "--checkpoint: notes.txt already exists and holds a file of another kind")
    run = run_cli("train", small_corpus, "--save-model", "notes.txt", *SMALL, cwd=tmp_path)
    one_error_line(run, "--save-model: notes.txt already exists", "not a torch_w2v model file")
    run = run_cli("train", small_corpus, "-o", "v.txt", "--save-model", "v.txt", *SMALL, cwd=tmp_path)
    one_error_line(run, "--save-model v.txt is the same file as the -output")
    assert small_corpus.read_bytes() == before
    assert (tmp_path / "notes.txt").read_text() == "my notes, not a checkpoint\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt", "notes.txt"]
    # the files of this run's own kinds are replaced: vectors by vectors, its checkpoint by itself
    for _ in range(2):
        run = run_cli("train", small_corpus, "-o", "v.txt", "--checkpoint", "run.ckpt", *SMALL, cwd=tmp_path)
        assert run.returncode == 0, report(run)


@pytest.mark.slow
def test_a_silent_server_fails_train_and_eval_in_one_line_naming_the_url(tmp_path):
    """Issue 12.2, through the command line: a server that accepts and never answers hung forever."""
    import socket
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    url = f"http://127.0.0.1:{server.getsockname()[1]}/data.txt"
    env = dict(os.environ, TORCH_W2V_URL_TIMEOUT="1")
    env.pop("PYTHONPATH", None)
    try:
        for args in (["train", url, "-o", "v.txt"], ["eval", url], ["similar", url, "king"]):
            run = subprocess.run([sys.executable, "-m", "torch_w2v", *args], cwd=tmp_path, env=env,
                                 capture_output=True, text=True, timeout=120)
            one_error_line(run, url, "sent nothing for 1 s")
    finally:
        server.close()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_resume_refuses_other_settings_naming_each(tmp_path, small_corpus):
    """Issue 12.5: --resume with other -size, -iter, -alpha, --sg ignored them silently."""
    run = run_cli("train", small_corpus, "-o", "v.txt", "--checkpoint", "run.ckpt", "-cbow", "0", *SMALL,
                  cwd=tmp_path)
    assert run.returncode == 0, report(run)
    run = run_cli("train", small_corpus, "-o", "v.txt", "--checkpoint", "run.ckpt", "--resume", "-size", "50",
                  "-iter", "3", "-alpha", "0.1", "--sg", "0", "-q", cwd=tmp_path)
    one_error_line(run, "-size 50 (the checkpoint has 8)", "-iter 3 (the checkpoint has 2)",
                   "-alpha 0.1 (the checkpoint has 0.025)", "--sg 0 (the checkpoint has 1)")
    run = run_cli("train", small_corpus, "-o", "v.txt", "--checkpoint", "run.ckpt", "--resume", "-cbow", "0",
                  *SMALL[:-1], "-v", cwd=tmp_path)  # the same settings: fine
    assert run.returncode == 0, report(run)
    assert "Effective 'alpha' higher" not in run.stderr  # issue 12.11: logged on every resume


@pytest.mark.slow
@pytest.mark.parametrize("ext", [".gz", ".bz2"])
def test_a_truncated_compressed_corpus_is_one_line_naming_the_file(tmp_path, small_corpus, ext):
    """Issue 12.6: a traceback from the CLI."""
    import bz2
    import gzip
    data = {".gz": gzip.compress, ".bz2": bz2.compress}[ext](small_corpus.read_bytes() * 20)
    (tmp_path / f"c.txt{ext}").write_bytes(data[:len(data) // 2])
    run = run_cli("train", f"c.txt{ext}", "-o", "v.txt", *SMALL, cwd=tmp_path)
    one_error_line(run, f"c.txt{ext}: the compressed file is truncated or damaged")
    assert not (tmp_path / "v.txt").exists()


def test_unwritable_output_folder_fails_before_training(tmp_path, small_corpus):
    """Issue 12.7: -o into a read-only folder failed only after training."""
    from test_persist import tmpfs
    with tmpfs(tmp_path / "ro", "ro,size=64k") as folder:
        run = run_cli("train", small_corpus, "-o", folder / "v.txt", "-size", "8", "-min-count", "1", cwd=tmp_path)
        one_error_line(run, f"-output {folder / 'v.txt'}: cannot write in the folder", "Read-only file system")
        assert "EPOCH" not in run.stderr and "vocabulary" not in run.stderr


@pytest.mark.slow
@pytest.mark.parametrize("flag, name", [("--save-model", "m.w2v"), ("--checkpoint", "run.ckpt")])
def test_a_full_disk_is_one_line_naming_the_target(tmp_path, small_corpus, flag, name):
    """Issue 12.7: a traceback ending in torch's 'enforce fail at inline_container.cc ... unexpected pos'."""
    from test_persist import tmpfs
    with tmpfs(tmp_path / "small", "size=8k") as folder:
        out = [] if flag == "--save-model" else ["-o", tmp_path / "v.txt"]
        run = run_cli("train", small_corpus, flag, folder / name, *out, "-size", "64", "-min-count", "1", "-q",
                      cwd=tmp_path)
        one_error_line(run, "No space left on device", str(folder / name))
        assert "inline_container" not in run.stderr and os.listdir(folder) == []


@pytest.mark.slow
def test_a_file_size_limit_is_one_line_naming_the_target(tmp_path, small_corpus):
    """The same through RLIMIT_FSIZE (EFBIG), which needs no root."""
    import resource
    import signal

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-m", "torch_w2v", "train", str(small_corpus), "--save-model", "m.w2v",
                          "-size", "64", "-min-count", "1", "-q"], cwd=tmp_path, env=env, preexec_fn=limit,
                         capture_output=True, text=True, timeout=300)
    one_error_line(run, "File too large (while writing m.w2v)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt"]


@pytest.fixture
def vectors_with_nan(tmp_path):
    kv = KeyedVectors(3)
    words = ["king", "queen", "man", "woman", "broken", "inf"]
    vectors = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0.1, 0.9, 0], [np.nan, 1, 0], [np.inf, 0, 1]],
                       dtype=np.float32)
    kv.add_vectors(words, vectors)
    kv.save_word2vec_format(str(tmp_path / "v.txt"))
    return tmp_path / "v.txt"


@pytest.mark.slow
def test_similar_on_vectors_with_nan_rows(vectors_with_nan):
    """Issue 12.9: 'similar' printed nan scores, or silently dropped the word, exit 0."""
    folder = vectors_with_nan.parent
    run = run_cli("similar", "v.txt", "king", cwd=folder)
    assert run.returncode == 0, report(run)
    assert "nan" not in run.stdout.lower() and "inf" not in run.stdout.split("\n", 1)[1]
    assert [line.split()[1] for line in run.stdout.splitlines()[1:]] == ["queen", "woman", "man"]
    assert "warning: v.txt: 2 words have NaN or inf in their vectors" in run.stderr
    assert "'broken', 'inf'" in run.stderr
    run = run_cli("similar", "v.txt", "broken", cwd=folder)
    one_error_line(run, "v.txt: the vector of 'broken' holds NaN or inf")
    run = run_cli("eval", "v.txt", "--no-analogies", "--json", cwd=folder)
    assert run.returncode == 0 and json.loads(run.stdout)["non_finite_words"] == 2, report(run)


@pytest.mark.slow
def test_eval_with_one_known_pair_reports_a_null_score(tmp_path):
    """Issue 12.10: eval failed with scipy's 'x and y must have length at least 2'."""
    kv = KeyedVectors(3)
    kv.add_vectors(["tiger", "cat", "zebra"], np.eye(3, dtype=np.float32))
    kv.save_word2vec_format(str(tmp_path / "v.txt"))
    (tmp_path / "pairs.tsv").write_text("tiger\tcat\t7.35\nbook\tpaper\t7.46\n")
    run = run_cli("eval", "v.txt", "--no-analogies", "--wordsim", "pairs.tsv", "--simlex", "pairs.tsv", "--json",
                  cwd=tmp_path)
    assert run.returncode == 0, report(run)
    scores = json.loads(run.stdout)["pairs"]
    assert scores["wordsim353"]["spearman"] is None and scores["wordsim353"]["pairs"] == 1
    table = run_cli("eval", "v.txt", "--no-analogies", "--wordsim", "pairs.tsv", "--simlex", "pairs.tsv",
                    cwd=tmp_path)
    assert table.returncode == 0 and "n/a" in table.stdout, report(table)


def test_a_directory_is_named_as_a_directory(tmp_path, capsys, monkeypatch):
    """Issue 12.11: a directory given as corpus or model said 'no such file'."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "_setup_logging", lambda level: None)
    (tmp_path / "folder").mkdir()
    for argv in (["train", "folder", "-o", "v.txt"], ["eval", "folder"], ["similar", "folder", "x"],
                 ["train", "-read-vocab", "folder", "-o", "v.txt"], ["train", "-o", "folder"]):
        assert cli.main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("torch-w2v: error: ") and "is a directory" in err and "no such file" not in err


def test_docs_cli_md_describes_every_train_option():
    """Issue 12.11: docs/cli.md lacked --checkpoint, --checkpoint-every, --resume and --sync-words, although
    'train -h' sends the reader there."""
    docs = open(os.path.join(os.path.dirname(__file__), "..", "docs", "cli.md"), encoding="utf-8").read()
    parser = cli.build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    missing = [action.option_strings[0] for action in train._actions if action.option_strings
               and action.help != argparse.SUPPRESS and not any(f"`{o}" in docs for o in action.option_strings)]
    assert missing == []


# Random command lines made of one hostile input each: every failure is one line with exit 1 (or a usage
# error, exit 2), never a traceback. In-process (cli.main) on real files, so that many cases run.
HOSTILE = {
    "missing": None, "directory": None, "empty": b"", "text": b"the quick brown fox\n",
    "garbage": bytes(range(256)) * 4, "truncated.gz": None, "header-mismatch": b"2 5\na 1 2 3\nb 4 5 6\n",
    "corrupt-model": None, "nan-vectors": b"2 2\na nan 1\nb 1 0\n",
}


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory, trained):
    import gzip
    folder = tmp_path_factory.mktemp("hostile")
    for name, content in HOSTILE.items():
        if content is not None:
            (folder / name).write_bytes(content)
    (folder / "directory").mkdir()
    (folder / "truncated.gz").write_bytes(gzip.compress(b"the quick brown fox\n" * 500)[:60])
    model = (trained[0] / "model.w2v").read_bytes()
    (folder / "corrupt-model").write_bytes(model[:len(model) // 2] + bytes(100) + model[len(model) // 2 + 100:])
    return folder


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(["train", "train-read-vocab", "train-output", "train-alpha", "eval", "similar",
                                "plot", "eval-wordsim"]),
       hostile=st.sampled_from(sorted(HOSTILE)))
def test_random_cli_error_cases_are_one_line(hostile_files, tmp_path, command, hostile, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "_setup_logging", lambda level: None)
    bad = str(hostile_files / hostile)
    argv = {"train": ["train", bad, "-o", "v.txt", "-size", "4", "-min-count", "1", "-iter", "1", "-q"],
            "train-read-vocab": ["train", bad, "-read-vocab", bad, "-o", "v.txt", "-q"],
            "train-output": ["train", str(hostile_files / "text"), "--save-model", bad, "-q"],
            "train-alpha": ["train", bad, "-o", "v.txt", "-alpha", "inf"],
            "eval": ["eval", bad, "--no-analogies"], "similar": ["similar", bad, "a"],
            "plot": ["plot", bad, "-o", "map.png"], "eval-wordsim": ["eval", bad, "--wordsim", bad]}[command]
    try:
        status = cli.main(argv)
    except SystemExit as exc:  # argparse's usage errors
        status = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if status == 0:  # e.g. a text file that is a fine corpus, or NaN rows left out with a warning
        return
    assert status in (1, 2), err
    if status == 1:
        errors = [line for line in err.splitlines() if line.startswith("torch-w2v: error: ")]
        assert len(errors) == 1, err
