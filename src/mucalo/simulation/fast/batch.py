"""Simulate a batch of muons in one numba call and collect their hits in CSR form."""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

from mucalo.simulation.fast.rng import seed_state
from mucalo.simulation.fast.state import C_STACK, C_TOUCHED, TALLY_ESCAPED, TALLY_INVISIBLE, KernelState
from mucalo.simulation.fast.transport import transport_muon

__all__ = ["simulate_batch"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


#: Collect a muon's cells by scanning the whole grid once it touched more than 1/this of them
#: (sorting 2,500 cells costs ~80 µs, scanning 51,200 ~6 µs).
_DENSE_SCAN_RATIO = 64


@numba.njit(cache=True, inline="always")
def _emit(
    grid: FloatArray, cells: IntArray, energies: npt.NDArray[np.float32], c: int, total: float, used: int
) -> tuple[float, int]:
    """Move cell c of the grid to the output (GeV, float32); returns the updated sum and count."""
    value = grid[c]
    grid[c] = 0.0
    rounded = np.float32(value * 1e-3)
    if rounded > 0.0:  # float32 underflow would store a zero; never happens for keV deposits
        cells[used] = c
        energies[used] = rounded
        used += 1
    return total + value, used


@numba.njit(cache=True)
def simulate_batch(
    s: KernelState,
    true_energy: FloatArray,
    charge: FloatArray,
    x0: FloatArray,
    y0: FloatArray,
    start_z: float,
    seed: npt.NDArray[np.uint64],
) -> tuple[IntArray, IntArray, npt.NDArray[np.float32], FloatArray, FloatArray, FloatArray]:
    """Transport N muons; each one's random stream is seeded from its own ``seed`` only.

    Args:
        s: the kernels' state (tables, library, buffers).
        true_energy: (N,) kinetic energies, GeV. charge: (N,) ±1. x0, y0: (N,) gun position, mm.
        start_z: gun z, mm (front face at 0). seed: (N,) per-muon seeds.

    Returns:
        offsets (N+1,), cell (nnz,) increasing per muon, energy (nnz,) float32 GeV,
        energy_loss (N,) GeV, escaped (N,) GeV (invisible energy included), deposited (N,) GeV
        (float64 sum of the muon's cells before rounding to float32).
    """
    n = true_energy.shape[0]
    grid = s.grid
    n_cells = grid.shape[0]
    touched = s.touched
    counters = s.counters
    tally = s.tally
    offsets = np.zeros(n + 1, dtype=np.int64)
    capacity = max(4096, 1024 * n)
    cells = np.empty(capacity, dtype=np.int64)
    energies = np.empty(capacity, dtype=np.float32)
    energy_loss = np.empty(n)
    escaped = np.empty(n)
    deposited = np.empty(n)
    used = 0
    for i in range(n):
        seed_state(s.rng, seed[i])
        counters[C_TOUCHED] = 0
        counters[C_STACK] = 0
        tally[:] = 0.0
        kinetic = true_energy[i] * 1000.0
        exit_kinetic = transport_muon(s, kinetic, charge[i], x0[i], y0[i], start_z)
        hits = counters[C_TOUCHED]
        if used + hits > capacity:
            capacity = max(2 * capacity, used + hits)
            new_cells = np.empty(capacity, dtype=np.int64)
            new_energies = np.empty(capacity, dtype=np.float32)
            new_cells[:used] = cells[:used]
            new_energies[:used] = energies[:used]
            cells = new_cells
            energies = new_energies
        total = 0.0
        if hits * _DENSE_SCAN_RATIO > n_cells:  # scanning the grid is cheaper than sorting the list
            for c in range(n_cells):
                if grid[c] != 0.0:
                    total, used = _emit(grid, cells, energies, c, total, used)
        else:
            for c in np.sort(touched[:hits]):
                total, used = _emit(grid, cells, energies, c, total, used)
        offsets[i + 1] = used
        energy_loss[i] = (kinetic - exit_kinetic) * 1e-3
        escaped[i] = (tally[TALLY_ESCAPED] + tally[TALLY_INVISIBLE]) * 1e-3
        deposited[i] = total * 1e-3
    return offsets, cells[:used].copy(), energies[:used].copy(), energy_loss, escaped, deposited
