"""Comparison of several runs' headline metrics on the same data (paper Table 1 and Fig. 14)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mucalo.evaluation.exceptions import EvaluationError
from mucalo.evaluation.metrics import HEADLINE_KEYS

__all__ = ["PAPER_TABLE_1", "compare_runs", "comparison_markdown", "mean_over_models"]

#: Paper Table 1: MI (%) on the monitoring folds, mean ± error over five models, per input menu.
PAPER_TABLE_1: tuple[tuple[str, float, float], ...] = (
    ("Raw inputs + HL feats.", 20.30, 0.08),
    ("Raw inputs only", 19.53, 0.06),
    ("HL-feats. only", 17.60, 0.08),
    ("Energy-sum only", 14.98, 0.05),
)


def _number(value: Any) -> float:
    """A metric value as float; None (undefined) becomes NaN."""
    return float("nan") if value is None else float(value)


def mean_over_models(metrics: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Average headline metrics over models trained the same way (paper Table 1 style).

    Each ``<key>`` becomes the mean over models and ``<key>_err`` the standard error of that mean
    (std/√n, None for a single model). ``bias_fit`` is not averaged (each model has its own).

    Raises:
        EvaluationError: the sequence is empty.
    """
    if not metrics:
        msg = "mean_over_models: expected at least one metrics dict, got none"
        raise EvaluationError(msg)
    out: dict[str, Any] = {"n_models": len(metrics)}
    for key in HEADLINE_KEYS:
        values = np.array([_number(m.get(key)) for m in metrics])
        values = values[np.isfinite(values)]
        out[key] = float(values.mean()) if values.size else float("nan")
        out[f"{key}_err"] = float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else None
    return out


def compare_runs(
    runs: Mapping[str, Mapping[str, Any]], *, reference: str | None = None
) -> list[dict[str, Any]]:
    """One table row per run, with the change in MI relative to a reference run (paper Table 1).

    Args:
        runs: run name → headline metrics (from :func:`~mucalo.evaluation.metrics.headline_metrics` or
            :func:`mean_over_models`), all on the same data.
        reference: name of the reference run; default the first.

    Returns:
        Rows in input order: ``name``, the headline metrics and their errors (%), ``mi_change`` =
        100·(MI − MI_ref)/MI_ref and ``mi_change_err`` (errors propagated as independent; None for the
        reference itself or without errors).

    Raises:
        EvaluationError: ``runs`` is empty or ``reference`` is not one of them.
    """
    if not runs:
        msg = "compare_runs: expected at least one run, got none"
        raise EvaluationError(msg)
    ref_name = reference if reference is not None else next(iter(runs))
    if ref_name not in runs:
        msg = f"compare_runs: reference {ref_name!r} is not among the runs {sorted(runs)}"
        raise EvaluationError(msg)
    ref_mi = _number(runs[ref_name].get("mean_improvement"))
    ref_err = _number(runs[ref_name].get("mean_improvement_err"))
    rows = []
    for name, metrics in runs.items():
        row: dict[str, Any] = {"name": name}
        for key in HEADLINE_KEYS:
            row[key] = _number(metrics.get(key))
            row[f"{key}_err"] = metrics.get(f"{key}_err")
        mi, mi_err = row["mean_improvement"], _number(row["mean_improvement_err"])
        row["mi_change"] = 100.0 * (mi - ref_mi) / ref_mi if ref_mi else float("nan")
        change_err = 100.0 * math.hypot(mi_err / ref_mi, mi * ref_err / ref_mi**2) if ref_mi else float("nan")
        row["mi_change_err"] = None if name == ref_name or not math.isfinite(change_err) else change_err
        if name == ref_name:
            row["mi_change"] = None
        rows.append(row)
    return rows


def _with_error(value: float, error: Any, digits: int = 2) -> str:
    if not math.isfinite(value):
        return "—"
    text = f"{value:.{digits}f}"
    return f"{text} ± {float(error):.{digits}f}" if error is not None else text


def comparison_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """A Markdown table of :func:`compare_runs` rows (for the CLI and logs)."""
    header = ("run", "MI [%]", "change in MI [%]", "worst combined [%]", "calo 1 TeV [%]", "calo 3 TeV [%]")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        change = "N/A" if row["mi_change"] is None else _with_error(row["mi_change"], row["mi_change_err"], 1)
        cells = [
            str(row["name"]),
            _with_error(row["mean_improvement"], row["mean_improvement_err"]),
            change,
            *(
                _with_error(row[key], row[f"{key}_err"], 1)
                for key in ("worst_combined_resolution", "resolution_at_1tev", "resolution_at_3tev")
            ),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
