"""The muon's continuous loss along a step (deposit.deposit_loss): cell by cell, each cell on its own."""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np
import pytest

from mucalo.detector import Detector
from mucalo.simulation.fast import FastBackend
from mucalo.simulation.fast.deposit import deposit_loss
from mucalo.simulation.fast.params import P_NX, P_NY
from mucalo.simulation.fast.rng import seed_state
from mucalo.simulation.fast.state import C_TOUCHED, TALLY_ESCAPED, KernelState

LAYERS = 10
PER_MM = 1.0  # MeV/mm, about the restricted loss in PbWO4
SHAPE_PER_MM = 23.0  # (dE/dx)²/Bohr variance per mm at T_cut = 0.842 MeV


@numba.njit
def _tracks(
    s: KernelState, n: int, x: float, y: float, depth: float, per_mm: float, shape_per_mm: float, limit: float
) -> tuple[np.ndarray, np.ndarray]:
    """n straight tracks along z from the front face to ``depth``, each one step; per track the energy
    of the cells it crossed (by layer; the grid is cleared after each) and the returned total."""
    layers = np.zeros((n, 50))
    totals = np.zeros(n)
    grid = s.grid
    touched = s.touched
    counters = s.counters
    n_cells_per_layer = int(s.params[P_NX]) * int(s.params[P_NY])
    for i in range(n):
        seed_state(s.rng, np.uint64(i + 1))
        counters[C_TOUCHED] = 0
        s.tally[TALLY_ESCAPED] = 0.0
        totals[i] = deposit_loss(s, x, y, 0.0, x, y, depth, per_mm, shape_per_mm, limit)
        for j in range(counters[C_TOUCHED]):
            cell = touched[j]
            layers[i, cell // n_cells_per_layer] += grid[cell]
            grid[cell] = 0.0
    return layers, totals


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> KernelState:
    cache = Path(tmp_path_factory.getbasetemp()) / "fast-tables"
    return FastBackend(Detector(), cache_dir=cache)._state


def test_mean_loss_splits_by_length_in_each_cell(state: KernelState) -> None:
    detector = Detector()
    depth = LAYERS * detector.layer_depth_mm
    layers, totals = _tracks(state, 1, 1.0, 1.0, depth, PER_MM, 0.0, 1e9)
    assert totals[0] == pytest.approx(PER_MM * depth, rel=1e-12)
    np.testing.assert_allclose(layers[0, :LAYERS], PER_MM * detector.layer_depth_mm, rtol=1e-9)
    assert not layers[0, LAYERS:].any()


def test_each_cell_fluctuates_on_its_own_however_long_the_step(state: KernelState) -> None:
    """One step through ten layers: every layer's piece has the Gamma mean and variance of a layer-long
    step (PHYSICS.md §2.3), and neighbouring layers are uncorrelated (4,000 tracks: 3σ bounds)."""
    detector = Detector()
    n = 4000
    layers, totals = _tracks(state, n, 1.0, 1.0, LAYERS * detector.layer_depth_mm, PER_MM, SHAPE_PER_MM, 1e9)
    per_layer = layers[:, :LAYERS]
    np.testing.assert_allclose(per_layer.sum(axis=1), totals, rtol=1e-9)
    mean = PER_MM * detector.layer_depth_mm
    sigma = PER_MM * np.sqrt(detector.layer_depth_mm / SHAPE_PER_MM)  # Gamma: mean²/shape
    assert per_layer.mean() == pytest.approx(mean, abs=3 * sigma / np.sqrt(per_layer.size))
    # the variance of a sample variance is ≈ 2σ⁴/n for a near-Gaussian Gamma of shape ~900
    assert per_layer.std(axis=0).mean() == pytest.approx(sigma, rel=3 * np.sqrt(0.5 / n))
    neighbours = np.corrcoef(per_layer[:, :-1].ravel(), per_layer[:, 1:].ravel())[0, 1]
    assert abs(neighbours) < 3 / np.sqrt(n * (LAYERS - 1))


def test_the_loss_stops_at_the_limit(state: KernelState) -> None:
    """A slow muon cannot lose more than it has: the total stops at ``limit``."""
    detector = Detector()
    depth = LAYERS * detector.layer_depth_mm
    layers, totals = _tracks(state, 200, 1.0, 1.0, depth, PER_MM, SHAPE_PER_MM, 100.0)
    np.testing.assert_allclose(totals, 100.0, rtol=1e-12)
    np.testing.assert_allclose(layers.sum(axis=1), 100.0, rtol=1e-9)


@numba.njit
def _cells_of_track(
    s: KernelState, start: np.ndarray, end: np.ndarray, per_mm: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """The cells one deterministic step deposits in (flat index, MeV), and the returned total."""
    s.counters[C_TOUCHED] = 0
    total = deposit_loss(s, start[0], start[1], start[2], end[0], end[1], end[2], per_mm, 0.0, 1e9)
    n = s.counters[C_TOUCHED]
    cells = s.touched[:n].copy()
    energies = np.zeros(n)
    for j in range(n):
        energies[j] = s.grid[cells[j]]
        s.grid[cells[j]] = 0.0
    return cells, energies, total


@pytest.mark.parametrize(
    ("start", "end"),
    [((-10.0, -7.0, 3.0), (25.0, 18.0, 250.0)), ((30.0, 1.0, 500.0), (-20.0, -29.0, 410.0))],
)
def test_an_oblique_step_shares_its_loss_by_path_length_per_cell(
    state: KernelState, start: tuple[float, float, float], end: tuple[float, float, float]
) -> None:
    """Against the path length in each cell counted on 200,000 points along the chord."""
    detector = Detector()
    cells, energies, total = _cells_of_track(state, np.array(start), np.array(end), PER_MM)
    a, b = np.array(start), np.array(end)
    length = float(np.linalg.norm(b - a))
    assert total == pytest.approx(PER_MM * length, rel=1e-12)
    t = (np.arange(200_000) + 0.5) / 200_000
    points = a + t[:, None] * (b - a)
    ix = np.floor((points[:, 0] + 0.5 * detector.width_x_mm) / detector.cell_size_mm).astype(int)
    iy = np.floor((points[:, 1] + 0.5 * detector.width_y_mm) / detector.cell_size_mm).astype(int)
    layer = np.floor(points[:, 2] / detector.layer_depth_mm).astype(int)
    flat = (layer * detector.n_cells_x + ix) * detector.n_cells_y + iy
    expected_cells, counts = np.unique(flat, return_counts=True)
    expected = counts / t.size * PER_MM * length
    order = np.argsort(cells)
    np.testing.assert_array_equal(cells[order], expected_cells)
    np.testing.assert_allclose(energies[order], expected, atol=2e-4 * PER_MM * length)
