"""Cross sections and energy-loss tables of the fast simulation against the Geant4 reference numbers.

Reference values: ``../g4ref/README.md`` (G4EmCalculator, μ−, unrestricted, MeV cm²/g) and
PHYSICS.md §1, §6 (tolerances of the recommended unit test).
"""

from __future__ import annotations

import numpy as np
import pytest

from mucalo.errors import ConfigError
from mucalo.simulation.fast.losses import expected_mean_loss, mass_stopping_power, process_moment, radiative_b
from mucalo.simulation.fast.material import material_by_name
from mucalo.simulation.fast.tables import build_tables, transfer_limits

KINETIC_MEV = np.array([1e5, 1e6, 4e6, 8e6])
# README table: ioni, brems, pair (Geant4 11.4, single-panel pair quadrature), b_rad (1e-6 cm²/g), loss (GeV)
G4_IONI = np.array([1.958, 2.152, 2.273, 2.337])
G4_BREMS = np.array([0.459, 5.873, 25.18, 51.38])
G4_PAIR = np.array([0.672, 8.656, 36.16, 72.96])
G4_B_RAD = np.array([11.3, 14.5, 15.3, 15.5])
G4_MEAN_LOSS_GEV = np.array([5.14, 27.7, 105.6, 210.3])


@pytest.fixture(scope="module")
def pbwo4():  # type: ignore[no-untyped-def]
    return material_by_name("G4_PbWO4")


def test_material_constants_match_geant4(pbwo4) -> None:  # type: ignore[no-untyped-def]
    assert pbwo4.radiation_length_mm == pytest.approx(8.925, abs=0.005)
    assert pbwo4.mean_excitation_ev == pytest.approx(542.7, abs=0.1)
    assert pbwo4.z_over_a == pytest.approx(0.41314, abs=2e-5)
    c_bar, x0, x1, a = pbwo4.density_effect
    assert (c_bar, x0, x1, a) == pytest.approx((5.6415, 0.3391, 3.0, 0.2166), abs=2e-4)
    assert pbwo4.critical_energy_gp_mev == pytest.approx(8.76, abs=0.01)


def test_unknown_material_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="detector.material.*G4_Pb"):
        material_by_name("G4_lAr")


def test_ionisation_matches_geant4_table(pbwo4) -> None:  # type: ignore[no-untyped-def]
    ours = mass_stopping_power(pbwo4, "ionisation", KINETIC_MEV)
    np.testing.assert_allclose(ours, G4_IONI, rtol=3e-3)


def test_bremsstrahlung_matches_geant4_table(pbwo4) -> None:  # type: ignore[no-untyped-def]
    ours = mass_stopping_power(pbwo4, "brems", KINETIC_MEV)
    np.testing.assert_allclose(ours, G4_BREMS, rtol=3e-3)


def test_pair_production_matches_geant4_table(pbwo4) -> None:  # type: ignore[no-untyped-def]
    single_panel = mass_stopping_power(pbwo4, "pair", KINETIC_MEV, panels=1)  # Geant4 11.4's quadrature
    np.testing.assert_allclose(single_panel, G4_PAIR, rtol=3e-3)
    exact = mass_stopping_power(pbwo4, "pair", KINETIC_MEV)
    assert np.all(exact / G4_PAIR > 1.0 - 3e-3)
    assert np.all(exact / G4_PAIR < 1.0 + 1.5e-2)


def test_radiative_b_coefficients(pbwo4) -> None:  # type: ignore[no-untyped-def]
    b_rad = radiative_b(pbwo4, "brems", KINETIC_MEV) + radiative_b(pbwo4, "pair", KINETIC_MEV)
    # the README rounds to 3 digits and uses Geant4's single-panel pair integral (up to −1.1 % at 8 TeV)
    np.testing.assert_allclose(b_rad * 1e6, G4_B_RAD, rtol=1.2e-2)


def test_photonuclear_magnitude(pbwo4) -> None:  # type: ignore[no-untyped-def]
    # Borog–Petrukhin numbers of PHYSICS.md §5 (not in the Geant4 reference, which has no muon–nuclear)
    ours = mass_stopping_power(pbwo4, "photonuclear", KINETIC_MEV)
    np.testing.assert_allclose(ours, [0.035, 0.346, 1.47, 3.07], rtol=1e-2)


def test_expected_mean_loss_over_the_block(pbwo4) -> None:  # type: ignore[no-untyped-def]
    losses = np.array([expected_mean_loss(pbwo4, t, 2032.0) * 1e-3 for t in KINETIC_MEV])
    # exact pair integrals: up to +0.7 % above the README's single-panel numbers at 4–8 TeV
    np.testing.assert_allclose(losses, G4_MEAN_LOSS_GEV, rtol=1e-2)
    assert losses[0] == pytest.approx(5.14, abs=0.01)


@pytest.fixture(scope="module")
def tables(pbwo4):  # type: ignore[no-untyped-def]
    return build_tables(pbwo4, electron_cut=0.842, photon_cut=0.0758)


@pytest.mark.parametrize(("row", "process"), [(0, "brems"), (1, "pair"), (2, "photonuclear")])
def test_sampling_tables_reproduce_the_mean_loss(pbwo4, tables, row: int, process: str) -> None:  # type: ignore[no-untyped-def]
    """The transfer CDFs the simulation samples from carry the exact loss (piecewise-uniform bins in x)."""
    for kinetic in (1e5, 1e6, 8e6):
        k = int(np.argmin(np.abs(tables.log_t - np.log(kinetic))))
        node = np.exp(tables.log_t[k])
        lo, hi = transfer_limits(process, np.array([node]), photon_cut=0.0758, z_min=8)
        x = np.linspace(0.0, 1.0, tables.cdf.shape[2])
        eps = lo * (hi / lo) ** x
        span = np.log(hi / lo)
        mean_per_bin = (eps[1:] - eps[:-1]) / (span / (x.size - 1))  # mean ε of a bin uniform in x
        loss = (np.diff(tables.cdf[row, k]) * mean_per_bin).sum() * tables.rate[row + 1, k] * 10.0
        exact = process_moment(pbwo4, process, np.array([node]), lower=float(lo[0]), panels=256)
        assert loss == pytest.approx(float(exact[0]), rel=1e-3)


def test_delta_ray_rate_and_restricted_loss(tables) -> None:  # type: ignore[no-untyped-def]
    k = int(np.argmin(np.abs(tables.log_t - np.log(1e5))))
    # PHYSICS.md §2: ~131–134 δ-rays above 0.842 MeV per 2032 mm; restricted loss 10.27 MeV/cm
    assert tables.rate[0, k] * 2032.0 == pytest.approx(131.0, rel=1e-2)
    assert tables.dedx[k] * 10.0 == pytest.approx(10.27, rel=3e-3)
