"""The model's numpy arrays (``wv.vectors``, ``syn1neg``, ``syn1``) as the engine's tensors and tables.

On CPU the tensors share memory with the numpy arrays, so training updates ``model.wv.vectors`` in place;
on a GPU they are copies, written back after each epoch (before callbacks run) and at the end.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import vocab as vocab_mod


@dataclass
class Tables:
    """Per-word tables the pipelines and steps read (built by :meth:`ModelWeights.tables`)."""
    sample_int: torch.Tensor | None = None   # (V,) int64 keep thresholds; None = nothing downsampled
    noise: tuple | None = None               # (threshold (V,) int64, alias (V,) int64, total T): the noise
    #                                          distribution of cum_table as an alias table; None if negative == 0
    lockf: torch.Tensor | None = None        # (V, 1) float32 input-update scale; None when all ones
    points: torch.Tensor | None = None       # (V, L) int64 Huffman inner nodes per word (hs), 0-padded
    codes: torch.Tensor | None = None        # (V, L) float32 1 - code per node: the hs labels
    code_valid: torch.Tensor | None = None   # (V, L) float32 1 where the path has a node


def writeable(owner, name):
    """``owner.name`` as a C-contiguous, writeable float32 numpy array (replacing it if it was not)."""
    array = getattr(owner, name)
    if not (isinstance(array, np.ndarray) and array.flags.c_contiguous and array.flags.writeable
            and array.dtype == np.float32) or isinstance(array, np.memmap):
        array = np.array(array, dtype=np.float32, order="C")
        setattr(owner, name, array)
    return array


def expected_words(encoded, wv) -> float:
    """Expected tokens per epoch after downsampling: Σ keep probability over the encoded corpus."""
    sample = wv.expandos.get("sample_int")
    if sample is None or not len(encoded.ids):
        return float(len(encoded.ids))
    counts = np.zeros(len(sample), dtype=np.int64)
    for start in range(0, len(encoded.ids), 1 << 20):
        counts += np.bincount(encoded.ids[start:start + (1 << 20)], minlength=len(sample))
        encoded.release(start, start + (1 << 20))  # a corpus mapped from a file: counted, dropped
    # a plain sum, not `@`: a BLAS call leaves numpy's OpenBLAS threads spinning beside the training threads
    return float((counts * (sample.astype(np.float64) / (2**32 - 1))).sum())


class ModelWeights:
    """The model's numpy weights as tensors on the training device, copied back after each epoch on GPU.

    ``syn0`` (V, D) input vectors (``wv.vectors``), ``syn1neg`` / ``syn1`` (V, D) output weights or None:
    the tensors every step updates in place (the same rows a :class:`~torch_w2v.model.SkipGramNeg` built
    with ``Word2Vec.module`` holds).
    """

    def __init__(self, model, device):
        self.model, self.device = model, device

    def __enter__(self):
        m = self.model
        self.arrays = {"syn0": writeable(m.wv, "vectors")}
        if m.negative:
            self.arrays["syn1neg"] = writeable(m, "syn1neg")
        if m.hs:
            self.arrays["syn1"] = writeable(m, "syn1")
        # (V, D) tensors; on CPU they share memory with the numpy arrays, so training updates those in place
        self.tensors = {k: torch.from_numpy(a).to(self.device) for k, a in self.arrays.items()}
        self.syn0 = self.tensors["syn0"]
        self.syn1neg = self.tensors.get("syn1neg")
        self.syn1 = self.tensors.get("syn1")
        return self

    def tables(self) -> Tables:
        m, dev = self.model, self.device
        tables = Tables()
        sample = m.wv.expandos.get("sample_int")
        if sample is not None and len(sample) and bool((sample < np.uint32(2**32 - 1)).any()):
            tables.sample_int = torch.from_numpy(sample.astype(np.int64)).to(dev)               # (V,)
        if m.negative:
            threshold, alias, total = vocab_mod.alias_table(m.cum_table)
            tables.noise = (torch.from_numpy(threshold).to(dev), torch.from_numpy(alias).to(dev), total)
        lockf = np.asarray(getattr(m.wv, "vectors_lockf", np.ones(1)), dtype=np.float32)
        if len(lockf) and not bool((lockf == 1.0).all()):
            full = lockf[np.arange(len(m.wv)) % len(lockf)]                 # gensim: lockf[word % len(lockf)]
            tables.lockf = torch.from_numpy(full).to(dev)[:, None]          # (V, 1)
        if m.hs:
            if "code" not in m.wv.expandos:
                vocab_mod.set_huffman(m.wv)
            tables.points, tables.codes, tables.code_valid = (torch.from_numpy(x).to(dev) for x in
                                                               vocab_mod.huffman_table(m.wv.expandos["code"],
                                                                                       m.wv.expandos["point"]))
        return tables

    def sync_to_numpy(self):
        if self.device.type != "cpu":
            for name, array in self.arrays.items():
                array[...] = self.tensors[name].cpu().numpy()

    def __exit__(self, *exc):
        self.sync_to_numpy()
        return False
