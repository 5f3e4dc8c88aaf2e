"""Binning energy into the cell grid (numba), the way the Geant4 reference reads out (README "Readout").

Deposits go into ``s.grid`` (MeV per cell of the current muon); ``s.touched`` lists the cells made
non-zero so that collecting and clearing cost O(hits). Energy outside the block is tallied as escaped.
While the photon library is built (``s.counters[C_RECORDING]``) deposits are recorded as points instead.
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
from mucalo.simulation.fast.rng import gamma_fast
from mucalo.simulation.fast.state import (
    C_RECORDED,
    C_RECORDING,
    C_TOUCHED,
    TALLY_ESCAPED,
    KernelState,
)

__all__ = [
    "PIECE_MM",
    "add_to_cell",
    "cell_at",
    "cell_index",
    "cell_of",
    "deposit_loss",
    "deposit_point",
    "deposit_segment",
    "escape",
    "geometry",
    "grid_add",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Charged steps are split into pieces of at most this length, each binned at its midpoint (README).
PIECE_MM = 0.9375
_MAX_PIECES = 4000
_RECORD_PIECE_MM = 1.875


@numba.njit(cache=True, inline="always")
def cell_of(s: KernelState, x: float, y: float, z: float) -> int:
    """Flat cell index of the point, or −1 outside the block."""
    return cell_index(s.params, x, y, z)


Geometry = tuple[float, float, float, float, float, int, int, int]


@numba.njit(cache=True, inline="always")
def geometry(p: FloatArray) -> Geometry:
    """The grid constants of params ``p`` as a tuple, for :func:`cell_at`.

    Hot loops read them once: LLVM cannot keep ``p[...]`` in registers across stores into the
    grid (numba arrays may alias), and reloading and converting them per point costs ~10 ns.
    """
    return (
        p[P_HALF_X],
        p[P_HALF_Y],
        p[P_DEPTH],
        p[P_INV_PITCH],
        p[P_INV_LAYER],
        int(p[P_NX]),
        int(p[P_NY]),
        int(p[P_NL]),
    )


@numba.njit(cache=True, inline="always")
def cell_at(g: Geometry, x: float, y: float, z: float) -> int:
    """Flat cell index of the point for the grid constants ``g`` (:func:`geometry`), or −1 outside."""
    hx, hy, depth, inv_pitch, inv_layer, nx, ny, nl = g
    if z < 0.0 or z >= depth:
        return -1
    if not (-hx <= x < hx) or not (-hy <= y < hy):
        return -1
    ix = min(int((x + hx) * inv_pitch), nx - 1)
    iy = min(int((y + hy) * inv_pitch), ny - 1)
    layer = min(int(z * inv_layer), nl - 1)
    return (layer * nx + ix) * ny + iy


@numba.njit(cache=True, inline="always")
def cell_index(p: FloatArray, x: float, y: float, z: float) -> int:
    """Flat cell index of the point for the geometry in params ``p``, or −1 outside the block."""
    return cell_at(geometry(p), x, y, z)


@numba.njit(cache=True, inline="always")
def escape(s: KernelState, energy: float) -> None:
    """Count ``energy`` as having left the block."""
    s.tally[TALLY_ESCAPED] += energy


@numba.njit(cache=True, inline="always")
def add_to_cell(s: KernelState, cell: int, energy: float) -> None:
    """Add ``energy`` (MeV) to a cell of the grid, listing the cell when it becomes non-zero."""
    grid_add(s.grid, s.touched, s.counters, cell, energy)


@numba.njit(cache=True, inline="always")
def grid_add(grid: FloatArray, touched: IntArray, counters: IntArray, cell: int, energy: float) -> None:
    """:func:`add_to_cell` on the arrays themselves, for single deposits.

    Loops over many deposits write these lines out instead, with the list length in a local
    that is stored back once: a call that passes arrays costs ~20 ns even when inlined (numba
    reference-counts array arguments around it), four times the cost of the deposit itself.

    The cell is written to the list's next slot every time and the count moves on only when the
    cell was empty: whether a deposit opens a cell is a coin toss to the branch predictor, and a
    mispredicted branch cost as much as the rest of a replayed point (library replay 1.8× faster).
    ``touched`` has one slot more than the grid for this write.
    """
    value = grid[cell]
    n_touched = counters[C_TOUCHED]
    touched[n_touched] = cell  # kept only if it was empty (see grid_add)
    counters[C_TOUCHED] = n_touched + (value == 0.0)
    grid[cell] = value + energy


@numba.njit(cache=True, inline="always")
def _record(s: KernelState, x: float, y: float, z: float, energy: float) -> None:
    counters = s.counters
    record = s.record
    n = counters[C_RECORDED]
    if n < record.shape[0]:
        record[n, 0] = x
        record[n, 1] = y
        record[n, 2] = z
        record[n, 3] = energy
        counters[C_RECORDED] = n + 1
    else:  # the library builder sizes the record generously; an overflow shows up as escaped energy
        escape(s, energy)


@numba.njit(cache=True, inline="always")
def deposit_point(s: KernelState, x: float, y: float, z: float, energy: float) -> None:
    """Deposit ``energy`` (MeV) at a point; outside the block it is escaped."""
    if energy <= 0.0:
        return
    counters = s.counters
    if counters[C_RECORDING]:
        _record(s, x, y, z, energy)
        return
    cell = cell_index(s.params, x, y, z)
    if cell < 0:
        s.tally[TALLY_ESCAPED] += energy
    else:
        grid_add(s.grid, s.touched, counters, cell, energy)


@numba.njit(cache=True)
def deposit_segment(
    s: KernelState, x0: float, y0: float, z0: float, x1: float, y1: float, z1: float, energy: float
) -> None:
    """Spread ``energy`` evenly along a straight segment: ceil(L/0.9375 mm) pieces, binned at midpoints."""
    if energy <= 0.0:
        return
    length = math.sqrt((x1 - x0) ** 2 + (y1 - y0) ** 2 + (z1 - z0) ** 2)
    recording = s.counters[C_RECORDING] != 0
    # library histories keep half-cell pieces: they are replayed many times, and 0.94 mm pieces
    # would double their points for no visible change at a 3.75 mm cell pitch
    n = min(max(math.ceil(length / (_RECORD_PIECE_MM if recording else PIECE_MM)), 1), _MAX_PIECES)
    piece = energy / n
    dx = (x1 - x0) / n
    dy = (y1 - y0) / n
    dz = (z1 - z0) / n
    counters = s.counters
    if recording:
        for i in range(n):
            f = i + 0.5
            _record(s, x0 + f * dx, y0 + f * dy, z0 + f * dz, piece)
        return
    g = geometry(s.params)
    grid = s.grid
    touched = s.touched
    n_touched = counters[C_TOUCHED]
    escaped = 0.0
    last = -2
    pending = 0.0
    for i in range(n):
        f = i + 0.5
        cell = cell_at(g, x0 + f * dx, y0 + f * dy, z0 + f * dz)
        if cell != last:  # consecutive pieces mostly share a cell: add them in one go
            if pending > 0.0:
                if last < 0:
                    escaped += pending
                else:
                    value = grid[last]
                    touched[n_touched] = last  # kept only if it was empty (see grid_add)
                    n_touched += value == 0.0
                    grid[last] = value + pending
            last = cell
            pending = 0.0
        pending += piece
    if last < 0:
        escaped += pending
    else:
        value = grid[last]
        touched[n_touched] = last  # kept only if it was empty (see grid_add)
        n_touched += value == 0.0
        grid[last] = value + pending
    counters[C_TOUCHED] = n_touched
    if escaped > 0.0:
        s.tally[TALLY_ESCAPED] += escaped


@numba.njit(cache=True)
def deposit_loss(
    s: KernelState,
    x0: float,
    y0: float,
    z0: float,
    x1: float,
    y1: float,
    z1: float,
    per_mm: float,
    shape_per_mm: float,
    limit: float,
) -> float:
    """Deposit a muon step's continuous loss along its chord, cell by cell; returns the total, MeV.

    An exact walk over the cell boundaries crossed (the 0.94 mm pieces of the reference readout
    differ only for cells the track grazes by < 0.5 mm), by voxel traversal: the distances to the
    next x, y and layer planes advance by fixed increments and the cell index by ±1, so a piece costs
    a comparison or two. The piece in a cell has mean ``per_mm`` × its length l; with
    ``shape_per_mm`` > 0 it is drawn from a Gamma of shape ``shape_per_mm`` · l and that mean
    (PHYSICS.md §2.3), so every cell's piece fluctuates independently, as when the muon steps from
    boundary to boundary, however long the step. The total stops at ``limit`` (the muon's kinetic
    energy).
    """
    length = math.sqrt((x1 - x0) ** 2 + (y1 - y0) ** 2 + (z1 - z0) ** 2)
    if per_mm <= 0.0 or limit <= 0.0 or length < 1e-9:
        return 0.0
    rng = s.rng
    if s.counters[C_RECORDING]:  # (not during library building; kept whole for completeness)
        energy = per_mm * length
        if shape_per_mm > 0.0:
            energy = gamma_fast(rng, shape_per_mm * length) * per_mm / shape_per_mm
        energy = min(energy, limit)
        deposit_point(s, 0.5 * (x0 + x1), 0.5 * (y0 + y1), 0.5 * (z0 + z1), energy)
        return energy
    grid = s.grid
    touched = s.touched
    counters = s.counters
    hx, hy, _, inv_pitch, inv_layer, nx, ny, nl = geometry(s.params)
    pitch = 1.0 / inv_pitch
    layer = 1.0 / inv_layer
    inv_length = 1.0 / length
    # the cell of the start and, per axis, the path length to its next plane and between planes
    fx = (x0 + hx) * inv_pitch
    fy = (y0 + hy) * inv_pitch
    fz = z0 * inv_layer
    ix, iy, il = math.floor(fx), math.floor(fy), math.floor(fz)
    dx, dy, dz = (x1 - x0) * inv_length, (y1 - y0) * inv_length, (z1 - z0) * inv_length
    step_x, next_x, delta_x = _axis(fx, ix, dx, pitch)
    step_y, next_y, delta_y = _axis(fy, iy, dy, pitch)
    step_z, next_z, delta_z = _axis(fz, il, dz, layer)
    scale = per_mm / shape_per_mm if shape_per_mm > 0.0 else 0.0
    total = 0.0
    done = 0.0
    escaped = 0.0
    n_touched = counters[C_TOUCHED]
    while done < length and total < limit:
        end = min(next_x, next_y, next_z, length)
        piece = end - done
        if piece > 0.0:
            share = gamma_fast(rng, shape_per_mm * piece) * scale if shape_per_mm > 0.0 else per_mm * piece
            share = min(share, limit - total)
            total += share
            if 0 <= ix < nx and 0 <= iy < ny and 0 <= il < nl:
                cell = (il * nx + ix) * ny + iy
                value = grid[cell]
                touched[n_touched] = cell  # kept only if it was empty (see grid_add)
                n_touched += value == 0.0
                grid[cell] = value + share
            else:
                escaped += share
        done = end
        if next_x <= end:  # every plane reached at this point (a corner crosses two)
            ix += step_x
            next_x += delta_x
        if next_y <= end:
            iy += step_y
            next_y += delta_y
        if next_z <= end:
            il += step_z
            next_z += delta_z
    counters[C_TOUCHED] = n_touched
    if escaped > 0.0:
        s.tally[TALLY_ESCAPED] += escaped
    return total


@numba.njit(cache=True, inline="always")
def _axis(f: float, i: int, direction: float, spacing: float) -> tuple[int, float, float]:
    """Voxel traversal along one axis from fractional cell coordinate ``f`` (in cell ``i``): the index
    step, the path length to the next plane and the path length between planes."""
    if direction > 1e-300:
        return 1, (i + 1.0 - f) * spacing / direction, spacing / direction
    if direction < -1e-300:
        return -1, (f - i) * spacing / -direction, spacing / -direction
    return 0, 1e300, 1e300
