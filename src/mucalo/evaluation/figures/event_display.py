"""Event display of one muon's hits, like paper Fig. 2 (reference-code-notes §1.3)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.style as mplstyle
import numpy as np
import numpy.typing as npt
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LogNorm

from mucalo.errors import DataFormatError
from mucalo.evaluation.figures._style import figure_style, new_figure, save_figure

if TYPE_CHECKING:
    from mucalo.detector import Detector

__all__ = ["plot_event_display"]

#: Colour scale spans at most this fraction of the hottest cell up to it (four decades); colder cells
#: are not drawn.
_DYNAMIC_RANGE = 1e-4


def plot_event_display(
    cell: npt.ArrayLike,
    energy: npt.ArrayLike,
    detector: Detector,
    *,
    out_dir: Path,
    name: str = "event_display",
    title: str | None = None,
) -> list[Path]:
    """3-D scatter of a muon's hit cells, coloured (and faded) by log energy, like paper Fig. 2.

    .. note:: The authors' display scales colour by log(E + 1)/log(E_max + 1); with energies in GeV that
       leaves the MeV halo invisible, so here the colour is log E between the coldest cell (at most
       four decades below the hottest) and the hottest.

    Axes follow the authors' display: horizontal = detector x (bending plane), depth = z (beam),
    vertical = y; cells are drawn at their centres.

    Args:
        cell: (K,) flat cell indices (order z, x, y, as the shards store them).
        energy: (K,) deposited energy per cell, GeV.
        detector: the geometry the indices refer to.
        title: e.g. "μ⁻, 1000 GeV".

    Raises:
        DataFormatError: ``cell`` and ``energy`` differ in length.
        ConfigError: a cell index lies outside the detector.
    """
    cells = np.asarray(cell, dtype=np.int64).ravel()
    deposits = np.asarray(energy, dtype=np.float64).ravel()
    if cells.shape != deposits.shape:
        msg = f"event display: cell has {cells.size} entries but energy has {deposits.size}"
        raise DataFormatError(msg)
    x, y, z = detector.cell_centre(cells)
    positive = deposits > 0
    e_max = float(deposits[positive].max()) if positive.any() else 1.0
    e_min = max(float(deposits[positive].min()) if positive.any() else 1.0, e_max * _DYNAMIC_RANGE)
    norm = LogNorm(vmin=e_min, vmax=max(e_max, e_min * 10.0))
    shown = deposits >= e_min
    order = np.argsort(deposits[shown])  # draw the most energetic last, on top
    level = np.clip(norm(deposits[shown][order]).filled(0.0), 0.0, 1.0)
    colours = colormaps["viridis"](level)
    colours[:, 3] = 0.15 + 0.85 * level  # faint halo, solid hot spots
    half_x, half_y = 0.5 * detector.width_x_mm, 0.5 * detector.width_y_mm
    # The CMS style's 26 pt text crowds a 3-D axis box; a smaller size keeps the ticks readable.
    with figure_style(), mplstyle.context({"font.size": 16, "axes.labelsize": 18}):
        fig = new_figure(width=10.0, height=9.0)
        ax = fig.add_subplot(projection="3d")
        ax.scatter(
            x[shown][order],
            z[shown][order],
            y[shown][order],
            c=colours,
            s=4.0 + 40.0 * level,
            marker="s",
            depthshade=False,
            linewidths=0,
        )
        ax.set(xlim=(-half_x, half_x), ylim=(0.0, detector.depth_mm), zlim=(-half_y, half_y))
        ax.set_xlabel("x [mm]", labelpad=12)
        ax.set_ylabel("z [mm]", labelpad=12)
        ax.set_zlabel("y [mm]", labelpad=12)
        ax.set_box_aspect((1.0, 2.5, 1.0))
        fig.colorbar(ScalarMappable(norm=norm, cmap="viridis"), ax=ax, shrink=0.6, label="Cell energy [GeV]")
        if title:
            ax.set_title(title)
        return save_figure(fig, out_dir, name)
