"""The figure set of one evaluation (paper Figs. 8–12) in one call."""

from __future__ import annotations

from pathlib import Path

import numpy.typing as npt

from mucalo.evaluation.figures.resolution import plot_resolution
from mucalo.evaluation.figures.response import (
    plot_corrected_response,
    plot_fractional_error,
    plot_ratio_distributions,
    plot_response,
)
from mucalo.evaluation.metrics import Evaluation

__all__ = ["standard_figures"]


def standard_figures(
    true_energy: npt.ArrayLike,
    prediction: npt.ArrayLike,
    evaluation: Evaluation,
    *,
    out_dir: Path,
    prefix: str = "",
    k_per_gev: float = 2e-4,
) -> dict[str, list[Path]]:
    """Write Figs. 8–12 of one evaluation; keys are the figure names, values the (PNG, PDF) paths.

    Args:
        true_energy, prediction: (N,) GeV, the arrays given to ``evaluate_predictions``.
        evaluation: its result.
        prefix: prepended to every file name (e.g. "test_").
        k_per_gev: tracker slope for Fig. 12's tracker line.
    """
    figures = {
        "response": plot_response(
            true_energy,
            prediction,
            correction=evaluation.correction,
            fit_points=evaluation.fit_points,
            out_dir=out_dir,
            name=f"{prefix}response",
        ),
        "fractional_error": plot_fractional_error(
            true_energy, prediction, out_dir=out_dir, name=f"{prefix}fractional_error"
        ),
        "corrected_response": plot_corrected_response(
            true_energy, evaluation.corrected, out_dir=out_dir, name=f"{prefix}corrected_response"
        ),
        "ratio_distributions": plot_ratio_distributions(
            true_energy,
            evaluation.corrected,
            curve=evaluation.curve,
            out_dir=out_dir,
            name=f"{prefix}ratio_distributions",
        ),
        "resolution": plot_resolution(
            evaluation.curve, out_dir=out_dir, name=f"{prefix}resolution", k_per_gev=k_per_gev
        ),
    }
    return figures
