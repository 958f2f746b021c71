"""Pictures of a model: a labelled 2-D map of word vectors, and the training loss per epoch.

matplotlib is an optional dependency (``pip install torch-w2v[plot]``) and t-SNE needs scikit-learn;
both are imported only when a picture is drawn, and their absence raises an ImportError naming the pip
command. Figures are drawn with matplotlib's object API (no pyplot, so no global state and no display
needed) and written atomically, in the format of the file's extension (``.png``, ``.pdf``, ``.svg``, ...).
"""
from __future__ import annotations

import os

import numpy as np

from .persist import atomic_write

METHODS = ("pca", "tsne")


def require_matplotlib():
    """Import matplotlib or raise an ImportError that says how to install it."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError:
        raise ImportError("plotting needs matplotlib, an optional dependency of torch-w2v: "
                          "pip install torch-w2v[plot]  (or: pip install matplotlib)") from None
    return matplotlib


def require_sklearn():
    """Import scikit-learn's TSNE or raise an ImportError that says how to install it."""
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise ImportError("--method tsne needs scikit-learn: pip install scikit-learn  "
                          "(or use --method pca, which needs only numpy)") from None
    return TSNE


def check_format(path) -> str:
    """The picture format of ``path``'s extension; ValueError listing the supported ones if unknown."""
    require_matplotlib()
    fmt = os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
    fig, _ = _figure(size=(1, 1))
    supported = fig.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise ValueError(f"cannot write a picture in the format of the extension {fmt or '(none)'!r}; end the "
                         f"file name with one of: {', '.join('.' + f for f in sorted(supported))}.")
    return fmt


def project_2d(vectors, method: str = "pca", seed: int = 0) -> np.ndarray:
    """2-D coordinates of ``vectors`` (N, D), for a map where nearby points have similar directions.

    Rows are scaled to unit length first (word2vec's similarity is the cosine). ``"pca"``: the projection
    on the two main axes of the centred rows (numpy SVD, deterministic up to the axes' signs, which are
    fixed here). ``"tsne"``: scikit-learn's t-SNE with cosine distances, perplexity ``min(30, (N-1)/3)``.

    Returns
    -------
    numpy.ndarray
        ``(N, 2)`` float64.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"a 2-D map needs at least 2 vectors, got an array of shape {x.shape}.")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1.0)
    if method == "tsne":
        TSNE = require_sklearn()
        if len(x) < 4:
            raise ValueError(f"t-SNE needs at least 4 words, got {len(x)}; use --method pca.")
        perplexity = float(min(30.0, max(1.0, (len(x) - 1) / 3)))
        return TSNE(n_components=2, perplexity=perplexity, metric="cosine", init="pca",
                    random_state=seed).fit_transform(x).astype(np.float64)
    x = x - x.mean(axis=0)                                       # (N, D)
    _, _, vt = np.linalg.svd(x, full_matrices=False)              # vt: (min(N, D), D)
    axes = vt[:2]
    if len(axes) < 2:                                             # D == 1: no second axis
        axes = np.vstack([axes, np.zeros_like(axes)])
    axes = axes * np.where(axes.sum(axis=1, keepdims=True) < 0, -1.0, 1.0)  # stable signs across runs
    return x @ axes.T                                             # (N, 2)


def plot_words(kv, words, path, method: str = "pca", title: str | None = None, seed: int = 0,
               dpi: int = 150) -> str:
    """Draw ``words`` of the KeyedVectors ``kv`` as a labelled 2-D map and write it to ``path``.

    Parameters
    ----------
    kv : gensim.models.KeyedVectors
    words : list of str
        The words to show; each must be in ``kv`` (KeyError listing those that are not).
    path : str or os.PathLike
        The picture; its extension picks the format (``.png``, ``.pdf``, ``.svg``, ...).
    method : {"pca", "tsne"}, optional
        See :func:`project_2d`.

    Returns
    -------
    str
        ``path``.
    """
    words = list(words)
    missing = [w for w in words if w not in kv.key_to_index]
    if missing:
        raise KeyError(f"not in the vocabulary: {' '.join(missing)}")
    require_matplotlib()
    xy = project_2d(np.stack([kv[w] for w in words]), method=method, seed=seed)   # (N, 2)
    fig, ax = _figure(size=(10, 8))
    ax.scatter(xy[:, 0], xy[:, 1], s=12, color="tab:blue", alpha=0.7)
    for (x, y), word in zip(xy, words):
        ax.annotate(word, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=8)
    ax.set_title(title or f"{len(words)} words, {method.upper()} of {kv.vector_size}-d vectors")
    ax.set_xticks([])
    ax.set_yticks([])
    return _save(fig, path, dpi)


def plot_losses(losses, path, title: str | None = None, dpi: int = 150) -> str:
    """Draw the training loss of each epoch (``model.epoch_losses``) and write it to ``path``."""
    losses = [float(x) for x in losses]
    if not losses:
        raise ValueError("no loss to plot: train with compute_loss=True (the CLI's --plot-loss does).")
    require_matplotlib()
    fig, ax = _figure(size=(6, 4))
    epochs = np.arange(1, len(losses) + 1)
    ax.plot(epochs, losses, marker="o")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (sum over the epoch)")
    ax.set_xticks(epochs if len(epochs) <= 20 else np.linspace(1, len(epochs), 10, dtype=int))
    ax.set_title(title or "torch_w2v training loss")
    ax.grid(alpha=0.3)
    return _save(fig, path, dpi)


def _figure(size):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def _save(fig, path, dpi) -> str:
    path = os.fspath(path)
    fmt = check_format(path)
    fig.tight_layout()
    with atomic_write(path, kind="picture") as handle:
        fig.savefig(handle, format=fmt, dpi=dpi)
    return path
