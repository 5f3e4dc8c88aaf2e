"""Study tables: one row per variant, ours beside the paper's, as JSON-able rows and as Markdown."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mucalo.errors import ConfigError
from mucalo.studies.metrics import RunMetrics
from mucalo.studies.registry import PAPER_FIG13_FEATURES, PaperRow, Study, Variant
from mucalo.studies.stats import Estimate, mean_with_error, relative_change

__all__ = ["RowResult", "RunResult", "build_rows", "importance_markdown", "study_markdown"]

_HEADERS: Mapping[str, str] = {
    "mi": "MI [%]",
    "change": "Change in MI [%]",
    "validation_mi": "MI, monitoring folds [%]",
    "paper_mi": "Paper MI [%]",
    "paper_change": "Paper change [%]",
    "parameters": "Parameters",
    "paper_parameters": "Paper parameters",
    "dataset_size": "Dataset size",
    "paper_dataset_size": "Paper dataset size",
    "training_hours": "Training [h]",
    "paper_training_hours": "Paper training [h]",
    "inference_s": "Inference [s/batch]",
    "paper_inference_s": "Paper inference [s/batch]",
    "epochs": "Epochs",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class RunResult:
    """What the tables need of one run; ``metrics`` is None while the run is unfinished."""

    key: str
    metrics: RunMetrics | None
    parameters: int | None = None
    inference_s: tuple[float, ...] | None = None  # per model, s per batch of 256


@dataclass(frozen=True, kw_only=True, slots=True)
class RowResult:
    """One row of a study table (MI and changes in %)."""

    variant: Variant
    status: Literal["done", "pending"]
    mi: Estimate
    change: Estimate | None  # None for the row the others are compared with
    validation_mi: Estimate | None
    n_models: int = 0
    epochs: float | None = None  # mean epochs trained per model
    training_hours: float | None = None  # per model (singles) or all models (ensemble)
    inference_s: float | None = None  # per batch of 256: one model (singles) or all (ensemble)
    dataset_size: int | None = None  # training + monitoring muons
    parameters: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (NaN stays NaN; the writer turns it into null)."""
        paper = self.variant.paper
        return {
            "variant": self.variant.name,
            "label": self.variant.label,
            "run": self.variant.run.key,
            "aggregate": self.variant.aggregate,
            "bias_correction": self.variant.bias_correction,
            "status": self.status,
            "mi": self.mi.value,
            "mi_err": self.mi.error,
            "n_models": self.n_models,
            "n_finite": self.mi.n,
            "change": None if self.change is None else self.change.value,
            "change_err": None if self.change is None else self.change.error,
            "validation_mi": None if self.validation_mi is None else self.validation_mi.value,
            "validation_mi_err": None if self.validation_mi is None else self.validation_mi.error,
            "epochs": self.epochs,
            "training_hours": self.training_hours,
            "inference_s_per_batch": self.inference_s,
            "dataset_size": self.dataset_size,
            "parameters": self.parameters,
            "paper": {name: getattr(paper, name) for name in PaperRow.__dataclass_fields__},
        }


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _combine(values: Sequence[float], *, singles: bool) -> float | None:
    """Per-model mean for single-model rows, the total for ensemble rows (None without values)."""
    if not values:
        return None
    return _mean(values) if singles else math.fsum(values)


def _row(variant: Variant, run: RunResult) -> RowResult:
    metrics = run.metrics
    if metrics is None:
        nan = Estimate(math.nan, None, 0)
        return RowResult(
            variant=variant,
            status="pending",
            mi=nan,
            change=None,
            validation_mi=None,
            parameters=run.parameters,
        )
    singles = variant.aggregate == "singles"
    if singles:
        values = metrics.holdout_mi if variant.bias_correction else metrics.holdout_mi_uncorrected
        mi = mean_with_error(values)
        validation = mean_with_error(metrics.validation_mi) if variant.bias_correction else None
    else:
        value = metrics.ensemble_mi if variant.bias_correction else metrics.ensemble_mi_uncorrected
        mi = Estimate(value, None, int(math.isfinite(value)))
        validation = None
    hours = _combine([s / 3600.0 for s in metrics.training_seconds], singles=singles)
    size = _combine([float(n) for n in metrics.dataset_size], singles=singles)
    return RowResult(
        variant=variant,
        status="done",
        mi=mi,
        change=None,
        validation_mi=validation,
        n_models=len(metrics.holdout_mi),
        epochs=_mean([float(e) for e in metrics.epochs]),
        training_hours=hours,
        inference_s=None if run.inference_s is None else _combine(run.inference_s, singles=singles),
        # an ensemble's models overlap in their folds: count the union, not the sum
        dataset_size=(None if size is None else round(size)) if singles else metrics.ensemble_dataset_size,
        parameters=run.parameters,
    )


def build_rows(study: Study, runs: Mapping[str, RunResult]) -> list[RowResult]:
    """The rows of ``study`` from its runs' results, with the changes relative to each row's reference.

    Args:
        study: the table.
        runs: run key → result, for every run of the study.
    """
    rows = {v.name: _row(v, runs[v.run.key]) for v in study.variants}
    first = study.variants[0].name
    result = []
    for variant in study.variants:
        row = rows[variant.name]
        reference = variant.reference or first
        if reference != variant.name:
            change = relative_change(row.mi, rows[reference].mi)
            row = dataclasses.replace(row, change=change)
        result.append(row)
    return result


# --- Markdown -------------------------------------------------------------------------------------


def _decimals(value: float) -> int:
    text = repr(float(value))
    return len(text.split(".")[1]) if "." in text and "e" not in text else 0


def _paper(value: float | None, error: float | None = None) -> str:
    """A paper value with the precision it is printed with (20.30 ± 0.08)."""
    if value is None:
        return "—"
    whole = float(value).is_integer() and (error is None or float(error).is_integer())
    digits = 0 if whole else max(_decimals(value), _decimals(error) if error is not None else 0)
    return f"{value:.{digits}f}" + (f" ± {error:.{digits}f}" if error is not None else "")


def _ours(estimate: Estimate | None, digits: int, n_models: int = 0) -> str:
    if estimate is None or not estimate.finite:
        return "—"
    text = f"{estimate.value:.{digits}f}"
    if estimate.error is not None:
        text += f" ± {estimate.error:.{digits}f}"
    if n_models and estimate.n < n_models:
        text += f" (n={estimate.n})"
    return text


def _number(value: float | None, fmt: str) -> str:
    return "—" if value is None or not math.isfinite(value) else format(value, fmt)


def _cell(row: RowResult, column: str) -> str:
    paper = row.variant.paper
    pending = row.status == "pending"
    if column == "mi":
        return (
            "pending"
            if pending
            else _ours(row.mi, 2, row.n_models if row.variant.aggregate == "singles" else 0)
        )
    if column == "change":
        return "N/A" if row.change is None else ("—" if pending else _ours(row.change, 1))
    if column == "validation_mi":
        return _ours(row.validation_mi, 2, row.n_models)
    if column == "paper_mi":
        return _paper(paper.mi, paper.mi_err)
    if column == "paper_change":
        return (
            _paper(paper.change, paper.change_err)
            if paper.change is not None
            else ("N/A" if row.change is None else "—")
        )
    if column in ("parameters", "dataset_size"):
        value = getattr(row, column)
        return "—" if value is None else f"{value:,}"
    if column in ("paper_parameters", "paper_dataset_size"):
        value = getattr(paper, column.removeprefix("paper_"))
        return "—" if value is None else f"{value:,}"
    if column == "training_hours":
        return _number(row.training_hours, ".3g")
    if column == "inference_s":
        return _number(row.inference_s, ".3g")
    if column in ("paper_training_hours", "paper_inference_s"):
        return _paper(getattr(paper, column.removeprefix("paper_")))
    if column == "epochs":
        return _number(row.epochs, ".1f")
    msg = f"study table: unknown column {column!r}, expected one of {list(_HEADERS)}"
    raise ConfigError(msg)


def _table(header: Sequence[str], lines: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    out.extend("| " + " | ".join(cells) + " |" for cells in lines)
    return out


def study_markdown(study: Study, rows: Sequence[RowResult], *, notes: Sequence[str]) -> str:
    """The study as a Markdown section: heading, the table, then ``notes`` (definitions, scales)."""
    header = [study.row_header, *(_HEADERS[c] for c in study.columns)]
    lines = [[row.variant.label, *(_cell(row, c) for c in study.columns)] for row in rows]
    text = [
        f"## {study.source}: {study.title}",
        "",
        f"`mucalo study {study.name}`",
        "",
        *_table(header, lines),
        "",
    ]
    text.extend(f"- {note}" for note in notes)
    return "\n".join(text) + "\n"


def importance_markdown(summary: Mapping[str, Any], published_names: Sequence[str]) -> str:
    """The permutation importance as a Markdown table, most important first.

    Args:
        summary: :meth:`mucalo.studies.importance.ImportanceSummary.to_dict`.
        published_names: the 28 published feature names (V[i] order), to mark the paper's Fig. 13 features.
    """
    names = list(summary["feature_names"])
    edges = summary["edges_gev"]
    bins = [f"{edges[b] / 1000:g}–{edges[b + 1] / 1000:g} TeV" for b in range(len(edges) - 1)]
    header = ["Feature", "Overall", *bins, "In paper's Fig. 13"]
    in_paper = {published_names[i] for i in PAPER_FIG13_FEATURES if i < len(published_names)}
    lines = []
    for name in summary["ranking"]:
        i = names.index(name)
        overall, error = summary["overall"][i], summary["overall_err"][i]
        v_index = published_names.index(name) if name in published_names else None
        label = f"V[{v_index}] {name}" if v_index is not None else name
        cells = [label, "—" if overall is None else f"{overall:.3f} ± {error or 0.0:.3f}"]
        cells += ["—" if v is None else f"{v:.3f}" for v in summary["per_bin"][i]]
        cells.append("yes" if name in in_paper else "")
        lines.append(cells)
    return "\n".join(_table(header, lines)) + "\n"
