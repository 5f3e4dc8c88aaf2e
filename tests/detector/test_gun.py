from __future__ import annotations

import numpy as np
import pytest

from mucalo.detector import Detector, Gun, Spectrum
from mucalo.errors import ConfigError


def test_spectrum_parsing() -> None:
    assert Spectrum.parse("uniform:50:8000") == Spectrum("uniform", (50.0, 8000.0))
    assert Spectrum.parse("fixed:100,500,900").energies_gev == (100.0, 500.0, 900.0)
    assert str(Spectrum.parse("fixed:100,500")) == "fixed:100,500"
    for bad in ("uniform:8000:50", "gauss:1:2", "fixed:", "uniform:a:b", "fixed:-5"):
        with pytest.raises(ConfigError, match="gun.spectrum"):
            Spectrum.parse(bad)


def test_uniform_gun_distribution() -> None:
    gun = Gun(spectrum="uniform:50:8000")
    sample = gun.sample(7, 0, 4000, 4000)
    assert sample.true_energy.dtype == np.float32
    assert sample.true_energy.min() >= 50 and sample.true_energy.max() <= 8000
    # uniform: mean 4025 with σ_mean = 7950/√12/√4000 ≈ 36 GeV
    assert abs(sample.true_energy.mean() - 4025) < 5 * 36
    # μ+/μ− 50/50 within 5σ (σ = 0.5/√4000 ≈ 0.008)
    assert abs(np.mean(sample.charge == 1) - 0.5) < 0.04
    assert set(np.unique(sample.charge)) == {-1, 1}
    assert np.abs(sample.x0).max() <= 20 and np.abs(sample.y0).max() <= 20
    assert abs(sample.x0.mean()) < 5 * 20 / np.sqrt(3 * 4000)


def test_fixed_gun_gives_equal_blocks_in_order() -> None:
    gun = Gun(spectrum="fixed:100,1000,4000,8000")
    sample = gun.sample(1, 0, 40, 40)
    assert np.array_equal(sample.true_energy, np.repeat([100, 1000, 4000, 8000], 10).astype(np.float32))


def test_sample_does_not_depend_on_split() -> None:
    gun = Gun()
    whole = gun.sample(3, 0, 30, 30)
    parts = [gun.sample(3, a, b, 30) for a, b in ((0, 7), (7, 19), (19, 30))]
    for name in ("true_energy", "charge", "x0", "y0", "seed"):
        assert np.array_equal(getattr(whole, name), np.concatenate([getattr(p, name) for p in parts]))
    assert not np.array_equal(whole.seed, gun.sample(4, 0, 30, 30).seed)


def test_gun_outside_face_refused() -> None:
    Gun(xy_half_width_mm=59.0).check_fits(Detector())
    with pytest.raises(ConfigError, match="gun.xy_half_width_mm"):
        Gun(xy_half_width_mm=60.0).check_fits(Detector())
    with pytest.raises(ConfigError, match="gun.start_z_mm"):
        Gun(start_z_mm=10.0)
    with pytest.raises(ConfigError, match="gun.charge"):
        Gun(charge="e-")  # type: ignore[arg-type]
