"""Permutation importance of input features, overall and per true-energy bin (paper Fig. 13).

Model-agnostic: the model is a callable from a feature matrix to predictions. Row i of the matrix always
belongs to event i, so a hybrid model's callable may pair it with event i's grid itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mucalo.evaluation._stats import as_energy_pair, bin_index
from mucalo.evaluation.exceptions import EvaluationError
from mucalo.evaluation.serialise import json_ready

__all__ = ["PermutationImportance", "fractional_mse", "permutation_importance"]

FloatArray = npt.NDArray[np.float64]
Predict = Callable[[npt.NDArray[Any]], npt.ArrayLike]
Metric = Callable[[FloatArray, FloatArray], float]


def fractional_mse(true_energy: FloatArray, prediction: FloatArray) -> float:
    """Mean squared fractional error ⟨((pred − E)/E)²⟩, the default loss-like metric (lower is better)."""
    return float(np.mean(((prediction - true_energy) / true_energy) ** 2))


@dataclass(frozen=True, kw_only=True, slots=True)
class PermutationImportance:
    """Relative change of a metric when one feature column is shuffled.

    importance = s·(m_shuffled − m_nominal)/|m_nominal| with s = +1 for a loss (lower is better) and −1
    for a score, so a useful feature always has a positive importance and an unused one 0.

    Attributes:
        feature_names: (F,) names of the columns.
        overall: (F,) importance on all events; overall_err: (F,) std over repeats (0 with one repeat).
        edges_gev: (B + 1,) true-energy bin edges of the per-bin values, GeV.
        per_bin: (F, B) importance in each bin (NaN in bins with < 2 events); per_bin_err: (F, B).
        nominal_overall: metric of the unshuffled predictions; nominal_per_bin: (B,).
        n_repeats: shuffles per feature.
    """

    feature_names: tuple[str, ...]
    overall: FloatArray
    overall_err: FloatArray
    edges_gev: FloatArray
    per_bin: FloatArray
    per_bin_err: FloatArray
    nominal_overall: float
    nominal_per_bin: FloatArray
    n_repeats: int

    def ranking(self) -> list[str]:
        """Feature names from most to least important overall."""
        order = np.argsort(-np.nan_to_num(self.overall, nan=-np.inf), kind="stable")
        return [self.feature_names[i] for i in order]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN becomes None)."""

        def clean(values: npt.NDArray[Any]) -> Any:
            return json_ready(values.tolist())

        return {
            "feature_names": list(self.feature_names),
            "overall": clean(self.overall),
            "overall_err": clean(self.overall_err),
            "edges_gev": clean(self.edges_gev),
            "per_bin": clean(self.per_bin),
            "per_bin_err": clean(self.per_bin_err),
            "nominal_overall": self.nominal_overall,
            "nominal_per_bin": clean(self.nominal_per_bin),
            "n_repeats": self.n_repeats,
        }


def _scores(
    true: FloatArray, pred: FloatArray, groups: list[npt.NDArray[np.int64]], metric: Metric
) -> tuple[float, FloatArray]:
    per_bin = np.array([metric(true[g], pred[g]) if g.size >= 2 else np.nan for g in groups])
    return metric(true, pred), per_bin


def permutation_importance(
    predict: Predict,
    features: npt.ArrayLike,
    true_energy: npt.ArrayLike,
    *,
    edges_gev: npt.ArrayLike | None = None,
    feature_names: Sequence[str] | None = None,
    columns: Sequence[int] | None = None,
    metric: Metric = fractional_mse,
    greater_is_better: bool = False,
    n_repeats: int = 1,
    seed: int = 0,
) -> PermutationImportance:
    """Shuffle one feature column at a time and measure how much the metric degrades.

    The column is shuffled across all events (not within bins), the per-bin values then select events by
    true energy, so the per-bin numbers say how much each energy range relies on the feature.

    Args:
        predict: ``predict(features) -> (N,)`` predictions in GeV for an (N, F) feature matrix.
        features: (N, F) features as the model takes them (raw or standardised).
        true_energy: (N,) GeV.
        edges_gev: true-energy bin edges for the per-bin importance, GeV; default 8 bins of 1 TeV over
            0–8000 GeV.
        feature_names: (F,) names; default ``V[0]``, ``V[1]``, ….
        columns: indices of the columns to permute; default all (the others get NaN).
        metric: ``metric(true_energy, prediction) -> float``; default the mean squared fractional error.
        greater_is_better: True when ``metric`` is a score (e.g. Mean Improvement), False for a loss.
        n_repeats: independent shuffles per feature, averaged.
        seed: seed of the shuffles.

    Raises:
        EvaluationError: shapes disagree, the model returns the wrong shape, or the nominal metric is 0.
    """
    matrix = np.array(features, copy=True)
    true, nominal_pred = as_energy_pair(
        true_energy, np.ravel(np.asarray(predict(matrix))), where="importance"
    )
    if matrix.ndim != 2 or matrix.shape[0] != true.size:
        msg = f"importance: expected features of shape ({true.size}, F), got {matrix.shape}"
        raise EvaluationError(msg)
    n_features = matrix.shape[1]
    names = tuple(feature_names) if feature_names is not None else tuple(f"V[{i}]" for i in range(n_features))
    if len(names) != n_features:
        msg = f"importance: expected {n_features} feature names, got {len(names)}"
        raise EvaluationError(msg)
    if n_repeats < 1:
        msg = f"importance: n_repeats must be ≥ 1, got {n_repeats}"
        raise EvaluationError(msg)
    edges = np.linspace(0.0, 8000.0, 9) if edges_gev is None else np.asarray(edges_gev, dtype=np.float64)
    idx = bin_index(true, edges)
    groups = [np.flatnonzero(idx == b) for b in range(edges.size - 1)]
    nominal, nominal_bins = _scores(true, nominal_pred, groups, metric)
    if nominal == 0 or not np.isfinite(nominal):
        msg = f"importance: the nominal metric is {nominal!r}; a relative change is undefined"
        raise EvaluationError(msg)
    sign = -1.0 if greater_is_better else 1.0
    rng = np.random.default_rng(seed)
    overall = np.full((n_features, n_repeats), np.nan)
    per_bin = np.full((n_features, n_repeats, edges.size - 1), np.nan)
    for column in range(n_features) if columns is None else columns:
        original = matrix[:, column].copy()
        for repeat in range(n_repeats):
            matrix[:, column] = rng.permutation(original)
            pred = np.ravel(np.asarray(predict(matrix), dtype=np.float64))
            if pred.shape != true.shape:
                msg = f"importance: predict returned shape {pred.shape}, expected {true.shape}"
                raise EvaluationError(msg)
            shuffled, shuffled_bins = _scores(true, pred, groups, metric)
            overall[column, repeat] = sign * (shuffled - nominal) / abs(nominal)
            with np.errstate(divide="ignore", invalid="ignore"):
                per_bin[column, repeat] = sign * (shuffled_bins - nominal_bins) / np.abs(nominal_bins)
        matrix[:, column] = original
    # One repeat has no spread: 0 for permuted columns, NaN (like the values) for the others.
    overall_err = overall.std(axis=1, ddof=1) if n_repeats > 1 else overall[:, 0] * 0.0
    per_bin_err = per_bin.std(axis=1, ddof=1) if n_repeats > 1 else per_bin[:, 0] * 0.0
    return PermutationImportance(
        feature_names=names,
        overall=overall.mean(axis=1),
        overall_err=overall_err,
        edges_gev=edges,
        per_bin=per_bin.mean(axis=1),
        per_bin_err=per_bin_err,
        nominal_overall=float(nominal),
        nominal_per_bin=nominal_bins,
        n_repeats=n_repeats,
    )
