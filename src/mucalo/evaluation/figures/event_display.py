"""Event display of one muon's hits, like paper Fig. 2 (reference-code-notes §1.3)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from matplotlib import colormaps
from matplotlib.colors import Normalize

from mucalo.errors import DataFormatError
from mucalo.evaluation.figures._style import figure_style, new_figure, save_figure

if TYPE_CHECKING:
    from mucalo.detector import Detector

__all__ = ["plot_event_display"]

#: Cells whose relative log energy is below this are not drawn (as the authors' display).
_MIN_ALPHA = 5e-4


def plot_event_display(
    cell: npt.ArrayLike,
    energy: npt.ArrayLike,
    detector: Detector,
    *,
    out_dir: Path,
    name: str = "event_display",
    title: str | None = None,
) -> list[Path]:
    """3-D scatter of a muon's hit cells, coloured (and faded) by log(E + 1)/log(E_max + 1).

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
    e_max = float(deposits[positive].max()) if positive.any() else 0.0
    level = np.log1p(np.clip(deposits, 0.0, None)) / np.log1p(e_max) if e_max > 0 else np.zeros_like(deposits)
    shown = level >= _MIN_ALPHA
    order = np.argsort(level[shown])  # draw the brightest last, on top
    colours = colormaps["viridis"](level[shown][order])
    colours[:, 3] = np.clip(0.15 + 0.85 * level[shown][order], 0.0, 1.0)
    half_x, half_y = 0.5 * detector.width_x_mm, 0.5 * detector.width_y_mm
    with figure_style():
        fig = new_figure(width=8.0, height=7.0)
        ax = fig.add_subplot(projection="3d")
        ax.scatter(x[shown][order], z[shown][order], y[shown][order], c=colours,
                   s=4.0 + 40.0 * level[shown][order], marker="s", depthshade=False, linewidths=0)
        ax.set(xlim=(-half_x, half_x), ylim=(0.0, detector.depth_mm), zlim=(-half_y, half_y))
        ax.set_xlabel("x [mm]", labelpad=12)
        ax.set_ylabel("z [mm]", labelpad=12)
        ax.set_zlabel("y [mm]", labelpad=12)
        ax.set_box_aspect((1.0, 2.5, 1.0))
        mappable = colormaps["viridis"]
        fig.colorbar(
            _scalar_mappable(mappable), ax=ax, shrink=0.6, label=f"log(E+1)/log(E_max+1), E_max = {e_max:.3g} GeV"
        )
        if title:
            ax.set_title(title)
        return save_figure(fig, out_dir, name)


def _scalar_mappable(cmap: object) -> object:
    from matplotlib.cm import ScalarMappable

    return ScalarMappable(norm=Normalize(0.0, 1.0), cmap=cmap)  # type: ignore[arg-type]
