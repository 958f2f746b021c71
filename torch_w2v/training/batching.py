"""From encoded sentences to training batches on the host: downsampling, reduced windows, strided buckets.

(The token pipeline's :class:`TokenBatch` is the chunk's sentences as they are: its step draws all of
this itself, per sentence in text order; see the end of this module.)

The CPU steps (fused, torch on CPU) train these batches; :mod:`.device_batches` is the same algorithm
made on the training device for the GPU steps.

For one chunk of whole sentences this module does, vectorised:

1. downsampling: token ``t`` is kept when ``sample_int[t] >= U`` with ``U`` uniform in [0, 2**32);
2. reduced windows: each kept centre draws ``b`` uniform in [0, window) and uses ``w = window - b``
   (``shrink_windows=False``: ``w = window``); contexts are the kept tokens of the same sentence at
   distance 1..w, so dropped tokens do not count towards the distance (as gensim);
3. bucketing by ``w``: centres sharing a window size form dense ``(B, 2w)`` context tables, so no slot
   is wasted on a shorter window (only sentence ends leave masked slots);
4. striding: batch ``t`` of a bucket holds its centres ``t, t + n_batches, t + 2 n_batches, ...``, so
   the centres of one step are far apart in the text and their windows do not overlap. Updating
   neighbouring centres in one step is what costs a plain large-batch SGD its quality (measured on the
   benchmark corpus: 13.4% analogies with 1,024 consecutive centres per step, 16.3% strided; gensim 15.7%).

Batches come out in an order that interleaves the buckets, each tagged with the fraction of the chunk
done before it, from which the host pipeline (:mod:`.pipelines`) computes its learning rate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Batch:
    centres: torch.Tensor    # (B,) int64 word ids (0 in padded slots); contiguous, as every field
    contexts: torch.Tensor   # (B, 2w) int64 word ids (0 in masked slots): the index dtype, so no step converts
    mask: torch.Tensor       # (B, 2w) float32: 1 for a real context, 0 past a sentence end or padding
    position: float          # fraction of the chunk done before this batch, in [0, 1)
    lr: float = 0.0          # its learning rate (set by the host pipeline from the schedule)

    def materialize(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(centres (B,), contexts (B, 2w), mask (B, 2w))``, as :meth:`~.device_batches.PlanBatch.materialize`."""
        return self.centres, self.contexts, self.mask


@dataclass
class HostChunk:
    items: list              # Batch objects in training order
    kept: int                # tokens kept after downsampling


def offsets(w: int, device=None) -> torch.Tensor:
    """``[-w, ..., -1, 1, ..., w]`` as int64, shape (2w,)."""
    return torch.cat([torch.arange(-w, 0, device=device), torch.arange(1, w + 1, device=device)])


def sentence_numbers(lengths, dtype=torch.int64, device=None) -> torch.Tensor:
    """(N,) the sentence of each token, from the sentences' token counts ``lengths`` (S,)."""
    lengths = torch.as_tensor(lengths, dtype=torch.int64, device=device)
    return torch.repeat_interleave(torch.arange(len(lengths), dtype=dtype, device=device), lengths)


def keep_after_downsampling(ids: torch.Tensor, sample_int: torch.Tensor | None,
                            generator: torch.Generator) -> torch.Tensor:
    """Boolean (N,) mask of the tokens that survive downsampling (all when ``sample_int`` is None)."""
    if sample_int is None:
        return torch.ones(len(ids), dtype=torch.bool)
    draw = torch.randint(0, 2**32, (len(ids),), generator=generator, dtype=torch.int64)         # (N,)
    return sample_int[ids] >= draw


def window_sizes(n: int, window: int, shrink_windows: bool, generator: torch.Generator) -> torch.Tensor:
    """(n,) effective window per centre: ``window - b``, ``b`` uniform in [0, window); or ``window``."""
    if shrink_windows:
        return window - torch.randint(0, window, (n,), generator=generator)
    return torch.full((n,), window, dtype=torch.int64)


def make_chunk(ids: torch.Tensor, sentence_of: torch.Tensor, *,
               sample_int: torch.Tensor | None, window: int, shrink_windows: bool, batch_size: int,
               generator: torch.Generator) -> HostChunk:
    """Turn the tokens ``ids`` (N,) of whole sentences (``sentence_of`` (N,) sentence numbers) into batches."""
    keep = keep_after_downsampling(ids, sample_int, generator)
    ids, sentence_of = ids[keep].to(torch.int64), sentence_of[keep]                                # (n,)
    n = len(ids)
    wsize = window_sizes(n, window, shrink_windows, generator)
    zero = torch.zeros((), dtype=torch.int64)
    pieces = []
    for w in range(1, window + 1):
        pos = torch.nonzero(wsize == w).squeeze(-1)                                                # (n_w,)
        if len(pos) == 0:
            continue
        n_batches = -(-len(pos) // batch_size)
        per_batch = -(-len(pos) // n_batches)
        padded = torch.full((n_batches * per_batch,), -1, dtype=torch.int64)
        padded[: len(pos)] = pos
        # (n_batches, per_batch): row t = pos[t::n_batches]; contiguous, so every batch below is a dense
        # slice the steps hand to C or index with as it is (no per-step copy on the training thread)
        table = padded.view(per_batch, n_batches).t().contiguous()
        real = table >= 0
        table = table.clamp(min=0)
        cpos = table[..., None] + offsets(w)                                                      # (nb, q, 2w)
        inside = (cpos >= 0) & (cpos < n)
        cpos.clamp_(0, max(n - 1, 0))
        valid = inside & (sentence_of[cpos] == sentence_of[table][..., None]) & real[..., None]
        contexts = torch.where(valid, ids[cpos], zero)                                            # (nb, q, 2w)
        centres = torch.where(real, ids[table], zero)                                             # (nb, q)
        mask = valid.to(torch.float32)
        for t in range(n_batches):
            pieces.append(((t + 0.5) / n_batches, Batch(centres[t], contexts[t], mask[t], 0.0)))
    pieces.sort(key=lambda item: item[0])
    batches = []
    for i, (_, batch) in enumerate(pieces):
        batch.position = i / len(pieces)
        batches.append(batch)
    return HostChunk(batches, n)


@dataclass
class TokenPiece:
    """A run of whole sentences of the encoded corpus, trained by one call of the token step."""
    ids: np.ndarray          # (N,) uint16 or int32 token ids (corpus.id_dtype): a view of the encoded corpus
    bounds: np.ndarray       # (S + 1,) int64: sentence s is ids[bounds[s]:bounds[s + 1]]; bounds[0] == 0
    lr_start: float = 0.0    # the learning rate at its first token, falling linearly ...
    lr_end: float = 0.0      # ... to this after its last (set by the token pipeline from the schedule)


@dataclass
class TokenBatch:
    """One chunk of the token pipeline: a piece of each part of the epoch, handed whole to a step that draws
    downsampling, windows and noise itself. Each piece goes to its own thread (gensim's ``corpus_file``
    workers each train their part of the file)."""
    pieces: list             # [TokenPiece], at most one per part


def token_piece(ids: np.ndarray, lengths, lr_start: float = 0.0, lr_end: float = 0.0) -> TokenPiece:
    """The :class:`TokenPiece` of the tokens ``ids`` (N,) of sentences of ``lengths`` (S,) tokens."""
    bounds = np.zeros(len(lengths) + 1, dtype=np.int64)                                          # (S + 1,)
    np.cumsum(lengths, out=bounds[1:])
    return TokenPiece(np.ascontiguousarray(ids), bounds, lr_start, lr_end)
