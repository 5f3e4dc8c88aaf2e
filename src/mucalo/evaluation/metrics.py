"""The whole evaluation of one set of predictions: bias fit, resolution, combination, headline metrics.

:func:`headline_metrics` is cheap enough with ``n_bootstrap=0, fit_bootstrap=0`` (a few ms for 10⁴ events)
to be called every epoch on the monitoring fold, as the paper's Fig. 7a Mean Improvement is.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from mucalo.evaluation._stats import as_energy_pair, bin_index
from mucalo.evaluation.bias import BiasCorrection, BinnedMeans, binned_means, fit_line
from mucalo.evaluation.config import EvaluationConfig
from mucalo.evaluation.exceptions import EvaluationError
from mucalo.evaluation.resolution import (
    ResolutionCurve,
    binned_resolution,
    fixed_energies,
    fixed_point_resolution,
)

__all__ = ["HEADLINE_KEYS", "Evaluation", "evaluate_predictions", "headline_metrics"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Scalar headline metrics, all in percent; each has a ``<key>_err`` companion (None without bootstrap).
HEADLINE_KEYS = (
    "mean_improvement",
    "worst_combined_resolution",
    "resolution_at_1tev",
    "resolution_at_3tev",
    "combined_resolution_at_1tev",
    "combined_resolution_at_3tev",
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Evaluation:
    """Everything one evaluation produced.

    Attributes:
        correction: the bias correction used (fitted here, or the one passed in).
        fit_points: the binned means it was fitted to; None when the correction was passed in.
        curve: resolution per bin or fixed point, with bootstrap uncertainties when asked for.
        corrected: (N,) bias-corrected predictions of all input events, GeV.
        metrics: the headline metrics (see :func:`headline_metrics`).
    """

    correction: BiasCorrection
    fit_points: BinnedMeans | None
    curve: ResolutionCurve
    corrected: FloatArray
    metrics: dict[str, Any]


def _summary(curve: ResolutionCurve) -> dict[str, float]:
    return {
        "mean_improvement": curve.mean_improvement,
        "worst_combined_resolution": curve.worst_combined,
        "resolution_at_1tev": 100.0 * curve.interpolate(1000.0),
        "resolution_at_3tev": 100.0 * curve.interpolate(3000.0),
        "combined_resolution_at_1tev": 100.0 * curve.interpolate(1000.0, which="combined"),
        "combined_resolution_at_3tev": 100.0 * curve.interpolate(3000.0, which="combined"),
    }


def _nan_metrics(binning: str, n_events: int) -> dict[str, Any]:
    metrics: dict[str, Any] = {"binning": binning, "n_events": n_events, "n_points": 0, "n_bootstrap": 0}
    for key in HEADLINE_KEYS:
        metrics[key] = float("nan")
        metrics[f"{key}_err"] = None
    metrics["bias_fit"] = {
        "slope": float("nan"),
        "offset": float("nan"),
        "slope_err": None,
        "offset_err": None,
    }
    return metrics


def _resolution(
    true: FloatArray,
    corrected: FloatArray,
    *,
    binning: Literal["bins", "fixed"],
    energies: FloatArray | None,
    cfg: EvaluationConfig,
) -> ResolutionCurve:
    if binning == "fixed":
        assert energies is not None
        return fixed_point_resolution(true, corrected, energies_gev=energies, k_per_gev=cfg.tracker_k_per_gev)
    return binned_resolution(
        true, corrected, edges_gev=cfg.resolution_edges_gev, k_per_gev=cfg.tracker_k_per_gev
    )


def evaluate_predictions(
    true_energy: npt.ArrayLike,
    prediction: npt.ArrayLike,
    *,
    correction: BiasCorrection | None = None,
    binning: Literal["bins", "fixed"] = "bins",
    config: EvaluationConfig | None = None,
    n_bootstrap: int | None = None,
    fit_bootstrap: int | None = None,
    seed: int | None = None,
) -> Evaluation:
    """Bias-correct, compute the resolution curve and the headline metrics of one set of predictions.

    Args:
        true_energy: (N,) true energies, GeV.
        prediction: (N,) raw predictions, GeV (single model or ensemble).
        correction: a correction fitted on validation data (test use); None fits one on these data.
        binning: "bins" = resolution in ``config.resolution_bins`` bins (validation); "fixed" = one point
            per distinct true energy in ``config.fixed_range_gev`` (fixed-energy test data).
        config: binning, tracker and bootstrap defaults.
        n_bootstrap: resamples of the whole pipeline (events drawn with replacement, bias refitted
            unless ``correction`` is given) for the per-point and metric uncertainties; default
            ``config.metric_bootstrap``; 0 = no uncertainties.
        fit_bootstrap: resamples per bias-fit bin for the nominal fit; default ``config.fit_bootstrap``;
            0 = standard error of the mean (the bootstrap replicas always use that).
        seed: seed of both bootstraps; default ``config.seed``.

    Raises:
        EvaluationError: bad inputs, too few events, or a failed bias fit.
    """
    cfg = config or EvaluationConfig()
    true, pred = as_energy_pair(true_energy, prediction, where="evaluation")
    rng = np.random.default_rng(cfg.seed if seed is None else seed)
    n_resamples = cfg.metric_bootstrap if n_bootstrap is None else n_bootstrap
    fit_resamples = cfg.fit_bootstrap if fit_bootstrap is None else fit_bootstrap
    energies = fixed_energies(true, energy_range_gev=cfg.fixed_range_gev) if binning == "fixed" else None

    fit_points = None
    if correction is None and binning == "fixed":
        logger.warning(
            "fitting the bias correction on fixed-energy data: the fit's x is the bin centre, which the "
            "fixed energies do not sit on; pass the correction fitted on validation data instead"
        )
    if correction is None:
        fit_points = binned_means(true, pred, edges_gev=cfg.fit_edges_gev, n_bootstrap=fit_resamples, rng=rng)
        correction = fit_line(fit_points)
    corrected = correction.apply(pred)
    curve = _resolution(true, corrected, binning=binning, energies=energies, cfg=cfg)
    if int(np.isfinite(curve.calorimeter).sum()) == 0:
        unit = "fixed-energy point" if binning == "fixed" else "resolution bin"
        msg = f"evaluation: no {unit} has ≥ 2 events"
        raise EvaluationError(msg)
    metrics: dict[str, Any] = {
        "binning": binning,
        "n_events": int(true.size),
        "n_points": int(np.isfinite(curve.calorimeter).sum()),
        "n_bootstrap": 0,
        **_summary(curve),
        "bias_fit": correction.to_dict(),
    }
    for key in HEADLINE_KEYS:
        metrics[f"{key}_err"] = None
    if n_resamples > 0:
        curve, metrics = _bootstrap(
            true,
            pred,
            curve,
            metrics,
            fixed_correction=correction if fit_points is None else None,
            binning=binning,
            energies=energies,
            cfg=cfg,
            n_resamples=n_resamples,
            rng=rng,
        )
    return Evaluation(
        correction=correction, fit_points=fit_points, curve=curve, corrected=corrected, metrics=metrics
    )


def _bootstrap(
    true: FloatArray,
    pred: FloatArray,
    curve: ResolutionCurve,
    metrics: dict[str, Any],
    *,
    fixed_correction: BiasCorrection | None,
    binning: Literal["bins", "fixed"],
    energies: FloatArray | None,
    cfg: EvaluationConfig,
    n_resamples: int,
    rng: np.random.Generator,
) -> tuple[ResolutionCurve, dict[str, Any]]:
    """Resample the events, redo fit and resolution, and take standard deviations over the replicas."""
    # Events outside every bin never contribute; drop them once instead of in every replica.
    used = bin_index(true, cfg.fit_edges_gev) >= 0
    if binning == "fixed":
        used |= (true >= cfg.fixed_range_gev[0]) & (true <= cfg.fixed_range_gev[1])
    else:
        used |= bin_index(true, cfg.resolution_edges_gev) >= 0
    true, pred = true[used], pred[used]
    calo_rows, combined_rows, summary_rows = [], [], []
    failures = 0
    for _ in range(n_resamples):
        pick = rng.integers(0, true.size, size=true.size)
        t, p = true[pick], pred[pick]
        correction = fixed_correction
        if correction is None:
            try:
                points = binned_means(t, p, edges_gev=cfg.fit_edges_gev, n_bootstrap=0, rng=rng)
                correction = fit_line(points, quiet=True)  # repeated events give zero-spread bins
            except EvaluationError:
                failures += 1
                continue
        replica = _resolution(t, correction.apply(p), binning=binning, energies=energies, cfg=cfg)
        calo_rows.append(replica.calorimeter)
        combined_rows.append(replica.combined)
        summary_rows.append([_summary(replica)[key] for key in HEADLINE_KEYS])
    if failures:
        logger.warning("bootstrap: the bias fit failed in %d of %d replicas (skipped)", failures, n_resamples)
    metrics = dict(metrics, n_bootstrap=len(summary_rows))
    if len(summary_rows) < 2:
        return curve, metrics
    with warnings.catch_warnings():
        # A point empty in every replica gives an all-NaN column: its error stays NaN, quietly.
        warnings.simplefilter("ignore", RuntimeWarning)
        calo_err = np.nanstd(np.array(calo_rows), axis=0, ddof=1)
        combined_err = np.nanstd(np.array(combined_rows), axis=0, ddof=1)
        summary_err = np.nanstd(np.array(summary_rows), axis=0, ddof=1)
    for key, err in zip(HEADLINE_KEYS, summary_err, strict=True):
        metrics[f"{key}_err"] = float(err) if math.isfinite(err) else None
    return curve.with_errors(calo_err, combined_err), metrics


def headline_metrics(
    true_energy: npt.ArrayLike,
    prediction: npt.ArrayLike,
    *,
    correction: BiasCorrection | None = None,
    binning: Literal["bins", "fixed"] = "bins",
    config: EvaluationConfig | None = None,
    n_bootstrap: int | None = None,
    fit_bootstrap: int | None = None,
    seed: int | None = None,
    on_failure: Literal["raise", "nan"] = "raise",
) -> dict[str, Any]:
    """Headline metrics of one set of predictions (arguments as :func:`evaluate_predictions`).

    For per-epoch monitoring pass ``n_bootstrap=0, fit_bootstrap=0, on_failure="nan"``.

    Returns:
        A JSON-ready dict (NaN where undefined): ``mean_improvement`` (%), ``worst_combined_resolution``
        (%), ``resolution_at_1tev`` and ``resolution_at_3tev`` (calorimeter, %, linear interpolation of
        the points; NaN outside them), ``combined_resolution_at_1tev``/``_3tev`` (%), each with a
        ``<key>_err`` bootstrap standard deviation (None without bootstrap); ``bias_fit`` = {slope,
        offset, slope_err, offset_err}; ``binning``, ``n_events``, ``n_points``, ``n_bootstrap``.

    Raises:
        EvaluationError: as :func:`evaluate_predictions`, unless ``on_failure="nan"``, which returns the
            dict with NaN values instead (an early-epoch model may predict a constant).
    """
    try:
        return evaluate_predictions(
            true_energy,
            prediction,
            correction=correction,
            binning=binning,
            config=config,
            n_bootstrap=n_bootstrap,
            fit_bootstrap=fit_bootstrap,
            seed=seed,
        ).metrics
    except EvaluationError as err:
        if on_failure == "raise":
            raise
        logger.warning("headline metrics undefined: %s", err)
        return _nan_metrics(binning, int(np.size(true_energy)))
