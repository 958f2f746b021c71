"""Model files: an explicit format that cannot run code when loaded, written atomically.

File format (``FORMAT``, version ``VERSION``): one ``torch.save`` zip archive holding a dict of plain
values only (str, int, float, bool, None, lists, dicts and tensors)::

    {"format": "torch_w2v.Word2Vec", "version": 1,
     "settings": {gensim keyword -> value},          # vector_size, alpha, window, ... (JSON-able)
     "state":    {corpus_count, corpus_total_words, effective_min_count, train_count, ...},
     "vocab":    {"keys": [str, ...], "count": int64 (V,), "sample_int": int64 (V,)},
     "weights":  {"vectors": float32 (V, D), "syn1neg": float32 (V, D) | absent,
                  "syn1": float32 (V, D) | absent, "vectors_lockf": float32 (L,)}}

It is read with ``torch.load(weights_only=True)``, which refuses any pickled object other than those
plain types, so a planted pickle cannot execute. Every write goes to a temporary file in the target's
folder, is flushed and fsync'd, then renamed over the target: a crash leaves the old file intact.
"""
from __future__ import annotations

import logging
import os
import pickle
from collections import defaultdict
import tempfile
import zipfile
from contextlib import contextmanager

import numpy as np
import torch

from .config import FIELDS

logger = logging.getLogger("torch_w2v")

FORMAT = "torch_w2v.Word2Vec"
VERSION = 1


@contextmanager
def atomic_path(path, suffix: str = ".tmp"):
    """A temporary path beside ``path`` to write; on success it is fsync'd and renamed to ``path``.

    ``suffix`` ends the temporary name (a writer that picks compression by extension needs ``.gz``
    there). On failure the temporary file is removed and ``path`` is untouched.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=suffix, dir=folder)
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
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


@contextmanager
def atomic_write(path, mode: str = "wb"):
    """Open a temporary file beside ``path``; on success fsync it and rename it to ``path``."""
    with atomic_path(path) as tmp, open(tmp, mode) as handle:
        yield handle


def save_payload(payload: dict, path) -> None:
    """Write ``payload`` (plain values and tensors) to ``path`` atomically."""
    with atomic_write(path) as handle:
        torch.save(payload, handle)


def load_payload(path, expected_format: str | tuple = FORMAT, mmap: bool = False) -> dict:
    """Read a file written by :func:`save_payload`, refusing anything but plain values and tensors."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file.")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a torch_w2v model file (not a torch.save archive: it may be a "
                         f"gensim pickle, a word2vec C file, or truncated). For gensim models use "
                         f"gensim.models.Word2Vec.load; for vectors use KeyedVectors.load_word2vec_format.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{path} holds objects other than plain values and tensors, and was refused "
                         f"unread so that it cannot run code ({str(exc).splitlines()[0]}). Only load model "
                         f"files written by torch_w2v.") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{path} is truncated or corrupted and cannot be loaded ({exc}). "
                         f"Restore it from a backup or train again.") from None
    expected = (expected_format,) if isinstance(expected_format, str) else tuple(expected_format)
    if not isinstance(payload, dict) or payload.get("format") not in expected:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"{path} is not a {' or '.join(expected)} file (found format {found!r}).")
    if payload.get("version", 0) > VERSION:
        raise ValueError(f"{path} was written by a newer torch_w2v (format version {payload['version']}, "
                         f"this one reads up to {VERSION}); upgrade torch_w2v.")
    return payload


class NotAModelFile(ValueError, AttributeError):
    """A file that is not a torch_w2v model but a pickle (as gensim's ``save()`` writes).

    A ``ValueError``; also an ``AttributeError``, which is what gensim's ``Word2Vec.load`` raises for a
    file holding another kind of object (a saved ``KeyedVectors``), so code written for gensim still works.
    """


def refuse_pickle(fname) -> None:
    """Raise :class:`NotAModelFile` if ``fname`` is a pickle, before anything reads it as one."""
    try:
        with open(fname, "rb") as handle:
            head = handle.read(2)
    except OSError:
        return  # persist.load_payload reports a missing or unreadable file
    if len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5:  # PROTO opcode: pickle protocols 2-5
        raise NotAModelFile(
            f"{fname} is a Python pickle (gensim's save() writes these, for Word2Vec and KeyedVectors alike), "
            f"not a torch_w2v model file; torch_w2v never unpickles a file, since a pickle can run code. "
            f"If you trust it, load it with gensim (gensim.models.Word2Vec.load or KeyedVectors.load); "
            f"save vectors with wv.save_word2vec_format() to use them anywhere.")


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
    state["epoch_losses"] = [float(x) for x in model.epoch_losses]
    state["lifecycle_events"] = [{k: str(v) for k, v in e.items()} for e in model.lifecycle_events]
    raw_vocab = dict(model.raw_vocab) if model.raw_vocab else {}
    vocab = {"keys": list(wv.index_to_key), "raw_vocab": raw_vocab}
    for name in ("count", "sample_int"):
        if name in wv.expandos:
            vocab[name] = torch.from_numpy(np.asarray(wv.expandos[name], dtype=np.int64).copy())
    weights = {"vectors": torch.from_numpy(np.array(wv.vectors, dtype=np.float32)),
               "vectors_lockf": torch.from_numpy(np.array(wv.vectors_lockf, dtype=np.float32))}
    for name in ("syn1neg", "syn1"):
        value = getattr(model, name, None)
        if value is not None:
            weights[name] = torch.from_numpy(np.array(value, dtype=np.float32))
    return {"format": FORMAT, "version": VERSION, "settings": settings, "state": state,
            "vocab": vocab, "weights": weights}


def model_from_payload(cls, payload, fname):
    """A ``cls`` (torch_w2v ``Word2Vec``) rebuilt from :func:`model_payload`'s dict read from ``fname``."""
    try:
        settings, state, vocab, weights = (payload[k] for k in ("settings", "state", "vocab", "weights"))
        model = cls(**settings)
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
