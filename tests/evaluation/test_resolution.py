"""Resolution, tracker model, combination and Mean Improvement."""

from __future__ import annotations

import numpy as np
import pytest
from evaluation_samples import OFFSET, RESOLUTION, SLOPE, TEST_ENERGIES, Sample, make_sample

from mucalo.evaluation import (
    BiasCorrection,
    EvaluationError,
    binned_resolution,
    combine_resolutions,
    evaluate_predictions,
    fixed_energies,
    fixed_point_resolution,
    mean_improvement,
    tracker_resolution,
    worst_resolution,
)

TRUTH = BiasCorrection(SLOPE, OFFSET)


def test_fixed_points_recover_the_gaussian_resolution(fixed: Sample) -> None:
    result = evaluate_predictions(
        fixed.true_energy, fixed.prediction, correction=TRUTH, binning="fixed", n_bootstrap=100
    )
    curve = result.curve
    np.testing.assert_array_equal(curve.energy_gev, TEST_ENERGIES)
    assert (curve.count == 2000).all()
    assert np.isfinite(curve.calorimeter_err).all()
    # The bootstrap error is the statistical error of ~2000 events: a few per mille of σ/E = 0.25.
    assert ((curve.calorimeter_err > 0.001) & (curve.calorimeter_err < 0.01)).all()
    pulls = (curve.calorimeter - RESOLUTION) / curve.calorimeter_err
    assert np.abs(pulls).max() < 4.0, pulls
    assert abs(pulls.mean()) < 1.5  # no bias in the estimator


def test_resolution_uses_the_half_width_and_the_median_offset() -> None:
    # E_corr = E + shift exactly, plus a symmetric ±d spread: Δ = d, median offset = shift.
    true = np.full(4, 1000.0)
    corrected = 1000.0 + 30.0 + np.array([-400.0, -400.0, 400.0, 400.0])
    curve = fixed_point_resolution(true, corrected, energies_gev=[1000.0])
    p16, p84 = np.percentile(corrected, [15.865, 84.135])
    expected = np.hypot(30.0, 0.5 * (p84 - p16)) / 1000.0
    assert curve.calorimeter[0] == pytest.approx(expected)
    assert curve.half_width_gev[0] == pytest.approx(0.5 * (p84 - p16))


def test_binned_resolution_at_high_energy(continuous: Sample) -> None:
    result = evaluate_predictions(
        continuous.true_energy, continuous.prediction, correction=TRUTH, n_bootstrap=60
    )
    curve = result.curve
    assert curve.kind == "bins"
    assert curve.energy_gev.size == 20
    np.testing.assert_allclose(curve.low_gev[0], 100.0)
    np.testing.assert_allclose(curve.high_gev[-1], 4000.0)
    # Above 1 TeV the spread of true energies within a 195 GeV bin is negligible against σ = 0.25·E.
    high = curve.energy_gev > 1000.0
    pulls = (curve.calorimeter[high] - RESOLUTION) / curve.calorimeter_err[high]
    assert np.abs(pulls).max() < 4.0, pulls
    # Tracker evaluated at the bin centres.
    np.testing.assert_allclose(curve.tracker, 2e-4 * curve.energy_gev)


def test_tracker_model_is_20_percent_at_1_tev() -> None:
    assert tracker_resolution(1000.0) == pytest.approx(0.2)
    np.testing.assert_allclose(tracker_resolution([100.0, 4000.0], k_per_gev=1e-4), [0.01, 0.4])


def test_combination_on_analytic_curves() -> None:
    energy = np.linspace(100.0, 4100.0, 11)
    tracker = tracker_resolution(energy)
    calo = 0.3 * np.ones_like(energy)
    combined = combine_resolutions(calo, tracker)
    np.testing.assert_allclose(combined, calo * tracker / np.sqrt(calo**2 + tracker**2))
    assert (combined <= np.minimum(calo, tracker)).all()
    # Equal inputs: σ/√2.
    assert combine_resolutions(0.2, 0.2) == pytest.approx(0.2 / np.sqrt(2))
    expected_mi = 100.0 * np.mean(tracker - combined)
    assert mean_improvement(tracker, combined) == pytest.approx(expected_mi)
    assert worst_resolution(combined) == pytest.approx(100.0 * combined.max())


def test_tracker_only_gives_zero_improvement() -> None:
    tracker = tracker_resolution(np.linspace(100.0, 4000.0, 20))
    useless = np.full_like(tracker, np.inf)
    combined = combine_resolutions(useless, tracker)
    np.testing.assert_array_equal(combined, tracker)
    assert mean_improvement(tracker, combined) == 0.0


def test_perfect_calorimeter_gives_the_largest_improvement(fixed: Sample) -> None:
    tracker = tracker_resolution(TEST_ENERGIES)
    largest = 100.0 * tracker.mean()
    assert mean_improvement(tracker, combine_resolutions(np.zeros_like(tracker), tracker)) == largest
    # Through the whole pipeline: exact predictions at the fixed points (no refit: the fit's x is the
    # bin centre, which fixed energies at the bins' lower edges do not sit on).
    perfect = evaluate_predictions(
        fixed.true_energy,
        fixed.true_energy,
        correction=BiasCorrection.identity(),
        binning="fixed",
        n_bootstrap=0,
    )
    assert perfect.metrics["mean_improvement"] == pytest.approx(largest)
    assert perfect.metrics["worst_combined_resolution"] == 0.0
    # Any real calorimeter does worse, and a better one does better than a worse one.
    rng = np.random.default_rng(5)
    mis = []
    for resolution in (0.1, 0.3, 1.0):
        sample = make_sample(fixed.true_energy, rng, resolution=resolution)
        mis.append(
            evaluate_predictions(
                sample.true_energy, sample.prediction, correction=TRUTH, binning="fixed", n_bootstrap=0
            ).metrics["mean_improvement"]
        )
    assert largest > mis[0] > mis[1] > mis[2] > 0.0


def test_fixed_energies_rejects_a_continuous_sample(continuous: Sample) -> None:
    with pytest.raises(EvaluationError, match=r"expected 1–200 distinct true energies in \[100.0, 4100.0\]"):
        fixed_energies(continuous.true_energy, energy_range_gev=(100.0, 4100.0))


def test_fixed_points_match_float32_energies() -> None:
    true = np.repeat(np.float32([100.0, 4100.0]), 3).astype(np.float64) * (1 + 1e-8)
    curve = fixed_point_resolution(true, true, energies_gev=[100.0, 4100.0])
    assert curve.count.tolist() == [3, 3]


def test_empty_bins_are_nan_and_skipped() -> None:
    true = np.array([150.0, 160.0, 170.0, 3900.0, 3950.0])
    curve = binned_resolution(true, true, edges_gev=[100.0, 200.0, 300.0, 4000.0])
    assert np.isnan(curve.calorimeter[1])
    assert np.isfinite(curve.calorimeter[[0, 2]]).all()
    assert np.isfinite(curve.mean_improvement)
    assert curve.to_dict()["calorimeter"][1] is None
