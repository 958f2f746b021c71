"""Benchmark torch_w2v against gensim: speed, peak memory and embedding quality, side by side in one run.

Usage (from the repository root)::

    python benchmarks/bench.py                      # skip-gram and CBOW on GCIDE, 5 epochs
    python benchmarks/bench.py --quick              # a 1M-word prefix, 2 epochs: a look in a few minutes
    python benchmarks/bench.py --modes sg --engines fused,torch --batch-sizes 256,2048,16384 --json out.json
    python benchmarks/bench.py --device cuda        # torch_w2v on the GPU (Triton and torch steps) vs gensim
    python benchmarks/bench.py --device cuda --modes sg --batch-sizes 4096,65536   # GPU step-size rows

On CUDA each row also reports the GPU's peak memory and the modelled memory traffic of the training
(``8 * D * (C + P)`` bytes per trained word: every context row and output row read and written once,
``C = window + 1`` contexts, ``P = negative + 1`` output rows; docs/performance.md) against the device's
measured copy bandwidth.

Every training run happens in its own fresh Python process, so its peak RSS is its own; gensim runs are
interleaved with torch_w2v's (see :func:`plan`) and each speed ratio compares a torch_w2v run with the
gensim runs just before and after it. See ``benchmarks/README.md`` for what each column means.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as ``python benchmarks/bench.py``: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import corpus as corpus_mod  # noqa: E402 - stdlib only, cheap in the worker processes

ROOT = Path(__file__).resolve().parent.parent
# The settings of issue #3: both libraries train with these (CBOW rows use sg=0).
SETTINGS = dict(negative=5, window=5, vector_size=100, min_count=5, sample=1e-3, epochs=5)
QUICK_WORDS = 1_000_000
QUICK_EPOCHS = 2
RESULT_MARK = "BENCH_RESULT "   # prefixes the worker's JSON line on stdout
MB = 1024 * 1024


@dataclass(frozen=True)
class Spec:
    """One training run."""
    impl: str                  # "gensim", "gensim-iterable" (same corpus as a LineSentence) or "torch_w2v"
    mode: str                  # "sg" (skip-gram) or "cbow"
    corpus: str                # LineSentence file, passed as corpus_file=
    epochs: int
    vector_size: int
    workers: int               # gensim's worker threads / torch_w2v's CPU threads
    engine: str | None = None  # torch_w2v: "fused", "triton" or "torch"
    device: str | None = None  # torch_w2v: "cpu", "cuda"
    batch_size: int | None = None  # torch_w2v: centres per step; None = its default
    processes: int = 1             # torch_w2v: ranks under torchrun (gloo), the threads split between them
    pipeline: str | None = None    # torch_w2v: "tokens", "host" or "device"; None = the step's default
    seed: int = 1                  # Word2Vec(seed=): the runs of one row differ in it (--seeds)

    @property
    def label(self) -> str:
        if self.impl.startswith("gensim"):
            return f"{self.impl} {self.mode}"
        batch = "default" if self.batch_size is None else self.batch_size
        ranks = f" x{self.processes} processes" if self.processes > 1 else ""
        batches = f" {self.pipeline} batches" if self.pipeline else ""
        return f"torch_w2v {self.mode} {self.engine} {self.device}{batches} batch={batch}{ranks}"

    def keywords(self) -> dict:
        """The Word2Vec keywords of this run."""
        kw = dict(SETTINGS, sg=int(self.mode == "sg"), epochs=self.epochs, vector_size=self.vector_size,
                  workers=self.workers, seed=self.seed)
        if self.impl == "torch_w2v":
            kw.update(engine=self.engine, device=self.device, batch_size=self.batch_size,
                      pipeline=self.pipeline or "auto",
                      workers=max(1, self.workers // self.processes))  # threads per rank
        return kw


# ------------------------------------------------------------------------------------------ quality
# Word pairs are scored by torch_w2v.evaluate when it is there; the batched analogy score below could move
# into it (same answers as gensim's loop, ~10x faster).
def analogy_accuracy(wv, path, restrict_vocab: int = 300_000) -> tuple[float, int, int]:
    """gensim's ``evaluate_word_analogies`` (3CosAdd, case-insensitive, OOV questions skipped), batched.

    Returns ``(accuracy, questions evaluated, questions in the file)``. Gives gensim's answers (tested
    against it) ~10x faster: one matrix product per block of questions instead of one per question.
    """
    import numpy as np
    keys = wv.index_to_key[:restrict_vocab]
    ok = {k.upper(): i for i, k in reversed(list(enumerate(keys)))}   # the most frequent spelling wins
    canon = np.array([ok[k.upper()] for k in keys], dtype=np.int64)    # (V,) index of each key's spelling
    questions, total = [], 0
    with open(path, encoding="utf-8") as fin:
        for line in fin:
            words = line.upper().split()
            if line.startswith(": ") or len(words) != 4:
                continue
            total += 1
            if all(w in ok for w in words):
                questions.append([ok[w] for w in words])
    if not questions:
        return float("nan"), 0, total
    q = np.array(questions, dtype=np.int64)                                       # (Q, 4): a b c expected
    unit = wv.get_normed_vectors()[: len(keys)]                                   # (V, D)
    correct = 0
    for start in range(0, len(q), 512):
        a, b, c, expected = q[start:start + 512].T
        mean = (unit[b] + unit[c] - unit[a]) / 3                                  # (q, D)
        mean /= np.linalg.norm(mean, axis=1, keepdims=True)
        sims = mean @ unit.T                                                      # (q, V)
        rows = np.arange(len(a))
        for col in (a, b, c):                                                     # gensim drops the inputs
            sims[rows, col] = -np.inf
        top = _top(sims, 5)                                                       # (q, 5)
        for i in rows:
            inputs = {a[i], b[i], c[i]}
            # gensim takes the first of the top 5 whose spelling is not an input's (another case variant)
            hits = [j for j in top[i] if canon[j] not in inputs]
            predicted = canon[hits[0]] if hits else canon[top[i][-1]]
            correct += int(predicted == expected[i])
    return correct / len(q), len(q), total


def _top(sims, k):
    """Indices of the ``k`` largest entries of each row of ``sims``, largest first."""
    import numpy as np
    k = min(k, sims.shape[1])
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sims, part, 1), axis=1, kind="stable")
    return np.take_along_axis(part, order, 1)


def pair_spearman(wv, path) -> tuple[float, float]:
    """Spearman rho of gensim's ``evaluate_word_pairs`` and the % of pairs out of vocabulary (NaN, 100 when
    no pair is known); through :func:`torch_w2v.evaluate.evaluate_pairs` where that module exists."""
    try:
        from torch_w2v.evaluate import evaluate_pairs
    except ImportError:
        evaluate_pairs = None
    if evaluate_pairs is not None:
        scores = evaluate_pairs(wv, path)
        spearman = scores["spearman"]
        return (float("nan") if spearman is None else spearman), 100.0 * (scores["oov_ratio"] or 0.0)
    try:
        _, spearman, oov = wv.evaluate_word_pairs(path)
    except ValueError:  # gensim raises when every pair is out of vocabulary
        return float("nan"), 100.0
    return float(spearman[0]), float(oov)


def quality(wv) -> dict:
    """Analogy accuracy on questions-words.txt, Spearman on WordSim353 and SimLex-999 (gensim's test data).

    The analogies go through :func:`analogy_accuracy` rather than ``torch_w2v.evaluate``, which calls
    gensim's per-question loop: the same numbers, but ~100 s per model on this corpus instead of ~10 s.
    """
    from gensim.test.utils import datapath
    start = time.perf_counter()
    accuracy, evaluated, total = analogy_accuracy(wv, datapath("questions-words.txt"))
    ws353, ws353_oov = pair_spearman(wv, datapath("wordsim353.tsv"))
    simlex, simlex_oov = pair_spearman(wv, datapath("simlex999.txt"))
    return dict(analogy=accuracy, analogy_evaluated=evaluated, analogy_total=total, ws353=ws353,
                ws353_oov_pct=ws353_oov, simlex=simlex, simlex_oov_pct=simlex_oov,
                eval_seconds=time.perf_counter() - start)


# ------------------------------------------------------------------------------------------- worker
def _rss_bytes() -> int:
    try:
        import psutil
    except ImportError:
        raise ImportError("the benchmark measures memory with psutil: pip install psutil") from None
    return psutil.Process().memory_info().rss


def _peak_rss_bytes() -> int:
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024   # Linux reports KiB, macOS bytes


def _cpu_seconds() -> float:
    """User + system CPU time of this process, all threads: much less sensitive than wall time to other
    programs competing for the cores (they delay this process, they do not make it do more work)."""
    import resource
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def source_fingerprint(package_dir) -> str:
    """A short hash of torch_w2v's source files, to tell whether every run measured the same code."""
    import hashlib
    digest = hashlib.sha256()
    package_dir = Path(package_dir)
    for path in sorted([*package_dir.glob("*.py"), *package_dir.glob("csrc/*")]):
        digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _installed_fingerprint() -> str | None:
    """:func:`source_fingerprint` of the torch_w2v that ``import torch_w2v`` finds, without importing it."""
    import importlib.util
    found = importlib.util.find_spec("torch_w2v")
    if found is None or not found.submodule_search_locations:
        return None
    return source_fingerprint(list(found.submodule_search_locations)[0])


def _hwm_bytes() -> int | None:
    """Linux's VmHWM: the peak RSS of this process image alone (a cross-check of ru_maxrss; None elsewhere)."""
    try:
        with open("/proc/self/status") as fin:
            return next(int(line.split()[1]) * 1024 for line in fin if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return None


def worker(spec: Spec) -> dict | None:
    """Train one model in this (fresh) process and measure it; returns the result row.

    With ``spec.processes > 1`` every rank of the torchrun group runs this; rank 0 returns the row (its
    vectors, which all ranks share after the final merge; memory summed over the ranks), the others None.
    """
    if spec.impl.startswith("gensim"):
        import gensim
        from gensim.models import Word2Vec
        from gensim.models.word2vec import LineSentence
        version = gensim.__version__
    else:
        import torch

        import torch_w2v
        from torch_w2v import Word2Vec
        version = torch_w2v.__version__
        if spec.device and spec.device.startswith("cuda"):
            torch.zeros(1, device=spec.device)  # CUDA context before the baseline: it is not training memory
            torch.cuda.reset_peak_memory_stats(spec.device)
    ranks = None
    if spec.processes > 1:
        from torch_w2v import distributed as ranks
        if not ranks.init_from_env(spec.device):
            raise RuntimeError(f"processes={spec.processes} needs torchrun's environment (RANK, WORLD_SIZE, ...)")
    baseline, import_peak = _rss_bytes(), _peak_rss_bytes()
    code = source_fingerprint(Path(torch_w2v.__file__).parent) if spec.impl == "torch_w2v" else None
    cpu_start, start = _cpu_seconds(), time.perf_counter()
    if spec.impl == "gensim-iterable":  # gensim's documented linear schedule (see plan())
        model = Word2Vec(LineSentence(spec.corpus), **spec.keywords())
    else:
        model = Word2Vec(corpus_file=spec.corpus, **spec.keywords())
    seconds, cpu_seconds = time.perf_counter() - start, _cpu_seconds() - cpu_start
    peak, hwm = _peak_rss_bytes(), _hwm_bytes()
    if ranks is not None:  # the job's memory and CPU time: every rank's figures summed
        *memory, cpu_seconds = ranks.all_sum([baseline, import_peak, peak, hwm or 0, cpu_seconds])
        baseline, import_peak, peak, hwm = (int(v) for v in memory)
        if ranks.rank() != 0:
            return None  # the group is destroyed at exit (init_from_env registers that)
    row = dataclasses.asdict(spec)
    row.update(version=version, code=code, seconds=seconds, cpu_seconds=cpu_seconds,
               corpus_words=int(model.corpus_total_words),
               vocab=len(model.wv), words_per_s=model.corpus_total_words * spec.epochs / seconds,
               baseline_rss_mb=baseline / MB, import_peak_rss_mb=import_peak / MB, peak_rss_mb=peak / MB,
               peak_above_import_mb=(peak - baseline) / MB, vm_hwm_mb=hwm / MB if hwm else None)
    if spec.impl == "torch_w2v":
        row["batch_effective"] = _effective_batch(model, spec)
        if spec.device and spec.device.startswith("cuda"):
            row["cuda_peak_mb"] = torch.cuda.max_memory_allocated(spec.device) / MB
            row["effective_words_per_s"] = _kept_words(model) * spec.epochs / seconds
            row["modelled_bytes_per_s"] = row["effective_words_per_s"] * traffic_per_word(spec)
    row.update(quality(model.wv))
    return row


def traffic_per_word(spec: Spec) -> float:
    """Modelled bytes per trained word: every row a centre touches read and written once (float32)."""
    contexts, rows = SETTINGS["window"] + 1, SETTINGS["negative"] + 1
    return 2 * 4 * spec.vector_size * (contexts + rows)


def _kept_words(model) -> float:
    """Expected words per epoch after downsampling."""
    import numpy as np
    counts, keep = model.wv.expandos["count"], model.wv.expandos["sample_int"]
    return float(counts.astype(np.float64) @ (keep.astype(np.float64) / (2**32 - 1)))


def _other_pipelines(engine: str, device: str) -> list:
    """The pipelines ``engine``'s steps take besides the one it trains on by default on ``device``."""
    import types

    import torch

    from torch_w2v.training import steps
    settings = types.SimpleNamespace(batch_size=None)
    defaults = [cls.default_pipeline(torch.device(device), settings) for cls in steps.step_classes(engine)]
    default = next(p for p in defaults if p is not None)
    return [p for p in steps.engine_pipelines(engine) if p != default]


def _effective_batch(model, spec: Spec) -> int | None:
    """The batch size torch_w2v trained with: the given one, or its default for this corpus and device;
    None on the fused step's token pipeline (no batches: every centre is a step)."""
    if spec.batch_size is not None:
        return spec.batch_size
    import types

    import torch

    from torch_w2v.training import pipelines, registry, steps
    device = torch.device(spec.device or "cpu")
    step_class, pipeline = steps.select(spec.engine or "auto", device, spec.pipeline or "auto",
                                        types.SimpleNamespace(batch_size=None))
    if not registry.pipeline_class(pipeline).batched:
        return None
    return pipelines.default_batch_size(device, _kept_words(model), large=step_class.large_batches)


def run_in_subprocess(spec: Spec) -> dict:
    """Run :func:`worker` for ``spec`` in a fresh interpreter; a failure comes back as ``{"error": ...}``."""
    launcher = [sys.executable]
    if spec.processes > 1:  # torchrun on loopback, gloo
        launcher += ["-m", "torch.distributed.run", "--nnodes=1", f"--nproc_per_node={spec.processes}",
                     "--master_addr=127.0.0.1", f"--master_port={_free_port()}"]
    proc = subprocess.run(launcher + [str(Path(__file__).resolve()), "--worker", json.dumps(dataclasses.asdict(spec))],
                          capture_output=True, text=True, cwd=ROOT)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
    return dict(dataclasses.asdict(spec), error=f"exit code {proc.returncode}: " + "\n".join(tail))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------- plan
def plan(corpus: str, modes, engines, devices, batch_sizes, epochs: int, vector_size: int, workers: int,
         gensim_every: int, default_batch, gensim_iterable: bool = True,
         processes=(1,), pipelines=(), seeds: int = 1) -> tuple[list[Spec], list[str]]:
    """The runs, in order, and the notes on what was skipped.

    Per mode: a gensim run, then up to ``gensim_every`` torch_w2v runs, then gensim again, and so on,
    ending with gensim, so every torch_w2v run has a gensim run on each side to be compared with.
    ``engines`` maps a mode to its torch_w2v engines; ``default_batch("device/engine")`` is torch_w2v's nominal
    default batch size there (a size in ``batch_sizes`` equal to it is the default row itself).
    Each count above 1 in ``processes`` adds, per engine and device, a default-batch run under torchrun with
    that many ranks, the ``workers`` threads split between them.

    With ``seeds`` > 1 the torch_w2v runs repeat with ``seed=2, 3, ...``; gensim's runs take seeds 1, 2, 3, ...
    in order. A row of the table is the mean over its runs.

    With ``gensim_iterable``, each mode ends with a gensim run on the same corpus given as an iterable
    (``LineSentence``): gensim's ``corpus_file`` workers each decay the learning rate by their own share
    of an epoch only (``word2vec_corpusfile.pyx``, ``get_next_alpha``), so that run shows gensim with its
    documented linear schedule, which torch_w2v uses for iterables (for ``corpus_file`` it reproduces
    gensim's ``corpus_file`` schedule, as the rows compared here do).
    """
    common = dict(corpus=corpus, epochs=epochs, vector_size=vector_size, workers=workers)
    runs, notes = [], []
    for mode in modes:
        ours = []
        for device in devices:
            for engine in engines[mode]:
                if engine == "fused" and device != "cpu":
                    notes.append(f"skipped {mode} fused on {device}: engine='fused' runs on the CPU only "
                                 f"(use --engines triton,torch there).")
                    continue
                if engine == "triton" and device == "cpu":
                    notes.append(f"skipped {mode} triton on cpu: the Triton step runs on CUDA (on the CPU only "
                                 f"under Triton's interpreter, too slow to benchmark; see benchmarks/host_cost.py).")
                    continue
                sizes = [None] + [b for b in batch_sizes if b != default_batch(f"{device}/{engine}")]
                ours += [Spec("torch_w2v", mode, engine=engine, device=device, batch_size=b, **common)
                         for b in sizes]
                takes = _other_pipelines(engine, device)
                # the step on each other pipeline asked for (default-batch rows)
                ours += [Spec("torch_w2v", mode, engine=engine, device=device, pipeline=pipe, **common)
                         for pipe in pipelines if pipe in takes]
                ours += [Spec("torch_w2v", mode, engine=engine, device=device, processes=p, **common)
                         for p in processes if p > 1]
        if not ours:
            continue
        # default-batch rows first, then the step-size rows, engines alternating
        ours.sort(key=lambda s: (s.batch_size is not None, s.batch_size or 0, s.processes))
        gensim = Spec("gensim", mode, **common)
        n = 0  # gensim's runs take seeds 1, 2, 3, ... in order
        for seed in range(1, seeds + 1):
            for i in range(0, len(ours), gensim_every):
                n += 1
                runs += [dataclasses.replace(gensim, seed=n),
                         *(dataclasses.replace(o, seed=seed) for o in ours[i:i + gensim_every])]
        runs.append(dataclasses.replace(gensim, seed=n + 1))
        if gensim_iterable:
            runs += [Spec("gensim-iterable", mode, **common), gensim]
    return runs, notes


# ------------------------------------------------------------------------------------------ summary
METRICS = ("seconds", "cpu_seconds", "words_per_s", "peak_rss_mb", "peak_above_import_mb", "baseline_rss_mb",
           "analogy", "ws353", "simlex")


def _row_key(r: dict) -> tuple:
    """What makes runs one row of the table: everything in the Spec but its seed."""
    return tuple((k, r.get(k)) for k in Spec.__annotations__ if k != "seed")


def summarize(results: list[dict]) -> list[dict]:
    """Add to each torch_w2v run its speed ratio against the gensim runs next to it in the run order (same
    corpus and mode), then return the table rows per (corpus, mode): one gensim row (means over its runs),
    then one row per torch_w2v configuration (means over its seeds) with its quality deltas against the
    gensim row. ``runs``, and the min/max of seconds and analogies, say how many runs a row averages."""
    ok = [r for r in results if "error" not in r]
    rows = []
    for corpus, mode in dict.fromkeys((r["corpus"], r["mode"]) for r in results):
        order = [r for r in ok if r["mode"] == mode and r["corpus"] == corpus]
        gensim = [r for r in order if r["impl"] == "gensim"]
        if not gensim:
            continue
        base = _mean_row(gensim)
        base.update(speed_ratio=1.0, cpu_ratio=1.0)
        rows.append(base)
        timed = []
        for i, r in enumerate(order):
            if r["impl"] == "gensim":
                continue
            before = next((g for g in reversed(order[:i]) if g["impl"] == "gensim"), None)
            after = next((g for g in order[i + 1:] if g["impl"] == "gensim"), None)
            near = [g for g in (before, after) if g is not None]
            row = dict(r)
            row["gensim_seconds_near"] = statistics.fmean(g["seconds"] for g in near)
            row["speed_ratio"] = row["gensim_seconds_near"] / r["seconds"]   # > 1: torch_w2v is faster
            row["cpu_ratio"] = statistics.fmean(g["cpu_seconds"] for g in near) / r["cpu_seconds"]
            timed.append(row)
        for key in dict.fromkeys(_row_key(r) for r in timed):
            row = _mean_row([r for r in timed if _row_key(r) == key], ("speed_ratio", "cpu_ratio"))
            for k in QUALITY:
                row[f"delta_{k}"] = row[k] - base[k]
                row[f"delta_{k}_se"] = _standard_error(row, base, k)
            rows.append(row)
    return rows


QUALITY = ("analogy", "ws353", "simlex")


def _standard_error(row: dict, base: dict, key: str) -> float:
    """The standard error of ``row[key] - base[key]``, a difference of two means over independent runs:
    sqrt(sd_a**2 / n_a + sd_b**2 / n_b); NaN unless both means have 2 runs or more. A difference of about
    twice this is what the seeds alone give one time in twenty."""
    if row["runs"] < 2 or base["runs"] < 2:
        return math.nan
    return math.sqrt(row[f"{key}_sd"] ** 2 / row["runs"] + base[f"{key}_sd"] ** 2 / base["runs"])


def _mean_row(runs: list[dict], extra=()) -> dict:
    """The first run's fields with the metrics averaged over ``runs`` and their spread recorded (the
    quality scores' standard deviation over the runs too, when there are 2 or more)."""
    row = dict(runs[0])
    row.update({k: statistics.fmean(r[k] for r in runs) for k in (*METRICS, *extra)})
    if len(runs) > 1:
        row.update({f"{k}_sd": statistics.stdev(r[k] for r in runs) for k in QUALITY})
    row.update(runs=len(runs), seeds=sorted({r.get("seed", 1) for r in runs}),
               seconds_min=min(r["seconds"] for r in runs), seconds_max=max(r["seconds"] for r in runs),
               cpu_min=min(r["cpu_seconds"] for r in runs), cpu_max=max(r["cpu_seconds"] for r in runs),
               analogy_min=min(r["analogy"] for r in runs), analogy_max=max(r["analogy"] for r in runs))
    return row


def _num(value, fmt: str) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, fmt)


def _delta(row: dict, key: str, scale: float, fmt: str, se_fmt: str) -> str:
    """``+0.012 ± 0.009``: a quality delta and its standard error (the delta alone without one)."""
    text = _num(scale * row[f"delta_{key}"], fmt)
    se = row.get(f"delta_{key}_se", math.nan)
    return text if math.isnan(se) else f"{text} ± {scale * se:{se_fmt}}"


def _secs(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.3g}"


def _corpus_label(r: dict) -> str:
    """``dictd (5.02M)``; a repeated corpus ``dictd repeated (100M, 1 epoch)``; other epochs than the
    default's are named."""
    stem = Path(r["corpus"]).stem
    name = stem.split("-")[0] + " repeated" if "-repeated" in stem else stem
    runs = r.get("epochs", SETTINGS["epochs"])
    epochs = "" if runs == SETTINGS["epochs"] else f", {runs} epoch{'s' * (runs > 1)}"
    return f"{name} ({r['corpus_words'] / 1e6:.3g}M{epochs})"


def markdown(rows: list[dict], bandwidth: float | None = None) -> str:
    """The results as a markdown table (plus one note line per gensim baseline, and the GPU traffic table);
    ``bandwidth``: the GPU's measured copy bandwidth in GB/s."""
    head = ("| corpus | mode | implementation | step (batch) | runs | seconds | words/s | speed vs gensim | CPU s "
            "| CPU time vs gensim | peak RSS MB "
            "| above imports MB | analogy % | Δ analogy | WS353 ρ | Δ WS353 | SimLex ρ | Δ SimLex |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    notes = []
    for r in rows:
        corpus = _corpus_label(r)
        if r["impl"] == "gensim":
            impl, step = f"gensim {r['version']} (mean)", "—"
            deltas = ("", "", "")
            notes.append(f"gensim {r['mode']} on {corpus}: {r['runs']} runs, "
                         f"{_secs(r['seconds_min'])}–{_secs(r['seconds_max'])} s "
                         f"(CPU {_secs(r['cpu_min'])}–{_secs(r['cpu_max'])} s), analogies "
                         f"{100 * r['analogy_min']:.1f}–{100 * r['analogy_max']:.1f}%; "
                         f"analogies evaluated: {r['analogy_evaluated']:,} of {r['analogy_total']:,} "
                         f"(vocabulary {r['vocab']:,} words)")
        else:
            if r["impl"] == "gensim-iterable":
                impl, step = f"gensim {r['version']}, iterable corpus (linear schedule)", "—"
            else:
                impl = f"torch_w2v {r['engine']} ({r['device']}" + (f", {r['pipeline']} batches)"
                                                                     if r.get("pipeline") else ")")
                if r.get("processes", 1) > 1:
                    impl += f", {r['processes']} processes (gloo)"
                step = ("— (tokens)" if r.get("batch_effective") is None
                        else f"{r['batch_effective']:,}" + (" (default)" if r["batch_size"] is None else ""))
                if r["runs"] > 1:
                    notes.append(f"{impl} {r['mode']} on {corpus}: {r['runs']} seeds, "
                                 f"{_secs(r['seconds_min'])}–{_secs(r['seconds_max'])} s, analogies "
                                 f"{100 * r['analogy_min']:.1f}–{100 * r['analogy_max']:.1f}%")
            deltas = (_delta(r, "analogy", 100, "+.1f", ".1f"), _delta(r, "ws353", 1, "+.3f", ".3f"),
                      _delta(r, "simlex", 1, "+.3f", ".3f"))
        peak = f"{r['peak_rss_mb']:.0f}" + (f" (GPU {r['cuda_peak_mb']:.0f})" if "cuda_peak_mb" in r else "")
        lines.append(
            f"| {corpus} | {r['mode']} | {impl} | {step} | {r['runs']} | {_secs(r['seconds'])} "
            f"| {r['words_per_s']:,.0f} "
            f"| {r['speed_ratio']:.2f}× | {_secs(r['cpu_seconds'])} | {r['cpu_ratio']:.2f}× | {peak} "
            f"| {r['peak_above_import_mb']:.0f} "
            f"| {_num(100 * r['analogy'], '.1f')} | {deltas[0]} | {_num(r['ws353'], '.3f')} | {deltas[1]} "
            f"| {_num(r['simlex'], '.3f')} | {deltas[2]} |")
    if any(not math.isnan(r.get(f"delta_{k}_se", math.nan)) for r in rows for k in QUALITY):
        notes.insert(0, "± after a quality delta: its standard error (each side's standard deviation over its "
                        "runs, squared, over its run count, summed, square root); seeds alone give a delta of "
                        "twice it one time in twenty")
    return "\n".join(lines + [""] + notes + gpu_table(rows, bandwidth))


def gpu_table(rows: list[dict], bandwidth: float | None) -> list[str]:
    """The CUDA rows' memory traffic (modelled, see :func:`traffic_per_word`) against the copy bandwidth."""
    gpu = [r for r in rows if "modelled_bytes_per_s" in r]
    if not gpu:
        return []
    lines = ["", "| mode | step (batch) | words/s | trained words/s | modelled traffic GB/s | of copy bandwidth "
             "| GPU peak MB |", "|---|---|---|---|---|---|---|"]
    for r in gpu:
        share = f"{100 * r['modelled_bytes_per_s'] / (bandwidth * 1e9):.1f}%" if bandwidth else "n/a"
        lines.append(f"| {r['mode']} | {r['engine']} ({r['batch_effective']:,}) | {r['words_per_s']:,.0f} "
                     f"| {r['effective_words_per_s']:,.0f} | {r['modelled_bytes_per_s'] / 1e9:,.1f} | {share} "
                     f"| {r['cuda_peak_mb']:.0f} |")
    return lines


# ------------------------------------------------------------------------------------------ machine
def probe(devices) -> dict:
    """Versions, CPU, GPU, CUDA availability and torch_w2v's default batch sizes; builds the fused step.

    Runs in a subprocess of its own (see :func:`run_probe`): the parent process never imports torch or
    gensim, because Linux carries a process's peak RSS over ``fork``+``exec`` into ``ru_maxrss`` of the
    child, so a heavy parent would raise the peak measured in every worker.
    """
    import gensim
    import numpy
    import torch

    from torch_w2v.training import registry, steps
    from torch_w2v.training.pipelines import default_batch_size
    from torch_w2v.training.steps import fused
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fin:
            cpu = next(line.split(":", 1)[1].strip() for line in fin if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = dict(cpu=cpu, cores=_cores(), python=platform.python_version(), torch=torch.__version__,
                gensim=gensim.__version__, numpy=numpy.__version__, commit=_commit(),
                date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                cuda=torch.cuda.is_available(), torch_cuda_build=torch.version.cuda,
                fused=fused.available(),  # loads the C step (built at install) now, so that no timed run pays for it
                default_batch={f"{d}/{e}": default_batch_size(torch.device(d),
                                                              large=steps.step_classes(e)[0].large_batches)
                               for d in devices for e in registry.STEPS
                               if not d.startswith("cuda") or torch.cuda.is_available()})
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_copy_gb_s"] = copy_bandwidth() / 1e9
    return info


def copy_bandwidth(nbytes: int = 1 << 30, repeats: int = 10) -> float:
    """Measured device-to-device copy bandwidth in bytes/s (each copy reads and writes ``nbytes``)."""
    import torch
    src = torch.empty(nbytes // 4, dtype=torch.float32, device="cuda")
    dst = torch.empty_like(src)
    dst.copy_(src)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        dst.copy_(src)
    torch.cuda.synchronize()
    return 2 * nbytes * repeats / (time.perf_counter() - start)


def run_probe(devices) -> dict:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--probe", ",".join(devices)],
                          capture_output=True, text=True, cwd=ROOT)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK):])
    raise RuntimeError(f"the probe of the machine failed (exit code {proc.returncode}):\n{proc.stderr[-3000:]}")


def _commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return commit + (" (+ uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def machine_line(m: dict) -> str:
    gpu = f", GPU {m['gpu']} (copy bandwidth {m['gpu_copy_gb_s']:,.0f} GB/s)" if "gpu" in m else ""
    return (f"machine: {m['cpu']}, {m['cores']} cores{gpu}; python {m['python']}, torch {m['torch']}, "
            f"gensim {m['gensim']}, numpy {m['numpy']}; torch_w2v commit {m['commit']}, source {m['source']}; "
            f"{m['date']}")


# --------------------------------------------------------------------------------------------- main
def _csv(kind, allowed=None):
    def parse(text):
        items = [kind(x.strip()) for x in text.split(",") if x.strip()]
        bad = [x for x in items if allowed is not None and x not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(f"{bad} not among {sorted(allowed)}")
        return items
    return parse


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="torch_w2v vs gensim: speed, memory and quality in one run.")
    p.add_argument("--corpus", type=_csv(str), default=["gcide"],
                   help="corpora, comma-separated: 'gcide' (dictionary entries, 5.2M words), 'docs' (Linux and "
                        "Python documentation, long lines of prose, 4.0M words), 'dictd' (WordNet and other "
                        "dictionaries, long lines, large vocabulary, 5.0M words), 'lee' (gensim's Lee corpus, "
                        "60k words) or LineSentence files; built under bench_data/ (default: gcide)")
    p.add_argument("--sizes", type=_csv(str), default=["full"],
                   help="corpus sizes, comma-separated: word counts (a prefix of whole lines; past the corpus's "
                        "size, the corpus repeated to it) or 'full' (default), each for every corpus or, as "
                        "NAME:SIZE, for the corpus NAME only; e.g. 1000000,full,dictd:100000000 for the sweep")
    p.add_argument("--scale-epochs", type=int, default=1,
                   help="epochs of a corpus repeated to a size (default 1): speed and memory at scale")
    p.add_argument("--seeds", type=int, default=1,
                   help="runs per configuration, with seeds 1..N (quality and speed are their means)")
    p.add_argument("--modes", type=_csv(str, {"sg", "cbow"}), default=["sg", "cbow"],
                   help="sg and/or cbow (default both); each is compared with gensim in the same mode")
    p.add_argument("--engines", type=_csv(str, {"fused", "triton", "torch"}), default=None,
                   help="torch_w2v engines (default: fused,torch for sg and fused for cbow on the CPU; "
                        "triton,torch on CUDA)")
    p.add_argument("--batch-sizes", type=_csv(int), default=[],
                   help="also run each torch_w2v engine at these batch sizes (the step-size table)")
    p.add_argument("--device", type=_csv(str), default=["cpu"],
                   help="torch_w2v devices: cpu, cuda or both (cpu,cuda); CUDA rows use the triton and torch steps")
    p.add_argument("--epochs", type=int, help=f"passes (default {SETTINGS['epochs']}; {QUICK_EPOCHS} with --quick)")
    p.add_argument("--quick", action="store_true",
                   help=f"a {QUICK_WORDS:,}-word prefix of the corpus and {QUICK_EPOCHS} epochs, for a fast look")
    p.add_argument("--vector-size", type=int, default=SETTINGS["vector_size"], help="dimensions (default 100)")
    p.add_argument("--workers", type=int, default=_cores(),
                   help="gensim worker threads and torch_w2v threads (default: the number of cores)")
    p.add_argument("--gensim-every", type=int, default=3,
                   help="a gensim run after every this many torch_w2v runs (default 3)")
    p.add_argument("--no-gensim-iterable", dest="gensim_iterable", action="store_false",
                   help="skip the reference run of gensim on the corpus as an iterable (documented schedule)")
    p.add_argument("--pipelines", type=_csv(str, {"host", "device", "segments"}), default=[],
                   help="also run the torch step with batches made on the host and/or the device (the CUDA "
                        "path's pipeline), the fused step on host batches (strided steps of 16,384 "
                        "centres instead of its token pipeline) and the Triton step's segment kernel "
                        "(segments), e.g. host,device, to compare their speed and quality")
    p.add_argument("--processes", type=_csv(int), default=[1],
                   help="also run torch_w2v under torchrun with these numbers of processes (e.g. 1,2; the "
                        "--workers threads are split between them)")
    p.add_argument("--json", help="also write the results to this JSON file (updated after every run)")
    p.add_argument("--worker", help=argparse.SUPPRESS)   # internal: one run (a Spec as JSON)
    p.add_argument("--probe", help=argparse.SUPPRESS)    # internal: machine facts (devices, comma-separated)
    args = p.parse_args(argv)
    for size in args.sizes:
        name, _, words = size.rpartition(":")
        if words != "full" and not (words.isdigit() and int(words) > 0) or (name and name not in args.corpus):
            p.error(f"--sizes takes word counts > 0 or 'full', each alone or as NAME:SIZE with NAME one of the "
                    f"--corpus names {','.join(args.corpus)}; got {size!r}")
    for name in ("epochs", "vector_size", "workers", "gensim_every", "seeds", "scale_epochs"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    return args


def _corpora(args) -> list:
    """``(CorpusInfo, repeated)`` of every (corpus, size) asked for, in order: a prefix of whole lines, the
    full corpus, or (``repeated``) the corpus repeated to a size it does not reach; ``--quick``: 1M-word
    prefixes."""
    sizes = [str(QUICK_WORDS)] if args.quick else args.sizes
    out = []
    for name in args.corpus:
        info = corpus_mod.load(name)
        for size in sizes:
            only, _, size = size.rpartition(":")
            if only and only != name:
                continue
            sized = info if size == "full" else corpus_mod.repeated(info, int(size))
            if sized.path not in [o.path for o, _ in out]:
                out.append((sized, size != "full" and int(size) > info.words))
    return out


def _write_json(path, payload) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as fout:
        json.dump(payload, fout, indent=1, default=str)
    os.replace(tmp, path)


def _usable_devices(devices, mach, notes) -> list[str]:
    kept = []
    for d in devices:
        if d.startswith("cuda") and not mach["cuda"]:
            why = "torch is built without CUDA" if mach["torch_cuda_build"] is None else "no GPU is visible"
            notes.append(f"skipped torch_w2v on {d}: CUDA is not available here (torch {mach['torch']}: {why}).")
        else:
            kept.append(d)
    return kept


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker or args.probe:
        result = worker(Spec(**json.loads(args.worker))) if args.worker else probe(args.probe.split(","))
        if result is not None:  # None: a rank other than 0
            print(RESULT_MARK + json.dumps(result), flush=True)
        return 0

    t0 = time.perf_counter()
    try:
        corpora = _corpora(args)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 1
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else SETTINGS["epochs"])
    cpu_engines = {m: (["fused", "torch"] if m == "sg" else ["fused"]) for m in args.modes}
    engines = {m: args.engines or list(dict.fromkeys(
                   cpu_engines[m] * ("cpu" in args.device)
                   + ["triton", "torch"] * any(d.startswith("cuda") for d in args.device)))
               for m in args.modes}

    mach = run_probe(args.device)
    mach["source"] = _installed_fingerprint()
    notes = []
    devices = _usable_devices(args.device, mach, notes)
    runs = []
    for info, repeated in corpora:
        # a repeated corpus: --scale-epochs passes, and no reference run of gensim's slow iterable path
        planned, skipped = plan(info.path, args.modes, engines, devices, args.batch_sizes,
                                args.scale_epochs if repeated else epochs, args.vector_size, args.workers,
                                args.gensim_every, mach["default_batch"].get, args.gensim_iterable and not repeated,
                                args.processes, args.pipelines, args.seeds)
        runs += planned
        notes += [n for n in skipped if n not in notes]
    if any(s.engine == "fused" for s in runs) and not mach["fused"]:
        notes.append("the fused C step is not built here (no C compiler at install?): the fused rows will fail.")
    print(machine_line(mach))
    for info, repeated in corpora:
        print(f"corpus: {info.path}: {info.words:,} words, {info.sentences:,} lines, sha256 {info.sha256[:16]}…"
              + (f" ({info.source}; {args.scale_epochs} epoch{'s' * (args.scale_epochs > 1)})" if repeated else ""))
    settings = dict(SETTINGS, epochs=epochs, vector_size=args.vector_size, workers=args.workers)
    print("settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()) + "; corpus_file=; sg=1 or 0 (cbow)"
          + (f"; seeds 1..{args.seeds}" if args.seeds > 1 else ""))
    for note in notes:
        print("note: " + note)
    if not any(s.impl == "torch_w2v" for s in runs):
        print("nothing to compare: no torch_w2v run is left (see the notes above).")
        return 0

    payload = dict(machine=mach, corpora=[dict(dataclasses.asdict(i), repeated=r) for i, r in corpora],
                   settings=settings, notes=notes,
                   runs=[])
    results = []
    for i, spec in enumerate(runs, 1):
        print(f"[{i}/{len(runs)}] {spec.label} ...", end=" ", flush=True)
        row = run_in_subprocess(spec)
        results.append(row)
        if "error" in row:
            print("FAILED\n    " + row["error"].replace("\n", "\n    "), flush=True)
        else:
            print(f"{row['seconds']:.1f} s, {row['words_per_s']:,.0f} words/s, peak RSS {row['peak_rss_mb']:.0f} MB "
                  f"(+{row['peak_above_import_mb']:.0f} over imports), analogy {100 * row['analogy']:.1f}%, "
                  f"WS353 {row['ws353']:.3f}, SimLex {row['simlex']:.3f}", flush=True)
        if args.json:
            payload["runs"] = results
            _write_json(args.json, payload)

    rows = summarize(results)
    table = markdown(rows, mach.get("gpu_copy_gb_s"))
    elapsed = time.perf_counter() - t0
    names = ", ".join(f"{Path(i.path).name} ({i.words:,} words)" for i, _ in corpora)
    print(f"\n{machine_line(mach)}\ncorpora: {names}; {epochs} epochs; benchmark took {elapsed / 60:.1f} min\n")
    print(table)
    codes = {r["code"] for r in results if r.get("code")} | {mach["source"], _installed_fingerprint()}
    if len(codes) > 1:
        warning = (f"warning: torch_w2v's source files changed while this benchmark ran (fingerprints "
                   f"{', '.join(sorted(c for c in codes if c))}; each run's is in the JSON as 'code'): the rows "
                   f"did not all measure the same code.")
        notes.append(warning)
        print("\n" + warning)
    failed = [r for r in results if "error" in r]
    if failed:
        print(f"\n{len(failed)} run(s) failed: " + "; ".join(Spec(**{k: r[k] for k in Spec.__annotations__}).label
                                                             for r in failed))
    if args.json:
        payload.update(runs=results, table=rows, markdown=table, seconds=elapsed)
        _write_json(args.json, payload)
        print(f"\nresults written to {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
