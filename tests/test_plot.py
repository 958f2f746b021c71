"""torch_w2v.plot: projections and pictures written to real files."""
import numpy as np
import pytest

from torch_w2v import plot

pytest.importorskip("matplotlib")


def test_pca_projection_separates_two_directions():
    rng = np.random.default_rng(0)
    a = np.array([1.0, 0, 0, 0]) + 0.01 * rng.normal(size=(10, 4))
    b = np.array([0, 1.0, 0, 0]) + 0.01 * rng.normal(size=(10, 4))
    xy = plot.project_2d(np.vstack([a, b]).astype(np.float32))
    assert xy.shape == (20, 2)
    gap = np.linalg.norm(xy[:10].mean(0) - xy[10:].mean(0))
    assert gap > 10 * max(xy[:10].std(0).max(), xy[10:].std(0).max())


def test_loss_plot_is_a_png_file(tmp_path):
    out = tmp_path / "loss.png"
    plot.plot_losses([3.0, 2.0, 1.5], out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_picture_format_names_the_supported_ones(tmp_path):
    with pytest.raises(ValueError, match="end the file name with one of: .*\\.png"):
        plot.check_format(tmp_path / "map.docx")
