"""The files of a run evaluation: figures (paper Figs. 2, 7–14), metrics.json, report.html, provenance.

matplotlib is imported only when the figures are drawn.
"""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from mucalo.data import MuonDataset
from mucalo.detector import Detector
from mucalo.errors import ConfigError
from mucalo.evaluation.importance import PermutationImportance
from mucalo.evaluation.resolution import ResolutionCurve
from mucalo.evaluation.run_inputs import ENSEMBLE
from mucalo.evaluation.serialise import json_ready, write_metrics_json
from mucalo.features.registry import FEATURES
from mucalo.provenance import write_provenance
from mucalo.training import TrainedRun

if TYPE_CHECKING:
    from mucalo.evaluation.runs import LabelEvaluation

__all__ = ["EventDisplay", "pick_event_displays", "prepare_out_dir", "write_run_outputs"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

FIGURES_DIR = "figures"
#: What an evaluation writes; an existing directory holding one of them may be overwritten (the figures
#: come first, so a killed evaluation leaves at least them).
_OUTPUTS = ("metrics.json", "report.html", "provenance.json", FIGURES_DIR)

_STANDARD_CAPTIONS = {
    "response": "Fig. 8: predicted against true energy, with the bias fit",
    "fractional_error": "Fig. 9: fractional error with quantile bands",
    "corrected_response": "Fig. 10: bias-corrected predictions",
    "ratio_distributions": "Fig. 11: corrected / true energy",
    "resolution": "Fig. 12: calorimeter, tracker and combined resolution",
}
_DESCRIPTIONS = {f.name: f"V[{f.index}], {f.description}" for f in FEATURES}


@dataclass(frozen=True, kw_only=True, slots=True)
class EventDisplay:
    """One muon to draw (paper Fig. 2): its hits, a title and a file name (without suffix)."""

    cell: npt.NDArray[np.int64]
    energy: npt.NDArray[np.float64]
    title: str
    name: str


def prepare_out_dir(out: Path, *, overwrite: bool) -> None:
    """Create ``out``; an existing non-empty one only with ``overwrite`` and when it holds an evaluation.

    Raises:
        ConfigError: ``out`` is not empty and ``overwrite`` is False, or it holds something else.
    """
    if out.exists() and any(out.iterdir()):
        ours = any((out / name).exists() for name in _OUTPUTS)
        if not overwrite:
            msg = f"{out}: exists and is not empty; pass --overwrite to replace an earlier evaluation"
            raise ConfigError(msg)
        if not ours:
            msg = f"{out}: not an evaluation directory (no {' / '.join(_OUTPUTS)}); refusing to delete it"
            raise ConfigError(msg)
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def pick_event_displays(
    data: MuonDataset,
    *,
    index: npt.NDArray[np.int64],
    true_energy: FloatArray,
    shown: FloatArray,
    corrected: bool,
    count: int,
) -> list[EventDisplay]:
    """``count`` muons spread over the true-energy range of the given ones, to draw like paper Fig. 2.

    Args:
        data: the dataset the muons are of (for the hits); none are drawn without hits.
        index: (N,) global muon indices in ``data``.
        true_energy: (N,) GeV.
        shown: (N,) predictions shown in the titles, GeV.
        corrected: whether ``shown`` is bias-corrected (said in the titles).
        count: number of muons (0: none).
    """
    if count <= 0 or not data.has_hits or index.size == 0:
        return []
    targets = (
        np.quantile(true_energy, np.linspace(0.15, 0.85, count)) if count > 1 else [np.median(true_energy)]
    )
    chosen = list(dict.fromkeys(int(np.argmin(np.abs(true_energy - t))) for t in targets))
    word = "corrected" if corrected else "raw"
    displays = []
    for row in chosen:
        _, cell, energy = data.batch_hits(index[row : row + 1])
        displays.append(
            EventDisplay(
                cell=np.asarray(cell, dtype=np.int64),
                energy=np.asarray(energy, dtype=np.float64),
                title=f"E = {true_energy[row]:.0f} GeV, predicted ({word}) {shown[row]:.0f} GeV",
                name=f"event_display_{int(index[row])}",
            )
        )
    return displays


def _figures(
    figures_dir: Path,
    *,
    run: TrainedRun,
    validation: Mapping[str, LabelEvaluation],
    test: Mapping[str, LabelEvaluation] | None,
    importance: PermutationImportance | None,
    curves: Mapping[str, ResolutionCurve],
    displays: Sequence[EventDisplay],
    detector: Detector,
    k_per_gev: float,
) -> dict[str, list[Path]]:
    """Draw every figure; returns caption → (PNG, PDF) paths, in report order."""
    from mucalo.evaluation.figures import (
        plot_event_display,
        plot_importance,
        plot_models_compared,
        plot_training_history,
        read_history_csv,
        standard_figures,
    )

    figures: dict[str, list[Path]] = {}
    history = run.path / "history.csv"
    if history.is_file():
        figures["Fig. 7: training history (loss, Mean Improvement, LR and β1)"] = plot_training_history(
            read_history_csv(history), out_dir=figures_dir
        )
    for title, results, prefix in (("validation", validation, ""), ("test", test or {}, "test_")):
        ensemble = results.get(ENSEMBLE)
        if ensemble is None or ensemble.evaluation is None:
            continue
        drawn = standard_figures(
            ensemble.true_energy,
            ensemble.prediction,
            ensemble.evaluation,
            out_dir=figures_dir,
            prefix=prefix,
            k_per_gev=k_per_gev,
        )
        for key, paths in drawn.items():
            figures[f"{_STANDARD_CAPTIONS[key]} (ensemble, {title})"] = paths
    per_model = {k: v.evaluation.curve for k, v in validation.items() if v.evaluation is not None}
    if len(per_model) > 2:  # more than one model beside the ensemble
        figures["Calorimeter resolution of each model and the ensemble (validation)"] = plot_models_compared(
            per_model, out_dir=figures_dir, name="models_in_ensemble"
        )
    if importance is not None:
        figures["Fig. 13: permutation importance per true-energy bin (ensemble)"] = plot_importance(
            importance, out_dir=figures_dir
        )
    if len(curves) > 1:
        figures["Fig. 14: runs compared (ensembles, validation)"] = plot_models_compared(
            curves, out_dir=figures_dir, name="runs_compared"
        )
    for display in displays:
        figures[f"Fig. 2: event display, {display.title}"] = plot_event_display(
            display.cell,
            display.energy,
            detector,
            out_dir=figures_dir,
            name=display.name,
            title=display.title,
        )
    return figures


def _report_metrics(
    validation: Mapping[str, LabelEvaluation],
    test: Mapping[str, LabelEvaluation] | None,
    kind: str,
) -> dict[str, dict[str, Any]]:
    """Rows of the report: the labels the paper's numbers sit beside first, then every other evaluation."""
    rows: dict[str, dict[str, Any]] = {}
    labels = [k for k in validation if k != ENSEMBLE]
    if labels:
        rows["single_validation"] = validation[labels[0]].metrics()
    rows["ensemble_holdout" if kind == "holdout" else f"ensemble_{kind}"] = validation[ENSEMBLE].metrics()
    for label in labels[1:]:
        rows[f"{label}_validation"] = validation[label].metrics()
    if test is not None:
        rows["test"] = test[ENSEMBLE].metrics()
        for label in labels:
            rows[f"{label}_test"] = test[label].metrics()
    return rows


def _importance_note(importance: PermutationImportance, top: int = 7) -> str:
    parts = []
    for name in importance.ranking()[:top]:
        value = float(importance.overall[importance.feature_names.index(name)])
        if math.isfinite(value):
            parts.append(f"{name} ({_DESCRIPTIONS.get(name, 'feature')}): {value:.3f}")
    return (
        "Most important features (relative increase of the mean squared fractional error when shuffled): "
        + ("; ".join(parts) or "none")
    )


def _notes(summary: Mapping[str, Any], importance: PermutationImportance | None) -> list[str]:
    validation_set = summary["validation_set"]
    weights = ", ".join(f"{w:.3f}" for w in summary["ensemble_weights"])
    notes = [
        f"Run {summary['run']}: {len(summary['ensemble_weights'])} {summary['model_kind']} model(s), "
        f"ensemble weights {weights}.",
        f"Validation data {summary['data']}, folds {validation_set['folds']}: {validation_set['note']}. "
        f"{summary['validation'][ENSEMBLE]['n_events']} muons for the ensemble.",
        f"The bias correction was fitted on these validation predictions, stored in "
        f"{summary['bias_correction']}, and applied unchanged to the test data.",
    ]
    if summary["test"] is not None:
        test = summary["test"][ENSEMBLE]
        notes.append(
            f"Test data {summary['test_data']}: {test['n_events']} muons, resolution "
            f"{'per generated energy' if test.get('binning') == 'fixed' else 'in true-energy bins'}."
        )
    failed = [
        f"{where} {label}: {values['error']}"
        for where in ("validation", "test")
        for label, values in (summary[where] or {}).items()
        if values.get("error")
    ]
    if failed:
        notes.append("Failed evaluations: " + "; ".join(failed) + ".")
    notes.append(
        f"Uncertainties: bootstrap over {summary['n_bootstrap']} resamples of the events"
        if summary["n_bootstrap"]
        else "No bootstrap uncertainties were computed."
    )
    if importance is not None:
        notes.append(_importance_note(importance))
    else:
        notes.append(f"Permutation importance: {summary['importance_note']}.")
    return notes


def write_run_outputs(
    out_dir: Path,
    *,
    summary: dict[str, Any],
    run: TrainedRun,
    validation: Mapping[str, LabelEvaluation],
    test: Mapping[str, LabelEvaluation] | None,
    importance: PermutationImportance | None,
    curves: Mapping[str, ResolutionCurve],
    displays: Sequence[EventDisplay],
    detector: Detector,
    provenance: Mapping[str, Any],
) -> dict[str, Any]:
    """Write figures, ``metrics.json``, ``report.html`` and ``provenance.json``; return the metrics.

    Args:
        out_dir: the evaluation directory (exists).
        summary: the metrics assembled by :func:`~mucalo.evaluation.runs.evaluate_run` (completed here with
            ``figures`` and ``files``).
        run: the evaluated run (for its history and name).
        validation, test: per-label evaluations.
        importance: the permutation importance, or None.
        curves: run name → ensemble resolution curve of the compared runs (Fig. 14), the evaluated first.
        displays: muons for the event displays.
        detector: geometry of the displays' hits.
        provenance: the settings of the evaluation, written to ``provenance.json`` with the versions.
    """
    k_per_gev = float(summary["evaluation_config"]["tracker_k_per_gev"])
    figures = _figures(
        out_dir / FIGURES_DIR,
        run=run,
        validation=validation,
        test=test,
        importance=importance,
        curves=curves,
        displays=displays,
        detector=detector,
        k_per_gev=k_per_gev,
    )
    from mucalo.evaluation.report import write_report

    report = write_report(
        out_dir,
        metrics=_report_metrics(validation, test, summary["validation_set"]["kind"]),
        figures=figures,
        comparison=summary["comparison"],
        title=f"mucalo evaluation of {run.path.name}",
        notes=_notes(summary, importance),
    )
    provenance_path = write_provenance(
        out_dir / "provenance.json",
        json_ready(dict(provenance)),
        seed=int(summary["evaluation_config"]["seed"]),
        command="evaluate",
    )
    summary = {
        **summary,
        "figures": {
            caption: [p.relative_to(out_dir).as_posix() for p in paths] for caption, paths in figures.items()
        },
        "files": {
            "metrics": "metrics.json",
            "report": report.relative_to(out_dir).as_posix(),
            "provenance": provenance_path.relative_to(out_dir).as_posix(),
            "bias_correction": summary["bias_correction"],
        },
    }
    write_metrics_json(out_dir / "metrics.json", summary)
    logger.info("evaluation written to %s (report %s)", out_dir, report)
    result: dict[str, Any] = json_ready(summary)
    return result
