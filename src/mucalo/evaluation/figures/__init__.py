"""The paper's result figures (matplotlib Agg + mplhep; every figure as PNG and PDF)."""

from __future__ import annotations

from mucalo.evaluation.figures._style import FIGURE_FORMATS, save_figure
from mucalo.evaluation.figures.event_display import plot_event_display
from mucalo.evaluation.figures.history import HISTORY_COLUMNS, plot_training_history, read_history_csv
from mucalo.evaluation.figures.importance import plot_importance
from mucalo.evaluation.figures.resolution import plot_models_compared, plot_resolution
from mucalo.evaluation.figures.response import (
    plot_corrected_response,
    plot_fractional_error,
    plot_ratio_distributions,
    plot_response,
)
from mucalo.evaluation.figures.standard import standard_figures

__all__ = (
    "FIGURE_FORMATS",
    "HISTORY_COLUMNS",
    "plot_corrected_response",
    "plot_event_display",
    "plot_fractional_error",
    "plot_importance",
    "plot_models_compared",
    "plot_ratio_distributions",
    "plot_resolution",
    "plot_response",
    "plot_training_history",
    "read_history_csv",
    "save_figure",
    "standard_figures",
)
