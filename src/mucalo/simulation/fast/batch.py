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


#: A muon's cells are collected in increasing order through a bit mask of the grid (one bit per
#: cell): setting the bits costs O(hits), reading them back O(cells / 64) word tests plus one
#: de Bruijn multiplication per hit, several times less than sorting the hit list.
_DE_BRUIJN = np.uint64(0x03F79D71B4CB0A89)
_DE_BRUIJN_INDEX = np.array(
    [
        0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4,
        62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
        63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
        46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6,
    ],
    dtype=np.int64,
)  # fmt: skip


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
    n_words = (n_cells + 63) // 64
    mask = np.zeros(n_words, dtype=np.uint64)
    de_bruijn_index = _DE_BRUIJN_INDEX
    one = np.uint64(1)
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
        # collect the touched cells in increasing order and clear them; written out, not a helper
        # taking the arrays: numba reference-counts array arguments, which costs more than the copy
        for j in range(hits):
            c = touched[j]
            mask[c >> 6] |= one << np.uint64(c & 63)
        total = 0.0
        for w in range(n_words):
            word = mask[w]
            if word == 0:
                continue
            mask[w] = 0
            while word != 0:
                lowest = word & (~word + one)
                c = (w << 6) + de_bruijn_index[(lowest * _DE_BRUIJN) >> np.uint64(58)]
                word ^= lowest
                value = grid[c]
                grid[c] = 0.0
                total += value
                rounded = np.float32(value * 1e-3)
                if rounded > 0.0:  # float32 underflow would store a zero; never for keV deposits
                    cells[used] = c
                    energies[used] = rounded
                    used += 1
        offsets[i + 1] = used
        energy_loss[i] = (kinetic - exit_kinetic) * 1e-3
        escaped[i] = (tally[TALLY_ESCAPED] + tally[TALLY_INVISIBLE]) * 1e-3
        deposited[i] = total * 1e-3
    return offsets, cells[:used].copy(), energies[:used].copy(), energy_loss, escaped, deposited
