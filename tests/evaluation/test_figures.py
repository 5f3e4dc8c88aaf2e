"""Every figure is written as a non-empty PNG and PDF (small data, to stay fast)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from evaluation_samples import TEST_ENERGIES, make_sample

from mucalo.detector import Detector
from mucalo.errors import DataFormatError, MissingDataError
from mucalo.evaluation import BiasCorrection, evaluate_predictions, permutation_importance
from mucalo.evaluation.figures import (
    plot_event_display,
    plot_importance,
    plot_models_compared,
    plot_training_history,
    read_history_csv,
    standard_figures,
)


def assert_images(paths: list[Path]) -> None:
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    png, pdf = paths
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(png)
    assert image.shape[0] > 200
    assert image.shape[1] > 200
    # Not a blank canvas: some pixels differ from the background.
    assert image[..., :3].std() > 0.01
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert pdf.stat().st_size > 1000


@pytest.fixture(scope="module")
def small() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    sample = make_sample(rng.uniform(50.0, 8000.0, 1500), rng)
    return sample.true_energy, sample.prediction


def test_standard_figures(tmp_path: Path, small: tuple[np.ndarray, np.ndarray]) -> None:
    true, pred = small
    evaluation = evaluate_predictions(true, pred, n_bootstrap=10, fit_bootstrap=50)
    figures = standard_figures(true, pred, evaluation, out_dir=tmp_path, prefix="val_")
    assert set(figures) == {
        "response",
        "fractional_error",
        "corrected_response",
        "ratio_distributions",
        "resolution",
    }
    for paths in figures.values():
        assert paths[0].name.startswith("val_")
        assert_images(paths)


def test_fixed_point_figures(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    sample = make_sample(np.repeat(TEST_ENERGIES, 40), rng)
    evaluation = evaluate_predictions(
        sample.true_energy,
        sample.prediction,
        correction=BiasCorrection(0.85, 120.0),
        binning="fixed",
        n_bootstrap=5,
    )
    figures = standard_figures(sample.true_energy, sample.prediction, evaluation, out_dir=tmp_path)
    assert_images(figures["ratio_distributions"])
    assert_images(figures["resolution"])


def test_models_compared(tmp_path: Path, small: tuple[np.ndarray, np.ndarray]) -> None:
    true, pred = small
    rng = np.random.default_rng(5)
    worse = pred + rng.normal(0.0, 0.2 * true)
    curves = {
        "nominal": evaluate_predictions(true, pred, n_bootstrap=5, fit_bootstrap=0).curve,
        "energy sums": evaluate_predictions(true, worse, n_bootstrap=5, fit_bootstrap=0).curve,
    }
    assert_images(plot_models_compared(curves, out_dir=tmp_path))
    assert_images(plot_models_compared(curves, out_dir=tmp_path, name="combined", which="combined"))


def test_importance_figure(tmp_path: Path, small: tuple[np.ndarray, np.ndarray]) -> None:
    true, _ = small
    rng = np.random.default_rng(6)
    features = np.column_stack([true / 100 + rng.normal(0, 5, true.size), rng.normal(size=(true.size, 3))])
    result = permutation_importance(lambda f: 100.0 * f[:, 0] + f[:, 1], features, true, n_repeats=2)
    assert_images(plot_importance(result, out_dir=tmp_path, top=3))


def test_training_history(tmp_path: Path) -> None:
    lines = ["model,epoch,train_loss,val_loss,lr,beta1,mean_improvement"]
    for model in (0, 1):
        for epoch in range(1, 8):
            lines.append(
                f"{model},{epoch},{1 / epoch:.4f},{1.1 / epoch:.4f},{1e-3 * epoch:.5f},0.9,{10 + epoch}"
            )
    lines.append("1,8,0.1,0.12,0.001,0.95,")  # a missing MI is allowed
    path = tmp_path / "history.csv"
    path.write_text("\n".join(lines) + "\n")
    history = read_history_csv(path)
    assert history["model"].tolist().count("1") == 8
    assert np.isnan(history["mean_improvement"][-1])
    assert_images(plot_training_history(history, out_dir=tmp_path / "figs"))


def test_training_history_errors(tmp_path: Path) -> None:
    with pytest.raises(MissingDataError, match="training history not found"):
        read_history_csv(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("epoch,train_loss\n1,0.5\n")
    with pytest.raises(DataFormatError, match=r"bad\.csv: expected columns .*missing \['model'\]"):
        read_history_csv(bad)


def test_event_display(tmp_path: Path, detector: Detector) -> None:
    rng = np.random.default_rng(8)
    layer = np.arange(detector.n_layers)
    track = detector.flat_index(layer, np.full_like(layer, 16), np.full_like(layer, 15))
    halo = rng.integers(0, detector.n_cells, 300)
    cell = np.concatenate([track, halo])
    energy = np.concatenate([rng.exponential(0.05, track.size), rng.exponential(0.5, halo.size)])
    assert_images(plot_event_display(cell, energy, detector, out_dir=tmp_path, title="μ⁻, 1000 GeV"))
    with pytest.raises(DataFormatError, match="cell has 350 entries but energy has 3"):
        plot_event_display(cell, energy[:3], detector, out_dir=tmp_path)
