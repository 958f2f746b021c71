"""Shared fixtures: gensim's bundled corpora, read once per session and copied per test.

Without a GPU, Triton kernels run under Triton's interpreter: ``TRITON_INTERPRET=1`` is set here, before
any test imports the Triton step (triton.jit reads it when the kernel is defined).
"""
import copy
import logging
import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
from gensim.models.word2vec import LineSentence
from gensim.test.utils import datapath

logging.getLogger("torch_w2v").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def _lee_sentences():
    return list(LineSentence(datapath("lee_background.cor")))


@pytest.fixture
def lee_sentences(_lee_sentences):
    """gensim's Lee background corpus (~300 sentences, ~60k words) as a fresh list of token lists."""
    return copy.deepcopy(_lee_sentences)


@pytest.fixture(scope="session")
def lee_path():
    return datapath("lee_background.cor")


@pytest.fixture
def toy_sentences():
    """A tiny corpus with two topics, every word frequent enough for min_count=1..5."""
    animals = ["cat", "dog", "mouse", "horse", "cow"]
    tools = ["hammer", "saw", "drill", "wrench", "chisel"]
    sentences = []
    for i in range(200):
        group = animals if i % 2 else tools
        sentences.append([group[(i + j) % 5] for j in range(6)])
    return sentences
