"""Table-driven draws: the Gamma spot energies of GFlash (rng.gamma_quantile_table, rng.gamma_tail) and
the standard normal (rng.normal)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mucalo.simulation.fast.rng import (
    GAMMA_TABLE_BINS,
    NORMAL_TAIL,
    gamma_quantile_table,
    gamma_tail,
    new_state,
    normal,
    seed_state,
)


@pytest.mark.parametrize("shape", [0.7, 1.5, 4.0])
def test_quantile_table_matches_scipy(shape: float) -> None:
    table = gamma_quantile_table(shape)
    assert table.shape == (GAMMA_TABLE_BINS,)
    u = np.arange(GAMMA_TABLE_BINS) / GAMMA_TABLE_BINS
    np.testing.assert_allclose(table, stats.gamma(shape).ppf(u) / shape, rtol=1e-9, atol=1e-12)
    assert np.all(np.diff(table) > 0.0)


def test_quantile_table_of_no_shape_is_zero() -> None:
    assert not np.any(gamma_quantile_table(0.0))


@pytest.mark.parametrize("shape", [0.7, 1.5, 4.0])
def test_tail_follows_the_conditional_gamma(shape: float) -> None:
    start = float(gamma_quantile_table(shape)[-1]) * shape
    state = new_state()
    seed_state(state, np.uint64(11))
    draws = np.array([gamma_tail(state, shape, start) for _ in range(40_000)])
    assert draws.min() > start
    law = stats.gamma(shape)
    for offset in (0.5, 1.0, 2.0, 4.0):
        expected = law.sf(start + offset) / law.sf(start)
        assert (draws > start + offset).mean() == pytest.approx(
            expected, abs=4 * np.sqrt(expected / 40_000) + 1e-3
        )


def test_table_draws_reproduce_the_gamma_law() -> None:
    """Interpolation inside the bins and the exact tail in the last one, as gflash draws them."""
    shape = 1.5
    table = gamma_quantile_table(shape)
    n_bins = table.size
    rng = np.random.default_rng(3)
    position = rng.random(200_000) * n_bins
    bins = position.astype(np.int64)
    inner = bins < n_bins - 1
    factor = np.empty(position.size)
    b = bins[inner]
    factor[inner] = table[b] + (position[inner] - b) * (table[b + 1] - table[b])
    state = new_state()
    seed_state(state, np.uint64(5))
    factor[~inner] = [gamma_tail(state, shape, table[-1] * shape) / shape for _ in range(int((~inner).sum()))]
    assert factor.mean() == pytest.approx(1.0, abs=0.01)
    assert factor.var() == pytest.approx(1.0 / shape, rel=0.03)
    assert stats.kstest(factor * shape, stats.gamma(shape).cdf).pvalue > 1e-3


def test_table_normal_is_standard_normal() -> None:
    """KS distance of 200,000 table normals from Φ, the two exact tails, mean and variance (3σ)."""
    state = new_state()
    seed_state(state, np.uint64(5))
    n = 200_000
    draws = np.array([normal(state) for _ in range(n)])
    assert stats.kstest(draws, "norm").pvalue > 1e-3
    assert abs(draws.mean()) < 3 / np.sqrt(n)
    assert abs(draws.var() - 1.0) < 3 * np.sqrt(2.0 / n)
    # each end bin holds 1/4096 of the mass, beyond ±3.37, spread like the Gaussian tail
    beyond = np.abs(draws) > NORMAL_TAIL
    assert beyond.mean() == pytest.approx(2 / 4096, rel=4 * np.sqrt(4096 / (2 * n)))
    assert np.mean(np.abs(draws) > 4.0) == pytest.approx(2 * stats.norm.sf(4.0), rel=0.5)
