"""The fused C step against the torch step; its typed boundary; its install-time build and the fallback
when the build had no C compiler."""
import ctypes
import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from gensim.models.callbacks import CallbackAny2Vec

from torch_w2v import Word2Vec
from torch_w2v.training.steps import fused
from torch_w2v.training.steps import torch_step as steps

# Only the kernel tests need the built library; the build and fallback tests run without it.
needs_lib = pytest.mark.skipif(not fused.available(), reason=f"the fused step is not built: "
                                                             f"{fused.unavailable_reason()}")
REPO = Path(__file__).resolve().parents[1]

D = 16


def _weights(V, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(V, D, generator=g) * 0.3 for _ in range(3)]  # syn0, syn1neg, syn1


def _heads(kind, syn1neg, syn1, centres, g):
    """Heads whose rows never repeat inside the batch (so Hogwild == batched semantics)."""
    B = len(centres)
    heads = []
    if kind in ("neg", "both"):
        rows = torch.arange(B * 4).view(B, 4) + 100                       # distinct output rows
        rows[:, 0] = centres + 300
        labels = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
        valid = (torch.rand(B, 4, generator=g) > 0.2).float()
        heads.append(steps.Head(syn1neg, rows, labels, valid))
    if kind in ("hs", "both"):
        rows = torch.arange(B * 3).view(B, 3) + 500
        labels = (torch.rand(B, 3, generator=g) > 0.5).float()
        valid = torch.ones(B, 3)
        valid[:, 2] = 0.0                                                 # a shorter Huffman path
        heads.append(steps.Head(syn1, rows, labels, valid))
    return heads


@needs_lib
@pytest.mark.parametrize("kind", ["neg", "hs", "both"])
@pytest.mark.parametrize("mode", ["sg", "cbow_mean", "cbow_sum"])
@pytest.mark.parametrize("locked", [False, True])
def test_fused_equals_torch_when_no_row_repeats(kind, mode, locked):
    V, B = 1000, 12
    g = torch.Generator().manual_seed(0)
    # skip-gram: one context per centre (a centre's contexts share its output rows, which Hogwild
    # updates between them); CBOW: several distinct contexts per centre
    C = 1 if mode == "sg" else 4
    contexts = torch.randperm(200, generator=g)[: B * C].view(B, C)
    mask = (torch.rand(B, C, generator=g) > 0.1).float()
    centres = torch.arange(B)
    lockf = torch.rand(V, 1, generator=g) if locked else None
    results = []
    for impl in ("torch", "fused"):
        syn0, syn1neg, syn1 = _weights(V, 1)
        heads = _heads(kind, syn1neg, syn1, centres, torch.Generator().manual_seed(2))
        loss = torch.zeros((), dtype=torch.float64)
        if impl == "torch":
            if mode == "sg":
                steps.skipgram(syn0, contexts, mask, heads, 0.5, lockf, None, loss)
            else:
                steps.cbow(syn0, contexts, mask, heads, 0.5, mode == "cbow_mean", lockf, None, loss)
        else:
            with fused.FusedSteps(threads=1, dim=D) as runner:
                loss += runner.step(mode == "sg", syn0, contexts, mask, heads, 0.5, mode == "cbow_mean", lockf,
                                    compute_loss=True)
        results.append((syn0, syn1neg, syn1, float(loss)))
    for a, b in zip(results[0][:3], results[1][:3]):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    assert results[0][3] == pytest.approx(results[1][3], rel=1e-5)
    assert not torch.equal(results[0][0], _weights(V, 1)[0])  # the step did change the input vectors


@needs_lib
def test_fused_hogwild_sees_earlier_updates_of_the_same_row():
    """A row used twice in one batch: torch sums two stale updates, fused applies them in turn."""
    V = 10
    syn0, syn1neg, _ = _weights(V, 3)
    contexts = torch.tensor([[1], [1]])
    mask = torch.ones(2, 1)
    rows = torch.tensor([[5], [5]])
    head = steps.Head(syn1neg, rows, torch.tensor([[1.0]]), torch.ones(2, 1))
    with fused.FusedSteps(threads=1, dim=D) as runner:
        runner.step(True, syn0, contexts, mask, [head], 1.0)
    ref0, ref1, _ = _weights(V, 3)
    steps.skipgram(ref0, contexts, mask, [steps.Head(ref1, rows, torch.tensor([[1.0]]), torch.ones(2, 1))],
                   1.0)
    assert not torch.allclose(syn0[1], ref0[1])


@needs_lib
def test_threads_split_the_batch_and_train_every_centre():
    V, B, C = 5000, 64, 4
    syn0, syn1neg, _ = _weights(V, 4)
    before = syn0.clone()
    contexts = torch.arange(B * C).view(B, C)
    head = steps.Head(syn1neg, torch.arange(B)[:, None] + 4000, torch.tensor([[1.0]]), torch.ones(B, 1))
    with fused.FusedSteps(threads=2, dim=D, min_centres=1) as runner:
        runner.step(True, syn0, contexts, torch.ones(B, C), [head], 0.5)
    changed = (syn0 != before).any(1)
    assert bool(changed[: B * C].all()) and not bool(changed[B * C:].any())


@needs_lib
def test_noise_drawn_in_c_follows_the_alias_table_and_skips_the_centre():
    from torch_w2v.vocab import alias_table
    weights = np.array([50, 0, 30, 10, 5, 5], dtype=np.int64)
    cum = np.cumsum(weights * 1000)
    threshold, alias, T = alias_table(cum)
    threshold, alias = torch.from_numpy(threshold), torch.from_numpy(alias)
    V, B, K = len(weights), 40_000, 4
    syn0, syn1neg, _ = _weights(V, 5)
    centres = torch.full((B,), 2, dtype=torch.int64)
    rows = torch.empty(B, K + 1, dtype=torch.int64)
    rows[:, 0] = centres
    valid = torch.ones(B, K + 1)
    head = steps.Head(syn1neg, rows, torch.tensor([[1.0] + [0.0] * K]), valid)
    with fused.FusedSteps(threads=2, dim=D) as runner:
        runner.step(True, syn0, torch.zeros(B, 1, dtype=torch.int64), torch.zeros(B, 1), [head], 0.0,
                    noise=(threshold, alias, T, 12345))
    draws = rows[:, 1:].reshape(-1).numpy()
    freq = np.bincount(draws, minlength=V) / draws.size
    expected = weights / weights.sum()
    assert freq[1] == 0.0                                    # zero weight: never drawn
    np.testing.assert_allclose(freq, expected, atol=0.005)   # 160k draws: sd <= 0.0013
    np.testing.assert_array_equal(valid[:, 1:].numpy(), (rows[:, 1:] != 2).float().numpy())
    # keyed by (seed, centre index): the same draws whatever the thread split
    rows2 = rows.clone()
    rows2[:, 1:] = -1
    head2 = steps.Head(syn1neg, rows2, head.labels, torch.ones(B, K + 1))
    with fused.FusedSteps(threads=1, dim=D) as runner:
        runner.step(True, syn0, torch.zeros(B, 1, dtype=torch.int64), torch.zeros(B, 1), [head2], 0.0,
                    noise=(threshold, alias, T, 12345))
    assert torch.equal(rows, rows2)


# --- the typed boundary: every tensor is checked before C sees its pointer -------------------------------

def _boundary_args(V=50, B=6, C=3, P=4):
    """Valid arguments of FusedSteps.step (both heads, lockf, noise), as a dict to spoil one at a time."""
    syn0, syn1neg, syn1 = _weights(V, 7)
    neg = steps.Head(syn1neg, torch.zeros(B, P, dtype=torch.int64), torch.tensor([[1.0, 0.0, 0.0, 0.0]]),
                     torch.ones(B, P))
    hs = steps.Head(syn1, torch.ones(B, 2, dtype=torch.int64), torch.ones(B, 2), torch.ones(B, 2))
    threshold, alias = torch.full((V,), 1, dtype=torch.int64), torch.arange(V)
    return dict(sg=True, syn0=syn0, contexts=torch.arange(B * C).view(B, C) % V, mask=torch.ones(B, C),
                heads=[neg, hs], lr=0.1, lockf=torch.ones(V, 1), noise=(threshold, alias, 1, 5))


def _strided(t):
    """The same values as ``t`` (2-D) in a non-contiguous tensor of the same shape."""
    return t.t().contiguous().t()


def _head(args, k, **change):
    args["heads"][k] = steps.Head(**{**vars(args["heads"][k]), **change})


def _noise(args, **change):
    threshold, alias, T, seed = args["noise"]
    args["noise"] = (change.get("threshold", threshold), change.get("alias", alias), T, seed)


SPOILED = {  # name -> (spoil the arguments in place, exception, words of its message)
    "syn0 float64": (lambda a: a.update(syn0=a["syn0"].double()), TypeError,
                     ["syn0 must be torch.float32, found torch.float64"]),
    "syn0 strided": (lambda a: a.update(syn0=_strided(a["syn0"])), ValueError, ["syn0 must be contiguous"]),
    "syn0 wrong D": (lambda a: a.update(syn0=torch.zeros(50, D + 1)), ValueError,
                     [f"syn0 must have shape (*, {D}), found (50, {D + 1})"]),
    "syn0 meta": (lambda a: a.update(syn0=a["syn0"].to("meta")), ValueError, ["syn0 must be on the CPU", "meta"]),
    "syn0 numpy": (lambda a: a.update(syn0=a["syn0"].numpy()), TypeError,
                   ["syn0 must be a torch.Tensor, found ndarray"]),
    "contexts int32": (lambda a: a.update(contexts=a["contexts"].int()), TypeError,
                       ["contexts must be torch.int64, found torch.int32"]),
    "contexts strided": (lambda a: a.update(contexts=_strided(a["contexts"])), ValueError,
                         ["contexts must be contiguous"]),
    "contexts 1-D": (lambda a: a.update(contexts=a["contexts"].reshape(-1)), ValueError,
                     ["contexts must have shape (*, *), found (18,)"]),
    "mask float64": (lambda a: a.update(mask=a["mask"].double()), TypeError, ["mask must be torch.float32"]),
    "mask wrong shape": (lambda a: a.update(mask=torch.ones(6, 4)), ValueError,
                         ["mask must have shape (6, 3), found (6, 4)"]),
    "mask strided": (lambda a: a.update(mask=_strided(torch.ones(6, 3))), ValueError, ["mask must be contiguous"]),
    "mask meta": (lambda a: a.update(mask=a["mask"].to("meta")), ValueError, ["mask must be on the CPU"]),
    "lockf float64": (lambda a: a.update(lockf=a["lockf"].double()), TypeError, ["lockf must be torch.float32"]),
    "lockf wrong V": (lambda a: a.update(lockf=torch.ones(49, 1)), ValueError,
                      ["lockf must have shape (50, 1) or (50,), found (49, 1)"]),
    "table float16": (lambda a: _head(a, 0, table=a["heads"][0].table.half()), TypeError,
                      ["heads[0].table must be torch.float32, found torch.float16"]),
    "table wrong D": (lambda a: _head(a, 1, table=torch.zeros(50, D - 1)), ValueError,
                      [f"heads[1].table must have shape (*, {D})"]),
    "table strided": (lambda a: _head(a, 1, table=_strided(a["heads"][1].table)), ValueError,
                      ["heads[1].table must be contiguous"]),
    "table meta": (lambda a: _head(a, 0, table=a["heads"][0].table.to("meta")), ValueError,
                   ["heads[0].table must be on the CPU"]),
    "rows int32": (lambda a: _head(a, 0, rows=a["heads"][0].rows.int()), TypeError,
                   ["heads[0].rows must be torch.int64, found torch.int32"]),
    "rows wrong B": (lambda a: _head(a, 1, rows=torch.ones(5, 2, dtype=torch.int64)), ValueError,
                     ["heads[1].rows must have shape (6, *), found (5, 2)"]),
    "rows strided": (lambda a: _head(a, 0, rows=_strided(a["heads"][0].rows)), ValueError,
                     ["heads[0].rows must be contiguous"]),
    "labels wrong P": (lambda a: _head(a, 0, labels=torch.ones(1, 3)), ValueError,
                       ["heads[0].labels must have shape (6, 4) or (1, 4), found (1, 3)"]),
    "valid bool": (lambda a: _head(a, 1, valid=a["heads"][1].valid.bool()), TypeError,
                   ["heads[1].valid must be torch.float32, found torch.bool"]),
    "valid wrong P": (lambda a: _head(a, 1, valid=torch.ones(6, 3)), ValueError,
                      ["heads[1].valid must have shape (6, 2), found (6, 3)"]),
    "no heads": (lambda a: a.update(heads=[]), ValueError, ["heads must hold 1 or 2 output heads", "found 0"]),
    "noise int32": (lambda a: _noise(a, threshold=a["noise"][0].int()), TypeError,
                    ["noise threshold must be torch.int64, found torch.int32"]),
    "noise alias short": (lambda a: _noise(a, alias=a["noise"][1][:-1]), ValueError,
                          ["noise alias must have shape (50,), found (49,)"]),
    "noise beyond the table": (lambda a: _noise(a, threshold=torch.ones(51, dtype=torch.int64),
                                                alias=torch.zeros(51, dtype=torch.int64)), ValueError,
                               ["noise alias table must have 1 to 50 entries", "found 51"]),
}
if torch.cuda.is_available():
    SPOILED["syn0 cuda"] = (lambda a: a.update(syn0=a["syn0"].cuda()), ValueError, ["syn0 must be on the CPU", "cuda"])
    SPOILED["rows cuda"] = (lambda a: _head(a, 0, rows=a["heads"][0].rows.cuda()), ValueError,
                            ["heads[0].rows must be on the CPU", "cuda"])


@needs_lib
def test_valid_boundary_arguments_train():
    args = _boundary_args()
    before = args["syn0"].clone()
    with fused.FusedSteps(threads=1, dim=D) as runner:
        runner.step(**args)
    assert not torch.equal(args["syn0"], before)


@needs_lib
@pytest.mark.parametrize("name", sorted(SPOILED))
def test_a_wrong_tensor_is_refused_before_the_c_call(name):
    spoil, exc, words = SPOILED[name]
    args = _boundary_args()
    spoil(args)
    tensors = [args["syn0"], *(h.table for h in args["heads"])]
    before = [t.clone() if isinstance(t, torch.Tensor) and t.device.type == "cpu" else None for t in tensors]
    with fused.FusedSteps(threads=1, dim=D) as runner:
        with pytest.raises(exc) as raised:
            runner.step(**args)
    for word in words:
        assert word in str(raised.value)
    for t, b in zip(tensors, before):  # C never ran: no weight moved
        if b is not None:
            assert torch.equal(t, b)


@needs_lib
def test_the_struct_matches_the_library():
    lib = fused.load()
    assert lib.w2v_abi_size() == ctypes.sizeof(fused.W2VBatch)


# --- the install-time build and the fallback without it -----------------------------------------------

def _compiler():
    """The C compiler setuptools would use here, if it exists (and Python's headers with it)."""
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = Path(sysconfig.get_paths()["include"], "Python.h").exists()
    return shutil.which(cc) if headers else None


def _source_copy(dest: Path) -> Path:
    """The files a build reads (no built library, no caches), copied to ``dest``."""
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    shutil.copytree(REPO / "torch_w2v", dest / "torch_w2v", ignore=shutil.ignore_patterns("*.so", "*.pyd",
                                                                                          "__pycache__"))
    return dest


def _run(args, cwd, **env):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})


def test_the_install_built_the_extension_where_a_compiler_exists():
    """Guards the skips above: with a compiler and Python's headers, the install must have built the step."""
    if _compiler() is None:
        pytest.skip("no C compiler or Python headers here: the install had nothing to build with")
    assert fused.available(), fused.unavailable_reason()


FALLBACK_SCRIPT = """
import logging, sys
records = []
handler = logging.Handler()
handler.emit = records.append
logging.getLogger("torch_w2v").addHandler(handler)
import torch_w2v
from torch_w2v import Word2Vec
from torch_w2v.training.steps import fused
print("package", torch_w2v.__file__)
print("available", fused.available())
m = Word2Vec([["a", "b", "c"], ["b", "c", "d"]] * 50, min_count=1, sg=1, epochs=2, device="cpu")
m = Word2Vec([["a", "b", "c"], ["b", "c", "d"]] * 50, min_count=1, sg=0, epochs=1, device="cpu")
print("trained", m.wv.vectors.shape, "with", m.train_count)
warnings = [r.getMessage() for r in records if r.levelno >= logging.WARNING]
print("warnings", len(warnings))
for w in warnings:
    print("warning:", w)
try:
    Word2Vec([["a", "b"]] * 50, min_count=1, sg=1, epochs=1, engine="fused", device="cpu")
except RuntimeError as exc:
    print("refused:", exc)
"""


@pytest.mark.slow
def test_an_install_without_a_compiler_succeeds_and_trains_with_the_torch_step(tmp_path):
    """A real pip build of this source with CC pointing at no compiler: it installs, without the library;
    engine='auto' then trains with the torch step after one warning naming the fix, engine='fused' raises."""
    src, site = _source_copy(tmp_path / "src"), tmp_path / "site"
    setuptools = tuple(int(x) for x in importlib.metadata.version("setuptools").split(".")[:2])
    # with the test environment's setuptools when it can build wheels by itself (70.1+; torch 2.13 pulls
    # 77+): offline, ~1 s; else pip's isolated build environment, which fetches setuptools
    isolation = ["--no-build-isolation"] if setuptools >= (70, 1) else []
    build = _run([sys.executable, "-m", "pip", "install", "-v", "--no-deps", "--target", str(site), *isolation,
                  str(src)], tmp_path, CC=str(tmp_path / "no-such-cc"), PIP_DISABLE_PIP_VERSION_CHECK="1")
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    log = build.stdout + build.stderr
    assert "could not build the fused CPU step" in log and "no-such-cc" in log
    assert "pip install --force-reinstall --no-deps ." in log
    assert (site / "torch_w2v" / "training" / "steps" / "fused.py").exists()
    assert not list(site.rglob("_w2v_step*"))

    out = _run([sys.executable, "-c", FALLBACK_SCRIPT], tmp_path, PYTHONPATH=str(site))
    assert out.returncode == 0, out.stderr
    assert f"package {site / 'torch_w2v' / '__init__.py'}" in out.stdout  # the copy, not the checkout
    assert "available False" in out.stdout
    assert "trained (4, 100) with 1" in out.stdout
    assert "warnings 1\n" in out.stdout  # once, though two models trained
    warning = next(line for line in out.stdout.splitlines() if line.startswith("warning:"))
    refused = next(line for line in out.stdout.splitlines() if line.startswith("refused:"))
    assert "the fused step is unavailable on cpu, training with the torch step instead" in warning
    assert "refused: engine='fused' cannot run on cpu" in refused
    for message in (warning, refused):
        assert "installed without its compiled C step" in message
        assert "apt-get install gcc python3-dev" in message
        assert "pip install --force-reinstall --no-deps ." in message


def _build_ext(src: Path, dest: Path, **env):
    """``setup.py build_ext`` of ``src`` into ``dest`` (verbose: the compiler commands are in the log)."""
    return _run([sys.executable, "setup.py", "-v", "build_ext", "--build-lib", str(dest / "lib"),
                 "--build-temp", str(dest / "tmp")], src, **env)


def test_a_compiler_refusing_march_native_gets_a_build_without_it(tmp_path):
    cc = _compiler()
    if cc is None:
        pytest.skip("no C compiler or Python headers here")
    picky = tmp_path / "picky-cc"  # a real compiler that refuses -march=native, as some cross compilers do
    picky.write_text(f'#!/bin/sh\nfor a in "$@"; do [ "$a" = -march=native ] && exit 1; done\nexec {cc} "$@"\n')
    picky.chmod(0o755)
    src = _source_copy(tmp_path / "src")
    out = _build_ext(src, tmp_path / "build", CC=str(picky), LDSHARED=f"{picky} -shared")
    assert out.returncode == 0, out.stderr
    assert "could not build" not in out.stderr
    assert list((tmp_path / "build" / "lib").rglob("_w2v_step*"))
    compiles = [line for line in (out.stdout + out.stderr).splitlines() if line.startswith(str(picky))
                and " -c " in line]
    assert any("-march=native" in line for line in compiles)  # tried first
    assert any("-march=native" not in line and "-fassociative-math" in line for line in compiles)  # then without


def test_portable_builds_leave_out_march_native(tmp_path):
    if _compiler() is None:
        pytest.skip("no C compiler or Python headers here")
    src = _source_copy(tmp_path / "src")
    out = _build_ext(src, tmp_path / "build", TORCH_W2V_PORTABLE="1")
    assert out.returncode == 0, out.stderr
    log = out.stdout + out.stderr
    assert "-O3" in log and "-fassociative-math" in log and "-march=native" not in log
    assert list((tmp_path / "build" / "lib").rglob("_w2v_step*"))


LOAD_SCRIPT = """
from torch_w2v.training.steps import fused
print("reason:", fused.unavailable_reason())
"""


@pytest.mark.slow
@pytest.mark.parametrize("struct", ["w2v_batch_t", "w2v_tokens_t"])
def test_a_library_from_another_struct_layout_is_refused(tmp_path, struct):
    """A real library whose w2v_abi_size or w2v_tokens_abi_size differs (as one built by another version
    would) is not called."""
    cc = _compiler()
    if cc is None:
        pytest.skip("no C compiler or Python headers here")
    pkg = _source_copy(tmp_path / "src")
    other = tmp_path / "other.c"
    sizes = {"w2v_batch_t": ctypes.sizeof(fused.W2VBatch), "w2v_tokens_t": ctypes.sizeof(fused.W2VTokens)}
    expected = sizes[struct]
    sizes[struct] = 8
    other.write_text('#include <Python.h>\n#include <stddef.h>\n'
                     f'size_t w2v_abi_size(void) {{ return {sizes["w2v_batch_t"]}; }}\n'
                     f'size_t w2v_tokens_abi_size(void) {{ return {sizes["w2v_tokens_t"]}; }}\n'
                     'const char *w2v_source_hash(void) { return "x"; }\n'
                     'static struct PyModuleDef m = {PyModuleDef_HEAD_INIT, "_w2v_step", NULL, 0, NULL};\n'
                     'PyMODINIT_FUNC PyInit__w2v_step(void) { return PyModule_Create(&m); }\n')
    target = pkg / "torch_w2v" / "training" / "steps" / f"_w2v_step{sysconfig.get_config_var('EXT_SUFFIX')}"
    built = _run([cc, "-shared", "-fPIC", f"-I{sysconfig.get_paths()['include']}", str(other), "-o", str(target)],
                 tmp_path)
    assert built.returncode == 0, built.stderr
    out = _run([sys.executable, "-c", LOAD_SCRIPT], tmp_path, PYTHONPATH=str(pkg))
    assert out.returncode == 0, out.stderr
    assert f"takes a 8-byte {struct} but this torch_w2v passes {expected} bytes" in out.stdout
    assert "pip install --force-reinstall --no-deps ." in out.stdout


@pytest.mark.slow
@needs_lib
def test_a_library_older_than_its_source_is_refused(tmp_path):
    """An editable install whose C file was edited after the build: the stale library is not called."""
    pkg = _source_copy(tmp_path / "src")
    steps_dir = pkg / "torch_w2v" / "training" / "steps"
    shutil.copy2(importlib.import_module(fused.EXTENSION).__file__, steps_dir)
    out = _run([sys.executable, "-c", LOAD_SCRIPT], tmp_path, PYTHONPATH=str(pkg))
    assert "reason: None" in out.stdout, out.stderr  # the copy of an up-to-date build loads
    source = pkg / "torch_w2v" / "csrc" / "w2v_step.c"
    source.write_text(source.read_text() + "/* edited */\n")
    out = _run([sys.executable, "-c", LOAD_SCRIPT], tmp_path, PYTHONPATH=str(pkg))
    assert "was built from other sources than w2v_step.c and w2v_scan.c" in out.stdout, out.stderr
    assert "pip install -e ." in out.stdout


@pytest.mark.slow
def test_the_plain_c_path_of_the_token_step_equals_the_reference(tmp_path):
    """Compilers without GCC's vector types (MSVC) build the token step's plain C loops: a real build of that
    path (``-DW2V_NO_VECTORS``, without -march=native) passes the token step's reference test in every mode."""
    if _compiler() is None:
        pytest.skip("no C compiler or Python headers here")
    pkg = _source_copy(tmp_path / "src")
    build = _run([sys.executable, "setup.py", "build_ext", "--inplace"], pkg, CFLAGS="-DW2V_NO_VECTORS",
                 TORCH_W2V_PORTABLE="1")
    assert build.returncode == 0 and "could not build" not in build.stderr, build.stderr[-3000:]
    out = _run([sys.executable, "-c", LOAD_SCRIPT + "print('from', fused.__file__)"], tmp_path, PYTHONPATH=str(pkg))
    assert "reason: None" in out.stdout and f"from {pkg}" in out.stdout, out.stdout + out.stderr
    tests = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "equals_the_reference",
                  str(REPO / "tests" / "test_token_step.py")], tmp_path, PYTHONPATH=str(pkg))
    assert tests.returncode == 0 and "\n30 passed" in tests.stdout, tests.stdout[-3000:]


# --- the pool is closed when training ends ---------------------------------------------------------------

def _step_threads():
    return [t.name for t in threading.enumerate() if t.name.startswith("torch_w2v-step")]


class _SeeThreads(CallbackAny2Vec):
    def __init__(self):
        self.seen = []

    def on_epoch_end(self, model):
        self.seen.append(_step_threads())


@needs_lib
def test_training_leaves_no_step_threads_alive(lee_sentences):
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: the fused step runs on the calling thread, without a pool")
    assert _step_threads() == []
    seen = _SeeThreads()
    # steps of 2,048 centres: large enough to be split (Lee's default steps of ~350 run on one thread)
    model = Word2Vec(lee_sentences, sg=1, epochs=2, workers=2, engine="fused", device="cpu", callbacks=[seen],
                     batch_size=2048)
    assert model.train_count == 1
    assert all(len(names) == 1 for names in seen.seen)  # the pool's thread ran beside the training thread
    assert _step_threads() == []
