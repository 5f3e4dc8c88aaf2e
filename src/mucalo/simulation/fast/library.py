"""The photon library: histories of photons in an infinite block, replayed instead of transported.

Each history starts with one photon of energy k at the origin moving along +z and lists the points
where its energy ends up (photo-absorptions, Compton electrons, pieces of electron tracks, the products
of conversions), as fractions of k. Histories are made by the mini Monte Carlo itself
(:mod:`~mucalo.simulation.fast.minimc`), ``N_HISTORIES`` per energy node on a grid of
``NODES_PER_DECADE`` per decade, with a fixed seed, so the library is a pure function of the physics
parameters; building it takes well under a second. Replaying a history costs one rotation plus one cell
look-up per point, several times less than transporting the photon.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

from mucalo.simulation.fast.minimc import KIND_PHOTON, push, run_stack
from mucalo.simulation.fast.params import P_PHOTON_LOCAL
from mucalo.simulation.fast.rng import seed_state
from mucalo.simulation.fast.state import C_RECORDED, C_RECORDING, C_STACK, KernelState, make_state

__all__ = ["LIBRARY_MAX_MEV", "N_HISTORIES", "NODES_PER_DECADE", "build_photon_library", "empty_library"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Library = tuple[IntArray, FloatArray, FloatArray]

LIBRARY_MAX_MEV = 50.0  # photons above this are transported one by one
NODES_PER_DECADE = 32
N_HISTORIES = 64
_SEED = 0x6D7563616C6F  # fixed: the library is part of the physics, not of a muon's random stream
_RECORD_PER_HISTORY = 4096


def empty_library() -> Library:
    """A library with no nodes (every photon is transported)."""
    return np.zeros(1, dtype=np.int64), np.zeros((0, 4)), np.array([0.0, 1.0, 0.0, 0.0])


@numba.njit(cache=True)
def _histories(s: KernelState, energy: float, node: int, n_histories: int, ends: IntArray) -> None:
    """Record ``n_histories`` photon histories of ``energy`` MeV; ends[h] = points recorded so far."""
    for h in range(n_histories):
        seed_state(s.rng, np.uint64(_SEED + 1_000_003 * node + h))
        push(s, KIND_PHOTON, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, energy)
        run_stack(s)
        ends[h] = s.counters[C_RECORDED]


def build_photon_library(
    params: FloatArray,
    low_energy: tuple[FloatArray, FloatArray],
    muon_tables: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    *,
    n_histories: int = N_HISTORIES,
) -> Library:
    """Build the library for the physics in ``params`` (photon_local … LIBRARY_MAX_MEV).

    Returns:
        (index int64 [nodes·n_histories + 1] offsets into points, points float64 [n, 4] of
        (x, y, z mm, fraction of k), meta float64 [4] = (ln k of node 0, ln step, nodes, histories)).
    """
    k_min = float(params[P_PHOTON_LOCAL])
    step = math.log(10.0) / NODES_PER_DECADE
    n_nodes = int(math.floor(math.log(LIBRARY_MAX_MEV / k_min) / step)) + 1
    state = make_state(
        params=params,
        muon_tables=muon_tables,
        low_energy=low_energy,
        library=empty_library(),  # histories are made by transporting every photon
        n_cells=1,
        record_size=_RECORD_PER_HISTORY * n_histories,
    )
    state.counters[C_RECORDING] = 1
    ends = np.zeros(n_histories, dtype=np.int64)
    index = [np.zeros(1, dtype=np.int64)]
    points = []
    total = 0
    for node in range(n_nodes):
        energy = k_min * math.exp(node * step)
        state.counters[C_RECORDED] = 0
        state.counters[C_STACK] = 0
        _histories(state, energy, node, n_histories, ends)
        n = int(ends[-1])
        chunk = state.record[:n].copy()
        chunk[:, 3] /= energy
        points.append(chunk)
        index.append(total + ends.copy())
        total += n
    meta = np.array([math.log(k_min), step, float(n_nodes), float(n_histories)])
    return np.concatenate(index), np.concatenate(points), meta
