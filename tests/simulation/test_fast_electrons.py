"""Electron transport of the mini Monte Carlo: the chord of a multiply scattered segment."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from mucalo.simulation.fast.minimc import scattered_chord


def _random_walk_chord(theta0: float, *, walkers: int = 3000, steps: int = 1000, seed: int = 3) -> float:
    """Mean displacement along the initial direction / path length, by many small Gaussian scatterings
    whose projected angles add up to ``theta0`` over the path (unit path length)."""
    rng = np.random.default_rng(seed)
    sigma = theta0 / math.sqrt(steps)
    u = np.tile([0.0, 0.0, 1.0], (walkers, 1))
    z = np.zeros(walkers)
    for _ in range(steps):
        # two unit vectors perpendicular to each direction
        helper = np.where(np.abs(u[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        e1 = np.cross(u, helper)
        e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
        e2 = np.cross(u, e1)
        old_z = u[:, 2].copy()
        g = rng.normal(size=(walkers, 2)) * sigma
        u = u + g[:, :1] * e1 + g[:, 1:] * e2
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        z += 0.5 * (old_z + u[:, 2]) / steps
    return float(z.mean())


def test_scattered_chord_small_angle_limit() -> None:
    assert scattered_chord(0.0) == 1.0
    assert scattered_chord(1e-4) == pytest.approx(1.0, abs=1e-8)
    x = 0.05**2
    assert scattered_chord(0.05) == pytest.approx(1.0 - x / 2.0 + x * x / 6.0, rel=1e-9)


@pytest.mark.parametrize("theta0", [0.3, 1.0, 2.0])
def test_scattered_chord_matches_a_random_walk(theta0: float) -> None:
    """λ(1 − e^(−t/λ)) with λ = t/θ0² is the mean chord of a walk of many small scatterings (3 %)."""
    assert scattered_chord(theta0) == pytest.approx(_random_walk_chord(theta0), rel=0.03)


def test_scattered_chord_decreases_with_the_angle() -> None:
    values = [scattered_chord(t) for t in (0.1, 0.5, 1.0, 2.0, 4.0)]
    assert all(a > b for a, b in itertools.pairwise(values))
    assert scattered_chord(4.0) == pytest.approx(1.0 / 16.0, rel=1e-6)
