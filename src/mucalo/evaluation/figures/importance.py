"""Permutation importance per true-energy bin (paper Fig. 13)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mucalo.evaluation.figures._style import figure_style, new_figure, save_figure
from mucalo.evaluation.importance import PermutationImportance

__all__ = ["plot_importance"]


def plot_importance(
    importance: PermutationImportance,
    *,
    out_dir: Path,
    name: str = "importance",
    top: int = 7,
) -> list[Path]:
    """Fig. 13: importance of the ``top`` most important features (overall) in bins of true energy.

    Args:
        importance: from :func:`~mucalo.evaluation.importance.permutation_importance`.
        top: number of features drawn (the paper shows 7).
    """
    ranked = importance.ranking()[:top]
    edges = importance.edges_gev
    centres = 0.5 * (edges[:-1] + edges[1:])
    half = 0.5 * np.diff(edges)
    with figure_style():
        fig = new_figure(width=11.0)
        ax = fig.add_subplot()
        for feature in ranked:
            i = importance.feature_names.index(feature)
            values, errors = importance.per_bin[i], importance.per_bin_err[i]
            ok = np.isfinite(values)
            ax.errorbar(
                centres[ok],
                values[ok],
                xerr=half[ok],
                yerr=np.nan_to_num(errors[ok]),
                fmt="o-",
                ms=4,
                capsize=2,
                label=f"{feature} ({importance.overall[i]:.2f})",
            )
        ax.axhline(0.0, color="k", lw=1)
        ax.set(xlabel="True energy [GeV]", ylabel="Permutation importance")
        ax.legend(loc="upper right", fontsize="x-small", title="Feature (overall)", title_fontsize="x-small")
        return save_figure(fig, out_dir, name)
