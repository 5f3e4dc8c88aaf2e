"""Headline metrics: keys, units, uncertainties, speed and failure modes."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
from evaluation_samples import OFFSET, SLOPE, Sample

from mucalo.evaluation import (
    HEADLINE_KEYS,
    BiasCorrection,
    EvaluationConfig,
    EvaluationError,
    evaluate_predictions,
    headline_metrics,
    json_ready,
    write_metrics_json,
)


def test_headline_metrics_without_bootstrap(continuous: Sample) -> None:
    metrics = headline_metrics(continuous.true_energy, continuous.prediction, n_bootstrap=0, fit_bootstrap=0)
    for key in HEADLINE_KEYS:
        assert math.isfinite(metrics[key]), key
        assert metrics[f"{key}_err"] is None
    assert metrics["binning"] == "bins"
    assert metrics["n_points"] == 20
    assert metrics["n_events"] == continuous.true_energy.size
    assert metrics["bias_fit"]["slope"] == pytest.approx(SLOPE, rel=0.01)
    assert metrics["bias_fit"]["offset"] == pytest.approx(OFFSET, abs=10.0)
    # σ_calo ≈ 25 %, so (percent units) the calorimeter resolution at 3 TeV is about 25.
    assert metrics["resolution_at_3tev"] == pytest.approx(25.0, abs=2.0)
    assert metrics["combined_resolution_at_1tev"] == pytest.approx(
        100 * (0.25 * 0.2) / math.hypot(0.25, 0.2), abs=1.5
    )
    assert 0 < metrics["mean_improvement"] < 100 * 2e-4 * 2050  # below the perfect-calorimeter bound


def test_bootstrap_gives_uncertainties(continuous: Sample) -> None:
    metrics = headline_metrics(continuous.true_energy, continuous.prediction, n_bootstrap=30, fit_bootstrap=0)
    assert metrics["n_bootstrap"] == 30
    for key in HEADLINE_KEYS:
        assert 0 < metrics[f"{key}_err"] < 2.0, key


def test_fast_enough_for_every_epoch(continuous: Sample) -> None:
    start = time.perf_counter()
    for _ in range(5):
        headline_metrics(continuous.true_energy, continuous.prediction, n_bootstrap=0, fit_bootstrap=0)
    assert (time.perf_counter() - start) / 5 < 0.5


def test_correction_passed_in_is_used_unchanged(continuous: Sample) -> None:
    correction = BiasCorrection(1.0, 0.0)
    result = evaluate_predictions(
        continuous.true_energy, continuous.prediction, correction=correction, n_bootstrap=5
    )
    assert result.correction is correction
    assert result.fit_points is None
    assert result.metrics["bias_fit"] == correction.to_dict()
    np.testing.assert_array_equal(result.corrected, continuous.prediction)


def test_bias_correction_improves_a_shifted_model(continuous: Sample) -> None:
    # Unit slope and a 300 GeV shift: the correction removes a pure bias. (A slope below 1 would
    # also shrink the spread, so the uncorrected resolution is not always worse.)
    shifted = (continuous.prediction - OFFSET) / SLOPE + 300.0
    with_fit = headline_metrics(continuous.true_energy, shifted, n_bootstrap=0, fit_bootstrap=0)
    without = headline_metrics(
        continuous.true_energy, shifted, correction=BiasCorrection.identity(), n_bootstrap=0
    )
    assert with_fit["bias_fit"]["offset"] == pytest.approx(300.0, abs=15.0)
    assert with_fit["mean_improvement"] > without["mean_improvement"] + 1.0


def test_failure_raises_or_gives_nan(continuous: Sample) -> None:
    constant = np.full(continuous.true_energy.size, 500.0)
    with pytest.raises(EvaluationError, match="bias fit"):
        headline_metrics(continuous.true_energy, constant, n_bootstrap=0, fit_bootstrap=0)
    metrics = headline_metrics(
        continuous.true_energy, constant, n_bootstrap=0, fit_bootstrap=0, on_failure="nan"
    )
    assert math.isnan(metrics["mean_improvement"])
    assert set(HEADLINE_KEYS) <= set(metrics)
    json.dumps(json_ready(metrics), allow_nan=False)


def test_config_changes_binning_and_tracker(continuous: Sample) -> None:
    config = EvaluationConfig(resolution_bins=10, tracker_k_per_gev=1e-4, fit_bootstrap=0, metric_bootstrap=0)
    result = evaluate_predictions(continuous.true_energy, continuous.prediction, config=config)
    assert result.curve.energy_gev.size == 10
    np.testing.assert_allclose(result.curve.tracker, 1e-4 * result.curve.energy_gev)


def test_config_is_validated() -> None:
    from mucalo.errors import ConfigError

    with pytest.raises(ConfigError, match=r"evaluation\.fit_bins: expected a positive integer, got 0"):
        EvaluationConfig(fit_bins=0)
    with pytest.raises(ConfigError, match=r"evaluation\.fit_range_gev"):
        EvaluationConfig(fit_range_gev=(4000.0, 100.0))


def test_metrics_json_is_strict(tmp_path, continuous: Sample) -> None:  # type: ignore[no-untyped-def]
    metrics = {
        "model_0": {"mean_improvement": float("nan"), "curve": np.array([1.0, np.inf]), "n": np.int64(3)}
    }
    path = write_metrics_json(tmp_path / "metrics.json", metrics)
    data = json.loads(path.read_text())
    assert data == {"model_0": {"curve": [1.0, None], "mean_improvement": None, "n": 3}}
