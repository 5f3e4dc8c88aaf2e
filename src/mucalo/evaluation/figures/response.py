"""Response figures: raw predictions with the fit (Fig. 8), fractional-error quantiles (Fig. 9), corrected
predictions (Fig. 10) and ratio distributions per energy (Fig. 11)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.colors import LogNorm

from mucalo.evaluation._stats import P16, P84, bin_index
from mucalo.evaluation.bias import BiasCorrection, BinnedMeans
from mucalo.evaluation.figures._style import figure_style, new_figure, save_figure
from mucalo.evaluation.resolution import ResolutionCurve

__all__ = ["plot_corrected_response", "plot_fractional_error", "plot_ratio_distributions", "plot_response"]

FloatArray = npt.NDArray[np.float64]

#: Quantile lines of Fig. 9 (percent, label, line style): the median and the ±1σ, ±2σ equivalents.
_QUANTILES = (
    (2.5, "2σ", ":"),
    (P16, "1σ", "--"),
    (50.0, "median", "-"),
    (P84, None, "--"),
    (97.5, None, ":"),
)


def _density(
    ax: Axes, x: FloatArray, y: FloatArray, *, x_range: tuple[float, float], y_range: tuple[float, float]
) -> None:
    """2-D histogram of the events (log colour scale), the backdrop of the response plots."""
    bins = int(np.clip(np.sqrt(x.size) / 2, 10, 100))
    counts, xe, ye = np.histogram2d(x, y, bins=bins, range=(x_range, y_range))
    if counts.max() > 0:
        mesh = ax.pcolormesh(
            xe, ye, np.where(counts > 0, counts, np.nan).T, norm=LogNorm(1, counts.max() + 1)
        )
        ax.figure.colorbar(mesh, ax=ax, label="Muons")


def _energy_range(true: FloatArray, pred: FloatArray) -> tuple[float, float]:
    high = float(max(true.max(), np.percentile(pred, 99.5)))
    return 0.0, high * 1.02


def plot_response(
    true_energy: npt.ArrayLike,
    prediction: npt.ArrayLike,
    *,
    correction: BiasCorrection,
    fit_points: BinnedMeans | None = None,
    out_dir: Path,
    name: str = "response",
) -> list[Path]:
    """Fig. 8: raw predictions against true energy, the binned means and the linear bias fit.

    Args:
        true_energy: (N,) GeV. prediction: (N,) raw predictions, GeV.
        correction: the fitted response (drawn over its fit range, dashed beyond).
        fit_points: the binned means it was fitted to (drawn with their bootstrap errors).
        out_dir: where ``name.png`` and ``name.pdf`` go.
    """
    true, pred = np.asarray(true_energy, np.float64), np.asarray(prediction, np.float64)
    limits = _energy_range(true, pred)
    with figure_style():
        fig = new_figure()
        ax = fig.add_subplot()
        _density(ax, true, pred, x_range=limits, y_range=limits)
        ax.plot(limits, limits, "k--", lw=1.5, label="Ideal response")
        grid = np.linspace(*limits, 200)
        label = f"Linear fit: {correction.slope:.3f}·E + {correction.offset:.1f} GeV"
        if fit_points is not None:
            ok = fit_points.valid
            ax.errorbar(
                fit_points.centre_gev[ok],
                fit_points.mean_gev[ok],
                yerr=fit_points.error_gev[ok],
                fmt="o",
                ms=3,
                color="tab:red",
                label="Mean prediction per bin",
            )
            low, high = fit_points.edges_gev[0], fit_points.edges_gev[-1]
            inside = (grid >= low) & (grid <= high)
            ax.plot(grid[inside], correction.response(grid[inside]), color="tab:green", lw=2, label=label)
            ax.plot(
                grid[grid >= high],
                correction.response(grid[grid >= high]),
                color="tab:green",
                ls="--",
                lw=1.5,
            )
        else:
            ax.plot(grid, correction.response(grid), color="tab:green", lw=2, label=label)
        ax.set(xlim=limits, ylim=limits, xlabel="True energy [GeV]", ylabel="Predicted energy [GeV]")
        ax.legend(loc="upper left", fontsize="small")
        return save_figure(fig, out_dir, name)


def plot_fractional_error(
    true_energy: npt.ArrayLike,
    prediction: npt.ArrayLike,
    *,
    out_dir: Path,
    name: str = "fractional_error",
    n_bins: int = 80,
    energy_range_gev: tuple[float, float] | None = None,
) -> list[Path]:
    """Fig. 9: (pred − true)/true against true energy with the 2.5/16/50/84/97.5 % quantile lines per bin.

    Args:
        n_bins: true-energy bins of the quantile lines (80 in the reference code); fewer are used when
            the data would leave fewer than 10 events per bin.
    """
    true, pred = np.asarray(true_energy, np.float64), np.asarray(prediction, np.float64)
    error = (pred - true) / true
    x_range = energy_range_gev or (float(true.min()), float(true.max()))
    y_range = (max(-1.0, float(np.percentile(error, 0.5))), float(np.percentile(error, 99.5)))
    n_bins = max(2, min(n_bins, true.size // 10))
    edges = np.linspace(*x_range, n_bins + 1)
    idx = bin_index(true, edges)
    centres = 0.5 * (edges[:-1] + edges[1:])
    with figure_style():
        fig = new_figure()
        ax = fig.add_subplot()
        _density(ax, true, error, x_range=x_range, y_range=y_range)
        quantiles = np.full((len(_QUANTILES), n_bins), np.nan)
        for b in range(n_bins):
            members = error[idx == b]
            if members.size >= 5:
                quantiles[:, b] = np.percentile(members, [q for q, _, _ in _QUANTILES])
        for row, (_, label, style) in zip(quantiles, _QUANTILES, strict=True):
            ax.plot(centres, row, color="tab:red", ls=style, lw=2, label=label)
        ax.axhline(0.0, color="k", lw=1)
        ax.set(xlim=x_range, ylim=y_range, xlabel="True energy [GeV]", ylabel="(Prediction − true) / true")
        ax.legend(loc="upper right", fontsize="small")
        return save_figure(fig, out_dir, name)


def plot_corrected_response(
    true_energy: npt.ArrayLike,
    corrected: npt.ArrayLike,
    *,
    out_dir: Path,
    name: str = "corrected_response",
) -> list[Path]:
    """Fig. 10: bias-corrected predictions against true energy, with the ideal response."""
    true, corr = np.asarray(true_energy, np.float64), np.asarray(corrected, np.float64)
    limits = _energy_range(true, corr)
    with figure_style():
        fig = new_figure()
        ax = fig.add_subplot()
        _density(ax, true, corr, x_range=limits, y_range=limits)
        ax.plot(limits, limits, "k--", lw=1.5, label="Ideal response")
        ax.set(xlim=limits, ylim=limits, xlabel="True energy [GeV]", ylabel="Corrected prediction [GeV]")
        ax.legend(loc="upper left", fontsize="small")
        return save_figure(fig, out_dir, name)


def plot_ratio_distributions(
    true_energy: npt.ArrayLike,
    corrected: npt.ArrayLike,
    *,
    curve: ResolutionCurve,
    out_dir: Path,
    name: str = "ratio_distributions",
    ratio_range: tuple[float, float] = (0.0, 3.0),
) -> list[Path]:
    """Fig. 11: distributions (violins) of E_corr/E_true for each bin or fixed energy of ``curve``.

    Args:
        curve: the resolution curve whose bins (or fixed energies) group the events.
        ratio_range: ratios are clipped to this range for display.
    """
    true, corr = np.asarray(true_energy, np.float64), np.asarray(corrected, np.float64)
    ratio = np.clip(corr / true, *ratio_range)
    datasets, positions = [], []
    for energy, low, high in zip(curve.energy_gev, curve.low_gev, curve.high_gev, strict=True):
        if curve.kind == "fixed":
            members = ratio[np.isclose(true, energy, rtol=1e-6, atol=0.0)]
        else:
            members = ratio[(true >= low) & (true < high)]
        # A violin needs a spread; a single value or identical values cannot make a density.
        if members.size >= 3 and np.ptp(members) > 0:
            datasets.append(members)
            positions.append(float(energy))
    spacing = float(np.min(np.diff(curve.energy_gev))) if curve.energy_gev.size > 1 else 200.0
    with figure_style():
        fig = new_figure(width=12.0)
        ax = fig.add_subplot()
        if datasets:
            parts = ax.violinplot(datasets, positions=positions, widths=0.8 * spacing, showmedians=True)
            for body in cast("list[PolyCollection]", parts["bodies"]):
                body.set_alpha(0.6)
        ax.axhline(1.0, color="k", ls="--", lw=1)
        ax.set(ylim=ratio_range, xlabel="True energy [GeV]", ylabel="Corrected prediction / true energy")
        return save_figure(fig, out_dir, name)
