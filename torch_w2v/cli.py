"""The ``torch-w2v`` command (also ``python -m torch_w2v``): train, evaluate, query and plot word vectors.

Subcommands::

    torch-w2v train [CORPUS] -o VECTORS [options]   # word2vec.c's flags (-size 200 -cbow 0 ...) or gensim's
    torch-w2v eval VECTORS [--json]                 # analogies, WordSim353, SimLex-999
    torch-w2v similar VECTORS WORD... [--negative WORD...]
    torch-w2v plot VECTORS [--words W...] -o map.png

``torch-w2v -train text8 -output vectors.bin -binary 1 ...`` (no subcommand) is read as ``train``, so the
command replaces word2vec.c's ``word2vec`` binary in existing scripts. Training settings take gensim's
defaults (which are word2vec.c's, including CBOW), except ``alpha``: 0.05 for CBOW and 0.025 for
skip-gram, as word2vec.c and gensim's ``word2vec_standalone`` script do. See ``docs/cli.md``.

Exit status: 0 on success; 1 when a command fails (a missing or corrupted file, unknown words, an invalid
setting, a full disk), reported in one line that names the file and the fix, never a traceback; 2 for a
command line that does not parse; 130 when interrupted; 143 on SIGTERM after a checkpoint. Every output is
checked before any work (writable folder, not an input, not a file of another kind) and written to a
temporary file and renamed, so a failed or interrupted run never leaves a partial file.

This module is only the command line: the files it reads and writes are handled by
:mod:`torch_w2v.corpus` (inputs), :mod:`torch_w2v.vocab` (vocabulary files), :mod:`torch_w2v.export`
(vector files), :mod:`torch_w2v.evaluate` and :mod:`torch_w2v.persist` (models, guarded writes).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field

PROG = "torch-w2v"
COMMANDS = ("train", "eval", "similar", "plot")
LOG_FORMAT = "%(asctime)s : %(levelname)s : %(message)s"   # gensim's
DEMO_WORDS = ("police", "fire", "government", "Australia", "Afghanistan", "bank", "children")

logger = logging.getLogger("torch_w2v")


class CLIError(Exception):
    """A failure to report as ``torch-w2v: error: <message>`` with exit status 1 (no traceback)."""


# ------------------------------------------------------------------------------------ value parsers
def _int_at_least(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid integer value: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}")
        return value
    return parse


def _float_at_least(minimum, strict=False):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"must be a finite number {'>' if strict else '>='} {minimum}, "
                                             f"got {text!r}")
        return value
    return parse


def _finite(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def _zero_one(text):
    if text not in ("0", "1"):
        raise argparse.ArgumentTypeError(f"must be 0 or 1, got {text!r}")
    return int(text)


# ------------------------------------------------------------------------------------------- parser
def _train_options(p: argparse.ArgumentParser):
    """word2vec.c's flags and gensim's keywords; each option's dest is the Word2Vec keyword it sets."""
    from .config import DEFAULTS as D
    from .training.registry import ENGINES, STEPS, described

    io = p.add_argument_group("input and output")
    io.add_argument("corpus", nargs="?", metavar="CORPUS",
                    help="LineSentence text: one sentence per line, tokens separated by spaces; plain, .gz, "
                         ".bz2 or a URL. Without it, trains on gensim's bundled Lee corpus and shows neighbours.")
    io.add_argument("-train", dest="train_file", metavar="FILE", help="the corpus, as word2vec.c names it")
    io.add_argument("-o", "-output", "--output", dest="output", metavar="FILE",
                    help="write the vectors here in word2vec C format (text unless -binary 1)")
    io.add_argument("-binary", dest="binary", type=_zero_one, metavar="{0,1}",
                    help="1 = binary word2vec C format (word2vec.c's 'distance' reads it), 0 = text (default)")
    io.add_argument("--binary", dest="binary", action="store_const", const=1, help="same as -binary 1")
    io.add_argument("-save-vocab", "--save-vocab", dest="save_vocab", metavar="FILE",
                    help="write the vocabulary as word2vec.c does: 'word count' per line, most frequent first")
    io.add_argument("-read-vocab", "--read-vocab", dest="read_vocab", metavar="FILE",
                    help="take the vocabulary from such a file instead of counting the corpus")
    io.add_argument("--save-model", dest="save_model", metavar="PATH",
                    help="also save the full model (torch_w2v.Word2Vec.load reads it; training can go on)")
    io.add_argument("--init", dest="init", metavar="MODEL",
                    help="go on training MODEL (a --save-model file, or one saved by gensim's save()) on the "
                         "corpus: its vocabulary grows by the corpus' words, its settings stay")
    io.add_argument("--plot-loss", dest="plot_loss", metavar="PNG",
                    help="draw the loss of each epoch to this picture (implies --compute-loss; needs matplotlib)")
    io.add_argument("-accuracy", "--accuracy", dest="accuracy", metavar="FILE",
                    help="after training, report analogy accuracy on FILE (questions-words.txt format)")

    m = p.add_argument_group("model (word2vec.c flag / gensim name)")
    m.add_argument("-cbow", dest="cbow", type=_zero_one, metavar="{0,1}",
                   help="1 = CBOW (default, as in word2vec.c and gensim), 0 = skip-gram")
    m.add_argument("--sg", dest="sg", type=_zero_one, metavar="{0,1}", help="gensim's switch: 1 = skip-gram, 0 = CBOW")
    m.add_argument("-size", "--vector-size", "--size", dest="vector_size", type=_int_at_least(1), metavar="N",
                   help=f"dimensions of the vectors (default {D.vector_size})")
    m.add_argument("-window", "--window", dest="window", type=_int_at_least(1), metavar="N",
                   help=f"largest distance between a word and its context (default {D.window})")
    m.add_argument("-sample", "--sample", dest="sample", type=_float_at_least(0), metavar="T",
                   help=f"downsample words more frequent than this share of the corpus (default {D.sample:g}; 0 = off)")
    m.add_argument("-hs", "--hs", dest="hs", type=_zero_one, metavar="{0,1}",
                   help=f"1 = hierarchical softmax (default {D.hs})")
    m.add_argument("-negative", "--negative", dest="negative", type=_int_at_least(0), metavar="N",
                   help=f"noise words per example, 0 = no negative sampling (default {D.negative})")
    m.add_argument("-min-count", "-min_count", "--min-count", dest="min_count", type=_int_at_least(0), metavar="N",
                   help=f"drop words seen fewer times (default {D.min_count})")
    m.add_argument("-alpha", "--alpha", dest="alpha", type=_float_at_least(0, strict=True), metavar="LR",
                   help="starting learning rate (default 0.05 for CBOW, 0.025 for skip-gram, as word2vec.c)")
    m.add_argument("--min-alpha", dest="min_alpha", type=_float_at_least(0), metavar="LR",
                   help=f"final learning rate (default {D.min_alpha:g})")
    m.add_argument("-iter", "--epochs", "--iter", dest="epochs", type=_int_at_least(1), metavar="N",
                   help=f"passes over the corpus (default {D.epochs})")
    m.add_argument("-threads", "--workers", "--threads", dest="workers", type=_int_at_least(1), metavar="N",
                   help=f"CPU threads (default {D.workers})")
    m.add_argument("--seed", dest="seed", type=int, metavar="N", help=f"random seed (default {D.seed})")
    m.add_argument("--ns-exponent", dest="ns_exponent", type=_finite, metavar="X",
                   help=f"noise distribution is count**X (default {D.ns_exponent})")
    m.add_argument("--cbow-mean", dest="cbow_mean", type=_zero_one, metavar="{0,1}",
                   help=f"CBOW input: 1 = mean of the context vectors, 0 = their sum (default {D.cbow_mean})")
    m.add_argument("--max-vocab-size", dest="max_vocab_size", type=_int_at_least(1), metavar="N",
                   help="prune rare words while counting when the raw vocabulary grows past N")
    m.add_argument("--max-final-vocab", dest="max_final_vocab", type=_int_at_least(1), metavar="N",
                   help="keep at most N words, by raising min_count")
    m.add_argument("--shrink-windows", dest="shrink_windows", action=argparse.BooleanOptionalAction, default=None,
                   help="draw a window size in [1, window] per word, as word2vec.c (default: on)")
    m.add_argument("--compute-loss", dest="compute_loss", action="store_true", default=None,
                   help="track the training loss (shown in the log lines and on the bar)")
    m.add_argument("-classes", dest="classes", type=_int_at_least(0), metavar="N", help=argparse.SUPPRESS)
    m.add_argument("-debug", dest="debug", type=_int_at_least(0), metavar="N",
                   help="word2vec.c's verbosity: 0 = like --quiet, 1 and 2 = normal")

    t = p.add_argument_group("torch_w2v")
    t.add_argument("--device", dest="device", metavar="DEV", help="cpu, cuda or cuda:N (default: CUDA if available)")
    t.add_argument("--batch-size", dest="batch_size", type=_int_at_least(1), metavar="N",
                   help="centre words per SGD step (default 16384; 2048 for --engine torch on CPU)")
    t.add_argument("--engine", dest="engine", choices=ENGINES,
                   help=f"the training step: {described(STEPS)} (default auto: fused on a CPU, triton on CUDA)")
    t.add_argument("--progress", dest="progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")

    r = p.add_argument_group("long runs (see docs/cli.md)")
    r.add_argument("--checkpoint", dest="checkpoint", metavar="PATH",
                   help="save the full training state here periodically, at each epoch end and on Ctrl-C/SIGTERM")
    r.add_argument("--checkpoint-every", dest="checkpoint_every", type=_float_at_least(0), default=600.0,
                   metavar="SECONDS", help="seconds between checkpoints (default 600; 0 = after every chunk)")
    r.add_argument("--resume", dest="resume", action="store_true",
                   help="finish the training saved in --checkpoint (same corpus; settings come from the file)")
    r.add_argument("--sync-words", dest="sync_words", type=_int_at_least(1), metavar="N",
                   help="under torchrun: words each process trains between merges of the weights (default 131072)")


TRAIN_KEYWORDS = ("vector_size", "window", "sample", "hs", "negative", "min_count", "alpha", "min_alpha",
                  "epochs", "workers", "seed", "ns_exponent", "cbow_mean", "max_vocab_size", "max_final_vocab",
                  "shrink_windows", "compute_loss", "device", "batch_size", "engine", "sync_words")


def _vectors_options(p: argparse.ArgumentParser):
    p.add_argument("vectors", metavar="VECTORS",
                   help="word2vec C file (binary or text, detected; .gz/.bz2 too), a --save-model file, or a "
                        "model or KeyedVectors saved by gensim (read without running code from it)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--binary", dest="binary", action="store_const", const=True, default=None,
                     help="read VECTORS as binary (default: detect)")
    fmt.add_argument("--text", dest="binary", action="store_const", const=False, help="read VECTORS as text")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``torch-w2v`` and its subcommands."""
    from . import __version__

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no log lines")
    common.add_argument("-v", "--verbose", action="store_true", help="log lines even on a terminal")

    parser = argparse.ArgumentParser(
        prog=PROG, allow_abbrev=False,
        description="Train word2vec with PyTorch (gensim-compatible), evaluate, query and plot word vectors.",
        epilog=f"'{PROG} -train FILE -output FILE ...' (word2vec.c's command line) is read as '{PROG} train ...'. "
               f"See '{PROG} COMMAND --help'.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = sub.add_parser(
        "train", parents=[common], allow_abbrev=False, help="train word vectors on a text corpus",
        usage=f"{PROG} train [CORPUS | -train FILE] -o FILE [options]   ({PROG} train -h lists them)",
        description="Train word2vec on a LineSentence corpus and write the vectors in word2vec C format.",
        epilog=f"example: {PROG} train corpus.txt -o vectors.bin -binary 1 -size 200 -window 8 -cbow 0 -iter 5")
    _train_options(train)
    train.set_defaults(handler=_cmd_train, subparser=train)

    ev = sub.add_parser("eval", parents=[common], allow_abbrev=False, help="analogy and word-similarity scores",
                        description="Score vectors on word analogies and WordSim353/SimLex-999 (gensim's scoring).")
    _vectors_options(ev)
    ev.add_argument("--analogies", metavar="FILE", help="analogy questions (default: gensim's questions-words.txt)")
    ev.add_argument("--no-analogies", action="store_true", help="skip the analogies (the slowest part)")
    ev.add_argument("--wordsim", metavar="FILE", help="WordSim353 pairs (default: gensim's wordsim353.tsv)")
    ev.add_argument("--simlex", metavar="FILE", help="SimLex-999 pairs (default: gensim's simlex999.txt)")
    ev.add_argument("--restrict-vocab", type=_int_at_least(1), default=300_000, metavar="N",
                    help="use only the N most frequent words (default 300000, as gensim)")
    ev.add_argument("--sections", action="store_true", help="also show the accuracy of each analogy section")
    ev.add_argument("--json", action="store_true", help="print the results as JSON")
    ev.set_defaults(handler=_cmd_eval, subparser=ev)

    sim = sub.add_parser(
        "similar", parents=[common], allow_abbrev=False, help="nearest words (word2vec.c's distance, word-analogy)",
        description="Nearest words by cosine similarity to the sum of WORDs minus the --negative words. "
                    "Without WORDs, reads queries from stdin, one per line ('-word' for a negative word).",
        epilog=f"analogy: {PROG} similar vectors.bin king woman --negative man  (king - man + woman)")
    _vectors_options(sim)
    sim.add_argument("words", nargs="*", metavar="WORD", help="positive words")
    sim.add_argument("--negative", nargs="+", default=[], metavar="WORD", help="negative words (subtracted)")
    sim.add_argument("--topn", "-n", type=_int_at_least(1), default=10, metavar="N", help="how many (default 10)")
    sim.add_argument("--json", action="store_true", help="print the results as JSON")
    sim.set_defaults(handler=_cmd_similar, subparser=sim)

    pl = sub.add_parser("plot", parents=[common], allow_abbrev=False, help="2-D map of word vectors (matplotlib)",
                        description="Project vectors to 2-D (PCA or t-SNE) and draw the words, labelled.")
    _vectors_options(pl)
    pl.add_argument("-o", "--output", required=True, metavar="FILE", help="the picture (.png, .pdf, .svg)")
    pl.add_argument("--words", nargs="+", metavar="WORD", help="the words to draw (default: the most frequent)")
    pl.add_argument("--top", type=_int_at_least(2), default=100, metavar="N",
                    help="without --words, draw the N most frequent words (default 100)")
    pl.add_argument("--method", choices=("pca", "tsne"), default="pca",
                    help="pca (numpy) or tsne (needs scikit-learn); default pca")
    pl.add_argument("--title", help="the picture's title")
    pl.add_argument("--seed", type=int, default=0, help="t-SNE's random seed (default 0)")
    pl.set_defaults(handler=_cmd_plot, subparser=pl)
    return parser


# --------------------------------------------------------------------------------------------- main
# What a user or the OS can cause (a bad file, a full disk, a bad value): reported in one line, exit 1.
USER_ERRORS = (OSError, ValueError, TypeError, EOFError, NotImplementedError, ImportError, FloatingPointError,
               MemoryError, KeyError)


def main(argv=None) -> int:
    """Run ``torch-w2v`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in COMMANDS and argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv.insert(0, "train")  # word2vec.c's command line: 'torch-w2v -train FILE -output FILE ...'
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args) or 0
    except CLIError as exc:
        _error(exc)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; files being written were not left behind.", file=sys.stderr)
        if getattr(args, "checkpoint", None) and os.path.isfile(args.checkpoint):
            print(f"{PROG}: the training state is saved in {args.checkpoint}; finish it with the same command "
                  f"plus --resume.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. '| head': stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except MemoryError:
        _error("out of memory. Use a smaller -size, --max-final-vocab or --batch-size, or a larger machine.")
        return 1
    except USER_ERRORS as exc:  # the library's message names the file or value and the fix
        _error(_message(exc))
        return 1


def _error(message):
    text = " ".join(str(message).split("\n"))
    print(f"{PROG}: error: {text}", file=sys.stderr)


def _message(exc) -> str:
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc) or type(exc).__name__


def _setup_logging(level):
    logging.basicConfig(format=LOG_FORMAT, level=level, stream=sys.stderr, force=True)
    logging.getLogger("torch_w2v").setLevel(level)


def _check_folder(flag, path):
    """Fail now, before any work, if ``path`` cannot be written: a URL, a missing or unwritable folder."""
    from .sources import is_url
    if path is None:
        return
    if is_url(path):
        raise CLIError(f"{flag} {path}: outputs are written to local files only; write it here and upload it.")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{flag} {path}: the folder {folder} does not exist; create it first.")
    try:  # a real write: permissions, a read-only filesystem, root on /sys ... (os.access misses some)
        fd, probe = tempfile.mkstemp(prefix=".torch_w2v_probe.", dir=folder)
    except OSError as exc:
        raise CLIError(f"{flag} {path}: cannot write in the folder {folder} ({exc.strerror}); "
                       f"choose a writable folder.") from None
    os.close(fd)
    os.unlink(probe)


def _check_input(flag, path):
    from .sources import check_input
    try:
        check_input(path, flag)
    except FileNotFoundError:
        raise CLIError(f"{flag} file not found: {path}") from None
    except IsADirectoryError:
        raise CLIError(f"{flag} {path} is a directory, not a file; pass a file inside it.") from None


def _library_call(what, fn, *args, **kwargs):
    """Run a library call, turning the errors it raises for bad input into a CLIError."""
    try:
        return fn(*args, **kwargs)
    except (ValueError, TypeError, NotImplementedError, KeyError, OSError, ImportError, FloatingPointError) as exc:
        raise CLIError(f"{what}: {_message(exc)}") from None


# -------------------------------------------------------------------------------------------- train
@dataclass
class TrainRun:
    """What ``torch-w2v train`` was asked to do, checked before any work: see :func:`_train_settings`."""
    args: argparse.Namespace
    corpus: str                     # the corpus file or URL (gensim's Lee corpus in the demo)
    demo: bool                      # no corpus given: train on the Lee corpus and show neighbours
    sg: int
    settings: dict                  # Word2Vec keywords
    given: dict                     # the settings named on the command line (a resume must match them)
    compute_loss: bool
    binary: bool
    outputs: list = field(default_factory=list)   # (flag, path, kind) of every file to write


def _cmd_train(args):
    """Train on a corpus (or the bundled Lee corpus) and write what was asked for."""
    return _run_train(_train_settings(args))


def _train_settings(args) -> TrainRun:
    """Check the command line and every file it names; the settings, corpus and outputs of the run."""
    sub = args.subparser
    if args.classes:
        sub.error(f"-classes {args.classes}: word2vec.c's k-means clustering is not supported; train the "
                  f"vectors and cluster them with e.g. sklearn.cluster.KMeans.")
    if args.corpus and args.train_file and args.corpus != args.train_file:
        sub.error(f"two corpora given: {args.corpus!r} and -train {args.train_file!r}; pass only one.")
    corpus = args.corpus or args.train_file
    if args.debug == 0:
        args.quiet = True
    if args.cbow is not None and args.sg is not None and args.sg == args.cbow:
        sub.error(f"-cbow {args.cbow} and --sg {args.sg} contradict each other; pass only one of them.")
    sg = args.sg if args.sg is not None else (1 - args.cbow if args.cbow is not None else 0)
    if args.resume and not args.checkpoint:
        sub.error("--resume needs --checkpoint PATH: the file of the run to finish.")
    if args.init:
        _check_init(args, corpus)

    demo = corpus is None
    if demo:
        from .evaluate import gensim_data
        corpus = gensim_data("lee_background.cor")
        # the bundled corpus has only ~60k words: more passes and rarer words make its neighbours readable
        args.epochs = 20 if args.epochs is None else args.epochs
        args.min_count = 2 if args.min_count is None else args.min_count
    elif not (args.output or args.save_model):
        sub.error("nothing would be written: pass -output/-o FILE for the vectors (and/or --save-model PATH).")

    given = {k: getattr(args, k) for k in TRAIN_KEYWORDS if getattr(args, k) is not None}
    if args.sg is not None or args.cbow is not None:
        given["sg"] = sg
    if args.compute_loss or args.plot_loss:
        given["compute_loss"] = True
    settings = dict(given, sg=sg)
    settings.setdefault("alpha", 0.025 if sg else 0.05)   # word2vec.c's defaults
    compute_loss = bool(args.compute_loss or args.plot_loss)
    settings["compute_loss"] = compute_loss
    run = TrainRun(args, corpus, demo, sg, settings, given, compute_loss, bool(args.binary))

    for flag, path in (("corpus", corpus), ("-read-vocab", args.read_vocab), ("-accuracy", args.accuracy)):
        if path is not None:
            _check_input(flag, path)
    if args.resume and not os.path.isfile(args.checkpoint):
        raise CLIError(f"--resume: no checkpoint at {args.checkpoint}; start the run with --checkpoint first.")
    run.outputs = [(flag, path, kind) for flag, path, kind in (
        ("-output", args.output, "vectors"), ("--save-model", args.save_model, "model"),
        ("-save-vocab", args.save_vocab, "vocab"), ("--plot-loss", args.plot_loss, "picture"),
        ("--checkpoint", args.checkpoint, "checkpoint")) if path is not None]
    _check_outputs(run.outputs, [("corpus", corpus), ("-read-vocab", args.read_vocab),
                                 ("-accuracy", args.accuracy)])
    if args.plot_loss:
        from . import plot
        _library_call("--plot-loss", plot.require_matplotlib)
        _library_call(f"--plot-loss {args.plot_loss}", plot.check_format, args.plot_loss)
    if args.resume:
        _check_resume(run)
    return run


# what --init may change on the model it continues (the rest is the model's: its vocabulary and weights)
INIT_KEYWORDS = ("alpha", "min_alpha", "epochs", "workers", "compute_loss", "device", "batch_size", "engine",
                 "sync_words")


@contextlib.contextmanager
def _lost_ranks(args):
    """Under torchrun, a collective that fails (another rank died or stalled) ends this rank with one line."""
    from . import distributed
    try:
        yield
    except RuntimeError as exc:   # torch.distributed.DistBackendError and gloo's errors are RuntimeErrors
        if not distributed.is_active():
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        after = ("resume from the last checkpoint with the same command plus --resume (torchrun "
                 "--max-restarts N does so by itself)" if args.checkpoint else
                 "pass --checkpoint PATH to keep the work done")
        raise CLIError(f"rank {distributed.rank()}: lost contact with another rank of the job ({first[:200]}); "
                       f"{after}.") from None


def _check_init(args, corpus):
    """--init MODEL: a corpus to go on with, and no flag that would change what the model is."""
    sub = args.subparser
    if corpus is None:
        sub.error(f"--init {args.init}: name the corpus to go on training on.")
    for flag, other in (("--resume", args.resume), ("-read-vocab", args.read_vocab)):
        if other:
            sub.error(f"--init and {flag} cannot go together: --init continues a saved model on a corpus, "
                      f"{flag} {'finishes a checkpointed run' if flag == '--resume' else 'builds a new vocabulary'}.")
    fixed = [k for k in TRAIN_KEYWORDS if getattr(args, k) is not None and k not in INIT_KEYWORDS]
    fixed += ["sg"] if args.sg is not None or args.cbow is not None else []
    if fixed:
        sub.error(f"--init {args.init} keeps the model's settings; drop {', '.join(fixed)} (what may change: "
                  f"{', '.join(INIT_KEYWORDS)}).")
    _check_input("--init", args.init)


def _check_outputs(outputs, inputs):
    """Refuse outputs that would overwrite an input, each other, or a file of another kind."""
    from .persist import check_target
    from .sources import is_url
    seen = {}
    for flag, path in inputs:
        if path is not None and not is_url(path):
            seen[os.path.realpath(path)] = flag
    for flag, path, kind in outputs:
        _check_folder(flag, path)
        real = os.path.realpath(path)
        if real in seen:
            raise CLIError(f"{flag} {path} is the same file as the {seen[real]}; it would be overwritten. "
                           f"Name another file.")
        seen[real] = flag
        _library_call(flag, check_target, path, kind)


def _check_resume(run: TrainRun):
    """Refuse settings named on the command line that differ from the checkpoint's, naming each: a resumed
    run goes on with the checkpoint's settings."""
    from . import persist
    args = run.args
    if args.read_vocab:
        raise CLIError(f"--resume: the vocabulary comes from the checkpoint {args.checkpoint}; drop -read-vocab.")
    payload = _library_call("--resume", persist.load_payload, args.checkpoint, persist.CHECKPOINT_FORMAT,
                            mmap=True, check=False)  # a quick look; Word2Vec.resume verifies the whole file
    saved = dict(payload.get("settings", {}))
    train_args = payload.get("resume", {}).get("train_args", {})
    saved.update(alpha=train_args.get("start_alpha", saved.get("alpha")),
                 min_alpha=train_args.get("end_alpha", saved.get("min_alpha")),
                 epochs=train_args.get("epochs", saved.get("epochs")),
                 compute_loss=train_args.get("compute_loss", saved.get("compute_loss")))
    flags = {"vector_size": "-size", "epochs": "-iter", "alpha": "-alpha", "sg": "--sg", "window": "-window",
             "min_count": "-min-count", "negative": "-negative", "hs": "-hs", "sample": "-sample",
             "workers": "-threads", "min_alpha": "--min-alpha", "compute_loss": "--compute-loss"}
    differences = [f"{flags.get(name, '--' + name.replace('_', '-'))} {value!r} (the checkpoint has "
                   f"{saved.get(name)!r})" for name, value in run.given.items() if saved.get(name) != value]
    if differences:
        raise CLIError(f"--resume {args.checkpoint}: the run goes on with the checkpoint's settings, but the "
                       f"command line asks for {'; '.join(differences)}. Drop these flags to finish that run, "
                       f"or start a new run with another --checkpoint path.")


def _run_train(run: TrainRun):
    """Train as :func:`_train_settings` checked, and write the outputs."""
    args, corpus = run.args, run.corpus
    from . import distributed
    parallel = _library_call("torch.distributed", distributed.init_from_env, args.device)
    main_rank = distributed.rank() == 0  # under torchrun, rank 0 writes the outputs and talks
    if parallel:
        args.device = distributed.local_device(args.device)
        run.settings["device"] = args.device
        if not main_rank:
            args.quiet, args.progress = True, False

    bar = args.progress if args.progress is not None else (sys.stderr.isatty() and not args.quiet)
    verbose_logs = args.verbose or not (args.quiet or bar)
    _setup_logging(logging.INFO if verbose_logs else logging.WARNING)
    say = _sayer(args.quiet, verbose_logs)
    if parallel and args.checkpoint and not args.resume and distributed.restarted() \
            and os.path.isfile(args.checkpoint) and os.path.getsize(args.checkpoint):
        # torchrun --max-restarts started the group again (a rank failed, or a node left or joined): every rank
        # goes on from the last checkpoint
        logger.warning("torchrun restarted the job's group (%i groups before this one): resuming from %s",
                       distributed.groups_before(), args.checkpoint)
        args.resume = True
        _check_resume(run)

    from .word2vec import Word2Vec

    logger.info("running %s %s", PROG, " ".join(sys.argv[1:]))
    start = time.perf_counter()
    if args.resume:
        say(f"resuming the training saved in {args.checkpoint} ...")
        with _lost_ranks(args):
            model = _library_call("--resume", Word2Vec.resume, args.checkpoint, corpus_file=corpus,
                                  checkpoint_every=args.checkpoint_every)
        run.compute_loss = model.compute_loss
        if args.save_vocab and main_rank:
            _write_vocab(model, args.save_vocab, say)
        return _write_outputs(run, model, main_rank, say, start)
    if args.init:
        model = _init_model(run, Word2Vec, parallel, bar, say)
    else:
        model = _library_call("invalid setting", Word2Vec, **run.settings, progress=bar)
        say(f"reading the vocabulary of {corpus} ...")
        if args.read_vocab:
            from .corpus import count_corpus
            from .vocab import read_vocab
            freq = _library_call("-read-vocab", read_vocab, args.read_vocab)
            sentences, words = _library_call("corpus", count_corpus, corpus)
            _library_call("-read-vocab", model.build_vocab_from_freq, freq, corpus_count=sentences)
            model.corpus_total_words = words
        else:
            _library_call("corpus", model.build_vocab, corpus_file=corpus)
    if not len(model.wv):
        raise CLIError(f"the vocabulary is empty: no word of {corpus} occurs min_count={model.min_count} times "
                       f"or more; lower -min-count or use a larger corpus.")
    say(f"{len(model.wv):,} words in the vocabulary ({model.corpus_total_words:,} words, "
        f"{model.corpus_count:,} sentences); training {'skip-gram' if run.sg else 'CBOW'}, {model.epochs} epochs")
    if args.save_vocab and main_rank:
        _write_vocab(model, args.save_vocab, say)
    with _lost_ranks(args):
        _library_call("training", model.train, corpus_file=corpus, total_examples=model.corpus_count,
                      total_words=model.corpus_total_words, epochs=model.epochs, compute_loss=run.compute_loss,
                      checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every)
    return _write_outputs(run, model, main_rank, say, start)


def _init_model(run: TrainRun, Word2Vec, parallel, bar, say):
    """--init: the saved model, with the settings that may change, its vocabulary grown by the corpus."""
    args = run.args
    model = _library_call("--init", Word2Vec.load, args.init)
    for name in INIT_KEYWORDS:
        if name in run.given:
            setattr(model, name, run.settings[name])
    if parallel:
        model.device = args.device
    model.progress = bar
    _library_call("invalid setting", model._config)
    run.sg, run.compute_loss = model.sg, model.compute_loss
    say(f"going on with {args.init} ({len(model.wv):,} words); adding the words of {run.corpus} ...")
    _library_call("corpus", model.build_vocab, corpus_file=run.corpus, update=True)
    return model


def _write_vocab(model, path, say):
    from .vocab import write_vocab
    _library_call("-save-vocab", write_vocab, model.wv, path, sentences=model.corpus_count)
    say(f"wrote the vocabulary to {path}")


def _write_outputs(run: TrainRun, model, main_rank, say, start):
    """Write the vectors, model, loss plot and reports that were asked for (rank 0 only under torchrun)."""
    args = run.args
    if not main_rank:
        return 0
    seconds = time.perf_counter() - start
    say(f"trained in {seconds:.1f}s" + (f", final epoch loss {model.epoch_losses[-1]:.6g}" if run.compute_loss
                                         else ""))

    if args.output:
        from .export import save_vectors
        if args.binary is None and args.output.endswith(".bin"):
            logger.warning("writing text vectors to %s, as word2vec.c does without -binary 1 (pass -binary 1 for "
                           "the binary format, -binary 0 to silence this warning).", args.output)
        _library_call("-output", save_vectors, model.wv, args.output, binary=run.binary)
        say(f"wrote {len(model.wv):,} x {model.vector_size} vectors to {args.output} "
            f"({'binary' if run.binary else 'text'} word2vec C format)")
    if args.save_model:
        _library_call("--save-model", model.save, args.save_model)
        say(f"saved the model to {args.save_model}")
    if args.plot_loss:
        from . import plot
        _library_call("--plot-loss", plot.plot_losses, model.epoch_losses, args.plot_loss)
        say(f"drew the loss per epoch to {args.plot_loss}")
    if args.accuracy:
        from .evaluate import evaluate_analogies
        result = _library_call("-accuracy", evaluate_analogies, model.wv, args.accuracy)
        print(f"analogy accuracy: {_percent(result['accuracy'])} ({result['correct']}/{result['total']} "
              f"questions with known words, of {result['questions']})")
    if run.demo:
        _show_demo(model, run.corpus)
    return 0


def _sayer(quiet, as_log):
    """A function printing a status line: a log record when logging, else a line on stderr."""
    def say(message):
        if quiet:
            return
        if as_log:
            logger.info(message)
        else:
            print(f"{PROG}: {message}", file=sys.stderr, flush=True)
    return say


def _show_demo(model, corpus):
    kv = model.wv
    probes = [w for w in DEMO_WORDS if w in kv.key_to_index][:5]
    probes = probes or [w for w in kv.index_to_key[50:] if w.isalpha()][:5]
    print(f"Trained {'skip-gram' if model.sg else 'CBOW'} on gensim's bundled Lee corpus "
          f"({os.path.basename(corpus)}: {model.corpus_count} news texts, {model.corpus_total_words:,} words); "
          f"{len(kv):,} words have vectors.")
    print("Nearest neighbours (cosine similarity):")
    width = max(len(w) for w in probes)
    for word in probes:
        neighbours = "  ".join(f"{w} ({s:.2f})" for w, s in kv.most_similar(word, topn=6))
        print(f"  {word:<{width}}  {neighbours}")
    print(f"Train on your own text: {PROG} train corpus.txt -o vectors.bin -binary 1")


# --------------------------------------------------------------------------------------------- eval
def _load(args, comparable_only=True):
    """The vectors of ``args.vectors``; with ``comparable_only``, without the words whose vectors hold NaN
    or inf (named in a warning line), and the list of those words."""
    from .evaluate import finite_only, load_vectors, non_finite_words
    kv = _library_call("cannot load the vectors", load_vectors, args.vectors, binary=args.binary)
    bad = non_finite_words(kv)
    if bad and comparable_only:
        _warn_non_finite(args.vectors, bad)
        kv = finite_only(kv, bad)
    return kv, bad


def _warn_non_finite(path, bad):
    shown = ", ".join(repr(w) for w in bad[:5]) + (", ..." if len(bad) > 5 else "")
    print(f"{PROG}: warning: {path}: {len(bad):,} words have NaN or inf in their vectors and cannot be compared; "
          f"they are left out ({shown}). The vectors probably come from a diverged training run.", file=sys.stderr)


def _cmd_eval(args):
    """Score vectors on analogies and word-pair similarity; print a table or JSON."""
    _setup_logging(logging.INFO if args.verbose else logging.WARNING)
    from .evaluate import default_pairs, evaluate

    for flag, path in (("--analogies", args.analogies), ("--wordsim", args.wordsim), ("--simlex", args.simlex)):
        if path is not None:
            _check_input(flag, path)
    kv, bad = _load(args, comparable_only=False)  # evaluate() leaves them out and counts them
    if bad:
        _warn_non_finite(args.vectors, bad)
    pairs = default_pairs()
    pairs["wordsim353"] = args.wordsim or pairs["wordsim353"]
    pairs["simlex999"] = args.simlex or pairs["simlex999"]
    analogies = None if args.no_analogies else (args.analogies or "default")
    report = _library_call("evaluation", evaluate, kv, analogies=analogies, pairs=pairs,
                           restrict_vocab=args.restrict_vocab)
    report = {"vectors": args.vectors, **report}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{args.vectors}: {report['vocab_size']:,} words, {report['vector_size']} dimensions"
          + (f" ({report['non_finite_words']:,} with NaN or inf left out)" if report["non_finite_words"] else ""))
    rows = [("benchmark", "metric", "score", "coverage")]
    a = report["analogies"]
    if a is not None:
        rows.append(("analogies", "accuracy", _percent(a["accuracy"]),
                     f"{a['total']}/{a['questions']} questions"))
    for name, r in report["pairs"].items():
        total = round(r["pairs"] / (1 - r["oov_ratio"])) if r["oov_ratio"] not in (None, 1.0) else None
        rows.append((name, "spearman", _fixed(r["spearman"]),
                     f"{r['pairs']}/{total if total is not None else '?'} pairs" if r["pairs"] else "0 pairs"))
    _print_table(rows)
    if args.sections and a is not None:
        print()
        _print_table([("analogy section", "accuracy", "questions")] + [
            (s["section"], _percent(s["accuracy"]), str(s["total"])) for s in a["sections"]])
    return 0


def _percent(value):
    return "n/a" if value is None else f"{100 * value:.2f}%"


def _fixed(value):
    return "n/a" if value is None else f"{value:.4f}"


def _print_table(rows):
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(f"{str(cell):<{w}}" if i == 0 else f"{str(cell):>{w}}"
                        for i, (cell, w) in enumerate(zip(row, widths))).rstrip())


# ------------------------------------------------------------------------------------------ similar
def _cmd_similar(args):
    """Print the nearest words of one query, or of each query line on stdin."""
    _setup_logging(logging.INFO if args.verbose else logging.WARNING)
    kv, bad = _load(args)
    if args.words or args.negative:
        results = _query(kv, args.vectors, args.words, args.negative, args.topn, bad)
        _print_similar(args.words, args.negative, results, args.json)
        return 0
    failed = False  # queries from stdin, as word2vec.c's interactive distance / word-analogy
    for line in sys.stdin:
        tokens = line.split()
        if not tokens:
            continue
        positive = [t for t in tokens if not (t.startswith("-") and len(t) > 1)]
        negative = [t[1:] for t in tokens if t.startswith("-") and len(t) > 1]
        try:
            _print_similar(positive, negative, _query(kv, args.vectors, positive, negative, args.topn, bad),
                           args.json)
        except CLIError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            failed = True
        sys.stdout.flush()
    return 1 if failed else 0


def _query(kv, path, positive, negative, topn, bad=()):
    broken = [w for w in list(positive) + list(negative) if w in set(bad)]
    if broken:
        raise CLIError(f"{path}: the vector of {', '.join(repr(w) for w in broken)} holds NaN or inf, so it cannot "
                       f"be compared with any other; query other words, or retrain with a lower alpha.")
    unknown = [w for w in list(positive) + list(negative) if w not in kv.key_to_index]
    if unknown:
        lower = {}
        for w in kv.index_to_key:
            lower.setdefault(w.lower(), w)
        hints = [f"{w} (did you mean {lower[w.lower()]!r}?)" if w.lower() in lower else w for w in unknown]
        raise CLIError(f"not in the vocabulary of {path} ({len(kv):,} words): {', '.join(hints)}")
    if not positive and not negative:
        raise CLIError("no query words given.")
    return kv.most_similar(positive=list(positive), negative=list(negative), topn=topn)


def _print_similar(positive, negative, results, as_json):
    if as_json:
        print(json.dumps({"positive": list(positive), "negative": list(negative),
                          "results": [{"word": w, "similarity": float(s)} for w, s in results]}))
        return
    query = " + ".join(positive) + "".join(f" - {w}" for w in negative)
    print(f"{query.strip(' +')}  (cosine similarity)")
    width = max([len(w) for w, _ in results] + [4])
    for rank, (word, score) in enumerate(results, 1):
        print(f"{rank:>4}  {word:<{width}}  {score:.4f}")


# --------------------------------------------------------------------------------------------- plot
def _cmd_plot(args):
    """Draw a labelled 2-D map of chosen or frequent words."""
    _setup_logging(logging.INFO if args.verbose else logging.WARNING)
    from . import plot

    _library_call("plot", plot.require_matplotlib)   # before loading anything: fail fast
    if args.method == "tsne":
        _library_call("plot", plot.require_sklearn)
    _check_input("VECTORS", args.vectors)
    _check_outputs([("-o", args.output, "picture")], [("VECTORS", args.vectors)])
    _library_call(f"-o {args.output}", plot.check_format, args.output)
    kv, bad = _load(args)
    words = args.words or kv.index_to_key[:args.top]
    broken = [w for w in words if w in set(bad)]
    if broken:
        raise CLIError(f"{args.vectors}: the vector of {', '.join(repr(w) for w in broken)} holds NaN or inf and "
                       f"cannot be drawn; leave it out of --words.")
    missing = [w for w in words if w not in kv.key_to_index]
    if missing:
        raise CLIError(f"not in the vocabulary of {args.vectors} ({len(kv):,} words): {', '.join(missing)}")
    _library_call("plot", plot.plot_words, kv, words, args.output, method=args.method, title=args.title,
                  seed=args.seed)
    if not args.quiet:
        print(f"{PROG}: drew {len(words)} words ({args.method.upper()}) to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
