"""Study figures: our change in MI (or MI) per variant beside the paper's; Fig. 13 and Fig. 14 analogues.

The comparison figure is drawn with plain matplotlib (Agg canvas, no pyplot); the Fig. 13/14 analogues
reuse :mod:`mucalo.evaluation.figures`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from mucalo.evaluation import ResolutionCurve
from mucalo.studies.importance import ImportanceSummary
from mucalo.studies.registry import Study
from mucalo.studies.tables import RowResult

__all__ = ["plot_importance_bins", "plot_input_resolutions", "plot_study_comparison"]


def plot_study_comparison(study: Study, rows: Sequence[RowResult], *, out_dir: Path) -> list[Path]:
    """Ours against the paper per row: the change in MI when the table has one, else the MI itself.

    Returns:
        ``out_dir/<study>.png``, or nothing when no row has a value yet.
    """
    use_change = "change" in study.columns
    labels, ours, ours_err, paper, paper_err = [], [], [], [], []
    for row in rows:
        estimate = row.change if use_change else row.mi
        if use_change and row.change is None:
            continue  # the reference row: 0 by definition
        labels.append(row.variant.label)
        value = estimate.value if estimate is not None else math.nan
        ours.append(value)
        ours_err.append(estimate.error if estimate is not None and estimate.error is not None else 0.0)
        reference = row.variant.paper.change if use_change else row.variant.paper.mi
        reference_err = row.variant.paper.change_err if use_change else row.variant.paper.mi_err
        paper.append(math.nan if reference is None else reference)
        paper_err.append(reference_err or 0.0)
    if not labels or not np.isfinite(ours).any():
        return []
    from matplotlib.figure import Figure  # loaded only when a figure is drawn (CLI start-up time)

    y = np.arange(len(labels))
    fig = Figure(figsize=(8.0, 1.2 + 0.5 * len(labels)), layout="constrained")
    ax = fig.add_subplot()
    ax.errorbar(ours, y - 0.1, xerr=ours_err, fmt="o", color="tab:blue", capsize=3, label="mucalo")
    ax.errorbar(paper, y + 0.1, xerr=paper_err, fmt="s", color="tab:orange", capsize=3, label="paper")
    if use_change:
        ax.axvline(0.0, color="k", lw=1)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel("Change in Mean Improvement [%]" if use_change else "Mean Improvement [%]")
    ax.set_title(f"{study.source}: {study.title}", fontsize="medium")
    ax.legend(loc="best", fontsize="small")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{study.name}.png"
    fig.savefig(path, dpi=120)
    return [path]


def plot_input_resolutions(curves: Mapping[str, ResolutionCurve], *, out_dir: Path) -> list[Path]:
    """Fig. 14 analogue: the calorimeter resolution of each input configuration's ensemble (hold-out)."""
    from mucalo.evaluation.figures import plot_models_compared  # matplotlib styles load only here

    if not curves:
        return []
    return plot_models_compared(curves, out_dir=out_dir, name="inputs_resolution")


def plot_importance_bins(summary: ImportanceSummary, *, out_dir: Path, top: int = 7) -> list[Path]:
    """Fig. 13 analogue: importance of the ``top`` features per true-energy bin."""
    from mucalo.evaluation.figures import plot_importance

    return plot_importance(summary.as_permutation_importance(), out_dir=out_dir, name="importance", top=top)
