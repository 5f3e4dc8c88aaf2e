"""Fixtures of the model tests: real Geant4 grids from the small reference shard, one torch thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Model tests run on one core (the machine is shared) and from a fixed seed."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


def load_grids(path: Path, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense (N, 1, 50, 32, 32) GeV grids and (N,) true energies of the chosen muons of a shard."""
    with h5py.File(path, "r") as f:
        offsets = f["hits/offsets"][:]
        cells = f["hits/cell"][:]
        energies = f["hits/energy"][:]
        true_energy = f["truth/true_energy"][:]
    grids = np.zeros((len(indices), 50 * 32 * 32), dtype=np.float32)
    for row, muon in enumerate(indices):
        lo, hi = offsets[muon], offsets[muon + 1]
        # Flat cell index (layer·32 + ix)·32 + iy, so a C-order reshape gives (layer, x, y).
        np.add.at(grids[row], cells[lo:hi].astype(np.int64), energies[lo:hi])
    grid = torch.from_numpy(grids.reshape(len(indices), 1, 50, 32, 32))
    return grid, torch.from_numpy(true_energy[indices].astype(np.float32))


@pytest.fixture(scope="session")
def real_muons(g4ref_small_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """8 real muons, two at each of 100, 1000, 4000 and 8000 GeV: (grid, true_energy)."""
    return load_grids(g4ref_small_path, [0, 1, 10, 11, 20, 21, 30, 31])
