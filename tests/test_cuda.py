"""CUDA smoke tests: the torch engine on a GPU gives a model like the CPU's. Skipped without CUDA."""
import numpy as np
import pytest
import torch

from torch_w2v import Word2Vec

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


@pytest.mark.parametrize("sg, hs, negative", [(1, 0, 5), (0, 0, 5), (1, 1, 0), (0, 1, 5)])
def test_training_on_cuda_works_in_every_mode(lee_sentences, sg, hs, negative):
    model = Word2Vec(lee_sentences, sg=sg, hs=hs, negative=negative, epochs=2, device="cuda")
    assert model.device == "cuda"
    assert isinstance(model.wv.vectors, np.ndarray) and np.isfinite(model.wv.vectors).all()
    assert len(model.wv.most_similar("attacks", topn=5)) == 5


def test_cuda_quality_matches_gensims_sanity_check(lee_sentences):
    """gensim's test_sg_neg check on the GPU (16384-centre steps are capped by the small-corpus rule)."""
    model = Word2Vec(sg=1, window=4, hs=0, negative=15, min_count=5, epochs=10, seed=1, device="cuda")
    model.build_vocab(lee_sentences)
    model.train(lee_sentences, total_examples=model.corpus_count, epochs=model.epochs)
    ranked = [w for w, _ in model.wv.most_similar("attacks", topn=len(model.wv))]
    assert ranked.index("bombings") < 50


def test_fused_engine_is_refused_on_cuda(lee_sentences):
    with pytest.raises(RuntimeError, match="runs on the CPU only"):
        Word2Vec(lee_sentences, sg=1, epochs=1, device="cuda", engine="fused")


@pytest.mark.parametrize("engine", ["triton", "torch"])
@pytest.mark.parametrize("sg, hs, negative, cbow_mean", [(1, 0, 5, 1), (0, 0, 5, 1), (0, 0, 5, 0), (1, 1, 0, 1),
                                                          (0, 1, 5, 1)])
def test_every_mode_trains_on_cuda_with_each_gpu_step(lee_sentences, engine, sg, hs, negative, cbow_mean):
    model = Word2Vec(lee_sentences, sg=sg, hs=hs, negative=negative, cbow_mean=cbow_mean, epochs=2,
                     device="cuda", engine=engine, compute_loss=True)
    assert np.isfinite(model.wv.vectors).all() and model.get_latest_training_loss() > 0


def test_cuda_default_is_the_triton_step_on_the_device_pipeline():
    from torch_w2v.training import steps
    assert steps.select("auto", torch.device("cuda"))[0].name == "triton"


@pytest.mark.parametrize("sg", [1, 0])
def test_triton_on_cuda_passes_gensims_sanity_check(lee_sentences, sg):
    settings = (dict(sg=1, window=4, hs=0, negative=15, epochs=10) if sg else
                dict(sg=0, cbow_mean=1, alpha=0.05, window=5, hs=0, negative=15, epochs=10, sample=0))
    model = Word2Vec(lee_sentences, min_count=5, seed=1, device="cuda", engine="triton", **settings)
    ranked = [w for w, _ in model.wv.most_similar("attacks", topn=len(model.wv))]
    assert ranked.index("bombings") < 50
