"""Permutation importance of a feature-only run's inputs, overall and per true-energy bin (paper Fig. 13).

Each model of the run is scored on the hold-out fold with one feature column shuffled at a time
(:func:`mucalo.evaluation.permutation_importance`); the study reports the mean ± standard error over
models. The score is the training loss without its Huber thresholds, ⟨w(E)·(pred − E)²/E⟩ (paper Eqs.
1 and 3), as the authors scored importance with their loss (reference-code-notes §8); a plain squared
fractional error would let the lowest energies, where fractional errors are largest, dominate the
overall value.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from mucalo.data import MuonDataset
from mucalo.errors import ConfigError
from mucalo.evaluation import PermutationImportance, json_ready, permutation_importance
from mucalo.training import TrainedRun, energy_weight

__all__ = ["ImportanceSummary", "loss_metric", "mean_and_error_over_models", "run_importance"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True, slots=True)
class ImportanceSummary:
    """Importance of each feature, mean ± standard error over the run's models.

    Attributes:
        feature_names: (F,) the model's inputs.
        overall: (F,) importance on the whole hold-out fold; overall_err: (F,).
        edges_gev: (B + 1,) true-energy bins, GeV.
        per_bin: (F, B) importance per bin (NaN where a bin has < 2 muons); per_bin_err: (F, B).
        n_models: models averaged.
        n_repeats: shuffles per feature and model.
    """

    feature_names: tuple[str, ...]
    overall: FloatArray
    overall_err: FloatArray
    edges_gev: FloatArray
    per_bin: FloatArray
    per_bin_err: FloatArray
    n_models: int
    n_repeats: int

    def ranking(self) -> list[str]:
        """Feature names from most to least important overall."""
        return self.as_permutation_importance().ranking()

    def as_permutation_importance(self) -> PermutationImportance:
        """The averages as the evaluation stage's :class:`PermutationImportance` (for its figure)."""
        return PermutationImportance(
            feature_names=self.feature_names,
            overall=self.overall,
            overall_err=self.overall_err,
            edges_gev=self.edges_gev,
            per_bin=self.per_bin,
            per_bin_err=self.per_bin_err,
            nominal_overall=float("nan"),
            nominal_per_bin=np.full(self.edges_gev.size - 1, np.nan),
            n_repeats=self.n_repeats,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN becomes null)."""
        return {
            "feature_names": list(self.feature_names),
            "ranking": self.ranking(),
            "overall": json_ready(self.overall.tolist()),
            "overall_err": json_ready(self.overall_err.tolist()),
            "edges_gev": self.edges_gev.tolist(),
            "per_bin": json_ready(self.per_bin.tolist()),
            "per_bin_err": json_ready(self.per_bin_err.tolist()),
            "n_models": self.n_models,
            "n_repeats": self.n_repeats,
            "metric": "relative increase of <w(E) (pred - E)^2 / E> (paper Eqs. 1, 3) on the hold-out fold",
        }


def loss_metric(true_energy: FloatArray, prediction: FloatArray) -> float:
    """⟨w(E)·(pred − E)²/E⟩: the paper's loss (Eqs. 1, 3) without Huberisation, GeV (lower is better)."""
    weight = energy_weight(torch.from_numpy(np.asarray(true_energy, dtype=np.float64))).numpy()
    return float(np.mean(weight * (prediction - true_energy) ** 2 / true_energy))


def mean_and_error_over_models(values: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Mean and standard error over axis 0, ignoring NaN (NaN where no value; error 0 for one value)."""
    array = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(array)
    count = finite.sum(axis=0)
    total = np.where(finite, array, 0.0).sum(axis=0)
    mean = np.divide(total, count, out=np.full(count.shape, np.nan), where=count > 0)
    squares = np.where(finite, (array - mean) ** 2, 0.0).sum(axis=0)
    variance = np.divide(squares, count - 1, out=np.zeros(count.shape), where=count > 1)
    error = np.sqrt(np.divide(variance, count, out=np.zeros(count.shape), where=count > 0))
    return mean, np.where(count > 0, error, np.nan)


def run_importance(
    run: TrainedRun,
    dataset: MuonDataset,
    *,
    fold: int,
    edges_gev: Sequence[float],
    n_repeats: int,
) -> ImportanceSummary:
    """Permutation importance of every input of a feature-only run on one fold.

    Args:
        run: a finished run of ``hl`` models.
        dataset: its data.
        fold: the fold scored (the hold-out fold).
        edges_gev: true-energy bin edges of the per-bin values, GeV.
        n_repeats: shuffles per feature and model.

    Raises:
        ConfigError: the run's models read the grid (only feature-only models are supported).
    """
    if run.model_config.uses_grid:
        kind = run.model_config.kind
        msg = f"{run.path}: permutation importance needs a feature-only (hl) run, got kind {kind!r}"
        raise ConfigError(msg)
    features = _model_features(run, dataset, fold)
    true = dataset.targets(fold).astype(np.float64)
    results = [
        permutation_importance(
            _predictor(model),
            features,
            true,
            edges_gev=edges_gev,
            feature_names=run.feature_columns,
            metric=loss_metric,
            n_repeats=n_repeats,
            seed=m,
        )
        for m, model in enumerate(run.models)
    ]
    overall, overall_err = mean_and_error_over_models([r.overall for r in results])
    per_bin, per_bin_err = mean_and_error_over_models([r.per_bin for r in results])
    return ImportanceSummary(
        feature_names=tuple(run.feature_columns),
        overall=overall,
        overall_err=overall_err,
        edges_gev=np.asarray(edges_gev, dtype=np.float64),
        per_bin=per_bin,
        per_bin_err=per_bin_err,
        n_models=len(results),
        n_repeats=n_repeats,
    )


def _model_features(run: TrainedRun, dataset: MuonDataset, fold: int) -> npt.NDArray[np.float32]:
    """The fold's features as the run's models take them (standardised with the run's statistics)."""
    columns = dataset.feature_columns(list(run.feature_columns))
    own = dataset.standardisation.select(columns)
    if np.array_equal(own.mean, run.standardisation.mean) and np.array_equal(
        own.std, run.standardisation.std
    ):
        return dataset.features(fold, standardised=True)[:, columns]
    return run.standardisation.apply(dataset.features(fold, standardised=False)[:, columns])


def _predictor(model: torch.nn.Module) -> Any:
    @torch.no_grad()
    def predict(matrix: npt.NDArray[Any]) -> FloatArray:
        inputs = torch.from_numpy(np.ascontiguousarray(matrix, dtype=np.float32))
        return np.asarray(model(None, inputs).double().numpy(), dtype=np.float64)

    return predict
