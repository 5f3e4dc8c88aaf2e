"""The 28 high-level features: names, order, units and one-line meanings (paper appendix 6).

The names are those of the published data (reference-code-notes §2.2), in column order V[0]..V[27].
Where SYSTEM.md redefines a column the name is kept for interoperability and the description says what
the column holds (V[15], V[19], V[22], V[23]).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ENERGY_SUM_FEATURES",
    "FEATURES",
    "FEATURE_NAMES",
    "N_FEATURES",
    "Feature",
    "feature_index",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Feature:
    """One high-level feature column.

    Attributes:
        index: column number i of V[i].
        name: published column name.
        unit: physical unit ("1" for pure numbers and counts).
        description: one line saying what the value is.
    """

    index: int
    name: str
    unit: str
    description: str

    @property
    def label(self) -> str:
        """Axis label for plots, e.g. ``"V[0] eabove [GeV]"``."""
        unit = "" if self.unit == "1" else f" [{self.unit}]"
        return f"V[{self.index}] {self.name}{unit}"


_TABLE: tuple[tuple[str, str, str], ...] = (
    ("eabove", "GeV", "energy sum of cells above E_thr (E > 0.1 GeV)"),
    ("rmom", "mm", "|Σ E·(Δx, Δy)| / Σ E over all cells (transverse imbalance about the muon)"),
    ("rmom1", "mm", "as rmom, cells above E_thr only"),
    ("r2m", "mm²", "Σ E·(Δx² + Δy²) / Σ E over all cells (second transverse moment)"),
    ("r2m1", "mm²", "as r2m, layers of the first fifth of the depth (layers 0–9)"),
    ("r2m2", "mm²", "as r2m, second fifth of the depth (layers 10–19)"),
    ("r2m3", "mm²", "as r2m, third fifth of the depth (layers 20–29)"),
    ("r2m4", "mm²", "as r2m, fourth fifth of the depth (layers 30–39)"),
    ("r2m5", "mm²", "as r2m, last fifth of the depth (layers 40–49)"),
    ("nclu", "1", "number of type-1 clusters (6-connected, E > E_thr, touching the muon column)"),
    ("ncellmax", "1", "largest cell count among type-1 clusters"),
    ("eclumax", "GeV", "largest energy among type-1 clusters"),
    ("maxdepthx", "cells", "largest x extent (max − min index) among type-1 clusters"),
    ("maxdepthy", "cells", "largest y extent (max − min index) among type-1 clusters"),
    ("maxdepthz", "cells", "largest z extent (max − min layer) among type-1 clusters"),
    ("epercell", "GeV", "second-highest 3×3×3 box of unclustered energy not overlapping the highest"),
    ("avgcells", "1", "mean cell count of type-1 clusters"),
    ("nclu1", "1", "number of type-2 clusters (not touching the muon column)"),
    ("ncellmax1", "1", "largest cell count among type-2 clusters"),
    ("eclumax1", "GeV", "largest energy among type-2 clusters"),
    ("epercell1", "GeV", "eclumax1 / ncellmax1 (the two maxima may come from different clusters)"),
    ("avgcells_off_trk", "1", "mean cell count of type-2 clusters"),
    ("ymom", "mm", "Σ E·Δx / Σ E over all cells: the x first moment (published name says y)"),
    ("xmom", "mm", "Σ E·Δy / Σ E over all cells: the y first moment (published name says x)"),
    ("emeas", "GeV", "curvature estimate 0.3·B·R from two E·w-weighted points, |·| clipped to 10 TeV"),
    ("maxsum", "GeV", "highest 3×3×3 box of unclustered energy (boxes on the muon column excluded)"),
    ("eb1", "GeV", "energy sum of cells with E ≤ 0.01 GeV"),
    ("ea1", "GeV", "energy sum of cells with 0.01 < E ≤ 0.1 GeV"),
)

#: The 28 features in column order.
FEATURES: tuple[Feature, ...] = tuple(
    Feature(index=i, name=name, unit=unit, description=text) for i, (name, unit, text) in enumerate(_TABLE)
)
#: Column names in order, as stored in ``/features/values`` attribute ``names``.
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
N_FEATURES = len(FEATURES)
#: The "energy sums only" input set of paper Table 1: V[0], V[26], V[27].
ENERGY_SUM_FEATURES: tuple[str, ...] = ("eabove", "eb1", "ea1")


def feature_index(name: str) -> int:
    """Column number of a feature name.

    Raises:
        KeyError: unknown name (the message lists the known names).
    """
    try:
        return FEATURE_NAMES.index(name)
    except ValueError:
        msg = f"unknown feature {name!r}; known features are {list(FEATURE_NAMES)}"
        raise KeyError(msg) from None
