"""Model files: an explicit format that cannot run code when loaded, checksummed, written atomically.

File format (``FORMAT``, version ``VERSION``): one ``torch.save`` zip archive holding a dict of plain
values only (str, int, float, bool, None, lists, dicts and tensors)::

    {"format": "torch_w2v.Word2Vec", "version": 2,
     "settings": {gensim keyword -> value},          # vector_size, alpha, window, ... (JSON-able)
     "state":    {corpus_count, corpus_total_words, effective_min_count, train_count, ...},
     "vocab":    {"keys": [str, ...], "count": int64 (V,), "sample_int": int64 (V,)},  # or int, bytes... keys
     "weights":  {"vectors": float32 (V, D), "syn1neg": float32 (V, D) | absent,
                  "syn1": float32 (V, D) | absent, "vectors_lockf": float32 (L,)},
     "extras":   {attribute: [kind, value]} | absent,  # a subclass's own attributes: plain values, arrays
     "checksums": {"algorithm": "sha256", "arrays": {"weights/vectors": hex, ...}, "metadata": hex}}

Keys are stored as plain values (:func:`plain_keys`): ``numpy.str_`` and other str subclasses as ``str``,
numpy integers as ``int``; a key of a type no plain value can hold is refused when saving, naming it.
It is read with ``torch.load(weights_only=True)``, which refuses any pickled object other than those
plain types, so a planted pickle cannot execute. ``checksums`` holds a SHA-256 of every stored array
(its dtype, shape and bytes) and one of everything else (settings, state, vocabulary, as canonical JSON);
every load verifies them, so a flipped byte anywhere in the content is an error naming the file and the
part that changed, never silently different vectors. Verifying reads each array once: with
``mmap='r'`` that pages the whole file in once (at disk speed, about 1 s per GB), which the operating
system may later drop again; the memory stays shared page cache, not a private copy. Version 1 files
(no checksums) still load, with a warning that they cannot be verified.

Every write goes through :func:`atomic_path`, the one guarded-write helper for all of torch_w2v's outputs
(models, checkpoints, CLI vectors, vocabularies, pictures): it refuses a target that is a directory or
holds another kind of file (:func:`check_target`; a corpus is never replaced by a model), writes a
temporary file in the target's folder, flushes and fsyncs it, then renames it over the target, so a
crash leaves the old file intact; an OS error (disk full, permission denied) names the target, not the
temporary file.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import tempfile
import zipfile
from collections import defaultdict
from contextlib import contextmanager

import numpy as np
import torch

from .config import FIELDS
from .vocab import PLAIN_KEYS, is_plain_key, plain_key

logger = logging.getLogger("torch_w2v")

FORMAT = "torch_w2v.Word2Vec"
CHECKPOINT_FORMAT = "torch_w2v.Checkpoint"
VERSION = 2  # 2: checksums; 1: none

# ------------------------------------------------------------------------------------- guarded writes
# What each kind of output may replace: a file of the same kind (recognised by its first bytes), or an
# empty file. Anything else (a corpus, another run's checkpoint, a model where vectors go) is refused.
KINDS = {
    "model": "a torch_w2v model file",
    "checkpoint": "a torch_w2v checkpoint",
    "vectors": "a word2vec C vectors file",
    "vocab": "a word2vec.c vocabulary file",
    "picture": "a picture",
}
REPLACES = {
    "model": {"model", "pickle"},   # a gensim pickle saved by the same script before it used torch_w2v
    "checkpoint": {"checkpoint"},
    "vectors": {"vectors"},
    "vocab": {"vocab"},
    "picture": {"picture"},
}
_PICTURE_MAGIC = (b"\x89PNG", b"%PDF", b"%!PS", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"RIFF", b"<?xml",
                  b"<svg")  # png, pdf, eps/ps, jpeg, tiff, webp, svg


def sniff(path) -> set:
    """The kinds of output the existing file ``path`` looks like (see :data:`KINDS`), from its first bytes;
    ``{"empty"}`` for an empty file, ``set()`` for anything else."""
    path = os.fspath(path)
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if not head:
        return {"empty"}
    kinds = set()
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        kinds.add("pickle")
    if head.startswith(_PICTURE_MAGIC):
        kinds.add("picture")
    if zipfile.is_zipfile(path):
        found = _archive_format(path)
        if found == FORMAT:
            kinds.add("model")
        elif found == CHECKPOINT_FORMAT:
            kinds.add("checkpoint")
        return kinds
    lines = _first_lines(path, 2)
    if lines and _is_header(lines[0]):
        kinds.add("vectors")
    if lines and all(_is_vocab_line(line) for line in lines):
        kinds.add("vocab")
    return kinds


def _archive_format(path):
    """The ``format`` string of a torch.save archive written by :func:`save_payload`, read from the first
    bytes of its pickle (the payload dict starts with it), without loading the archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
            if name is None:
                return None
            with archive.open(name) as handle:
                head = handle.read(256)
    except (OSError, zipfile.BadZipFile, RuntimeError, ValueError):
        return None
    for candidate in (CHECKPOINT_FORMAT, FORMAT):
        if candidate.encode() in head:
            return candidate
    return None


def _first_lines(path, n):
    from .sources import _DAMAGED, open_input
    lines = []
    try:
        with open_input(path) as handle:
            for _ in range(n):
                line = handle.readline(4096)
                if not line:
                    break
                lines.append(line)
    except (OSError, *_DAMAGED):
        return []
    return lines


def _is_header(line: bytes) -> bool:
    fields = line.split()
    return len(fields) == 2 and all(f.isdigit() for f in fields) and line.endswith(b"\n")


def _is_vocab_line(line: bytes) -> bool:
    fields = line.split()
    return len(fields) == 2 and fields[1].isdigit() and line.endswith(b"\n")


def check_target(path, kind: str, flag: str | None = None) -> None:
    """Refuse (``FileExistsError`` or ``IsADirectoryError``, naming ``path``) to write ``kind`` over a
    directory or over a file that holds something other than ``kind`` (see :data:`REPLACES`).

    ``flag`` names the option that gave ``path`` (the CLI's), for the message.
    """
    path = os.fspath(path)
    named = f"{flag} {path}" if flag else path
    if os.path.isdir(path):
        raise IsADirectoryError(f"{named} is a directory; name a file to write {KINDS[kind]} to.")
    if not os.path.lexists(path):
        return
    if os.path.exists(path) and not os.path.isfile(path):  # /dev/null, a pipe: a rename would replace it
        raise FileExistsError(f"{named} is not a regular file (a device or a pipe); outputs are written to a "
                              f"temporary file and renamed over the target, which would replace it. Name a file.")
    try:
        found = sniff(path)
    except OSError:
        return  # unreadable: the write itself reports what is wrong
    if found & (REPLACES[kind] | {"empty"}):
        return
    what = (KINDS[next(iter(found & set(KINDS)))] if found & set(KINDS)
            else "a gensim pickle" if "pickle" in found else "a file of another kind")
    raise FileExistsError(f"{named} already exists and holds {what}, not {KINDS[kind]}; it was left untouched. "
                          f"Name another file, or delete this one if it is no longer needed.")


def _named(exc: OSError, path) -> OSError:
    """``exc`` (raised while writing a temporary file for ``path``) re-made to name ``path`` itself."""
    if exc.errno is None:
        return exc
    return type(exc)(exc.errno, f"{exc.strerror} (while writing {os.fspath(path)})", os.fspath(path))


@contextmanager
def atomic_path(path, suffix: str = ".tmp", kind: str | None = None):
    """A temporary path beside ``path`` to write; on success it is fsync'd and renamed to ``path``.

    ``kind`` (a key of :data:`KINDS`) first checks that ``path`` may be replaced (:func:`check_target`).
    ``suffix`` ends the temporary name (a writer that picks compression by extension needs ``.gz``
    there). On failure the temporary file is removed and ``path`` is untouched; an ``OSError`` names
    ``path``.
    """
    path = os.fspath(path)
    if kind is not None:
        check_target(path, kind)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=suffix, dir=folder)
    except OSError as exc:
        raise _named(exc, path) from None
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes owner-only files; give the mode a plain open() would
        os.replace(tmp, path)
        try:
            dir_fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError:
            pass  # some filesystems cannot fsync a directory; the rename itself is still atomic
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and exc.filename != path:
            raise _named(exc, path) from exc
        raise


@contextmanager
def atomic_write(path, mode: str = "wb", kind: str | None = None):
    """Open a temporary file beside ``path``; on success fsync it and rename it to ``path``."""
    with atomic_path(path, kind=kind) as tmp, open(tmp, mode) as handle:
        yield handle


class _RecordingWriter:
    """A file's ``write``/``flush`` that keeps the OSError they raise: torch.save turns it into a
    RuntimeError ("enforce fail at inline_container.cc ... unexpected pos") that hides the cause."""

    def __init__(self, handle):
        self.handle, self.error = handle, None

    def write(self, data):
        try:
            return self.handle.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self):
        try:
            return self.handle.flush()
        except OSError as exc:
            self.error = exc
            raise


def save_payload(payload: dict, path, kind: str = "model") -> None:
    """Write ``payload`` (plain values and tensors) to ``path`` atomically, with its checksums."""
    payload = dict(payload)
    payload["checksums"] = checksums(payload)
    with atomic_write(path, kind=kind) as handle:
        writer = _RecordingWriter(handle)
        try:
            torch.save(payload, writer)
        except RuntimeError:
            if writer.error is not None:
                raise writer.error from None  # atomic_path names the target
            raise


# ------------------------------------------------------------------------------------------ checksums
def _array_digest(tensor) -> str:
    array = np.ascontiguousarray(tensor.detach().cpu().numpy())
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(memoryview(array.reshape(-1).view(np.uint8)))
    return digest.hexdigest()


def checksums(payload: dict) -> dict:
    """SHA-256 of every tensor of ``payload`` (by its place, e.g. ``weights/vectors``) and of the rest."""
    arrays = {}

    def plain(value, where):
        if isinstance(value, torch.Tensor):
            arrays[where] = _array_digest(value)
            return f"<array {where}>"
        if isinstance(value, dict):
            return [[str(k), plain(v, f"{where}/{k}")] for k, v in value.items()]
        if isinstance(value, (list, tuple)):
            return [plain(v, f"{where}/{i}") for i, v in enumerate(value)]
        return value

    rest = [[key, plain(value, key)] for key, value in payload.items() if key != "checksums"]
    text = json.dumps(rest, default=repr, allow_nan=True)
    return {"algorithm": "sha256", "arrays": arrays, "metadata": hashlib.sha256(text.encode()).hexdigest()}


def verify(payload: dict, path) -> None:
    """Raise ``ValueError`` naming ``path`` and the part that changed unless ``payload`` matches its
    checksums (files of format version 1, written before checksums, are accepted with a warning)."""
    stored = payload.get("checksums")
    if stored is None:
        if payload.get("version", 0) >= 2:
            raise ValueError(f"{path} has lost its checksums: the file is corrupted. Restore it from a backup "
                             f"or train again.")
        logger.warning("%s was written by torch_w2v before model files had checksums (format version 1); "
                       "its content cannot be verified. Save it again to add them.", path)
        return
    found = checksums(payload)
    if not isinstance(stored, dict) or stored.get("algorithm") != "sha256":
        raise ValueError(f"{path}: its checksum record is damaged; the file is corrupted. Restore it from a "
                         f"backup or train again.")
    changed = sorted(set(stored.get("arrays", {})) ^ set(found["arrays"]))
    changed += [name for name, digest in found["arrays"].items() if stored.get("arrays", {}).get(name) != digest
                and name not in changed]
    if stored.get("metadata") != found["metadata"]:
        changed.append("the settings, vocabulary or training state")
    if changed:
        raise ValueError(f"{path} is corrupted: {', '.join(changed)} no longer match the SHA-256 checksums "
                         f"stored when it was written (the file changed on disk or in a copy). Restore it from "
                         f"a backup or train again.")


def load_payload(path, expected_format: str | tuple = FORMAT, mmap: bool = False, check: bool = True) -> dict:
    """Read a file written by :func:`save_payload`, refusing anything but plain values and tensors.

    ``check`` verifies the checksums (see :func:`verify`); only a quick look at a file's settings skips it.
    """
    path = os.fspath(path)
    from .sources import check_input
    check_input(path, "model file")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a torch_w2v model file (not a torch.save archive: it may be a "
                         f"word2vec C file, or truncated). For vectors use torch_w2v.evaluate.load_vectors or "
                         f"KeyedVectors.load_word2vec_format.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{path} holds objects other than plain values and tensors (it was crafted, or is "
                         f"corrupted), and was refused unread so that it cannot run code "
                         f"({str(exc).splitlines()[0]}). Only load model files written by torch_w2v.") from None
    except Exception as exc:  # noqa: BLE001 - a damaged archive makes torch raise almost anything
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{path} is truncated or corrupted and cannot be loaded ({detail}). "
                         f"Restore it from a backup or train again.") from None
    expected = (expected_format,) if isinstance(expected_format, str) else tuple(expected_format)
    if not isinstance(payload, dict) or payload.get("format") not in expected:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"{path} is not a {' or '.join(expected)} file (found format {found!r}).")
    version = payload.get("version", 0)
    if not isinstance(version, int) or version > VERSION:
        raise ValueError(f"{path} was written by a newer torch_w2v (format version {version!r}, "
                         f"this one reads up to {VERSION}); upgrade torch_w2v.")
    if check:
        verify(payload, path)
    return payload


class NotAModelFile(ValueError, AttributeError):
    """A file that is not a model torch_w2v reads (a gensim KeyedVectors where a Word2Vec was asked for).

    A ``ValueError``; also an ``AttributeError``, which is what gensim's ``Word2Vec.load`` raises for a
    file holding another kind of object (a saved ``KeyedVectors``), so code written for gensim still works.
    """


def plain_keys(keys, where: str) -> list:
    """``keys`` (a vocabulary's) as the plain values a model file stores (:func:`torch_w2v.vocab.plain_key`:
    ``numpy.str_`` as str, numpy integers as int, ...); ``TypeError`` naming the first key of another type."""
    plain = [w if type(w) is str else plain_key(w) for w in keys]
    for word in plain:
        if type(word) is not str and not is_plain_key(word):
            raise TypeError(
                f"{where} holds the key {word!r} of type {type(word).__name__}, which a torch_w2v model file "
                f"cannot store: it holds plain values only (keys of type str, int, float, bool, bytes or tuples "
                f"of them), so that loading it cannot run code. Map the tokens to strings (e.g. str(token)) "
                f"before build_vocab(), or save the vectors alone with model.wv.save_word2vec_format().")
    return plain


def model_payload(model) -> dict:
    """The FORMAT dict of a torch_w2v ``Word2Vec``: settings, state, vocabulary and weights."""
    wv = model.wv
    settings = {name: getattr(model, name) for name in FIELDS}  # every TrainConfig field, one source
    settings["comment"] = model.comment
    if model.hashfxn is not hash:
        logger.warning("hashfxn=%r is not saved (gensim 4 does not use it either); the loaded model has "
                       "hashfxn=hash.", model.hashfxn)
    state = {name: getattr(model, name) for name in (
        "corpus_count", "corpus_total_words", "effective_min_count", "train_count", "total_train_time",
        "min_alpha_yet_reached", "running_training_loss")}
    state["_drawn_seed"] = getattr(model, "_drawn_seed", None)  # the seed drawn for seed=None
    state["epoch_losses"] = [float(x) for x in model.epoch_losses]
    state["lifecycle_events"] = [{k: str(v) for k, v in e.items()} for e in model.lifecycle_events]
    keys = plain_keys(wv.index_to_key, "model.wv.index_to_key")
    raw_vocab = model.raw_vocab or {}
    raw_vocab = dict(zip(plain_keys(raw_vocab, "model.raw_vocab"), raw_vocab.values()))
    vocab = {"keys": keys, "raw_vocab": raw_vocab}
    for name in ("count", "sample_int"):
        if name in wv.expandos:
            vocab[name] = torch.from_numpy(np.asarray(wv.expandos[name], dtype=np.int64).copy())
    weights = {"vectors": torch.from_numpy(np.array(wv.vectors, dtype=np.float32)),
               "vectors_lockf": torch.from_numpy(np.array(wv.vectors_lockf, dtype=np.float32))}
    for name in ("syn1neg", "syn1"):
        value = getattr(model, name, None)
        if value is not None:
            weights[name] = torch.from_numpy(np.array(value, dtype=np.float32))
    payload = {"format": FORMAT, "version": VERSION, "settings": settings, "state": state,
               "vocab": vocab, "weights": weights}
    extras = _extras(model)
    if extras:
        payload["extras"] = extras
    return payload


_BASE_ATTRIBUTES = []  # the attribute names torch_w2v's Word2Vec sets itself (filled at first use)
_WARNED = set()  # (class, attributes) already named as not saved


def _plain_value(value):
    """``value`` as plain values (numpy scalars as Python's, a namedtuple as a tuple), or ``TypeError``."""
    if isinstance(value, dict):
        return {_plain_value(k): _plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_plain_value(v) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    plain = plain_key(value)
    if type(plain) not in PLAIN_KEYS:
        raise TypeError(type(value).__name__)
    return plain


def _extras(model) -> dict:
    """The attributes a subclass (or a user) added to a ``Word2Vec``, as ``{name: [kind, value]}`` (kind
    ``"value"``: plain values; ``"ndarray"``/``"tensor"``: a numeric array); others are left out, with a
    warning naming them, since a file of plain values cannot hold them."""
    if not _BASE_ATTRIBUTES:
        from .word2vec import Word2Vec
        _BASE_ATTRIBUTES.extend(vars(Word2Vec()))
    extras, left_out = {}, []
    for name, value in vars(model).items():
        if name in _BASE_ATTRIBUTES or name.startswith("__"):  # "__numpys"...: gensim's save() bookkeeping
            continue
        if isinstance(value, np.ndarray) and value.dtype.kind in "biufc":
            extras[name] = ["ndarray", torch.from_numpy(np.array(value))]
        elif isinstance(value, torch.Tensor):
            extras[name] = ["tensor", value.detach().cpu().clone()]
        else:
            try:
                extras[name] = ["value", _plain_value(value)]
            except TypeError:
                left_out.append(f"{name} ({type(value).__name__})")
    if left_out and (type(model), tuple(left_out)) not in _WARNED:  # once, not at every checkpoint
        _WARNED.add((type(model), tuple(left_out)))
        logger.warning("%s's attributes %s are not saved: a torch_w2v model file holds plain values and numeric "
                       "arrays only, so that loading it cannot run code. Set them again after load().",
                       type(model).__name__, ", ".join(left_out))
    return extras


def leave_gensim_marks(model, separately=None, sep_limit=10 * 1024**2, ignore=frozenset()) -> None:
    """Leave on ``model`` and (recursively) ``model.wv`` the bookkeeping gensim's ``save()`` leaves on them
    (``SaveLoad._save_specials``): ``__numpys`` (the arrays it would store in ``.npy`` files beside the
    pickle: those of ``separately``, else every array of at least ``sep_limit`` elements), ``__scipys``,
    ``__ignoreds`` (``ignore``, and ``cum_table`` on the model) and ``__recursive_saveloads`` (``["wv"]``),
    with the values gensim's would have for the same options; code that reads them after ``save()`` (a
    round trip of ``wv.__dict__``) then finds what it expects. Nothing is written."""
    _marks(model, separately, sep_limit, set(ignore) | {"cum_table"})  # gensim's Word2Vec never stores cum_table


def _marks(obj, separately, sep_limit, ignore) -> None:
    """gensim's ``SaveLoad._save_specials``'s choice of attributes, for ``obj`` and what it holds."""
    attributes = vars(obj)
    if separately is None:
        separately = [name for name, value in attributes.items()
                      if isinstance(value, np.ndarray) and value.size >= sep_limit]
    asides = {name: attributes[name] for name in [*separately, *ignore] if name in attributes}
    recursive = [name for name, value in attributes.items()
                 if name not in asides and hasattr(value, "_save_specials")]  # gensim's SaveLoad objects: wv
    for name in recursive:
        _marks(attributes[name], None, sep_limit, ignore)
    numpys = [name for name, value in asides.items() if isinstance(value, np.ndarray) and name not in ignore]
    attributes["__numpys"] = numpys
    attributes["__scipys"] = []  # no attribute of a Word2Vec or KeyedVectors is a scipy sparse matrix
    attributes["__ignoreds"] = [name for name in asides if name not in numpys]
    attributes["__recursive_saveloads"] = recursive


def new_model(cls, settings: dict):
    """An untrained ``cls`` (torch_w2v ``Word2Vec`` or a subclass) with ``settings``, built by torch_w2v's own
    ``__init__`` whatever the subclass's takes (as gensim's load builds no instance through ``__init__``)."""
    from .word2vec import Word2Vec
    model = cls.__new__(cls)
    Word2Vec.__init__(model, **settings)
    return model


def model_from_payload(cls, payload, fname):
    """A ``cls`` (torch_w2v ``Word2Vec``) rebuilt from :func:`model_payload`'s dict read from ``fname``."""
    try:
        settings, state, vocab, weights = (payload[k] for k in ("settings", "state", "vocab", "weights"))
        model = new_model(cls, settings)
        wv = model.wv
        wv.index_to_key = list(vocab["keys"])
        wv.key_to_index = {w: i for i, w in enumerate(wv.index_to_key)}
        wv.vectors = weights["vectors"].numpy()
        wv.allocate_vecattrs()
        for name in ("count", "sample_int"):
            if name in vocab:
                dtype = np.int64 if name == "count" else np.uint32
                wv.allocate_vecattrs(attrs=[name], types=[dtype])
                wv.expandos[name][:] = vocab[name].numpy().astype(dtype)
        wv.vectors_lockf = weights["vectors_lockf"].numpy()
        for name in ("syn1neg", "syn1"):
            if name in weights:
                setattr(model, name, weights[name].numpy())
        for name, value in state.items():
            if name != "lifecycle_events":
                setattr(model, name, value)
        model.lifecycle_events = list(state.get("lifecycle_events", [])) + model.lifecycle_events
        model.raw_vocab = defaultdict(int, vocab.get("raw_vocab", {}))
        for name, (kind, value) in payload.get("extras", {}).items():
            if name in vars(model) or hasattr(type(model), name):
                continue  # an extra never replaces torch_w2v's attributes or the class's methods
            setattr(model, name, value.numpy() if kind == "ndarray" else value)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{fname} is a torch_w2v file but its content is inconsistent ({exc!r}); it may be "
                         f"corrupted. Restore it from a backup or train again.") from None
    if len(wv.vectors) != len(wv.index_to_key):
        raise ValueError(f"{fname}: {len(wv.index_to_key)} words but {len(wv.vectors)} vectors; the file is "
                         f"corrupted.")
    if model.negative and len(wv):
        model.make_cum_table()
    if model.hs and len(wv):
        model.create_binary_tree()
    return model
