"""compat_examples/: gensim programs that run unchanged but for the import line.

Each example runs in a fresh interpreter (the venv's, ``sys.executable``) in an empty folder, as a user
would run it; its gensim original runs the same way with gensim, which proves that the original is a
working gensim program and that the two print the same key lines.
"""
import difflib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "compat_examples"
ORIGINALS = EXAMPLES / "gensim_originals"
OURS_IMPORT = "from torch_w2v import Word2Vec"
GENSIM_IMPORT = "from gensim.models import Word2Vec"

# the lines each example must print (both ours and gensim's original)
KEY_LINES = {
    "word2vec_docstring.py": ["train on new words: (0, 2)", "vector of 'computer': (100,)", "docstring example: OK"],
    "tutorial_lee.py": ["word #0/", "wordsim353 spearman", "analogy accuracy", "tutorial flow: OK"],
    "c_format.py": ["same words: True same vectors: True", "close: True", "same as text: True",
                    "count of 'the' from vocab.txt: 3523 model: 3523", "word2vec C format: OK"],
    "online_training.py": ["vocabulary grew from", "a new word has a vector: (50,)", "online training: OK"],
    "loss_callback.py": ["Loss after epoch 0:", "Loss after epoch 4:", "epochs logged: 5 - loss fell: True",
                         "loss callback: OK"],
}
SHELL_KEY_LINES = ["the 3523", "police  (cosine similarity)", "Afghanistan + Sydney - Australia",
                   "wordsim353", "gensim loaded 4844 vectors of 50 dimensions", "cli session: OK"]


def _env():
    """The environment of a user in the activated virtualenv: its bin/ first on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["PYTHON"] = sys.executable
    env.pop("PYTHONPATH", None)
    return env


def _run(command, cwd, timeout=180):
    return subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)


def _report(result):
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"


def test_every_example_has_key_lines_and_an_original():
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert scripts == sorted(KEY_LINES), "each example needs expected key lines here"
    assert sorted(p.name for p in ORIGINALS.glob("*.py")) == scripts
    assert len(scripts) + len(list(EXAMPLES.glob("*.sh"))) >= 6


@pytest.mark.parametrize("name", sorted(KEY_LINES))
def test_example_differs_from_gensim_original_only_in_the_import(name):
    ours = (EXAMPLES / name).read_text(encoding="utf-8").splitlines()
    original = (ORIGINALS / name).read_text(encoding="utf-8").splitlines()
    changed = [line for line in difflib.unified_diff(original, ours, lineterm="", n=0)
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed == ["-" + GENSIM_IMPORT, "+" + OURS_IMPORT], "\n".join(changed)
    assert ours.index(OURS_IMPORT) == original.index(GENSIM_IMPORT)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(KEY_LINES))
def test_example_runs_on_torch_w2v(name, tmp_path):
    result = _run([sys.executable, str(EXAMPLES / name)], cwd=tmp_path)
    assert result.returncode == 0, _report(result)
    for line in KEY_LINES[name]:
        assert line in result.stdout, f"{line!r} not printed\n{_report(result)}"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(KEY_LINES))
def test_gensim_original_runs_on_gensim(name, tmp_path):
    result = _run([sys.executable, str(ORIGINALS / name)], cwd=tmp_path)
    assert result.returncode == 0, _report(result)
    for line in KEY_LINES[name]:
        assert line in result.stdout, f"{line!r} not printed by gensim\n{_report(result)}"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_cli_session_script(tmp_path):
    result = _run(["sh", str(EXAMPLES / "cli_session.sh")], cwd=tmp_path)
    assert result.returncode == 0, _report(result)
    for line in SHELL_KEY_LINES:
        assert line in result.stdout, f"{line!r} not printed\n{_report(result)}"
    assert (tmp_path / "vectors.bin").stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors.bin", "vocab.txt"]  # no temporary files left
