"""The Triton kernels measured without a GPU: what a GPU would run, compiled ahead of time, and the memory
traffic each trained word costs, counted under Triton's interpreter.

(a) **Compile table.** Each kernel of a training step is compiled for sm_80 and sm_90 exactly as
:func:`torch_w2v.training.steps.triton_step.plan_launch` launches it on CUDA (its keyword arguments, tile
sizes and ``num_warps``; the signature is read off those arguments), through ``triton.compile`` with a
``GPUTarget``: no GPU or driver is needed. Per mode and vector size it prints the registers a thread
(``cuobjdump --dump-resource-usage``), the bytes spilled (``ptxas -v`` on the kernel's PTX), the stack, the
shared memory and the theoretical occupancy they allow (65,536 registers an SM allocated per warp in units of
256, at most 64 warps and 32 blocks an SM, 228 KB of shared memory an SM on sm_90 and 164 KB on sm_80).

(b) **Traffic per trained word.** The Triton step trains a slice of gensim's Lee corpus under the
interpreter while every masked-in element of every load, store and atomic (an atomic counts twice: a read
and a write) is added up by the tensor it touches, then divided by the trained words; the floor is
``8·D·(K+2)`` bytes for negative sampling (the input row read and written once per window pass, the centre
and K noise rows read and written once).

Usage (from the repository root)::

    python benchmarks/kernel_report.py                       # the compile table with the installed Triton
    python benchmarks/kernel_report.py --grid full --traffic # every mode and size, then the traffic
    python benchmarks/kernel_report.py --triton-path DIR     # another Triton, installed with
                                                             # pip install --target DIR triton==3.6.0
    python benchmarks/kernel_report.py --json report.json

What this does not tell is speed: registers, spills and occupancy are the proxies until a GPU run.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# mode -> settings of the step (cfg), as Word2Vec would pass them
MODES = {
    "sg_ns": dict(sg=1, hs=0, negative=5),
    "sg_hs": dict(sg=1, hs=1, negative=0),
    "sg_both": dict(sg=1, hs=1, negative=5),
    "cbow_mean_ns": dict(sg=0, hs=0, negative=5, cbow_mean=1),
    "cbow_sum_ns": dict(sg=0, hs=0, negative=5, cbow_mean=0),
    "cbow_mean_hs": dict(sg=0, hs=1, negative=0, cbow_mean=1),
    "cbow_mean_both": dict(sg=0, hs=1, negative=5, cbow_mean=1),
    "sg_ns_lockf_loss": dict(sg=1, hs=0, negative=5, lockf=True, compute_loss=True),
    "cbow_mean_ns_lockf_loss": dict(sg=0, hs=0, negative=5, cbow_mean=1, lockf=True, compute_loss=True),
}
SIZES = (50, 100, 128, 200, 300)
NARROW = dict(window=5, K=5, L=24)      # gensim's defaults; a Huffman path of a ~1M-word vocabulary
WIDE = dict(window=10, K=20, L=40)      # the widest the goals name: a 10M-word vocabulary's paths
VARIANTS = ("batch", "segments")   # the Triton step's kernels: triton_step.py (device), triton_segments.py
# (mode, D, shape, arch) of each grid; "quick" is what CI compiles for each Triton version, for each variant
GRIDS = {
    "quick": ([(m, 100, "narrow", 90) for m in MODES]
              + [(m, 300, "wide", a) for m in ("sg_ns", "cbow_mean_ns") for a in (80, 90)]),
    "full": [(m, d, s, a) for m in MODES for d in SIZES for s in ("narrow", "wide") for a in (80, 90)],
}
SHARED_PER_SM = {80: 164 * 1024, 90: 228 * 1024}
RESERVED_SHARED = 1024                   # the driver's shared memory per block on sm_80 and later
GOALS = dict(spill_bytes=0, occupancy_ns_small=0.5, occupancy=0.25)   # issue 20's, per compiled kernel


def occupancy(registers: int, warps: int, shared: int, arch: int) -> float:
    """Theoretical occupancy (resident warps / 64) of a kernel on one SM of ``arch``."""
    per_warp = math.ceil(registers * 32 / 256) * 256
    by_registers = 65536 // (per_warp * warps)
    by_shared = SHARED_PER_SM[arch] // (shared + RESERVED_SHARED)
    return min(by_registers, by_shared, 32, 64 // warps) * warps / 64


def case_launch(mode: str, D: int, window: int, K: int, L: int, variant: str = "batch"):
    """The :class:`~torch_w2v.training.steps.triton_step.Launch` of one CUDA training step in ``mode`` by the
    ``variant`` kernel (:data:`VARIANTS`), on small stand-in tensors of the dtypes and shapes a real run passes
    (the signature depends on nothing else)."""
    import torch

    from torch_w2v.training import device_batches, pipelines
    from torch_w2v.training.steps import triton_segments, triton_step
    from torch_w2v.training.weights import Tables
    settings = {**dict(cbow_mean=1, lockf=False, compute_loss=False), **MODES[mode]}
    negative = K if settings["negative"] else 0
    cfg = types.SimpleNamespace(sg=settings["sg"], hs=settings["hs"], negative=negative,
                                cbow_mean=settings["cbow_mean"], compute_loss=settings["compute_loss"], update_cap=64)
    V, N = 64, 4096
    weights = types.SimpleNamespace(syn0=torch.zeros(V, D), syn1neg=torch.zeros(V, D) if negative else None,
                                    syn1=torch.zeros(V - 1, D) if cfg.hs else None)
    tables = Tables(noise=(torch.zeros(V, dtype=torch.int64), torch.arange(V), 1) if negative else None,
                    lockf=torch.ones(V) if settings["lockf"] else None,
                    points=torch.zeros(V, L, dtype=torch.int64) if cfg.hs else None,
                    codes=torch.zeros(V, L) if cfg.hs else None, code_valid=torch.ones(V, L) if cfg.hs else None)
    ids = torch.arange(N, dtype=torch.int32) % V
    segment = pipelines.SegmentPipeline.segment if variant == "segments" else 1
    plan = device_batches.make_plan(ids, ids // 16, sample_int=None, window=window, shrink_windows=True,
                                    batch_size=16384, generator=torch.Generator().manual_seed(1), segment=segment)
    batch = device_batches.PlanBatch(plan, 0, 0.025)
    loss = torch.zeros((), dtype=torch.float64)
    if variant == "segments":
        cfg.update_cap = None   # the segment step applies one centre's updates at a time: no cap
        return triton_segments.plan_launch(cfg, weights, tables, batch, 0.025, 1, loss)
    return triton_step.plan_launch(cfg, weights, tables, batch, 0.025, 1, loss, device=torch.device("cuda"))


def _signature(fn, kwargs: dict) -> tuple[dict, dict]:
    """``(signature, constexprs)`` for ``triton.compile``, read off the arguments ``kwargs`` of ``fn``."""
    import torch
    pointer = {torch.float32: "*fp32", torch.float64: "*fp64", torch.int64: "*i64", torch.int32: "*i32"}
    signature, constexprs = {}, {}
    for param in fn.params:
        value = kwargs[param.name]
        if param.is_constexpr:
            signature[param.name], constexprs[param.name] = "constexpr", value
        elif isinstance(value, torch.Tensor):
            signature[param.name] = pointer[value.dtype]
        elif isinstance(value, bool):
            signature[param.name] = "i1"
        elif isinstance(value, int):
            signature[param.name] = "i32" if -2**31 <= value < 2**31 else "i64"
        else:
            signature[param.name] = "fp32"
    return signature, constexprs


def _tool(name: str) -> str:
    import triton
    return str(Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / name)


def _spills(ptx: str, arch: int) -> tuple[int, int]:
    """``(spill store bytes, spill load bytes)`` from ``ptxas -v`` (the wheel's ptxas, or its
    ptxas-blackwell for PTX versions the former refuses)."""
    import re
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "k.ptx"
        src.write_text(ptx)
        for tool in ("ptxas", "ptxas-blackwell"):
            out = subprocess.run([_tool(tool), f"-arch=sm_{arch}{'a' if arch == 90 else ''}", "-v", str(src),
                                  "-o", str(Path(tmp) / "k.cubin")], capture_output=True, text=True)
            found = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", out.stdout + out.stderr)
            if out.returncode == 0 and found:
                return int(found.group(1)), int(found.group(2))
    raise RuntimeError(f"ptxas -v gave no spill line: {(out.stdout + out.stderr)[-500:]}")


def compile_case(fn, kwargs: dict, arch: int) -> dict:
    """Compile one kernel launch for ``arch`` (80 or 90); its resources and occupancy."""
    import re

    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    kwargs = dict(kwargs)
    warps = kwargs.pop("num_warps")
    signature, constexprs = _signature(fn, kwargs)
    kernel = triton.compile(ASTSource(fn=fn, signature=signature, constexprs=constexprs),
                            target=GPUTarget("cuda", arch, 32), options=dict(num_warps=warps))
    with tempfile.TemporaryDirectory() as tmp:
        cubin = Path(tmp) / "k.cubin"
        cubin.write_bytes(kernel.asm["cubin"])
        usage = subprocess.run([_tool("cuobjdump"), "--dump-resource-usage", str(cubin)], capture_output=True,
                               text=True, check=True).stdout
    registers = int(re.search(r"REG:(\d+)", usage).group(1))
    stack = int(re.search(r"STACK:(\d+)", usage).group(1))
    stores, loads = _spills(kernel.asm["ptx"], arch)
    shared = int(kernel.metadata.shared)
    return dict(registers=registers, stack=stack, spill_stores=stores, spill_loads=loads, shared=shared,
                warps=warps, occupancy=occupancy(registers, warps, shared, arch))


def compile_table(grid: str) -> list[dict]:
    """One row per kernel of each case of ``grid`` (see :data:`GRIDS`)."""
    import triton
    rows = []
    for variant in VARIANTS:
        for mode, D, shape, arch in GRIDS[grid]:
            rows += _compile_rows(variant, mode, D, shape, arch, triton.__version__)
    return rows


def _compile_rows(variant, mode, D, shape, arch, version) -> list[dict]:
    rows = []
    launch = case_launch(mode, D, **(NARROW if shape == "narrow" else WIDE), variant=variant)
    for fn, kwargs in launch.kernels:
        row = dict(triton=version, variant=variant, kernel=fn.__name__, mode=mode, D=D, shape=shape, arch=arch,
                   BLOCK_B=kwargs.get("BLOCK_B", kwargs.get("SEG")))
        try:
            row.update(compile_case(fn, kwargs, arch))
        except Exception as exc:  # noqa: BLE001 - a compile error is a result of the report
            row["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        rows.append(row)
    return rows


def meets_goals(row: dict) -> list[str]:
    """The goals a compiled row misses (issue 20): no spill; occupancy at least 50% on sm_90 for negative
    sampling at D <= 128, at least 25% everywhere."""
    if "error" in row:
        return [row["error"]]
    missed = []
    if row["spill_stores"] + row["spill_loads"] > GOALS["spill_bytes"]:
        missed.append(f"spills {row['spill_stores'] + row['spill_loads']} bytes")
    floor = GOALS["occupancy"]
    if row["arch"] == 90 and row["D"] <= 128 and row["mode"].endswith("_ns"):
        floor = GOALS["occupancy_ns_small"]
    if row["occupancy"] < floor:
        missed.append(f"occupancy {row['occupancy']:.1%} < {floor:.0%}")
    return missed


# ------------------------------------------------------------------------------------------ traffic
KINDS = {"syn0": "input rows", "syn1neg": "output rows", "syn1": "output rows",
         "ids": "plan", "sent": "plan", "wsize": "plan", "n_ptr": "plan",
         "thr": "tables", "alias": "tables", "given_noise": "tables", "points": "tables", "codes": "tables",
         "code_valid": "tables", "lockf": "tables", "counts": "counters", "loss_ptr": "counters"}


def traffic(variant: str = "batch", sentences: int = 300, D: int = 100, K: int = 5, window: int = 5) -> dict:
    """Bytes moved per trained word by the Triton step's ``variant`` kernel (the device pipeline's batch
    kernel, or the segments pipeline's kernel) on the first ``sentences`` of gensim's Lee corpus (skip-gram,
    one epoch, vocabulary of the whole corpus), by kind; run under TRITON_INTERPRET=1."""
    import numpy as np
    from gensim.models.word2vec import LineSentence
    from gensim.test.utils import datapath
    from triton.runtime import interpreter

    from torch_w2v import Word2Vec
    counted = {kind: 0 for kind in set(KINDS.values())}
    ranges = []   # (start, end, kind) of the launch's tensors, as the interpreter sees them

    init_args = interpreter.GridExecutor._init_args_hst

    def recording(self, args_dev, kwargs):
        args_hst, kwargs_hst = init_args(self, args_dev, kwargs)
        ranges.clear()
        seen = set()
        for name in KINDS:  # in KINDS' order: a stand-in for a tensor the mode does not read (syn0, the plan's
            value = kwargs_hst.get(name)  # ids) is counted once, as what it really is
            if hasattr(value, "data_ptr"):
                span = (value.data_ptr(), value.data_ptr() + value.numel() * value.element_size())
                if span not in seen:
                    seen.add(span)
                    ranges.append((*span, KINDS[name]))
        return args_hst, kwargs_hst

    def add(ptrs, mask, itemsize, times=1):
        addresses = np.asarray(ptrs.data).reshape(-1)[np.asarray(mask.data, dtype=bool).reshape(-1)]
        for start, end, kind in ranges:
            counted[kind] += int(((addresses >= start) & (addresses < end)).sum()) * itemsize * times

    builder = interpreter.InterpreterBuilder
    load, store, rmw = builder.create_masked_load, builder.create_masked_store, builder.create_atomic_rmw

    def masked_load(self, ptrs, mask, other, *args):
        add(ptrs, mask, np.dtype(interpreter._get_np_dtype(ptrs.get_element_ty())).itemsize)
        return load(self, ptrs, mask, other, *args)

    def masked_store(self, ptrs, value, mask, *args):
        add(ptrs, mask, value.data.dtype.itemsize)
        return store(self, ptrs, value, mask, *args)

    def atomic_rmw(self, op, ptr, val, mask, *args):
        add(ptr, mask, val.data.dtype.itemsize, times=2)
        return rmw(self, op, ptr, val, mask, *args)

    corpus = list(LineSentence(datapath("lee_background.cor")))
    model = Word2Vec(sg=1, vector_size=D, negative=K, window=window, min_count=5, seed=1, workers=1,
                     device="cpu", engine="triton", pipeline="segments" if variant == "segments" else "device",
                     epochs=1)
    model.build_vocab(corpus)
    patches = [(interpreter.GridExecutor, "_init_args_hst", recording),
               (builder, "create_masked_load", masked_load), (builder, "create_masked_store", masked_store),
               (builder, "create_atomic_rmw", atomic_rmw)]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, patched in patches:
        setattr(owner, name, patched)
    try:
        trained, _ = model.train(corpus[:sentences], total_examples=sentences, epochs=1)
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
    floor = 8 * D * (K + 2)
    per_word = {kind: total / max(trained, 1) for kind, total in counted.items()}
    return dict(variant=variant, corpus=f"lee_background.cor, first {sentences} sentences", D=D, K=K, window=window,
                trained_words=trained, bytes_per_word=per_word, total=sum(per_word.values()), floor=floor,
                over_floor=sum(per_word.values()) / floor)


# --------------------------------------------------------------------------------------------- main
def _in_subprocess(args: list, triton_path: str | None, interpret: bool) -> dict:
    """This script's ``--emit`` run in a fresh interpreter (another Triton first on the path, or the
    interpreter on)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (triton_path, str(ROOT)) if p))
    env.pop("TRITON_INTERPRET", None)
    if interpret:
        env["TRITON_INTERPRET"] = "1"
    out = subprocess.run([sys.executable, __file__, "--emit", *args], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"kernel_report {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(grid: str = "quick", triton_path: str | None = None, with_traffic: bool = False) -> dict:
    """The compile table (in a process whose Triton is ``triton_path``'s, or the installed one) and, with
    ``with_traffic``, the traffic per trained word (under the interpreter)."""
    result = dict(compile=_in_subprocess(["compile", grid], triton_path, interpret=False))
    if with_traffic:
        result["traffic"] = [report_traffic("batch", 300), report_traffic("segments", 20)]
    return result


def report_traffic(variant: str = "batch", sentences: int = 300) -> dict:
    """:func:`traffic`, run in a process under Triton's interpreter (the segment kernel runs a program's
    centres one by one there, ~25 ms a centre: give it fewer sentences)."""
    return _in_subprocess(["traffic", variant, str(sentences)], None, interpret=True)


def render(result: dict) -> str:
    rows = result["compile"]["rows"]
    lines = [f"Triton {result['compile']['triton']}: kernels compiled as launch() runs them on CUDA",
             "| kernel | mode | D | window/K/L | arch | centres a program | warps | registers | spill bytes (st+ld) | "
             "stack | shared | occupancy | goals |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        shape = NARROW if r["shape"] == "narrow" else WIDE
        dims = f"{shape['window']}/{shape['K']}/{shape['L']}"
        if "error" in r:
            lines.append(f"| {r['kernel']} | {r['mode']} | {r['D']} | {dims} | sm_{r['arch']} | {r['BLOCK_B']} | "
                         f"| | | | | | compile error: {r['error']} |")
            continue
        missed = meets_goals(r)
        lines.append(f"| {r['kernel']} | {r['mode']} | {r['D']} | {dims} | sm_{r['arch']} | {r['BLOCK_B']} | "
                     f"{r['warps']} | {r['registers']} | {r['spill_stores'] + r['spill_loads']:,} | {r['stack']:,} | "
                     f"{r['shared']:,} | {r['occupancy']:.1%} | {'; '.join(missed) or 'met'} |")
    for t in result.get("traffic", ()):
        lines += ["", f"Traffic per trained word, {t['variant']} kernel, under the interpreter ({t['corpus']}, "
                      f"skip-gram, D={t['D']}, K={t['K']}, window {t['window']}, {t['trained_words']:,} trained "
                      f"words):"]
        lines += [f"  {kind}: {value:,.0f} bytes" for kind, value in sorted(t["bytes_per_word"].items())]
        lines.append(f"  total {t['total']:,.0f} bytes a word: {t['over_floor']:.2f}x the floor 8*D*(K+2) = "
                     f"{t['floor']:,}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--grid", choices=sorted(GRIDS), default="quick", help="which cases to compile (default quick)")
    p.add_argument("--triton-path", help="a folder holding another Triton (pip install --target DIR triton==X)")
    p.add_argument("--traffic", action="store_true", help="also count the traffic per trained word (interpreter)")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--emit", nargs="+", help=argparse.SUPPRESS)  # internal: one part, as JSON on stdout
    args = p.parse_args(argv)
    if args.emit:
        import triton
        out = (dict(triton=triton.__version__, rows=compile_table(args.emit[1])) if args.emit[0] == "compile"
               else traffic(args.emit[1], int(args.emit[2])))
        print(json.dumps(out))
        return 0
    result = report(args.grid, args.triton_path, args.traffic)
    print(render(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
