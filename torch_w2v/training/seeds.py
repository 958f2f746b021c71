"""Every random draw of training, keyed by numbers: the run's seed, then (epoch, chunk, stream).

A chunk draws from generators seeded by (run seed, epoch, chunk, stream) alone, so it draws the same
numbers whether the run was interrupted or not, and a resumed run repeats an uninterrupted one exactly.
Changing any constant here changes every trained vector (``tests/test_engine.py`` pins them).
"""
from __future__ import annotations

import torch

TRAIN_STREAM = 12345        # the run seed's third counter: keeps it apart from the per-chunk generators'
RANK_STRIDE = 7_777_777     # torch.distributed: rank r trains with the run seed + r * RANK_STRIDE
PIPELINE_STREAM = 0         # a chunk's draws made by its pipeline: downsampling, reduced windows
STEP_STREAM = 1             # a chunk's draws made by the step: noise words (the token step: all of them)


def mix_seed(seed: int, a: int = 0, b: int = 0, c: int = 0) -> int:
    """One 63-bit seed from a user seed and up to three counters (the one seed-mixing rule)."""
    return (int(seed) * 1_000_003 + int(a) * 7_919 + int(b) * 104_729 + int(c)) % (2**63 - 1)


def run_seed(model_seed: int, train_calls: int, rank: int = 0) -> int:
    """The seed of one ``train()`` call: the model's seed, the number of calls before it, the rank."""
    return mix_seed(model_seed, train_calls, 0, TRAIN_STREAM) + RANK_STRIDE * int(rank)


def chunk_generator(seed: int, epoch: int, chunk: int, stream: int, device=None) -> torch.Generator:
    """The generator of one chunk's ``stream`` (:data:`PIPELINE_STREAM` or :data:`STEP_STREAM`) on ``device``."""
    return torch.Generator(device=device or "cpu").manual_seed(mix_seed(seed, epoch, chunk, stream))
