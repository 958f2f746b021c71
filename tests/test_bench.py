"""The benchmark machinery (benchmarks/): corpus cleaning, run plan, ratios, the batched analogy score, and
one end-to-end run of ``benchmarks/bench.py`` on a tiny corpus. These test behaviour, not speed."""
import gzip
import json
import math
import random
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # benchmarks/ is a folder of scripts, not an installed package
from benchmarks import bench, corpus  # noqa: E402

GCIDE_SAMPLE = """\
<p><ent>Abandon</ent><br/
<hw>A*ban"don</hw>, <pos>v. t.</pos> To give up wholly.
[1913 Webster]

<p>Short</p>

<p>The king <i>abandoned</i> his crown; the queen
stayed.
[1913 Webster +PJC]
"""


# ------------------------------------------------------------------------------------------- corpus
def test_paragraphs_follow_the_cleaning_rules():
    out = list(corpus.paragraphs(GCIDE_SAMPLE.splitlines()))
    assert out == [
        "p ent abandon ent br hw a ban don hw pos v t pos to give up wholly".split(),
        # "<p>Short</p>" -> ["p", "short", "p"]: 3 tokens, kept; a 1-token paragraph would be dropped
        ["p", "short", "p"],
        "p the king i abandoned i his crown the queen stayed".split(),
    ]
    assert list(corpus.paragraphs(["one\n", "\n", "two words\n"])) == [["two", "words"]]


def test_build_gcide_writes_and_caches_a_line_sentence_file(tmp_path):
    source = tmp_path / "gcide.dict.dz"
    with gzip.open(source, "wt", encoding="utf-8") as fout:
        fout.write(GCIDE_SAMPLE)
    info = corpus.build_gcide(source, data_dir=tmp_path / "data")
    assert Path(info.path).read_text().splitlines()[2] == "p the king i abandoned i his crown the queen stayed"
    assert (info.words, info.sentences) == (32, 3)
    assert corpus.build_gcide(source, data_dir=tmp_path / "data") == info  # from the cache
    head = corpus.prefix(info, 20, data_dir=tmp_path / "data")
    assert (head.words, head.sentences) == (18, 1)  # whole lines only


def test_missing_gcide_names_the_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dict-gcide"):
        corpus.build_gcide(tmp_path / "absent.dict.dz", data_dir=tmp_path)


def _doc_tree(root):
    """Two Sphinx _sources trees as Debian installs them: a kernel one and a Python one."""
    kernel = root / "linux-doc-6.1" / "html" / "_sources" / "PCI"
    python = root / "python3.11" / "html" / "_sources"
    kernel.mkdir(parents=True)
    python.mkdir(parents=True)
    (kernel / "pci.rst.txt").write_text(".. SPDX-License-Identifier: GPL-2.0\n\nHow To Write PCI Drivers\n"
                                        "========\n\nThe world of PCI is vast.\n    int code_block;\n"
                                        "\tstruct tabbed;\nIt's 2 drivers-deep.\n")
    (python / "intro.rst.txt").write_text("Python is a language.\n")
    (python / "empty.rst.txt").write_text(".. only a comment\n")
    return root


def test_documents_follow_the_cleaning_rules(tmp_path):
    root = _doc_tree(tmp_path / "doc")
    out = list(corpus.documents(sorted(root.rglob("*.txt"))))
    assert out == ["how to write pci drivers the world of pci is vast it s drivers deep".split(),
                   "python is a language".split()]  # the directive, code lines and the one-token doc are gone


def test_build_docs_writes_one_document_per_line_and_caches_it(tmp_path):
    root = _doc_tree(tmp_path / "doc")
    info = corpus.build_docs(root, data_dir=tmp_path / "data")
    assert (info.words, info.sentences) == (19, 2) and "linux-doc-6.1" in info.source
    assert corpus.build_docs(root, data_dir=tmp_path / "data") == info  # from the cache
    with pytest.raises(FileNotFoundError, match="apt-get install linux-doc"):
        corpus.build_docs(tmp_path / "nothing", data_dir=tmp_path / "data")


def test_a_long_document_continues_on_the_next_line(tmp_path, monkeypatch):
    """Lines of at most DOCS_LINE_WORDS words, so that gensim's corpus_file trainer drops none of them."""
    monkeypatch.setattr(corpus, "DOCS_LINE_WORDS", 5)
    info = corpus.build_docs(_doc_tree(tmp_path / "doc"), data_dir=tmp_path / "data")
    lines = Path(info.path).read_text().splitlines()
    assert [len(line.split()) for line in lines] == [5, 5, 5, 4]
    assert " ".join(lines[:3]).split() == "how to write pci drivers the world of pci is vast it s drivers deep".split()
    assert (info.words, info.sentences) == (19, 4)


DICTD_SAMPLE = """\
00-database-info
     This file was converted from the original database.
00-database-url
     http://example.org/
abandon
     v 1: forsake, leave behind; "We abandoned the old car"
          [syn: {abandon}, {give up}]
apple
     n : fruit with red or yellow skin
"""


def _dictd_sources(root):
    """Two dictd databases as Debian installs them (gzip'd dictd text), headers included."""
    root.mkdir(parents=True)
    first, second = root / "wn.dict.dz", root / "jargon.dict.dz"
    with gzip.open(first, "wt", encoding="utf-8") as fout:
        fout.write(DICTD_SAMPLE)
    with gzip.open(second, "wt", encoding="utf-8") as fout:
        fout.write("00-database-short\n     The Jargon File\nhacker\n   n. A person who enjoys code.\n")
    return first, second


def test_dictd_entries_are_headword_and_body_without_the_database_header():
    out = list(corpus.dictd_entries(DICTD_SAMPLE.splitlines(keepends=True)))
    assert out == ["abandon v forsake leave behind we abandoned the old car syn abandon give up".split(),
                   "apple n fruit with red or yellow skin".split()]
    # whole entries are joined up to the limit; a longer entry is cut into limit-sized pieces
    assert list(corpus.joined([["a"] * 3, ["b"] * 2, ["c"] * 7], 5)) == [
        ["a"] * 3 + ["b"] * 2, ["c"] * 5, ["c"] * 2]


def test_build_dictd_writes_long_lines_and_caches_them(tmp_path, monkeypatch):
    sources = _dictd_sources(tmp_path / "dictd")
    info = corpus.build_dictd(sources, data_dir=tmp_path / "data")
    lines = Path(info.path).read_text().splitlines()
    assert lines == ["abandon v forsake leave behind we abandoned the old car syn abandon give up "
                     "apple n fruit with red or yellow skin",
                     "hacker n a person who enjoys code"]  # one line per source file at this size
    assert (info.words, info.sentences) == (29, 2) and "jargon.dict.dz" in info.source
    assert corpus.build_dictd(sources, data_dir=tmp_path / "data") == info  # from the cache
    monkeypatch.setattr(corpus, "DICTD_LINE_WORDS", 8)
    short = corpus.build_dictd(sources, data_dir=tmp_path / "short")
    assert [len(line.split()) for line in Path(short.path).read_text().splitlines()] == [8, 6, 8, 7]
    with pytest.raises(FileNotFoundError, match="apt-get install dict-wn dict-foldoc"):
        corpus.build_dictd((tmp_path / "absent.dict.dz",), data_dir=tmp_path / "data")


def test_the_lee_corpus_is_gensims_and_sizes_cut_prefixes_or_repeat_it(tmp_path, monkeypatch):
    lee = corpus.load("lee")
    assert lee.path.endswith("lee_background.cor") and lee.words == 59890
    monkeypatch.setattr(corpus, "DATA_DIR", tmp_path)
    args = bench.parse_args(["--corpus", "lee", "--sizes", "10000,full,lee:150000,59890"])
    infos = bench._corpora(args)
    assert [(i.words <= 10000, r) for i, r in infos] == [(True, False), (False, False), (False, True)]
    with pytest.raises(SystemExit):  # a size for a corpus not asked for
        bench.parse_args(["--corpus", "lee", "--sizes", "gcide:100000"])
    repeated = infos[2][0]  # 150,000 > Lee's size: Lee twice, then whole lines of a third copy
    text = Path(repeated.path).read_text().splitlines()
    lee_lines = Path(lee.path).read_text().splitlines()
    whole = 2 * len(lee_lines)
    assert text[:whole] == lee_lines * 2 and text[whole:] == lee_lines[:len(text) - whole]
    assert 150000 - 1000 < repeated.words <= 150000 and "repeated to 150000 words" in repeated.source
    assert corpus.repeated(lee, 150000) == repeated  # cached
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(ValueError, match="holds no words"):
        corpus.repeated(corpus.load(tmp_path / "empty.txt"), 100)
    label = bench._corpus_label(dict(corpus=repeated.path, corpus_words=repeated.words, epochs=1))
    assert label == "lee_background repeated (0.15M, 1 epoch)"


# ------------------------------------------------------------------------------------------ quality
def test_batched_analogy_accuracy_equals_gensims(tmp_path):
    lines = Path(datapath("questions-words.txt")).read_text().splitlines()
    family = lines.index(": family")
    questions = tmp_path / "questions.txt"
    questions.write_text("\n".join(lines[:120] + lines[family:family + 300]) + "\n")
    words = sorted({w for line in lines[:120] + lines[family:family + 300] if not line.startswith(":")
                    for w in line.split()})
    rng = np.random.default_rng(0)
    # some words left out (their questions are skipped) and a lower-case twin of some capitalised ones
    keys = [w for w in words if rng.random() > 0.1] + [w.lower() for w in words[::3] if w.lower() != w]
    wv = KeyedVectors(8)
    wv.add_vectors(keys, rng.standard_normal((len(keys), 8)).astype(np.float32))
    # lower the noise: make part of the family analogies hold, so the score is not ~0
    for a, b, c, d in (line.split() for line in lines[family + 1:family + 300]):
        if all(w in wv.key_to_index for w in (a, b, c, d)) and rng.random() < 0.5:
            wv.vectors[wv.key_to_index[d]] = wv[b] - wv[a] + wv[c]
    wv.fill_norms(force=True)
    expected, sections = wv.evaluate_word_analogies(str(questions))
    got, evaluated, total = bench.analogy_accuracy(wv, questions)
    assert evaluated == len(sections[-1]["correct"]) + len(sections[-1]["incorrect"])
    assert total == 418  # 420 lines less 2 section headers
    assert got == pytest.approx(expected, abs=1e-12) and 0.05 < got < 0.95


# -------------------------------------------------------------------------------------- plan, table
def _plan(**over):
    args = dict(corpus="c.txt", modes=["sg", "cbow"], engines={"sg": ["fused", "torch"], "cbow": ["fused"]},
                devices=["cpu"], batch_sizes=[256, 2048], epochs=1, vector_size=8, workers=1, gensim_every=2,
                default_batch={"cpu/fused": 16384, "cpu/torch": 2048, "cuda/torch": 16384}.get)
    args.update(over)
    return bench.plan(**args)


def test_plan_brackets_every_torch_w2v_run_with_gensim_runs():
    runs, notes = _plan()
    assert notes == []
    labels = [(s.impl, s.mode, s.engine, s.batch_size) for s in runs]
    assert labels == [
        ("gensim", "sg", None, None), ("torch_w2v", "sg", "fused", None), ("torch_w2v", "sg", "torch", None),
        ("gensim", "sg", None, None), ("torch_w2v", "sg", "fused", 256), ("torch_w2v", "sg", "torch", 256),
        ("gensim", "sg", None, None), ("torch_w2v", "sg", "fused", 2048),
        ("gensim", "sg", None, None), ("gensim-iterable", "sg", None, None), ("gensim", "sg", None, None),
        ("gensim", "cbow", None, None), ("torch_w2v", "cbow", "fused", None), ("torch_w2v", "cbow", "fused", 256),
        ("gensim", "cbow", None, None), ("torch_w2v", "cbow", "fused", 2048),
        ("gensim", "cbow", None, None), ("gensim-iterable", "cbow", None, None), ("gensim", "cbow", None, None),
    ]  # 2048 is the torch engine's CPU default, so it is that engine's default row itself


def test_plan_without_the_iterable_reference():
    runs, _ = _plan(modes=["sg"], gensim_iterable=False)
    assert all(s.impl != "gensim-iterable" for s in runs)


def test_plan_skips_fused_on_cuda_with_a_note():
    runs, notes = _plan(modes=["sg"], devices=["cuda"], batch_sizes=[])
    assert [(s.engine, s.device) for s in runs if s.impl == "torch_w2v"] == [("torch", "cuda")]
    assert len(notes) == 1 and "CPU only" in notes[0]


def _row(impl, seconds, analogy=0.5, **extra):
    row = dict(impl=impl, mode="sg", corpus="c.txt", seconds=seconds, cpu_seconds=2 * seconds,
               words_per_s=1e6 / seconds, peak_rss_mb=100.0, peak_above_import_mb=10.0, baseline_rss_mb=90.0,
               analogy=analogy, ws353=0.5,
               simlex=0.25, version="x", analogy_evaluated=10, analogy_total=20, vocab=50, corpus_words=10**6)
    if impl == "torch_w2v":
        row.update(engine="fused", device="cpu", batch_size=None, batch_effective=2048)
    row.update(extra)
    return row


def test_speed_ratio_uses_the_neighbouring_gensim_runs():
    results = [_row("gensim", 10.0), _row("torch_w2v", 5.0, analogy=0.6), _row("gensim", 30.0),
               _row("torch_w2v", 40.0, batch_size=256), dict(_row("torch_w2v", 1.0), error="boom"),
               _row("gensim", 50.0)]
    rows = bench.summarize(results)
    assert [r["impl"] for r in rows] == ["gensim", "torch_w2v", "torch_w2v"]  # the failed run is left out
    assert rows[0]["seconds"] == pytest.approx(30.0) and rows[0]["runs"] == 3
    assert rows[1]["speed_ratio"] == pytest.approx(20.0 / 5.0)    # gensim before (10) and after (30)
    assert rows[1]["cpu_ratio"] == pytest.approx(40.0 / 10.0)
    assert rows[2]["speed_ratio"] == pytest.approx(40.0 / 40.0)   # gensim before (30) and after (50)
    assert rows[1]["delta_analogy"] == pytest.approx(0.1)
    table = bench.markdown(rows)
    assert table.splitlines()[2].startswith("| c (1M) | sg | gensim x (mean) | — | 3 |")
    assert "| 4.00× |" in table and "| +10.0 |" in table


def test_rows_average_their_seeds_per_corpus():
    """Runs that differ only in their seed are one row (means, run count, analogy range); corpora apart."""
    results = [_row("gensim", 10.0, seed=1), _row("torch_w2v", 5.0, analogy=0.6, seed=1), _row("gensim", 10.0, seed=2),
               _row("torch_w2v", 2.5, analogy=0.4, seed=2), _row("gensim", 10.0, seed=3),
               _row("gensim", 20.0, corpus="d.txt"), _row("torch_w2v", 10.0, corpus="d.txt"),
               _row("gensim", 20.0, corpus="d.txt")]
    rows = bench.summarize(results)
    assert [(r["corpus"], r["impl"], r["runs"]) for r in rows] == [
        ("c.txt", "gensim", 3), ("c.txt", "torch_w2v", 2), ("d.txt", "gensim", 2), ("d.txt", "torch_w2v", 1)]
    assert rows[1]["speed_ratio"] == pytest.approx((2.0 + 4.0) / 2)
    assert rows[1]["analogy"] == pytest.approx(0.5) and rows[1]["delta_analogy"] == pytest.approx(0.0)
    assert (rows[1]["analogy_min"], rows[1]["analogy_max"]) == (0.4, 0.6)
    assert rows[3]["speed_ratio"] == pytest.approx(2.0)
    assert "2 seeds, 2.5–5 s, analogies 40.0–60.0%" in bench.markdown(rows)


def test_quality_deltas_carry_their_standard_error():
    """With 2 runs or more on both sides a delta gets sqrt(sd_a**2 / n_a + sd_b**2 / n_b) and the table
    prints it after the delta; with one run it stays a bare delta."""
    results = [_row("gensim", 10.0, seed=1), _row("torch_w2v", 5.0, analogy=0.6, seed=1),
               _row("gensim", 10.0, seed=2), _row("torch_w2v", 5.0, analogy=0.4, seed=2),
               _row("gensim", 10.0, seed=3)]
    for r, ws in zip(results, (0.30, 0.40, 0.32, 0.44, 0.34)):
        r["ws353"] = ws
    rows = bench.summarize(results)
    sd_gensim, sd_ours = statistics.stdev([0.30, 0.32, 0.34]), statistics.stdev([0.40, 0.44])
    expected = math.sqrt(sd_gensim ** 2 / 3 + sd_ours ** 2 / 2)
    assert rows[1]["delta_ws353"] == pytest.approx(0.42 - 0.32)
    assert rows[1]["delta_ws353_se"] == pytest.approx(expected)
    assert rows[1]["delta_analogy_se"] == pytest.approx(math.sqrt(0.0 / 3 + statistics.stdev([0.6, 0.4]) ** 2 / 2))
    table = bench.markdown(rows)
    assert f"| +0.100 ± {expected:.3f} |" in table and "± after a quality delta" in table
    single = bench.summarize(results[:3])
    assert math.isnan(single[1]["delta_ws353_se"]) and "±" not in bench.markdown(single)


def test_plan_repeats_torch_w2v_runs_per_seed_between_gensim_runs():
    runs, _ = _plan(modes=["cbow"], batch_sizes=[], gensim_iterable=False, seeds=3)
    assert [(s.impl, s.seed) for s in runs] == [
        ("gensim", 1), ("torch_w2v", 1), ("gensim", 2), ("torch_w2v", 2), ("gensim", 3), ("torch_w2v", 3),
        ("gensim", 4)]


# ---------------------------------------------------------------------------------------- end to end
def _tiny_corpus(path, words=6000):
    """Sentences drawn from words of gensim's evaluation files, so every quality score has data."""
    lines = Path(datapath("questions-words.txt")).read_text().splitlines()
    family = lines.index(": family")
    vocab = {w.lower() for line in lines[family + 1:family + 60] for w in line.split()}
    for name in ("wordsim353.tsv", "simlex999.txt"):
        pairs = [line.split("\t")[:2] for line in Path(datapath(name)).read_text().splitlines()
                 if not line.startswith("#")]
        vocab.update(w.lower() for pair in pairs[:40] for w in pair)
    vocab = sorted(vocab)
    rng = random.Random(0)
    with open(path, "w") as fout:
        for _ in range(words // 10):
            fout.write(" ".join(rng.choice(vocab) for _ in range(10)) + "\n")


REQUIRED = ("seconds", "cpu_seconds", "words_per_s", "peak_rss_mb", "baseline_rss_mb", "peak_above_import_mb",
            "analogy", "analogy_evaluated", "ws353", "simlex", "vocab", "corpus_words")


@pytest.mark.slow
def test_bench_cli_on_a_tiny_corpus(tmp_path):
    _tiny_corpus(tmp_path / "tiny.txt")
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--corpus", str(tmp_path / "tiny.txt"),
         "--modes", "sg", "--engines", "fused,torch", "--batch-sizes", "64", "--epochs", "1", "--vector-size",
         "16", "--gensim-every", "4", "--no-gensim-iterable", "--json", str(out)], capture_output=True,
        text=True, cwd=tmp_path,
        timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    runs = result["runs"]
    assert [(r["impl"], r.get("engine"), r.get("batch_size")) for r in runs] == [
        ("gensim", None, None), ("torch_w2v", "fused", None), ("torch_w2v", "torch", None),
        ("torch_w2v", "fused", 64), ("torch_w2v", "torch", 64), ("gensim", None, None)]
    for r in runs:
        assert "error" not in r
        for key in REQUIRED:
            assert math.isfinite(r[key]), (key, r)
        assert r["corpus_words"] == 6000 and r["analogy_evaluated"] > 0
        assert (r["code"] is None) == (r["impl"] == "gensim")  # torch_w2v rows name the source they ran
        assert r["peak_rss_mb"] >= r["baseline_rss_mb"] > 0
    # the fused step's default is its token pipeline (no batches); torch's default batch, the given 64
    assert runs[1]["batch_effective"] is None and 64 <= runs[2]["batch_effective"] <= 2048
    assert runs[3]["batch_effective"] == 64
    table = result["table"]
    assert [r["impl"] for r in table] == ["gensim"] + ["torch_w2v"] * 4
    for r in table[1:]:
        assert r["speed_ratio"] > 0 and r["cpu_ratio"] > 0
        assert all(math.isfinite(r[f"delta_{k}"]) for k in ("analogy", "ws353", "simlex"))
    for text in (proc.stdout, result["markdown"]):
        assert ("| corpus | mode | implementation | step (batch) | runs | seconds | words/s | speed vs gensim "
                "| CPU s | CPU time vs gensim |") in text
        assert text.count("| sg | torch_w2v ") == 4 and "| — (tokens) |" in text
    assert proc.stdout.startswith("machine: ") and "torch_w2v commit" in proc.stdout


@pytest.mark.slow
def test_cuda_rows_are_skipped_with_a_message_without_cuda(tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    _tiny_corpus(tmp_path / "tiny.txt", words=200)
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--corpus",
                           str(tmp_path / "tiny.txt"), "--device", "cuda"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "skipped torch_w2v on cuda: CUDA is not available" in proc.stdout
    assert "nothing to compare" in proc.stdout


def test_gensim_iterable_reference_run(tmp_path):
    _tiny_corpus(tmp_path / "tiny.txt")
    spec = bench.Spec("gensim-iterable", "sg", corpus=str(tmp_path / "tiny.txt"), epochs=1, vector_size=8,
                      workers=1)
    row = bench.run_in_subprocess(spec)
    assert "error" not in row, row.get("error")
    assert row["impl"] == "gensim-iterable" and row["corpus_words"] == 6000
    for key in REQUIRED:
        assert math.isfinite(row[key]), key


def test_plan_adds_a_torchrun_row_per_process_count():
    runs, _ = _plan(modes=["sg"], batch_sizes=[], processes=(1, 2), workers=2)
    ours = [(s.engine, s.batch_size, s.processes) for s in runs if s.impl == "torch_w2v"]
    assert ours == [("fused", None, 1), ("torch", None, 1), ("fused", None, 2), ("torch", None, 2)]
    two = next(s for s in runs if s.processes == 2)
    assert two.keywords()["workers"] == 1 and "x2 processes" in two.label  # the 2 threads split between ranks


@pytest.mark.slow
def test_two_process_run_under_torchrun(tmp_path):
    _tiny_corpus(tmp_path / "tiny.txt")
    spec = bench.Spec("torch_w2v", "sg", corpus=str(tmp_path / "tiny.txt"), epochs=1, vector_size=8, workers=2,
                      engine="fused", device="cpu", processes=2)
    row = bench.run_in_subprocess(spec)
    assert "error" not in row, row.get("error")
    assert row["processes"] == 2 and row["corpus_words"] == 6000  # the whole corpus, trained by both ranks
    for key in REQUIRED:
        assert math.isfinite(row[key]), key
    assert row["baseline_rss_mb"] > 2 * 100  # summed over the two ranks, each of which imported torch
    rows = bench.summarize([_row("gensim", 1.0, corpus=row["corpus"]), row, _row("gensim", 1.0, corpus=row["corpus"])])
    assert "2 processes (gloo)" in bench.markdown(rows)


def test_plan_runs_the_gpu_steps_on_cuda_and_skips_triton_on_the_cpu():
    runs, notes = _plan(modes=["sg"], devices=["cpu", "cuda"], batch_sizes=[],
                        engines={"sg": ["fused", "triton", "torch"]})
    assert [(s.engine, s.device) for s in runs if s.impl == "torch_w2v"] == [
        ("fused", "cpu"), ("torch", "cpu"), ("triton", "cuda"), ("torch", "cuda")]
    assert any("triton on cpu" in n for n in notes) and any("CPU only" in n for n in notes)


def test_gpu_rows_report_modelled_traffic_against_the_copy_bandwidth():
    spec = bench.Spec("torch_w2v", "sg", corpus="c", epochs=1, vector_size=100, workers=2, engine="triton",
                      device="cuda")
    per_word = bench.traffic_per_word(spec)
    assert per_word == 2 * 4 * 100 * (6 + 6)  # window 5: 6 contexts; negative 5: 6 output rows
    row = _row("torch_w2v", 1.0, engine="triton", device="cuda", effective_words_per_s=2e7,
               modelled_bytes_per_s=2e7 * per_word, cuda_peak_mb=512.0)
    lines = bench.gpu_table([row], bandwidth=3000.0)
    assert "192.0" in lines[-1] and "6.4%" in lines[-1] and "20,000,000" in lines[-1]
    assert bench.gpu_table([_row("torch_w2v", 1.0)], bandwidth=None) == []
