"""Resolution figures: calorimeter, tracker and combined (Fig. 12) and several models compared (Fig. 14)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes

from mucalo.evaluation.figures._style import figure_style, new_figure, save_figure
from mucalo.evaluation.resolution import ResolutionCurve, tracker_resolution

__all__ = ["plot_models_compared", "plot_resolution"]


def _points(
    ax: Axes,
    curve: ResolutionCurve,
    values: npt.NDArray[np.float64],
    errors: npt.NDArray[np.float64],
    **style: Any,
) -> None:
    """Points in percent with bootstrap error bars (vertical) and the bin half-widths (horizontal)."""
    ok = np.isfinite(values)
    xerr = 0.5 * (curve.high_gev - curve.low_gev)
    yerr = np.where(np.isfinite(errors), 100.0 * errors, 0.0)
    ax.errorbar(
        curve.energy_gev[ok],
        100.0 * values[ok],
        yerr=yerr[ok],
        xerr=xerr[ok] if curve.kind == "bins" else None,
        fmt="o",
        ms=5,
        capsize=2,
        **style,
    )


def plot_resolution(
    curve: ResolutionCurve,
    *,
    out_dir: Path,
    name: str = "resolution",
    k_per_gev: float = 2e-4,
) -> list[Path]:
    """Fig. 12: fractional resolution of the calorimeter, the tracker model and their combination.

    Args:
        curve: per-bin or per-point resolutions (with bootstrap errors if computed).
        k_per_gev: tracker slope used for the smooth tracker line (the points use the curve's own).
    """
    with figure_style():
        fig = new_figure()
        ax = fig.add_subplot()
        _points(ax, curve, curve.calorimeter, curve.calorimeter_err, color="tab:blue", label="Calorimeter")
        grid = np.linspace(0.0, float(curve.high_gev.max()) * 1.05, 200)
        ax.plot(
            grid,
            100.0 * tracker_resolution(grid, k_per_gev=k_per_gev),
            color="tab:orange",
            lw=2,
            label=f"Tracker ({100 * k_per_gev * 1000:.0f} % at 1 TeV)",
        )
        _points(ax, curve, curve.combined, curve.combined_err, color="tab:green", label="Combined")
        ax.set(xlim=(0.0, grid[-1]), ylim=(0.0, None), xlabel="True energy [GeV]", ylabel="Resolution [%]")
        ax.text(
            0.02,
            0.97,
            f"Mean improvement: {curve.mean_improvement:.1f} %\nWorst combined: {curve.worst_combined:.1f} %",
            transform=ax.transAxes,
            va="top",
            fontsize="small",
        )
        ax.legend(loc="upper right", fontsize="small")
        return save_figure(fig, out_dir, name)


def plot_models_compared(
    curves: Mapping[str, ResolutionCurve],
    *,
    out_dir: Path,
    name: str = "models_compared",
    which: Literal["calorimeter", "combined"] = "calorimeter",
) -> list[Path]:
    """Fig. 14: the resolution of several models (e.g. input menus) on the same data, one series each."""
    with figure_style():
        fig = new_figure()
        ax = fig.add_subplot()
        for label, curve in curves.items():
            values = curve.calorimeter if which == "calorimeter" else curve.combined
            errors = curve.calorimeter_err if which == "calorimeter" else curve.combined_err
            _points(ax, curve, values, errors, label=f"{label} (MI {curve.mean_improvement:.1f} %)")
        ax.set(
            ylim=(0.0, None),
            xlabel="True energy [GeV]",
            ylabel=f"{'Calorimeter' if which == 'calorimeter' else 'Combined'} resolution [%]",
        )
        ax.legend(loc="upper right", fontsize="small")
        return save_figure(fig, out_dir, name)
