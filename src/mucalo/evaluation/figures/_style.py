"""Figure creation and saving: mplhep style, no pyplot (so no global backend state), PNG and PDF."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib.style as mplstyle
import mplhep
from matplotlib.figure import Figure

__all__ = ["FIGURE_FORMATS", "figure_style", "new_figure", "save_figure"]

#: Formats every figure is written in.
FIGURE_FORMATS = ("png", "pdf")


@contextmanager
def figure_style() -> Iterator[None]:
    """Apply the mplhep (CMS-like) style for the duration of the block only.

    The style must be active both when the figure is drawn and when it is saved.
    """
    # Per-glyph fallback to DejaVu Sans: the CMS font lacks e.g. superscript minus (μ⁻) and subscripts.
    with mplstyle.context([mplhep.style.CMS, {"font.family": ["TeX Gyre Heros", "DejaVu Sans"]}]):
        yield


def new_figure(*, width: float = 10.0, height: float = 8.0, nrows: int = 1, ncols: int = 1) -> Figure:
    """A figure using the Agg canvas (never pyplot), with a constrained layout; size in inches."""
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    fig.set_dpi(100)
    return fig


def save_figure(fig: Figure, out_dir: Path, name: str, *, dpi: int = 120) -> list[Path]:
    """Write ``out_dir/name.png`` and ``out_dir/name.pdf`` (directories created); return the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in FIGURE_FORMATS:
        path = out_dir / f"{name}.{fmt}"
        fig.savefig(path, dpi=dpi)
        paths.append(path)
    return paths
