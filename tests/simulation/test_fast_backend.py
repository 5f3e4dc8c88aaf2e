"""The fast backend end to end: interface, energy bookkeeping, reproducibility, bending, config."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mucalo.detector import Detector
from mucalo.errors import ConfigError
from mucalo.simulation.backend import SimulatedMuons
from mucalo.simulation.fast import FastBackend, FastSimConfig
from mucalo.simulation.fast.batch import _DE_BRUIJN, _DE_BRUIJN_INDEX
from mucalo.simulation.validate import MuonSample, muon_statistics

START_Z_MM = -50.0


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "fast-tables"


@pytest.fixture(scope="module")
def backend(cache_dir: Path) -> FastBackend:
    return FastBackend(Detector(), cache_dir=cache_dir)


def _gun(n: int, energy: float, *, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "true_energy": np.full(n, energy),
        "charge": np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8),
        "x0": rng.uniform(-20.0, 20.0, n),
        "y0": rng.uniform(-20.0, 20.0, n),
        "seed": (np.arange(n) + 1000 * seed).astype(np.uint64),
    }


def _per_muon(muons: SimulatedMuons, i: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = muons.offsets[i], muons.offsets[i + 1]
    return muons.cell[lo:hi], muons.energy[lo:hi]


def test_output_format(backend: FastBackend) -> None:
    gun = _gun(6, 1000.0)
    muons = backend.simulate(start_z_mm=START_Z_MM, **gun)
    assert isinstance(muons, SimulatedMuons)
    assert muons.offsets.shape == (7,) and muons.offsets[0] == 0
    assert muons.offsets[-1] == muons.cell.size == muons.energy.size
    assert muons.cell.dtype == np.int64 and muons.energy.dtype == np.float32
    assert muons.energy_loss.dtype == np.float32 and muons.escaped.dtype == np.float64
    assert np.all(muons.energy > 0.0)
    assert muons.cell.min() >= 0 and muons.cell.max() < Detector().n_cells
    for i in range(6):
        cell, _ = _per_muon(muons, i)
        assert cell.size > 50  # every muon crosses 50 layers
        assert np.all(np.diff(cell) > 0)  # strictly increasing within a muon


@pytest.mark.parametrize("energy", [50.0, 1000.0, 8000.0])
def test_energy_bookkeeping(backend: FastBackend, energy: float) -> None:
    """Deposited + escaped + muon exit energy = initial energy, muon by muon."""
    gun = _gun(8, energy, seed=1)
    detailed = backend.simulate_detailed(start_z_mm=START_Z_MM, **gun)
    exit_energy = energy - detailed.energy_loss
    balance = detailed.deposited + detailed.muons.escaped + exit_energy
    np.testing.assert_allclose(balance, energy, rtol=1e-9)
    # the float32 cells sum to the float64 deposit within float32 rounding
    stored = np.add.reduceat(detailed.muons.energy.astype(np.float64), detailed.muons.offsets[:-1])
    np.testing.assert_allclose(stored, detailed.deposited, rtol=1e-5)
    assert np.all(detailed.energy_loss > 0.0)
    assert np.all(detailed.muons.escaped >= 0.0)


def test_bookkeeping_with_photonuclear(cache_dir: Path) -> None:
    backend = FastBackend(Detector(), FastSimConfig(photonuclear=True), cache_dir=cache_dir)
    detailed = backend.simulate_detailed(start_z_mm=START_Z_MM, **_gun(10, 8000.0, seed=2))
    balance = detailed.deposited + detailed.muons.escaped + (8000.0 - detailed.energy_loss)
    np.testing.assert_allclose(balance, 8000.0, rtol=1e-9)


def test_each_muon_depends_on_its_own_seed_only(backend: FastBackend) -> None:
    gun = _gun(5, 1000.0, seed=3)
    batch = backend.simulate(start_z_mm=START_Z_MM, **gun)
    again = backend.simulate(start_z_mm=START_Z_MM, **gun)
    np.testing.assert_array_equal(batch.cell, again.cell)
    np.testing.assert_array_equal(batch.energy, again.energy)
    alone = backend.simulate(start_z_mm=START_Z_MM, **{k: v[3:4] for k, v in gun.items()})
    cell, energy = _per_muon(batch, 3)
    np.testing.assert_array_equal(alone.cell, cell)
    np.testing.assert_array_equal(alone.energy, energy)
    assert alone.energy_loss[0] == batch.energy_loss[3]
    reversed_ = backend.simulate(start_z_mm=START_Z_MM, **{k: v[::-1] for k, v in gun.items()})
    np.testing.assert_array_equal(_per_muon(reversed_, 4)[1], _per_muon(batch, 0)[1])
    other = backend.simulate(start_z_mm=START_Z_MM, **{**gun, "seed": gun["seed"] + np.uint64(7)})
    assert not np.array_equal(other.energy_loss, batch.energy_loss)


def _bend(
    backend: FastBackend, charge: int, n: int = 24, energy: float = 50.0, *, cell_centres: bool = False
) -> float:
    """Mean energy-weighted x-centroid of layers 40–49 minus x0 (mm).

    x0 is uniform in ±5 mm (the cell-centre quantisation then averages out), or at cell centres.
    """
    rng = np.random.default_rng(11)
    x0 = rng.uniform(-5.0, 5.0, n)
    if cell_centres:
        x0 = np.round((x0 - 1.875) / 3.75) * 3.75 + 1.875
    muons = backend.simulate(
        true_energy=np.full(n, energy),
        charge=np.full(n, charge, np.int8),
        x0=x0,
        y0=np.zeros(n),
        start_z_mm=START_Z_MM,
        seed=np.arange(n, dtype=np.uint64),
    )
    sample = MuonSample(
        true_energy=np.full(n, energy),
        charge=np.full(n, float(charge)),
        x0=x0,
        y0=np.zeros(n),
        energy_loss=muons.energy_loss.astype(np.float64),
        offsets=muons.offsets,
        cell=muons.cell,
        energy=muons.energy,
        detector=backend.detector,
    )
    return float(np.mean(muon_statistics(sample)["bend_x"]))


# pure helix + continuous loss: no scattering, no radiative losses, no δ-rays (cut above T_max)
_HELIX_ONLY = {
    "multiple_scattering": False,
    "bremsstrahlung": False,
    "pair_production": False,
    "ionisation_fluctuations": False,
    "electron_cut_mev": 1e6,
}


def test_bending_sign_and_magnitude_at_50_gev(cache_dir: Path) -> None:
    """μ+ bends to −x, μ− to +x by L²/2R: 21.2 mm at layers 40–49 (+~0.4 mm from the energy loss)."""
    helix = FastBackend(Detector(), FastSimConfig(**_HELIX_ONLY), cache_dir=cache_dir)
    assert _bend(helix, +1) == pytest.approx(-21.6, abs=0.6)
    assert _bend(helix, -1) == pytest.approx(+21.6, abs=0.6)


def test_bending_with_full_physics(backend: FastBackend) -> None:
    plus, minus = _bend(backend, +1, n=30), _bend(backend, -1, n=30)
    # multiple scattering (σ ≈ 5 mm per muon) and showers blur single muons; the mean keeps the bend
    assert plus == pytest.approx(-21.6, abs=3.0)
    assert minus == pytest.approx(+21.6, abs=3.0)


def test_no_bending_without_field(cache_dir: Path) -> None:
    straight = FastBackend(Detector(field_t=0.0), FastSimConfig(**_HELIX_ONLY), cache_dir=cache_dir)
    assert abs(_bend(straight, +1, cell_centres=True)) < 1e-6
    assert abs(_bend(straight, -1, cell_centres=True)) < 1e-6


def test_mean_energy_loss_at_100_gev(backend: FastBackend) -> None:
    """Mean loss over the block vs the mean-dE/dx expectation, 5.14 GeV (README), within 3σ."""
    n = 1500
    muons = backend.simulate(start_z_mm=START_Z_MM, **_gun(n, 100.0, seed=4))
    loss = muons.energy_loss.astype(np.float64)
    sigma = loss.std() / np.sqrt(n)
    assert abs(loss.mean() - 5.14) < 3.0 * sigma + 0.03 * 5.14


def test_describe_is_json(backend: FastBackend) -> None:
    text = json.dumps(backend.describe())
    data = json.loads(text)
    assert data["backend"] == "fast"
    assert data["config"]["photonuclear"] is False
    assert data["cuts_mev"] == {"electron": 0.842, "photon": 0.0758}


def test_tables_are_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    FastBackend(Detector(), cache_dir=tmp_path)
    files = list(tmp_path.glob("fast-muon-tables-G4_PbWO4-*.npz"))
    assert len(files) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind
    stamp = files[0].stat().st_mtime_ns
    FastBackend(Detector(), cache_dir=tmp_path)  # read back, not rebuilt
    assert files[0].stat().st_mtime_ns == stamp
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    FastBackend(Detector())
    assert list((tmp_path / "xdg" / "mucalo").glob("fast-muon-tables-*.npz"))


def test_bad_inputs_are_config_errors(backend: FastBackend) -> None:
    gun = _gun(3, 100.0)
    with pytest.raises(ConfigError, match="x0 has shape"):
        backend.simulate(start_z_mm=START_Z_MM, **{**gun, "x0": np.zeros(2)})
    with pytest.raises(ConfigError, match="charge must be"):
        backend.simulate(start_z_mm=START_Z_MM, **{**gun, "charge": np.zeros(3, np.int8)})
    with pytest.raises(ConfigError, match="true_energy"):
        backend.simulate(start_z_mm=START_Z_MM, **{**gun, "true_energy": np.array([100.0, np.nan, 1.0])})


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("gflash_min_mev", 10.0, "gflash_min_mev"),
        ("halo_fraction", 1.5, "halo_fraction"),
        ("tail_split", 0, "tail_split"),
        ("photonuclear", "yes", "photonuclear"),
        ("moliere_radius_mm", -1.0, "moliere_radius_mm"),
    ],
)
def test_config_validation(field: str, value: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        FastSimConfig(**{field: value})  # type: ignore[arg-type]


def test_unsupported_material(cache_dir: Path) -> None:
    with pytest.raises(ConfigError, match="detector.material"):
        FastBackend(Detector(material="G4_Fe"), cache_dir=cache_dir)


def test_de_bruijn_table_finds_every_bit() -> None:
    """The cell collection reads a set bit's position as table[(bit · B) mod 2⁶⁴ >> 58]."""
    for k in range(64):
        product = ((1 << k) * int(_DE_BRUIJN)) % (1 << 64)
        assert _DE_BRUIJN_INDEX[product >> 58] == k
