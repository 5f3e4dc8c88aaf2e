"""Evaluate a trained run on a dataset (and a fixed-energy test set): ``mucalo evaluate`` (paper §4, §7).

:func:`evaluate_run` predicts with every model and the ensemble on the validation folds (the hold-out
fold, see :func:`~mucalo.evaluation.run_inputs.validation_plan`), fits the bias correction there and
stores it in the run (``RUN/bias_correction.json``), applies it unchanged to the test data, and writes
``metrics.json``, the figures (paper Figs. 2, 7–14), ``report.html`` and ``provenance.json`` to ``out``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from mucalo.config import config_to_dict
from mucalo.data import MuonDataset, open_dataset
from mucalo.evaluation.bias import BiasCorrection
from mucalo.evaluation.comparison import compare_runs
from mucalo.evaluation.config import EvaluationConfig
from mucalo.evaluation.exceptions import EvaluationError
from mucalo.evaluation.importance import PermutationImportance
from mucalo.evaluation.metrics import HEADLINE_KEYS, Evaluation, evaluate_predictions
from mucalo.evaluation.resolution import ResolutionCurve, fixed_energies
from mucalo.evaluation.run_importance import run_importance
from mucalo.evaluation.run_inputs import (
    ENSEMBLE,
    ValidationPlan,
    model_labels,
    save_bias_correction,
    validation_plan,
)
from mucalo.evaluation.run_report import pick_event_displays, prepare_out_dir, write_run_outputs
from mucalo.training import RunPrediction, TrainedRun, load_run

__all__ = ["LabelEvaluation", "evaluate_run"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Binning = Literal["bins", "fixed"]
PathLike = str | os.PathLike[str]


@dataclass(frozen=True, kw_only=True, slots=True)
class LabelEvaluation:
    """One model's (or the ensemble's) predictions on one data set and their evaluation.

    Attributes:
        label: ``model_{m}`` or ``ensemble``.
        true_energy: (N,) GeV.
        prediction: (N,) raw predictions, GeV.
        evaluation: the result; None when it failed (see ``error``).
        error: why the evaluation failed, else None.
        folds: the folds the events come from.
    """

    label: str
    true_energy: FloatArray
    prediction: FloatArray
    evaluation: Evaluation | None
    error: str | None
    folds: tuple[int, ...]

    def metrics(self) -> dict[str, Any]:
        """Headline metrics, the resolution curve and the folds; NaN metrics and ``error`` on failure."""
        if self.evaluation is None:
            failed: dict[str, Any] = {key: float("nan") for key in HEADLINE_KEYS}
            failed.update({f"{key}_err": None for key in HEADLINE_KEYS})
            failed.update(
                n_events=int(self.true_energy.size),
                bias_fit={"slope": float("nan"), "offset": float("nan")},
                error=self.error,
            )
            return {**failed, "folds": list(self.folds)}
        return {
            **self.evaluation.metrics,
            "curve": self.evaluation.curve.to_dict(),
            "folds": list(self.folds),
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class _Settings:
    """What every prediction and evaluation of one :func:`evaluate_run` call shares."""

    config: EvaluationConfig
    n_bootstrap: int
    batch_size: int
    device: str


def _open(data: MuonDataset | PathLike) -> MuonDataset:
    return data if isinstance(data, MuonDataset) else open_dataset(data)


def _evaluate(
    label: str,
    true: FloatArray,
    pred: FloatArray,
    *,
    folds: tuple[int, ...],
    correction: BiasCorrection | None,
    binning: Binning,
    settings: _Settings,
) -> LabelEvaluation:
    try:
        evaluation = evaluate_predictions(
            true,
            pred,
            correction=correction,
            binning=binning,
            config=settings.config,
            n_bootstrap=settings.n_bootstrap,
        )
    except EvaluationError as err:
        logger.warning("%s: evaluation failed: %s", label, err)
        return LabelEvaluation(
            label=label, true_energy=true, prediction=pred, evaluation=None, error=str(err), folds=folds
        )
    return LabelEvaluation(
        label=label, true_energy=true, prediction=pred, evaluation=evaluation, error=None, folds=folds
    )


def _split(prediction: RunPrediction, labels: Sequence[str]) -> dict[str, FloatArray]:
    """label → (N,) predictions of every muon in ``prediction``."""
    rows = {label: prediction.per_model[m] for m, label in enumerate(labels)}
    return {**rows, ENSEMBLE: prediction.ensemble}


def _validate(
    run: TrainedRun,
    data: MuonDataset,
    plan: ValidationPlan,
    settings: _Settings,
    *,
    labels: Sequence[str] | None = None,
) -> tuple[dict[str, LabelEvaluation], RunPrediction]:
    """Predict ``plan.folds`` once and evaluate each label on its own folds, fitting its correction."""
    prediction = run.predict(data, list(plan.folds), batch_size=settings.batch_size, device=settings.device)
    by_label = _split(prediction, model_labels(run))
    results = {}
    for label in labels or list(by_label):
        chosen = np.isin(prediction.fold, plan.label_folds[label])
        results[label] = _evaluate(
            label,
            prediction.true_energy[chosen],
            by_label[label][chosen],
            folds=plan.label_folds[label],
            correction=None,
            binning="bins",
            settings=settings,
        )
    return results, prediction


def _test_binning(true: FloatArray, config: EvaluationConfig) -> Binning:
    """One point per generated energy for a fixed-energy sample; true-energy bins otherwise."""
    try:
        fixed_energies(true, energy_range_gev=config.fixed_range_gev)
    except EvaluationError:
        logger.warning("test data: not a fixed-energy sample; its resolution is given in true-energy bins")
        return "bins"
    return "fixed"


def _apply_to_test(
    run: TrainedRun,
    test: MuonDataset,
    validation: Mapping[str, LabelEvaluation],
    settings: _Settings,
) -> dict[str, LabelEvaluation]:
    prediction = run.predict(test, None, batch_size=settings.batch_size, device=settings.device)
    binning = _test_binning(prediction.true_energy, settings.config)
    folds = tuple(range(test.n_folds))
    results = {}
    for label, pred in _split(prediction, model_labels(run)).items():
        fitted = validation[label].evaluation
        if fitted is None:
            results[label] = LabelEvaluation(
                label=label,
                true_energy=prediction.true_energy,
                prediction=pred,
                evaluation=None,
                error="no bias correction: its fit on the validation data failed",
                folds=folds,
            )
            continue
        results[label] = _evaluate(
            label,
            prediction.true_energy,
            pred,
            folds=folds,
            correction=fitted.correction,
            binning=binning,
            settings=settings,
        )
    return results


def _compare(
    main_name: str,
    main: LabelEvaluation,
    others: Sequence[TrainedRun | PathLike],
    data: MuonDataset,
    settings: _Settings,
) -> tuple[list[dict[str, Any]], dict[str, ResolutionCurve], dict[str, Any]]:
    """Table rows (paper Table 1), resolution curves (Fig. 14) and per-run details of the ensembles."""
    metrics = {main_name: main.metrics()}
    curves = {main_name: main.evaluation.curve} if main.evaluation is not None else {}
    details: dict[str, Any] = {}
    for other in others:
        run = other if isinstance(other, TrainedRun) else load_run(other)
        name = run.path.name
        while name in metrics:
            name = f"{name}'"
        plan = validation_plan(run, data)
        results, _ = _validate(run, data, plan, settings, labels=[ENSEMBLE])
        ensemble = results[ENSEMBLE]
        metrics[name] = ensemble.metrics()
        if ensemble.evaluation is not None:
            curves[name] = ensemble.evaluation.curve
        details[name] = {
            "run": str(run.path),
            "model_kind": run.model_config.kind,
            "n_models": len(run.models),
            "validation": plan.to_dict(),
        }
    return compare_runs(metrics, reference=main_name), curves, details


def evaluate_run(
    run: TrainedRun | PathLike,
    data: MuonDataset | PathLike,
    *,
    out: PathLike,
    test: MuonDataset | PathLike | None = None,
    compare: Sequence[TrainedRun | PathLike] = (),
    config: EvaluationConfig | None = None,
    n_bootstrap: int | None = None,
    importance: bool = True,
    importance_events: int = 2000,
    importance_repeats: int = 1,
    event_displays: int = 3,
    batch_size: int = 256,
    device: str = "cpu",
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate a trained run: metrics, bias correction, figures and the HTML report.

    Args:
        run: a run directory (or a loaded :class:`TrainedRun`).
        data: the validation dataset, normally the one the run was trained on (its hold-out fold is used).
        out: output directory for ``metrics.json``, ``report.html``, ``provenance.json``, ``figures/``.
        test: a fixed-energy test dataset (every fold is used; one resolution point per energy).
        compare: other runs evaluated on the same ``data`` (paper Table 1, Fig. 14); their ensembles only,
            each with a bias correction fitted in memory (not stored in their directories).
        config: binning, tracker and bootstrap settings (default: the paper's).
        n_bootstrap: resamples for the metric uncertainties; default ``config.metric_bootstrap``.
        importance: compute the permutation importance of the features (models that read features).
        importance_events: at most this many validation muons for the importance (a seeded subsample).
        importance_repeats: shuffles per feature.
        event_displays: number of single-muon event displays (Fig. 2); 0 for none.
        batch_size: muons per forward pass.
        device: where the models run (``cpu``, ``cuda``, ``cuda:N``).
        overwrite: replace an earlier evaluation in ``out``.
        progress: progress bars on stderr (TTY only).

    Returns:
        The content of ``metrics.json``: ``validation`` and ``test`` map ``model_{m}`` and ``ensemble``
        to headline metrics (``mean_improvement``, ``worst_combined_resolution``, ``resolution_at_1tev``,
        ``resolution_at_3tev`` in %, ``bias_fit`` {slope, offset}, the resolution ``curve``, …);
        ``validation_set`` says which folds were used and why; ``importance``, ``comparison``,
        ``figures`` and ``files`` complete it.

    Raises:
        ConfigError: ``out`` exists (without ``overwrite``), or the data lack the run's features.
        MissingDataError, CheckpointError: the run or a dataset cannot be read.
    """
    cfg = config or EvaluationConfig()
    resamples = cfg.metric_bootstrap if n_bootstrap is None else n_bootstrap
    trained = run if isinstance(run, TrainedRun) else load_run(run)
    validation_data = _open(data)
    test_data = None if test is None else _open(test)
    out_dir = Path(out)
    prepare_out_dir(out_dir, overwrite=overwrite)
    settings = _Settings(config=cfg, n_bootstrap=resamples, batch_size=batch_size, device=device)

    plan = validation_plan(trained, validation_data)
    logger.info("validation on %s folds %s (%s)", validation_data.path, list(plan.folds), plan.kind)
    validation, prediction = _validate(trained, validation_data, plan, settings)
    stored = save_bias_correction(
        trained.path,
        {k: None if v.evaluation is None else v.evaluation.correction for k, v in validation.items()},
        errors={k: v.error for k, v in validation.items() if v.error is not None},
        fitted_on={"data": str(validation_data.path), **plan.to_dict()},
        config=cfg,
    )
    logger.info("bias corrections written to %s", stored.path)
    test_results = None if test_data is None else _apply_to_test(trained, test_data, validation, settings)

    ranking: PermutationImportance | None = None
    importance_note = "not asked for"
    if importance and trained.model_config.uses_features:
        ranking, _ = run_importance(
            trained,
            validation_data,
            plan.label_folds[ENSEMBLE],
            max_events=importance_events,
            n_repeats=importance_repeats,
            seed=cfg.seed,
            batch_size=batch_size,
            device=device,
            progress=progress,
        )
        importance_note = f"ensemble, {min(importance_events, validation[ENSEMBLE].true_energy.size)} muons"
    elif importance:
        importance_note = f"the {trained.model_config.kind!r} models read no features"

    comparison, curves, compared = (
        _compare(trained.path.name, validation[ENSEMBLE], compare, validation_data, settings)
        if compare
        else (None, {}, {})
    )
    in_ensemble = np.isin(prediction.fold, plan.label_folds[ENSEMBLE])
    ensemble_eval = validation[ENSEMBLE].evaluation
    displays = pick_event_displays(
        validation_data,
        index=prediction.index[in_ensemble],
        true_energy=prediction.true_energy[in_ensemble],
        shown=prediction.ensemble[in_ensemble] if ensemble_eval is None else ensemble_eval.corrected,
        corrected=ensemble_eval is not None,
        count=event_displays,
    )
    summary: dict[str, Any] = {
        "schema_version": 1,
        "run": str(trained.path),
        "model_kind": trained.model_config.kind,
        "data": str(validation_data.path),
        "test_data": None if test_data is None else str(test_data.path),
        "labels": [*model_labels(trained), ENSEMBLE],
        "ensemble_weights": trained.weights.tolist(),
        "validation_set": plan.to_dict(),
        "validation": {k: v.metrics() for k, v in validation.items()},
        "test": None if test_results is None else {k: v.metrics() for k, v in test_results.items()},
        "bias_correction": str(stored.path),
        "importance": None if ranking is None else ranking.to_dict(),
        "importance_note": importance_note,
        "comparison": comparison,
        "compared_runs": compared or None,
        "evaluation_config": config_to_dict(cfg),
        "n_bootstrap": resamples,
    }
    return write_run_outputs(
        out_dir,
        summary=summary,
        run=trained,
        validation=validation,
        test=test_results,
        importance=ranking,
        curves=curves,
        displays=displays,
        detector=validation_data.detector,
        provenance={
            "run": str(trained.path),
            "data": str(validation_data.path),
            "test": None if test_data is None else str(test_data.path),
            "compare": [str(c.path if isinstance(c, TrainedRun) else c) for c in compare],
            "evaluation": config_to_dict(cfg),
            "n_bootstrap": resamples,
            "importance": importance,
            "importance_events": importance_events,
            "importance_repeats": importance_repeats,
            "event_displays": event_displays,
            "batch_size": batch_size,
            "device": device,
        },
    )
