"""Evaluation (paper §4, §7): bias correction, resolution, tracker combination, Mean Improvement,
permutation importance, run comparison, figures and the HTML report.

Everything works on plain arrays of true energies and predictions (GeV). The figures live in
:mod:`mucalo.evaluation.figures`, imported separately so that per-epoch metrics do not load matplotlib.
"""

from __future__ import annotations

from mucalo.evaluation.bias import BiasCorrection, BinnedMeans, binned_means, fit_bias_correction, fit_line
from mucalo.evaluation.comparison import PAPER_TABLE_1, compare_runs, comparison_markdown, mean_over_models
from mucalo.evaluation.config import EvaluationConfig
from mucalo.evaluation.exceptions import EvaluationError
from mucalo.evaluation.importance import PermutationImportance, fractional_mse, permutation_importance
from mucalo.evaluation.metrics import HEADLINE_KEYS, Evaluation, evaluate_predictions, headline_metrics
from mucalo.evaluation.report import PAPER_HEADLINE, PaperFigure, write_report
from mucalo.evaluation.resolution import (
    ResolutionCurve,
    binned_resolution,
    combine_resolutions,
    fixed_energies,
    fixed_point_resolution,
    mean_improvement,
    tracker_resolution,
    worst_resolution,
)
from mucalo.evaluation.serialise import json_ready, write_metrics_json

__all__ = (
    "HEADLINE_KEYS",
    "PAPER_HEADLINE",
    "PAPER_TABLE_1",
    "BiasCorrection",
    "BinnedMeans",
    "Evaluation",
    "EvaluationConfig",
    "EvaluationError",
    "PaperFigure",
    "PermutationImportance",
    "ResolutionCurve",
    "binned_means",
    "binned_resolution",
    "combine_resolutions",
    "compare_runs",
    "comparison_markdown",
    "evaluate_predictions",
    "fit_bias_correction",
    "fit_line",
    "fixed_energies",
    "fixed_point_resolution",
    "fractional_mse",
    "headline_metrics",
    "json_ready",
    "mean_improvement",
    "mean_over_models",
    "permutation_importance",
    "tracker_resolution",
    "worst_resolution",
    "write_metrics_json",
    "write_report",
)
