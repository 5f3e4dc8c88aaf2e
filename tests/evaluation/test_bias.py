"""Bias correction: recovery of a known linear response, serialisation, failures."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from evaluation_samples import OFFSET, SLOPE, Sample

from mucalo.errors import ConfigError, DataFormatError
from mucalo.evaluation import (
    BiasCorrection,
    EvaluationConfig,
    EvaluationError,
    binned_means,
    fit_bias_correction,
    fit_line,
)


def test_fit_recovers_slope_and_offset(continuous: Sample) -> None:
    fit = fit_bias_correction(continuous.true_energy, continuous.prediction, n_bootstrap=0)
    assert abs(fit.slope - SLOPE) < 4 * fit.slope_err
    assert abs(fit.offset - OFFSET) < 4 * fit.offset_err
    # The errors are those of ~20 000 events, not wildly off.
    assert 1e-4 < fit.slope_err < 5e-3
    assert 0.1 < fit.offset_err < 10.0


def test_fit_with_bootstrap_agrees_with_standard_error(continuous: Sample) -> None:
    rng = np.random.default_rng(0)
    edges = EvaluationConfig().fit_edges_gev
    boot = binned_means(
        continuous.true_energy, continuous.prediction, edges_gev=edges, n_bootstrap=500, rng=rng
    )
    sem = binned_means(continuous.true_energy, continuous.prediction, edges_gev=edges, n_bootstrap=0, rng=rng)
    assert boot.count.sum() == sem.count.sum() > 19_000
    np.testing.assert_allclose(boot.mean_gev, sem.mean_gev, rtol=0, atol=(3 * sem.error_gev).max())
    np.testing.assert_allclose(boot.error_gev, sem.error_gev, rtol=0.2)


def test_fit_is_reproducible_with_seed(continuous: Sample) -> None:
    a = fit_bias_correction(continuous.true_energy, continuous.prediction, n_bootstrap=50, seed=3)
    b = fit_bias_correction(continuous.true_energy, continuous.prediction, n_bootstrap=50, seed=3)
    assert a == b


def test_apply_inverts_the_response() -> None:
    correction = BiasCorrection(0.8, 50.0)
    energy = np.array([100.0, 1000.0, 4000.0])
    np.testing.assert_allclose(correction.apply(correction.response(energy)), energy)
    np.testing.assert_allclose(BiasCorrection.identity().apply(energy), energy)


def test_dict_round_trip_through_json() -> None:
    correction = BiasCorrection(0.93, -12.5, 0.002, 1.5)
    data = json.loads(json.dumps(correction.to_dict()))
    assert data == {"slope": 0.93, "offset": -12.5, "slope_err": 0.002, "offset_err": 1.5}
    assert BiasCorrection.from_dict(data) == correction
    assert BiasCorrection.from_dict({"slope": 1, "offset": 0}) == BiasCorrection.identity()


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"slope": 1.0}, r"run/bias\.json: expected keys .*missing \['offset'\]"),
        ({"slope": 1.0, "offset": 0.0, "gain": 2.0}, r"unknown \['gain'\]"),
        ({"slope": "1.0", "offset": 0.0}, r"run/bias\.json\.slope: expected a number, got '1\.0'"),
        ([1.0, 0.0], r"expected a JSON object"),
    ],
)
def test_from_dict_rejects_bad_content(data: object, match: str) -> None:
    with pytest.raises(DataFormatError, match=match):
        BiasCorrection.from_dict(data, where="run/bias.json")


@pytest.mark.parametrize("slope", [0.0, -1.0, float("nan"), float("inf")])
def test_non_positive_slope_is_refused(slope: float) -> None:
    with pytest.raises(ConfigError, match=r"bias_correction\.slope: expected a finite positive number"):
        BiasCorrection(slope, 0.0)


def test_falling_response_cannot_be_fitted(continuous: Sample) -> None:
    with pytest.raises(EvaluationError, match="expected a finite slope above"):
        fit_bias_correction(continuous.true_energy, 5000.0 - continuous.prediction, n_bootstrap=0)


def test_constant_prediction_cannot_be_fitted(continuous: Sample) -> None:
    with pytest.raises(EvaluationError, match="expected a finite slope above"):
        fit_bias_correction(
            continuous.true_energy, np.full(continuous.true_energy.size, 700.0), n_bootstrap=0
        )


def test_too_few_bins(continuous: Sample) -> None:
    true = np.array([150.0, 160.0, 250.0, 260.0])
    with pytest.raises(EvaluationError, match=r"at least 3 bins with ≥ 2 events each, found 2"):
        fit_bias_correction(true, true, n_bootstrap=0)


def test_non_finite_prediction_is_named() -> None:
    with pytest.raises(EvaluationError, match=r"prediction has 1 non-finite value\(s\) out of 3"):
        fit_bias_correction([100.0, 200.0, 300.0], [100.0, np.nan, 300.0], n_bootstrap=0)


def test_zero_spread_bin_warns_unless_quiet(caplog: pytest.LogCaptureFixture) -> None:
    """A bin of identical predictions is floored to the smallest spread; bootstrap replicas log it quietly."""
    true = np.array([100.0, 100.0, 300.0, 310.0, 500.0, 520.0])
    pred = np.array([90.0, 90.0, 280.0, 300.0, 480.0, 530.0])  # the first bin has zero spread
    points = binned_means(
        true, pred, edges_gev=[50, 200, 400, 600], n_bootstrap=0, rng=np.random.default_rng(0)
    )
    with caplog.at_level(logging.DEBUG, logger="mucalo.evaluation.bias"):
        loud = fit_line(points)
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "zero spread" in r.message]
        caplog.clear()
        quiet = fit_line(points, quiet=True)
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert any("zero spread" in r.message for r in caplog.records)  # still there at debug level
    assert len(warnings) == 1
    assert quiet == loud
