"""The numbers a study reads off one finished run: Mean Improvements, epochs, times, dataset sizes.

Per model m (paper §3.2.4, §4): the bias correction is fitted on m's predictions of its own monitoring
fold and applied unchanged to its predictions of the hold-out fold, whose Mean Improvement is the value
reported. The paper's Tables 1, 2 and 4 instead fit and evaluate on the monitoring fold itself; that
value is kept as ``validation_mi``. The ensemble's correction is the weighted mean of the models'
slopes and offsets: for linear responses pred_m = a_m·E + b_m the ensemble Σ w_m·pred_m responds as
(Σ w_m·a_m)·E + Σ w_m·b_m, and no model has to be corrected on data another one trained on.

A bias fit can fail in two ways. When the monitoring fold has too few muons in the fit bins (fewer than
3 bins with 2 muons) nothing is known, and the model's MI is NaN (left out of the mean). When the
fit itself fails, typically because the response does not grow with energy (a model that learnt
nothing), the model's MI counts as 0, as the authors' in-training metric has it (reference-code-notes
§7.3): such a model adds nothing to the tracker.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mucalo.evaluation import (
    BiasCorrection,
    EvaluationConfig,
    EvaluationError,
    ResolutionCurve,
    evaluate_predictions,
    fit_bias_correction,
)
from mucalo.studies.predictions import RunPredictions
from mucalo.training import ModelFolds

__all__ = ["FitStatus", "RunMetrics", "quiet_evaluation", "run_metrics"]

logger = logging.getLogger(__name__)

#: Outcome of a model's bias fit: done, too few muons in the fit bins (MI NaN), or failed (MI 0).
FitStatus = Literal["ok", "too-few-muons", "failed"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RunMetrics:
    """Per-model and ensemble results of one run (MI in %, NaN where undefined).

    Attributes:
        holdout_mi: (M,) MI on the hold-out fold, bias correction from the model's monitoring fold.
        holdout_mi_uncorrected: (M,) the same without any correction.
        validation_mi: (M,) MI on the monitoring fold, corrected with a fit to that same fold (the
            paper's Tables 1, 2, 4).
        ensemble_mi: ensemble on the hold-out fold, weighted-mean correction.
        ensemble_mi_uncorrected: the same without correction.
        corrections: (M,) the fitted corrections (None where the fit failed).
        fit_status: (M,) how each model's bias fit went (see the module docstring).
        ensemble_correction: their weighted mean (None when no fit succeeded).
        ensemble_curve: resolution per bin of the corrected ensemble (for figures; None if undefined).
        epochs: (M,) epochs trained.
        training_seconds: (M,) wall time of each model's training (sum of its epochs), s.
        dataset_size: (M,) muons in each model's training + monitoring folds.
        ensemble_dataset_size: muons in the union of all models' training + monitoring folds.
        holdout_muons: muons in the hold-out fold.
    """

    holdout_mi: tuple[float, ...]
    holdout_mi_uncorrected: tuple[float, ...]
    validation_mi: tuple[float, ...]
    ensemble_mi: float
    ensemble_mi_uncorrected: float
    corrections: tuple[BiasCorrection | None, ...]
    fit_status: tuple[FitStatus, ...]
    ensemble_correction: BiasCorrection | None
    ensemble_curve: ResolutionCurve | None
    epochs: tuple[int, ...]
    training_seconds: tuple[float, ...]
    dataset_size: tuple[int, ...]
    ensemble_dataset_size: int
    holdout_muons: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (NaN stays NaN; the writer turns it into null)."""
        return {
            "holdout_mi": list(self.holdout_mi),
            "holdout_mi_uncorrected": list(self.holdout_mi_uncorrected),
            "validation_mi": list(self.validation_mi),
            "ensemble_mi": self.ensemble_mi,
            "ensemble_mi_uncorrected": self.ensemble_mi_uncorrected,
            "bias_corrections": [None if c is None else c.to_dict() for c in self.corrections],
            "bias_fit_status": list(self.fit_status),
            "ensemble_bias_correction": None
            if self.ensemble_correction is None
            else self.ensemble_correction.to_dict(),
            "epochs": list(self.epochs),
            "training_seconds": list(self.training_seconds),
            "dataset_size": list(self.dataset_size),
            "ensemble_dataset_size": self.ensemble_dataset_size,
            "holdout_muons": self.holdout_muons,
        }


@contextlib.contextmanager
def quiet_evaluation() -> Iterator[None]:
    """Silence the evaluation's per-call warnings (empty bins are routine in small folds) for the block."""
    evaluation_logger = logging.getLogger("mucalo.evaluation")
    level = evaluation_logger.level
    evaluation_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        evaluation_logger.setLevel(level)


def run_metrics(
    predictions: RunPredictions,
    *,
    folds: Sequence[ModelFolds],
    fold_sizes: Sequence[int],
    history_csv: Path,
    config: EvaluationConfig,
) -> RunMetrics:
    """Evaluate one run's predictions (see the module docstring for the definitions).

    Args:
        predictions: from :func:`mucalo.studies.predictions.predict_run`.
        folds: each model's training and monitoring folds.
        fold_sizes: muons per fold of the dataset.
        history_csv: the run's ``history.csv`` (epochs and their wall times).
        config: binning of the bias fit and the resolution.
    """
    holdout_true = predictions.holdout_true
    corrections: list[BiasCorrection | None] = []
    statuses: list[FitStatus] = []
    holdout_mi, uncorrected_mi, validation_mi = [], [], []
    with quiet_evaluation():
        for m in range(predictions.n_models):
            correction, status = _fit(predictions.monitor_true[m], predictions.monitor[m], config)
            corrections.append(correction)
            statuses.append(status)
            if correction is None:
                undefined = math.nan if status == "too-few-muons" else 0.0
                holdout_mi.append(undefined)
                validation_mi.append(undefined)
            else:
                holdout_mi.append(_mi(holdout_true, predictions.holdout[m], correction, config))
                # fitted and evaluated on the same fold: the in-training metric behind the paper's tables
                validation_mi.append(
                    _mi(predictions.monitor_true[m], predictions.monitor[m], correction, config)
                )
            uncorrected_mi.append(
                _mi(holdout_true, predictions.holdout[m], BiasCorrection.identity(), config)
            )
        ensemble_correction = _weighted_correction(corrections, predictions.weights)
        ensemble_curve = (
            None
            if ensemble_correction is None
            else _curve(holdout_true, predictions.ensemble, ensemble_correction, config)
        )
        ensemble_mi = math.nan if ensemble_curve is None else ensemble_curve.mean_improvement
        ensemble_uncorrected = _mi(holdout_true, predictions.ensemble, BiasCorrection.identity(), config)
    epochs, seconds = _history(history_csv, predictions.n_models)
    used = [{*f.train, f.monitor} for f in folds]
    return RunMetrics(
        holdout_mi=tuple(holdout_mi),
        holdout_mi_uncorrected=tuple(uncorrected_mi),
        validation_mi=tuple(validation_mi),
        ensemble_mi=float(ensemble_mi),
        ensemble_mi_uncorrected=ensemble_uncorrected,
        corrections=tuple(corrections),
        fit_status=tuple(statuses),
        ensemble_correction=ensemble_correction,
        ensemble_curve=ensemble_curve,
        epochs=epochs,
        training_seconds=seconds,
        dataset_size=tuple(sum(fold_sizes[k] for k in u) for u in used),
        ensemble_dataset_size=sum(fold_sizes[k] for k in set().union(*used)),
        holdout_muons=int(holdout_true.size),
    )


def _fit(
    true: np.ndarray, pred: np.ndarray, config: EvaluationConfig
) -> tuple[BiasCorrection | None, FitStatus]:
    edges = config.fit_edges_gev
    index = np.searchsorted(edges, true, side="right") - 1  # lower-inclusive bins, as the fit's
    inside = index[(index >= 0) & (index < edges.size - 1)]
    if int((np.bincount(inside, minlength=edges.size - 1) >= 2).sum()) < 3:
        logger.warning(
            "bias fit: fewer than 3 fit bins with 2 muons in a monitoring fold of %d muons; that model's MI "
            "is left out",
            true.size,
        )
        return None, "too-few-muons"
    try:
        return fit_bias_correction(true, pred, config=config), "ok"
    except EvaluationError as err:
        logger.warning("bias fit on a monitoring fold failed (%s); that model's MI counts as 0", err)
        return None, "failed"


def _curve(
    true: np.ndarray, pred: np.ndarray, correction: BiasCorrection, config: EvaluationConfig
) -> ResolutionCurve | None:
    """The resolution curve of the corrected predictions (None when no bin has two events)."""
    try:
        return evaluate_predictions(true, pred, correction=correction, config=config, n_bootstrap=0).curve
    except EvaluationError as err:
        logger.debug("resolution undefined: %s", err)
        return None


def _mi(true: np.ndarray, pred: np.ndarray, correction: BiasCorrection, config: EvaluationConfig) -> float:
    curve = _curve(true, pred, correction, config)
    return math.nan if curve is None else float(curve.mean_improvement)


def _weighted_correction(
    corrections: Sequence[BiasCorrection | None], weights: np.ndarray
) -> BiasCorrection | None:
    pairs = [(c, float(w)) for c, w in zip(corrections, weights, strict=True) if c is not None]
    if not pairs:
        return None
    total = sum(w for _, w in pairs)
    slope = sum(c.slope * w for c, w in pairs) / total
    offset = sum(c.offset * w for c, w in pairs) / total
    return BiasCorrection(slope, offset)


def _history(path: Path, n_models: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Epochs and summed epoch wall times per model from ``history.csv``."""
    epochs = [0] * n_models
    seconds = [0.0] * n_models
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            m = int(row["model"])
            epochs[m] += 1
            seconds[m] += float(row["seconds"])
    return tuple(epochs), tuple(seconds)
