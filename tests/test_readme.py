"""The README and the docs stay true: their links and paths exist, their commands parse, their code runs."""
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, ROOT / "benchmarks" / "README.md", ROOT / "benchmarks" / "results" / "README.md",
         *sorted((ROOT / "docs").glob("*.md"))]
TOP = ("torch_w2v/", "tests/", "benchmarks/", "scripts/", "docs/", "compat_examples/")


def _blocks(text: str, language: str) -> list:
    """The bodies of the page's fenced blocks of ``language`` ("" for the plain ones)."""
    blocks, body, fence = [], [], None
    for line in text.splitlines():
        if line.startswith("```"):
            if fence is None:
                fence, body = line[3:].strip(), []
            else:
                if fence == language:
                    blocks.append("\n".join(body) + "\n")
                fence = None
        elif fence is not None:
            body.append(line)
    return blocks


def _commands(text: str) -> list:
    """The shell commands of the page's ``sh`` blocks, comments and line continuations resolved."""
    lines = []
    for block in _blocks(text, "sh"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #", 1)[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def test_the_readme_is_a_short_read():
    lines = README.read_text().splitlines()
    assert len(lines) <= 220, f"README.md has {len(lines)} lines; move history to benchmarks/results/README.md"
    assert not re.search(r"\.\./shared", README.read_text()), "links must stay inside the repository"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_of_the_docs_exists(page):
    text = page.read_text()
    targets = [t.split("#", 1)[0] for t in re.findall(r"\]\(([^)\s]+)\)", text)]
    missing = [t for t in targets if t and "://" not in t and not (page.parent / t).exists()]
    assert not missing, f"{page.relative_to(ROOT)} links to missing files: {missing}"


def test_every_path_the_readme_names_exists():
    text = README.read_text()
    named = set(re.findall(r"`((?:%s)[\w./-]*)`" % "|".join(map(re.escape, TOP)), text))
    for block in _blocks(text, ""):  # the layout block: paths first on a line, then their description;
        parent = ""                      # an indented line names a file of the folder above it
        for line in block.splitlines():
            head = re.split(r"\s{2,}", line.strip())[0]
            if line.startswith(TOP):
                first, *others = head.split(", ")
                folder = first.rsplit("/", 1)[0] + "/"
                named |= {first, *(folder + name for name in others)}
                parent = first if first.endswith("/") else ""
            elif parent and line.startswith("  ") and re.fullmatch(r"[\w./]+(, [\w./]+)*", head):
                named |= {parent + name for name in head.split(", ")}
    assert any(block.startswith("torch_w2v/") for block in _blocks(text, "")), "the layout block is missing"
    named |= {arg for cmd in _commands(text) for arg in shlex.split(cmd) if arg.startswith(TOP)}
    missing = sorted(p for p in named if not (ROOT / p.rstrip("/")).exists())
    assert named and not missing, f"README.md names paths that do not exist: {missing}"


def test_the_readme_commands_parse():
    """torch-w2v (also under torchrun), the benchmark, the scripts and the installs it shows."""
    from torch_w2v import cli
    sys.path.insert(0, str(ROOT))
    from benchmarks import bench
    pyproject = (ROOT / "pyproject.toml").read_text()
    setup_env = (ROOT / "scripts" / "setup_env.sh").read_text()
    test_sh = (ROOT / "scripts" / "test.sh").read_text()
    seen = set()
    for command in _commands(README.read_text()):
        words = shlex.split(command)
        if "torch_w2v" in words and words[0] == "torchrun":
            words = ["torch-w2v", *words[words.index("torch_w2v") + 1:]]
        if words[0] == "torch-w2v":
            argv = words[1:]
            args = cli.build_parser().parse_args(argv)
            assert args.command == argv[0], command
        elif words[:2] == ["python", "benchmarks/bench.py"]:
            bench.parse_args(words[2:])
        elif words[0] == "bash":
            assert (ROOT / words[1]).is_file(), command
            for flag in words[2:]:
                assert flag in test_sh, f"{command}: {words[1]} does not know {flag}"
        elif words[:2] == ["pip", "install"]:
            for spec in words[2:]:
                extras = re.search(r"\.\[([\w,]+)\]", spec)
                for extra in (extras.group(1).split(",") if extras else ()):
                    assert re.search(rf"^{extra} = \[", pyproject, flags=re.M), f"{command}: no extra {extra!r}"
                pin = re.match(r"torch==([\d.]+)", spec)
                if pin:
                    assert f"torch=={pin.group(1)}" in setup_env, f"{command}: setup_env.sh pins another torch"
        seen.add(words[0])
    assert {"torch-w2v", "python", "bash", "pip"} <= seen


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(_blocks(README.read_text(), "python"))))
def test_the_readme_python_examples_run(tmp_path, index):
    """Each ``python`` block of the README, run as it is in a fresh interpreter (its files land in tmp_path)."""
    block = _blocks(README.read_text(), "python")[index]
    out = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


def test_the_readme_has_python_examples():
    assert len(_blocks(README.read_text(), "python")) >= 2
