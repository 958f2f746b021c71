"""The benchmark corpora, built from Debian packages into LineSentence files.

Three corpora of different shapes:

- ``gcide``: dictionary entries, one short paragraph per line (below);
- ``dictd``: long lines and a large vocabulary (60k words at min_count=5): the other English dictionaries
  Debian ships for dictd (``apt-get install dict-wn dict-foldoc dict-jargon dict-devil``: WordNet 3.0, the
  Free On-line Dictionary of Computing, the Jargon File, The Devil's Dictionary), ~5M words. An entry is
  its headword line and the indented lines under it; consecutive whole entries are joined into lines of
  up to ``DICTD_LINE_WORDS`` (1,000) words (an entry longer than that is cut), so the lines are as long
  as the docs corpus's and the vocabulary (names, species, terms) larger than GCIDE's. Tokens as for GCIDE;
  the dictionaries' ``00-database-*`` header entries are dropped;
- ``docs``: running technical prose in long lines, one document per line: the reStructuredText sources of
  the Linux kernel's and Python's documentation (``apt-get install linux-doc-6.1 python3.11-doc``, or any
  version: every ``/usr/share/doc/linux-doc-*`` and ``python3*`` Sphinx ``_sources`` tree found), ~4M words.
  Lines starting with ``..`` (directives, comments) and indented lines (code blocks, mostly) are dropped;
  tokens as for GCIDE. A document longer than ``DOCS_LINE_WORDS`` (1,000) words continues on the next line:
  gensim's ``corpus_file`` trainer fills a batch past its 10,000-word limit with the line that crosses it
  and then drops the batch's kept words beyond 10,000, which on whole documents (up to 31k words) lost 3.7%
  of the kept tokens every epoch; in lines of at most 1,000 words both libraries train every token.

GCIDE, the GNU Collaborative International Dictionary of English, is ~40 MB of dictionary text that any
Debian/Ubuntu machine can install (``apt-get install dict-gcide``), so the numbers of ``bench.py`` can
be reproduced without downloading a data set. The text becomes one paragraph per line:

- paragraphs are split on blank lines;
- lines containing "Webster" (the ``[1913 Webster]`` source tags) are dropped;
- text is lowercased and the tokens are the runs of ``[a-z]+``;
- paragraphs with fewer than 2 tokens are dropped.

That gives ~5.19M words. The file is cached under ``bench_data/`` (git-ignored) with its word count and
SHA-256 in a ``.json`` next to it, so two machines can check they benchmark the same text.

Run ``python benchmarks/corpus.py`` to build it and print its size and checksum.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

GCIDE = Path("/usr/share/dictd/gcide.dict.dz")
DATA_DIR = Path(__file__).resolve().parent.parent / "bench_data"
INSTALL_HINT = "sudo apt-get install dict-gcide   # Debian/Ubuntu: installs /usr/share/dictd/gcide.dict.dz"
DOCS_GLOBS = ("linux-doc-*/html/_sources", "python3*/html/_sources")
DOCS_HINT = "sudo apt-get install linux-doc-6.1 python3.11-doc   # or the versions of your release"
DICTD = tuple(Path(f"/usr/share/dictd/{name}.dict.dz") for name in ("wn", "foldoc", "jargon", "devil"))
DICTD_HINT = "sudo apt-get install dict-wn dict-foldoc dict-jargon dict-devil"
DICTD_LINE_WORDS = 1000  # longest dictd line, as DOCS_LINE_WORDS
FORMAT = 2  # bump when the cleaning rules change, so stale caches are rebuilt (2: docs lines of <= 1,000 words)
DOCS_LINE_WORDS = 1000  # longest docs line: see the module docstring

_TOKEN = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class CorpusInfo:
    path: str          # the LineSentence file
    words: int         # tokens in the file (what gensim calls corpus_total_words)
    sentences: int     # lines in the file
    sha256: str        # of the file's bytes
    source: str        # what it was built from


def paragraphs(lines):
    """Yield the token list of each kept paragraph of the GCIDE text ``lines`` (str, with or without \\n)."""
    tokens: list[str] = []
    for line in lines:
        if not line.strip():
            if len(tokens) >= 2:
                yield tokens
            tokens = []
        elif "Webster" not in line:
            tokens.extend(_TOKEN.findall(line.lower()))
    if len(tokens) >= 2:
        yield tokens


def _write_atomic(path: Path, lines) -> None:
    """Write ``lines`` (str without \\n) to ``path`` through a temporary file, so a crash leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as fout:
            for line in lines:
                fout.write(line)
                fout.write("\n")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def describe(path, source: str = "") -> CorpusInfo:
    """Count the words and lines of a LineSentence file and hash it."""
    digest = hashlib.sha256()
    words = sentences = 0
    with open(path, "rb") as fin:
        for line in fin:
            digest.update(line)
            n = len(line.split())
            if n:
                words += n
                sentences += 1
    return CorpusInfo(str(path), words, sentences, digest.hexdigest(), source or str(path))


def _cached(path: Path, meta: Path, source: str) -> CorpusInfo | None:
    """The recorded info of ``path`` if its metadata is current and the file's size matches it, else None."""
    try:
        info = json.loads(meta.read_text())
        if info.pop("format") != FORMAT or info.pop("bytes") != path.stat().st_size or info["source"] != source:
            return None
        return CorpusInfo(**info)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _record(info: CorpusInfo, meta: Path) -> None:
    meta.write_text(json.dumps(dict(asdict(info), format=FORMAT, bytes=os.path.getsize(info.path)), indent=1))


def build_gcide(source: Path = GCIDE, data_dir: Path = DATA_DIR) -> CorpusInfo:
    """The GCIDE LineSentence file under ``data_dir``, built from ``source`` unless a current copy exists."""
    out = data_dir / "gcide.txt"
    meta = out.with_suffix(".json")
    info = _cached(out, meta, str(source))
    if info is not None:
        return info
    if not source.exists():
        raise FileNotFoundError(f"{source} not found: the benchmark corpus is built from GCIDE. Install it with\n"
                                f"    {INSTALL_HINT}\nor benchmark your own LineSentence file with --corpus PATH.")
    with gzip.open(source, "rt", encoding="utf-8", errors="replace") as fin:
        _write_atomic(out, (" ".join(tokens) for tokens in paragraphs(fin)))
    info = describe(out, source=str(source))
    _record(info, meta)
    return info


def documents(paths):
    """Yield the token list of each document (a ``.rst.txt`` file) with at least 2 tokens."""
    for path in paths:
        tokens: list[str] = []
        with open(path, encoding="utf-8", errors="replace") as fin:
            for line in fin:
                if line.startswith("..") or line[:1] in (" ", "\t"):
                    continue
                tokens.extend(_TOKEN.findall(line.lower()))
        if len(tokens) >= 2:
            yield tokens


def build_docs(doc_root: Path = Path("/usr/share/doc"), data_dir: Path = DATA_DIR) -> CorpusInfo:
    """The ``docs`` LineSentence file under ``data_dir`` (see the module docstring), cached."""
    trees = sorted(t for pattern in DOCS_GLOBS for t in doc_root.glob(pattern) if t.is_dir())
    if not trees:
        raise FileNotFoundError(f"no documentation sources under {doc_root} ({', '.join(DOCS_GLOBS)}): the docs "
                                f"corpus is built from them. Install them with\n    {DOCS_HINT}")
    files = sorted(f for t in trees for f in t.rglob("*.txt"))
    source = "; ".join(f"{t} ({sum(1 for f in files if t in f.parents)} files)" for t in trees)
    out = data_dir / "docs.txt"
    meta = out.with_suffix(".json")
    info = _cached(out, meta, source)
    if info is not None:
        return info
    _write_atomic(out, (" ".join(tokens[i:i + DOCS_LINE_WORDS]) for tokens in documents(files)
                        for i in range(0, len(tokens), DOCS_LINE_WORDS)))
    info = describe(out, source=source)
    _record(info, meta)
    return info


def dictd_entries(lines):
    """Yield the token list of each entry of a dictd text ``lines`` (a headword line at column 0 and the
    indented lines under it), ``00-database-*`` header entries dropped."""
    tokens: list[str] = []
    header = False
    for line in lines:
        if line[:1] not in (" ", "\t", "\n", ""):
            if tokens and not header:
                yield tokens
            tokens, header = [], line.startswith("00-database") or line.startswith("00database")
        tokens.extend(_TOKEN.findall(line.lower()))
    if tokens and not header:
        yield tokens


def joined(entries, limit: int):
    """Lines of whole consecutive ``entries`` (token lists) of up to ``limit`` tokens; a longer entry is cut."""
    line: list[str] = []
    for tokens in entries:
        if line and len(line) + len(tokens) > limit:
            yield line
            line = []
        for i in range(0, len(tokens), limit):
            piece = tokens[i:i + limit]
            if len(piece) == limit:
                if line:
                    yield line
                yield piece
                line = []
            else:
                line = line + piece
    if line:
        yield line


def build_dictd(sources=DICTD, data_dir: Path = DATA_DIR) -> CorpusInfo:
    """The ``dictd`` LineSentence file under ``data_dir`` (see the module docstring), cached."""
    missing = [str(p) for p in sources if not Path(p).exists()]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} not found: the dictd corpus is built from them. Install "
                                f"them with\n    {DICTD_HINT}")
    out = data_dir / "dictd.txt"
    meta = out.with_suffix(".json")
    source = "; ".join(str(p) for p in sources)
    info = _cached(out, meta, source)
    if info is not None:
        return info

    def lines():
        for path in sources:
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fin:
                yield from (" ".join(t) for t in joined(dictd_entries(fin), DICTD_LINE_WORDS) if len(t) >= 2)

    _write_atomic(out, lines())
    info = describe(out, source=source)
    _record(info, meta)
    return info


def lee_corpus(data_dir: Path = DATA_DIR) -> CorpusInfo:
    """gensim's Lee corpus (``gensim/test/test_data/lee_background.cor``, 60k words), as gensim ships it."""
    import importlib.util
    spec = importlib.util.find_spec("gensim")  # found, not imported: the worker processes stay light
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the 'lee' corpus is gensim's lee_background.cor: pip install gensim")
    return describe(Path(spec.origin).parent / "test" / "test_data" / "lee_background.cor", source="gensim")


BUILDERS = {"gcide": build_gcide, "docs": build_docs, "dictd": build_dictd, "lee": lee_corpus}


def prefix(info: CorpusInfo, words: int, data_dir: Path | None = None) -> CorpusInfo:
    """A file holding the first lines of ``info.path`` up to ``words`` tokens (whole lines), cached under
    ``data_dir`` (default :data:`DATA_DIR`)."""
    if words >= info.words:
        return info
    return _cut(info, words, data_dir, "first", f"first {words} words of {info.path} (sha256 {info.sha256[:16]})")


def repeated(info: CorpusInfo, words: int, data_dir: Path | None = None) -> CorpusInfo:
    """A file holding ``info.path`` repeated up to ``words`` tokens (whole copies, then whole lines of one
    more), cached under ``data_dir``: a corpus of a size the text does not reach, for speed and memory at
    scale. Its vocabulary is the text's (only counts grow), so quality at that size says little."""
    if words <= info.words:
        return prefix(info, words, data_dir)
    if info.words == 0:
        raise ValueError(f"{info.path} holds no words: it cannot be repeated to {words:,} words.")
    return _cut(info, words, data_dir, "repeated",
                f"{info.path} (sha256 {info.sha256[:16]}) repeated to {words} words", repeat=True)


def _cut(info: CorpusInfo, words: int, data_dir: Path | None, kind: str, source: str,
         repeat: bool = False) -> CorpusInfo:
    """The whole lines of ``info.path`` (read again from its start while ``repeat``) up to ``words`` tokens,
    written to ``<stem>-<sha>-<kind><words>.txt`` under ``data_dir`` and cached."""
    data_dir = DATA_DIR if data_dir is None else data_dir
    src = Path(info.path)
    out = data_dir / f"{src.stem}-{info.sha256[:8]}-{kind}{words}.txt"
    meta = out.with_suffix(".json")
    cached = _cached(out, meta, source)
    if cached is not None:
        return cached

    def lines():
        count = 0
        while True:
            with open(src, encoding="utf-8") as fin:
                for line in fin:
                    n = len(line.split())
                    if count + n > words:
                        return
                    count += n
                    yield line.rstrip("\n")
            if not repeat:
                return

    _write_atomic(out, lines())
    info = describe(out, source=source)
    _record(info, meta)
    return info


def load(path=None, data_dir: Path = DATA_DIR) -> CorpusInfo:
    """A benchmark corpus: ``path`` (a name of :data:`BUILDERS` or any LineSentence file), default GCIDE."""
    if path is None or str(path) in BUILDERS:
        return BUILDERS[str(path or "gcide")](data_dir=data_dir)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--corpus {path}: no such file; pass a LineSentence text file "
                                f"(one sentence per line, tokens separated by spaces).")
    return describe(path, source=str(path.resolve()))  # hashed every time: a user's file may change


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", help="'gcide' (default), 'docs', 'dictd' or a LineSentence file to describe")
    parser.add_argument("--prefix", type=int, help="also cut a prefix of this many words")
    args = parser.parse_args(argv)
    try:
        info = load(args.corpus)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 1
    infos = [info] + ([prefix(info, args.prefix)] if args.prefix else [])
    for i in infos:
        print(f"{i.path}: {i.words:,} words, {i.sentences:,} lines, sha256 {i.sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
