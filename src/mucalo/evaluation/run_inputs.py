"""What evaluation, prediction and export need of a trained run beyond its models.

The model inputs of a dataset as the run's models take them, which folds of a dataset are fair to evaluate
on, and the run's stored bias correction (``RUN/bias_correction.json``, written by :mod:`.runs`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from mucalo.data import MuonDataset, Standardisation
from mucalo.errors import DataFormatError
from mucalo.evaluation.bias import BiasCorrection
from mucalo.evaluation.config import EvaluationConfig
from mucalo.evaluation.serialise import json_ready
from mucalo.io.atomic import write_json_atomic
from mucalo.training import TrainedRun

__all__ = [
    "BIAS_CORRECTION_FILE",
    "ENSEMBLE",
    "StoredCorrection",
    "ValidationPlan",
    "input_standardisation",
    "is_training_data",
    "load_bias_correction",
    "model_features",
    "model_labels",
    "save_bias_correction",
    "validation_plan",
]

#: File of the bias corrections inside a run directory.
BIAS_CORRECTION_FILE = "bias_correction.json"
#: Label of the weighted ensemble beside the per-model labels ``model_{m}``.
ENSEMBLE = "ensemble"
_SCHEMA_VERSION = 1


def model_labels(run: TrainedRun) -> list[str]:
    """``model_{m}`` for every model of the run, in the order of ``run.models``."""
    return [f"model_{folds.model}" for folds in run.folds]


def input_standardisation(run: TrainedRun, data: MuonDataset) -> Standardisation | None:
    """Statistics to apply to ``data``'s raw features for the run's models; None: the dataset's own agree.

    Mirrors what :meth:`TrainedRun.predict` does, so features built here match its predictions.
    """
    own = data.standardisation.select(data.feature_columns(list(run.feature_columns)))
    same = np.array_equal(own.mean, run.standardisation.mean) and np.array_equal(
        own.std, run.standardisation.std
    )
    return None if same else run.standardisation


def model_features(run: TrainedRun, data: MuonDataset, folds: Sequence[int]) -> npt.NDArray[np.float32]:
    """(N, F) standardised features the run's models read, for ``folds`` in that order, then muon order.

    The row order is that of :meth:`TrainedRun.predict` for the same folds.
    """
    columns = data.feature_columns(list(run.feature_columns))
    stats = input_standardisation(run, data)
    parts = []
    for fold in folds:
        if stats is None:
            parts.append(data.features(fold, standardised=True)[:, columns])
        else:
            parts.append(stats.apply(data.features(fold, standardised=False)[:, columns]))
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def is_training_data(run: TrainedRun, data: MuonDataset) -> bool:
    """Whether ``data`` is (a copy of) the dataset the run was trained on: same fold sizes and features.

    A LUMIN export of the training dataset counts as the training data (its folds are the same muons).
    """
    return bool(
        list(data.fold_sizes) == list(run.dataset.get("fold_sizes", []))
        and list(data.feature_names) == list(run.dataset.get("feature_names", []))
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class ValidationPlan:
    """Which folds of a dataset each model and the ensemble are evaluated on.

    Attributes:
        kind: "holdout" (the fold no model trained or monitored on), "monitoring" (no hold-out fold:
            each model on its own monitoring fold, the ensemble on all of them) or "all" (the dataset is
            not the one the run was trained on, so every fold is unseen).
        folds: every fold to predict, increasing.
        label_folds: label (``model_{m}`` or ``ensemble``) → the folds its evaluation uses.
        note: one sentence for the metrics and the report saying what this means.
    """

    kind: Literal["holdout", "monitoring", "all"]
    folds: tuple[int, ...]
    label_folds: Mapping[str, tuple[int, ...]]
    note: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": self.kind,
            "folds": list(self.folds),
            "label_folds": {k: list(v) for k, v in self.label_folds.items()},
            "note": self.note,
        }


def validation_plan(run: TrainedRun, data: MuonDataset) -> ValidationPlan:
    """The fairest validation folds of ``data`` for the run (see :class:`ValidationPlan`)."""
    labels = model_labels(run)
    if not is_training_data(run, data):
        every = tuple(range(data.n_folds))
        return ValidationPlan(
            kind="all",
            folds=every,
            label_folds=dict.fromkeys([*labels, ENSEMBLE], every),
            note=(
                f"{data.path} is not the dataset the run was trained on (fold sizes or feature names "
                "differ), so all its folds are used"
            ),
        )
    holdout = run.holdout_fold
    if holdout is not None and 0 <= holdout < data.n_folds:
        chosen = (int(holdout),)
        return ValidationPlan(
            kind="holdout",
            folds=chosen,
            label_folds=dict.fromkeys([*labels, ENSEMBLE], chosen),
            note=f"hold-out fold {holdout}: no model trained or monitored on it",
        )
    monitors = {label: (int(f.monitor),) for label, f in zip(labels, run.folds, strict=True)}
    union = tuple(sorted({f.monitor for f in run.folds}))
    return ValidationPlan(
        kind="monitoring",
        folds=union,
        label_folds={**monitors, ENSEMBLE: union},
        note=(
            "the run has no hold-out fold: each model is evaluated on its own monitoring fold (which "
            "chose its best epoch, so slightly optimistic); the ensemble on all monitoring folds, on "
            "which its other members trained (biased)"
        ),
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredCorrection:
    """The content of ``RUN/bias_correction.json``.

    Attributes:
        corrections: label → correction; None where the fit failed (reason in ``errors``).
        errors: label → why its fit failed.
        fitted_on: data path, folds and validation kind of the fit.
        path: the file it was read from or written to.
    """

    corrections: Mapping[str, BiasCorrection | None]
    errors: Mapping[str, str]
    fitted_on: Mapping[str, Any]
    path: Path

    def get(self, label: str) -> BiasCorrection | None:
        """The correction of ``label`` (``model_{m}`` or ``ensemble``), None when absent or failed."""
        return self.corrections.get(label)


def save_bias_correction(
    run_dir: Path,
    corrections: Mapping[str, BiasCorrection | None],
    *,
    errors: Mapping[str, str],
    fitted_on: Mapping[str, Any],
    config: EvaluationConfig,
) -> StoredCorrection:
    """Write ``run_dir/bias_correction.json`` atomically (replacing an earlier one).

    Args:
        run_dir: the run directory.
        corrections: label → fitted correction, None where the fit failed.
        errors: label → why its fit failed.
        fitted_on: where the validation predictions came from (data path, folds, kind).
        config: the binning of the fit.
    """
    path = Path(run_dir) / BIAS_CORRECTION_FILE
    content = {
        "schema_version": _SCHEMA_VERSION,
        "rule": "corrected = (prediction - offset) / slope, GeV",
        "fitted_on": dict(fitted_on),
        "fit": {
            "range_gev": list(config.fit_range_gev),
            "bins": config.fit_bins,
            "bootstrap": config.fit_bootstrap,
            "seed": config.seed,
        },
        "corrections": {k: None if v is None else v.to_dict() for k, v in corrections.items()},
        "errors": dict(errors),
    }
    write_json_atomic(path, json_ready(content))
    return StoredCorrection(
        corrections=dict(corrections), errors=dict(errors), fitted_on=fitted_on, path=path
    )


def load_bias_correction(run_dir: Path) -> StoredCorrection | None:
    """Read ``run_dir/bias_correction.json``; None when the run has not been evaluated yet.

    Raises:
        DataFormatError: the file is not the JSON :func:`save_bias_correction` writes.
        ConfigError: a stored value is out of range (e.g. slope ≤ 0).
    """
    path = Path(run_dir) / BIAS_CORRECTION_FILE
    if not path.is_file():
        return None
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        msg = f"{path}: not JSON ({err})"
        raise DataFormatError(msg) from err
    if not isinstance(content, dict) or not isinstance(content.get("corrections"), dict):
        msg = f"{path}: expected an object with a 'corrections' mapping (label → slope/offset or null)"
        raise DataFormatError(msg)
    if content.get("schema_version") != _SCHEMA_VERSION:
        msg = f"{path}: schema_version {content.get('schema_version')!r}, this mucalo reads {_SCHEMA_VERSION}"
        raise DataFormatError(msg)
    corrections = {
        str(label): None if value is None else BiasCorrection.from_dict(value, where=f"{path}: {label}")
        for label, value in content["corrections"].items()
    }
    errors = content.get("errors") or {}
    return StoredCorrection(
        corrections=corrections,
        errors={str(k): str(v) for k, v in errors.items()},
        fitted_on=content.get("fitted_on") or {},
        path=path,
    )
