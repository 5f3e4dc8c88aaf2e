"""Binning energy into the cell grid (numba), the way the Geant4 reference reads out (README "Readout").

All deposits go through a *sink*, the tuple ``(grid, touched, counters, tally, record)``:

- ``grid`` float64[n_cells]: energy per cell of the current muon, MeV;
- ``touched`` int64[n_cells]: the cells made non-zero, so collecting and clearing cost O(hits);
- ``counters`` int64[4]: [0] cells touched, [1] particles on the stack, [2] recorded points,
  [3] 1 when recording (used to build the photon library: deposits are stored as points instead);
- ``tally`` float64[2]: [0] energy that left the block, [1] invisible energy, MeV;
- ``record`` float64[M, 4]: recorded points (x, y, z, energy).

Coordinates: x, y centred on the block, z from the front face, mm; energies in MeV.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

from mucalo.simulation.fast.params import (
    P_DEPTH,
    P_HALF_X,
    P_HALF_Y,
    P_INV_LAYER,
    P_INV_PITCH,
    P_NL,
    P_NX,
    P_NY,
)

__all__ = [
    "PIECE_MM",
    "TALLY_ESCAPED",
    "TALLY_INVISIBLE",
    "cell_of",
    "deposit_point",
    "deposit_segment",
    "deposit_track",
    "new_sink",
]

#: Charged steps are split into pieces of at most this length, each binned at its midpoint (README).
PIECE_MM = 0.9375
_MAX_PIECES = 4000
TALLY_ESCAPED = 0
TALLY_INVISIBLE = 1
C_TOUCHED = 0
C_STACK = 1
C_RECORDED = 2
C_RECORDING = 3

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Sink = tuple[FloatArray, IntArray, IntArray, FloatArray, FloatArray]


def new_sink(n_cells: int, record_size: int = 1) -> Sink:
    """A fresh, empty sink for a grid of ``n_cells`` (and room for ``record_size`` recorded points)."""
    return (
        np.zeros(n_cells),
        np.zeros(max(n_cells, 1), dtype=np.int64),
        np.zeros(4, dtype=np.int64),
        np.zeros(2),
        np.zeros((record_size, 4)),
    )


@numba.njit(cache=True, inline="always")
def cell_of(x: float, y: float, z: float, p: FloatArray) -> int:
    """Flat cell index of the point, or −1 outside the block."""
    if z < 0.0 or z >= p[P_DEPTH]:
        return -1
    hx = p[P_HALF_X]
    hy = p[P_HALF_Y]
    if not (-hx <= x < hx) or not (-hy <= y < hy):
        return -1
    nx = int(p[P_NX])
    ny = int(p[P_NY])
    ix = min(int((x + hx) * p[P_INV_PITCH]), nx - 1)
    iy = min(int((y + hy) * p[P_INV_PITCH]), ny - 1)
    layer = min(int(z * p[P_INV_LAYER]), int(p[P_NL]) - 1)
    return (layer * nx + ix) * ny + iy


@numba.njit(cache=True, inline="always")
def _add(cell: int, energy: float, sink: Sink) -> None:
    grid = sink[0]
    if grid[cell] == 0.0:
        counters = sink[2]
        sink[1][counters[C_TOUCHED]] = cell
        counters[C_TOUCHED] += 1
    grid[cell] += energy


@numba.njit(cache=True)
def _record(x: float, y: float, z: float, energy: float, sink: Sink) -> None:
    counters = sink[2]
    record = sink[4]
    n = counters[C_RECORDED]
    if n < record.shape[0]:
        record[n, 0] = x
        record[n, 1] = y
        record[n, 2] = z
        record[n, 3] = energy
        counters[C_RECORDED] = n + 1
    else:  # the library builder sizes the record generously; overflow is reported as escaped
        sink[3][TALLY_ESCAPED] += energy


@numba.njit(cache=True)
def deposit_point(x: float, y: float, z: float, energy: float, p: FloatArray, sink: Sink) -> None:
    """Deposit ``energy`` (MeV) at a point; outside the block it is escaped."""
    if energy <= 0.0:
        return
    if sink[2][C_RECORDING]:
        _record(x, y, z, energy, sink)
        return
    cell = cell_of(x, y, z, p)
    if cell < 0:
        sink[3][TALLY_ESCAPED] += energy
    else:
        _add(cell, energy, sink)


@numba.njit(cache=True)
def deposit_segment(
    x0: float, y0: float, z0: float, x1: float, y1: float, z1: float, energy: float, p: FloatArray, sink: Sink
) -> None:
    """Spread ``energy`` evenly along a straight segment: ceil(L/0.9375 mm) pieces, binned at midpoints."""
    if energy <= 0.0:
        return
    length = math.sqrt((x1 - x0) ** 2 + (y1 - y0) ** 2 + (z1 - z0) ** 2)
    n = min(max(math.ceil(length / PIECE_MM), 1), _MAX_PIECES)
    piece = energy / n
    dx = (x1 - x0) / n
    dy = (y1 - y0) / n
    dz = (z1 - z0) / n
    if sink[2][C_RECORDING]:
        for i in range(n):
            f = i + 0.5
            _record(x0 + f * dx, y0 + f * dy, z0 + f * dz, piece, sink)
        return
    last = -2
    pending = 0.0
    for i in range(n):
        f = i + 0.5
        cell = cell_of(x0 + f * dx, y0 + f * dy, z0 + f * dz, p)
        if cell != last:  # consecutive pieces mostly share a cell: add them in one go
            if pending > 0.0:
                if last < 0:
                    sink[3][TALLY_ESCAPED] += pending
                else:
                    _add(last, pending, sink)
            last = cell
            pending = 0.0
        pending += piece
    if last < 0:
        sink[3][TALLY_ESCAPED] += pending
    else:
        _add(last, pending, sink)


@numba.njit(cache=True, inline="always")
def _next_boundary(pos: float, direction: float, pitch: float, origin: float) -> float:
    """Path length along the segment to the next grid plane (pitch, offset origin) in one axis."""
    if direction > 1e-300:
        k = math.floor((pos - origin) / pitch) + 1.0
        return (origin + k * pitch - pos) / direction
    if direction < -1e-300:
        k = math.ceil((pos - origin) / pitch) - 1.0
        return (origin + k * pitch - pos) / direction
    return 1e300


@numba.njit(cache=True)
def deposit_track(
    x0: float, y0: float, z0: float, x1: float, y1: float, z1: float, energy: float, p: FloatArray, sink: Sink
) -> None:
    """Spread ``energy`` along a straight segment in proportion to the length inside each cell.

    An exact walk over the cell boundaries crossed (used for the long muon steps); a cell that the
    segment only grazes gets its share, where the 0.94 mm piece binning might give it nothing.
    """
    if energy <= 0.0:
        return
    length = math.sqrt((x1 - x0) ** 2 + (y1 - y0) ** 2 + (z1 - z0) ** 2)
    if length < 1e-9 or sink[2][C_RECORDING]:
        deposit_point(0.5 * (x0 + x1), 0.5 * (y0 + y1), 0.5 * (z0 + z1), energy, p, sink)
        return
    ux = (x1 - x0) / length
    uy = (y1 - y0) / length
    uz = (z1 - z0) / length
    pitch = 1.0 / p[P_INV_PITCH]
    layer = 1.0 / p[P_INV_LAYER]
    per_mm = energy / length
    s = 0.0
    while s < length:
        # the cell of the point just after s, and the distance to its exit along the segment
        xs = x0 + ux * s
        ys = y0 + uy * s
        zs = z0 + uz * s
        step = min(
            _next_boundary(xs, ux, pitch, -p[P_HALF_X]),
            _next_boundary(ys, uy, pitch, -p[P_HALF_Y]),
            _next_boundary(zs, uz, layer, 0.0),
            length - s,
        )
        step = max(step, 1e-9)
        h = 0.5 * step
        cell = cell_of(xs + ux * h, ys + uy * h, zs + uz * h, p)
        if cell < 0:
            sink[3][TALLY_ESCAPED] += per_mm * step
        else:
            _add(cell, per_mm * step, sink)
        s += step
