"""The calorimeter: a homogeneous block read out as a (layer, x, y) grid of cells.

Conventions (SYSTEM.md "Detector"): the block is centred on the beam axis in x and y, its front face is
at z = 0, layer k spans [k·layer_depth, (k+1)·layer_depth) in z, and the flat cell index is
``(layer·n_cells_x + ix)·n_cells_y + iy`` (order z, x, y), stored as uint16.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from mucalo.errors import ConfigError

__all__ = ["MAX_CELLS", "Detector"]

#: Flat cell indices are stored as uint16, so a grid may hold at most this many cells.
MAX_CELLS = 65_536

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True, slots=True)
class Detector:
    """Geometry of the calorimeter; defaults are the published detector (paper §2, SYSTEM.md).

    .. note:: The paper quotes 39.6 mm layers and 3.73 mm cells, which do not multiply to its own
       totals; the published data use 40.64 mm and 3.75 mm (reference-code-notes §1.1).
    """

    n_layers: int = 50  # readout layers along z
    n_cells_x: int = 32  # cells across x (the bending plane)
    n_cells_y: int = 32  # cells across y
    layer_depth_mm: float = 40.64  # layer pitch along z, mm
    cell_size_mm: float = 3.75  # transverse cell pitch, mm
    material: str = "G4_PbWO4"  # Geant4 NIST material name of the homogeneous block
    field_t: float = 2.0  # uniform magnetic field along +y, tesla (0 switches bending off)
    threshold_gev: float = 0.1  # E_thr: a cell is "above threshold" when E > this (features, clusters)
    soft_threshold_gev: float = 0.01  # split of the sub-threshold sums V[26] (E ≤ this) and V[27]

    def __post_init__(self) -> None:
        for name in ("n_layers", "n_cells_x", "n_cells_y"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                msg = f"detector.{name}: expected a positive integer, got {value!r}"
                raise ConfigError(msg)
        for name in ("layer_depth_mm", "cell_size_mm", "threshold_gev", "soft_threshold_gev"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                msg = f"detector.{name}: expected a positive number, got {value!r}"
                raise ConfigError(msg)
        if not math.isfinite(self.field_t):
            msg = f"detector.field_t: expected a finite number of tesla, got {self.field_t!r}"
            raise ConfigError(msg)
        if self.soft_threshold_gev >= self.threshold_gev:
            msg = (
                f"detector.soft_threshold_gev: expected less than threshold_gev={self.threshold_gev}, "
                f"got {self.soft_threshold_gev}"
            )
            raise ConfigError(msg)
        if self.n_cells > MAX_CELLS:
            msg = (
                f"detector: {self.n_layers}×{self.n_cells_x}×{self.n_cells_y} = {self.n_cells} cells; "
                f"at most {MAX_CELLS} fit the uint16 cell index (reduce n_layers, n_cells_x or n_cells_y)"
            )
            raise ConfigError(msg)

    # --- derived sizes -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """Grid shape (layers, x cells, y cells), the order of the flat index."""
        return (self.n_layers, self.n_cells_x, self.n_cells_y)

    @property
    def n_cells(self) -> int:
        """Number of cells in the grid."""
        return self.n_layers * self.n_cells_x * self.n_cells_y

    @property
    def width_x_mm(self) -> float:
        """Full width of the block in x, mm."""
        return self.n_cells_x * self.cell_size_mm

    @property
    def width_y_mm(self) -> float:
        """Full width of the block in y, mm."""
        return self.n_cells_y * self.cell_size_mm

    @property
    def depth_mm(self) -> float:
        """Full depth of the block in z, mm."""
        return self.n_layers * self.layer_depth_mm

    # --- index conversions ---------------------------------------------------------------------
    def flat_index(self, layer: npt.ArrayLike, ix: npt.ArrayLike, iy: npt.ArrayLike) -> IntArray:
        """Flat cell index ``(layer·n_x + ix)·n_y + iy`` of (layer, ix, iy); raises if outside the grid."""
        layer_a, ix_a, iy_a = (np.asarray(a, dtype=np.int64) for a in (layer, ix, iy))
        for name, arr, size in (
            ("layer", layer_a, self.n_layers),
            ("ix", ix_a, self.n_cells_x),
            ("iy", iy_a, self.n_cells_y),
        ):
            if arr.size and (arr.min() < 0 or arr.max() >= size):
                msg = f"{name}: expected indices in [0, {size}), got values in [{arr.min()}, {arr.max()}]"
                raise ConfigError(msg)
        return np.asarray((layer_a * self.n_cells_x + ix_a) * self.n_cells_y + iy_a, dtype=np.int64)

    def unflatten(self, cell: npt.ArrayLike) -> tuple[IntArray, IntArray, IntArray]:
        """(layer, ix, iy) of flat cell indices; raises if an index is outside the grid."""
        cell_a = np.asarray(cell, dtype=np.int64)
        if cell_a.size and (cell_a.min() < 0 or cell_a.max() >= self.n_cells):
            msg = (
                f"cell: expected indices in [0, {self.n_cells}), "
                f"got values in [{cell_a.min()}, {cell_a.max()}]"
            )
            raise ConfigError(msg)
        per_layer = self.n_cells_x * self.n_cells_y
        return cell_a // per_layer, (cell_a // self.n_cells_y) % self.n_cells_x, cell_a % self.n_cells_y

    def cell_centre(self, cell: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Cell-centre (x, y, z) in mm of flat cell indices; z is measured from the front face."""
        layer, ix, iy = self.unflatten(cell)
        z = np.asarray((layer + 0.5) * self.layer_depth_mm, dtype=np.float64)
        return self.x_centre(ix), self.y_centre(iy), z

    def x_centre(self, ix: npt.ArrayLike) -> FloatArray:
        """x of the centre of column ix, mm (−58.125 … +58.125 for the default grid)."""
        return (np.asarray(ix, dtype=np.float64) + 0.5) * self.cell_size_mm - 0.5 * self.width_x_mm

    def y_centre(self, iy: npt.ArrayLike) -> FloatArray:
        """y of the centre of row iy, mm."""
        return (np.asarray(iy, dtype=np.float64) + 0.5) * self.cell_size_mm - 0.5 * self.width_y_mm

    def layer_front_mm(self, layer: npt.ArrayLike) -> FloatArray:
        """z of the upstream face of a layer, mm from the front face (the z the features use)."""
        return np.asarray(layer, dtype=np.float64) * self.layer_depth_mm

    def column_of(self, x_mm: npt.ArrayLike, y_mm: npt.ArrayLike) -> tuple[IntArray, IntArray]:
        """(ix, iy) of the cell column containing transverse position (x, y) mm: floor((x + W/2)/pitch).

        Positions outside the face give indices outside [0, n); callers decide what that means.
        """
        ix = np.floor((np.asarray(x_mm, np.float64) + 0.5 * self.width_x_mm) / self.cell_size_mm)
        iy = np.floor((np.asarray(y_mm, np.float64) + 0.5 * self.width_y_mm) / self.cell_size_mm)
        return ix.astype(np.int64), iy.astype(np.int64)

    # --- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (what goes into shard and run metadata)."""
        return asdict(self)

    def to_json(self) -> str:
        """JSON string of the fields, as stored in the shards' ``detector`` attribute."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "detector") -> Detector:
        """Build from a dict; unknown keys are refused, keys absent take the defaults.

        Shards written by other tools (the Geant4 reference files) carry extra descriptive keys and a
        different naming; :func:`mucalo.io.shards` maps them before calling this.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            msg = f"{where}: unknown key(s) {unknown}; known keys are {sorted(known)}"
            raise ConfigError(msg)
        return cls(**data)

    @classmethod
    def from_json(cls, text: str, *, where: str = "detector") -> Detector:
        """Inverse of :meth:`to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            msg = f"{where}: expected a JSON object, got {text[:80]!r} ({err})"
            raise ConfigError(msg) from err
        if not isinstance(data, dict):
            msg = f"{where}: expected a JSON object, got {type(data).__name__}"
            raise ConfigError(msg)
        return cls.from_dict(data, where=where)
