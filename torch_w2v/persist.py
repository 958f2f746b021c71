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

import os
import pickle
import tempfile
import zipfile
from contextlib import contextmanager

import torch

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
