"""The geant4 backend: data-set checks, no downloads, the geometry and read-out in real Geant4.

Geant4 runs only in subprocesses here: it has one run manager per process, aborts the process on a
fatal error, and the wheel's import must be watched for download attempts. Tests that need the Geant4
data sets are marked ``geant4`` (deselected by default; none are installed on the development machine).
The others need only the geant4_pybind wheel and are skipped without it; the wheel is looked for with
``importlib.util.find_spec`` because importing it here could start its downloader.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mucalo.detector import Detector
from mucalo.errors import ConfigError, MissingDataError
from mucalo.simulation.geant4 import Geant4Backend, Geant4Config, geant4_available
from mucalo.simulation.geant4_data import (
    DATASETS,
    find_datasets,
    missing_datasets_message,
    prepare_environment,
    required_datasets,
)

HERE = Path(__file__).parent
needs_wheel = pytest.mark.skipif(
    importlib.util.find_spec("geant4_pybind") is None,
    reason="geant4_pybind (pip install geant4-pybind==0.1.3)",
)
_G4_VARIABLES = {d.env for d in DATASETS.values()} | {"GEANT4_DATA_DIR"}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """os.environ without any Geant4 data variable (a copy: the tests may write to it)."""
    env = {k: v for k, v in os.environ.items() if k not in _G4_VARIABLES}
    monkeypatch.setattr(os, "environ", env)
    return env


def _fake_data_root(root: Path, names: list[str]) -> Path:
    for name in names:
        (root / DATASETS[name].directory).mkdir(parents=True)
    return root


# --- configuration and data sets (no Geant4) -------------------------------------------------------
def test_config_defaults_and_refusals() -> None:
    config = Geant4Config()
    assert (config.physics_list, config.production_cut_mm, config.data_dir) == ("FTFP_BERT", 0.7, None)
    assert Geant4Config(physics_list="QGSP_BERT_EMZ").physics_list == "QGSP_BERT_EMZ"
    assert Geant4Config(data_dir="/some/where").data_dir == Path("/some/where")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"physics_list.*'FTFP_BRET'.*FTFP_BERT"):
        Geant4Config(physics_list="FTFP_BRET")
    with pytest.raises(ConfigError, match="production_cut_mm"):
        Geant4Config(production_cut_mm=0.0)


def test_required_datasets_follow_the_list() -> None:
    ftfp = {d.name for d in required_datasets("FTFP_BERT")}
    assert {"G4EMLOW", "G4ENSDFSTATE", "G4PARTICLEXS", "PhotonEvaporation"} <= ftfp
    assert "G4NDL" not in ftfp
    assert "G4NDL" in {d.name for d in required_datasets("QGSP_BERT_HP")}
    assert {"G4INCL", "G4ABLA"} <= {d.name for d in required_datasets("FTFP_INCLXX_EMZ")}


def test_find_datasets_in_data_dir_env_and_own_variable(tmp_path: Path, clean_env: dict[str, str]) -> None:
    needed = required_datasets("FTFP_BERT")
    root = _fake_data_root(tmp_path / "data", [d.name for d in needed])
    search = find_datasets(needed, data_dir=root)
    assert not search.missing
    assert search.found["G4EMLOW"] == root / "G4EMLOW8.8"

    clean_env["GEANT4_DATA_DIR"] = str(root)  # the variable the wheel and Geant4 read
    assert not find_datasets(needed).missing

    own = tmp_path / "elsewhere" / "G4EMLOW-custom"
    own.mkdir(parents=True)
    clean_env["G4LEDATA"] = str(own)  # a data set's own variable wins, as in Geant4
    assert find_datasets(needed).found["G4EMLOW"] == own
    clean_env["G4LEDATA"] = str(tmp_path / "nowhere")  # set but wrong: missing, no fallback
    assert [d.name for d in find_datasets(needed).missing] == ["G4EMLOW"]


def test_prepare_environment_points_geant4_at_what_was_checked(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    needed = required_datasets("FTFP_BERT")
    root = _fake_data_root(tmp_path, [d.name for d in needed])
    prepare_environment(find_datasets(needed, data_dir=root), root)
    assert clean_env["GEANT4_DATA_DIR"] == str(root)
    assert clean_env["G4LEDATA"] == str(root / "G4EMLOW8.8")
    assert clean_env["G4ENSDFSTATEDATA"] == str(root / "G4ENSDFSTATE3.0")


def test_missing_datasets_error_names_them_before_any_import(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    before = "geant4_pybind" in sys.modules
    _fake_data_root(tmp_path, ["G4EMLOW"])  # one present, the others missing
    with pytest.raises(MissingDataError) as caught:
        Geant4Backend(Detector(), Geant4Config(data_dir=tmp_path))
    text = str(caught.value)
    for name, env in (("G4ENSDFSTATE", "G4ENSDFSTATEDATA"), ("G4PARTICLEXS", "G4PARTICLEXSDATA")):
        assert name in text
        assert env in text
    assert "G4EMLOW (" not in text  # found, so not listed as missing
    assert "geant4-config --install-datasets" in text
    assert "GEANT4_DATA_DIR" in text
    assert "G4PARTICLEXS.4.2.tar.gz" in text
    assert str(tmp_path) in text
    assert ("geant4_pybind" in sys.modules) == before  # the check never imports Geant4
    usable, reason = geant4_available(Geant4Config(data_dir=tmp_path))
    assert not usable
    assert "G4ENSDFSTATE" in reason


def test_message_lists_the_variables_looked_at(clean_env: dict[str, str]) -> None:
    needed = required_datasets("FTFP_BERT")
    text = missing_datasets_message("FTFP_BERT", find_datasets(needed, environ={}))
    assert "G4LEDATA (not set)" in text
    assert "GEANT4_DATA_DIR (not set)" in text


# --- subprocesses -----------------------------------------------------------------------------------
def _run_probe(tmp_path: Path, probe: str, *, extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``probe`` of this module in a fresh interpreter: CI=true, stdin closed, no Geant4 variables.

    CI=true is what makes the wheel's import-time downloader download without asking, and a closed
    stdin makes its question fail: either would show in the output or in ``$HOME/.geant4_pybind``.
    """
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in _G4_VARIABLES}
    env.update({"CI": "true", "HOME": str(home), "OMP_NUM_THREADS": "1", **(extra_env or {})})
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    out = tmp_path / f"{probe}.json"
    code = f"import test_geant4 as t; t.{probe}({str(out)!r})"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert "Downloading" not in output, output[-2000:]
    assert "download the missing" not in output, output[-2000:]
    assert not (home / ".geant4_pybind").exists(), "the wheel's downloader ran"
    assert done.returncode == 0, output[-3000:]
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def probe_missing_datasets(out: str) -> None:
    """Construct the backend in a clean process with no data sets; report the error and the imports."""
    try:
        Geant4Backend(Detector())
        result = {"error": None}
    except MissingDataError as err:
        result = {"error": str(err)}
    result["imported"] = "geant4_pybind" in sys.modules
    Path(out).write_text(json.dumps(result))


def probe_geometry(out: str) -> None:
    """Build the calorimeter in Geant4 without data sets; locate random points with the navigator."""
    from mucalo.simulation.geant4_data import import_geant4
    from mucalo.simulation.geant4_geometry import build_calorimeter, locate_cells

    g4 = import_geant4()
    result: dict[str, Any] = {"GEANT4_DATA_DIR": os.environ.get("GEANT4_DATA_DIR")}
    for key, detector in (
        ("default", Detector()),
        ("other", Detector(n_layers=7, n_cells_x=5, n_cells_y=9, layer_depth_mm=12.5, cell_size_mm=4.0)),
    ):
        volumes = build_calorimeter(detector)
        rng = np.random.default_rng(5)
        x = rng.uniform(-0.5, 0.5, 300) * detector.width_x_mm
        y = rng.uniform(-0.5, 0.5, 300) * detector.width_y_mm
        z = rng.uniform(0.0, detector.depth_mm, 300)
        found = locate_cells(volumes, detector, x, y, z)
        ix, iy = detector.column_of(x, y)
        expected = detector.flat_index(np.floor(z / detector.layer_depth_mm), ix, iy)
        outside = locate_cells(volumes, detector, 0.0, 0.0, [-1.0, detector.depth_mm + 1]).tolist()
        world = volumes.world.GetLogicalVolume().GetSolid()
        block = volumes.cell_volume.GetMaterial()
        result[key] = {
            "matches": int(np.sum(found == expected)),
            "outside": outside,
            "world_half_mm": [world.GetXHalfLength(), world.GetYHalfLength(), world.GetZHalfLength()],
            "density_g_cm3": block.GetDensity() / (g4.g / g4.cm3),
            "material": block.GetName(),
        }
    Path(out).write_text(json.dumps(result))


def probe_transport(out: str) -> None:
    """Run muons through the real geometry, field and read-out with transport-only physics.

    No data set is installed here, and every stock physics list needs them; the run manager alone needs
    G4ENSDFSTATE, which the caller stubs with an empty ENSDFSTATE.dat (no nuclide is ever used). The
    energy scorer is swapped for Geant4's track-length scorer so that a muon without energy loss still
    leaves a known read-out: its path length per cell, filed by the same replica indexing.
    """
    from mucalo.simulation.geant4_data import import_geant4
    from mucalo.simulation.geant4_session import Geant4Session, MuonBatch

    g4 = import_geant4()
    g4.G4PSEnergyDeposit3D = g4.G4PSTrackLength3D  # read by make_detector_construction at call time

    class TransportOnly(g4.G4VModularPhysicsList):  # type: ignore[misc,name-defined]
        def ConstructParticle(self) -> None:
            g4.G4MuonPlus.MuonPlusDefinition()
            g4.G4MuonMinus.MuonMinusDefinition()

    detector = Detector()
    session = Geant4Session(detector, physics_list=TransportOnly, upstream_mm=60.0)
    muons = {
        "true_energy": [50.0, 50.0, 1000.0, 200.0],
        "charge": [1, -1, 1, -1],
        "x0": [0.1, 0.1, 10.0, -17.0],
        "y0": [0.2, 0.2, -5.0, 19.0],
        "seed": np.array([7, 8, 9, 2**64 - 1], np.uint64),
    }
    batch = MuonBatch.from_arrays(detector, start_z_mm=-50.0, **muons)  # type: ignore[arg-type]
    result = session.run(batch)
    Path(out).write_text(
        json.dumps(
            {
                "muons": {k: np.asarray(v).tolist() for k, v in muons.items()},
                "offsets": result.offsets.tolist(),
                "cell": result.cell.tolist(),
                "length_m": result.energy.tolist(),  # the scorer's value / 1000: metres
                "energy_loss": result.energy_loss.tolist(),
                "escaped": result.escaped.tolist(),
                "last_seed": g4.G4Random.getTheSeed(),
                "version": session.version,
            }
        )
    )


@pytest.mark.skipif(geant4_available()[0], reason="Geant4 data sets are installed here")
def test_no_datasets_no_download_no_import(tmp_path: Path) -> None:
    result = _run_probe(tmp_path, "probe_missing_datasets")
    assert result["error"] is not None
    assert "G4EMLOW" in result["error"]
    assert "G4ENSDFSTATE" in result["error"]
    assert result["imported"] is False


@needs_wheel
def test_geometry_builds_in_geant4_without_datasets(tmp_path: Path) -> None:
    result = _run_probe(tmp_path, "probe_geometry")
    assert result["GEANT4_DATA_DIR"] == ""  # set by import_geant4 so that the downloader stays off
    default = result["default"]
    assert default["matches"] == 300  # Geant4's replica numbers = mucalo's flat index, everywhere
    assert default["outside"] == [-1, -1]
    assert default["world_half_mm"] == pytest.approx([61.0, 61.0, 1016.0 + 60.0])
    assert default["material"] == "G4_PbWO4"
    assert default["density_g_cm3"] == pytest.approx(8.28)
    assert result["other"]["matches"] == 300


def _helix_x(x0: float, z_mm: np.ndarray, energy_gev: float, charge: int, field_t: float) -> np.ndarray:
    """x of a muon from (x0, z=−50 mm) along +z in B along +y: μ+ bends to −x (F = q v × B)."""
    momentum = np.sqrt(energy_gev**2 + 2 * energy_gev * 0.1056583755)
    radius_mm = momentum / (0.299792458 * field_t) * 1000.0
    travelled = z_mm + 50.0
    return x0 - charge * (radius_mm - np.sqrt(radius_mm**2 - travelled**2))


@needs_wheel
def test_transport_field_and_readout_in_geant4(tmp_path: Path) -> None:
    stub = tmp_path / "ensdfstate-stub"
    stub.mkdir()
    (stub / "ENSDFSTATE.dat").write_text("")
    result = _run_probe(tmp_path, "probe_transport", extra_env={"G4ENSDFSTATEDATA": str(stub)})
    detector = Detector()
    offsets = np.asarray(result["offsets"])
    cell, length = np.asarray(result["cell"]), np.asarray(result["length_m"]) * 1000.0
    muons = result["muons"]
    assert result["version"].startswith("geant4-11-04")
    assert result["energy_loss"] == [0.0] * 4
    assert result["escaped"] == [0.0] * 4
    assert result["last_seed"] == -1  # seed 2**64 − 1 reached setTheSeed as the same 64 bits
    for i in range(4):
        c, ell = cell[offsets[i] : offsets[i + 1]], length[offsets[i] : offsets[i + 1]]
        assert np.all(np.diff(c) > 0)
        assert np.all(ell > 0)
        assert 2032.0 <= ell.sum() < 2032.5  # the whole block, slightly curved
        layer, ix, iy = detector.unflatten(c)
        assert np.array_equal(np.unique(layer), np.arange(50))
        assert np.all(iy == detector.column_of(0.0, muons["y0"][i])[1])  # no bending in y
        x_cells = detector.x_centre(ix)
        mean_x = np.bincount(layer, ell * x_cells, 50) / np.bincount(layer, ell, 50)
        z_mid = (np.arange(50) + 0.5) * detector.layer_depth_mm
        truth = _helix_x(muons["x0"][i], z_mid, muons["true_energy"][i], muons["charge"][i], detector.field_t)
        assert np.all(np.abs(mean_x - truth) < detector.cell_size_mm)
    # 50 GeV μ± at the back: ≈ 26 mm to −x for μ+, to +x for μ−
    back = _helix_x(0.1, np.array([2032.0]), 50.0, 1, 2.0)[0]
    assert back == pytest.approx(0.1 - 25.9, abs=0.3)


@pytest.mark.geant4
def test_a_few_muons_simulate_with_datasets(tmp_path: Path) -> None:
    usable, reason = geant4_available()
    if not usable:
        pytest.skip(reason[:200])
    g4_env = {k: v for k, v in os.environ.items() if k in _G4_VARIABLES}
    result = _run_probe(tmp_path, "probe_full_simulation", extra_env=g4_env)
    offsets, cell, energy = (np.asarray(result[k]) for k in ("offsets", "cell", "energy"))
    assert offsets[0] == 0
    assert offsets[-1] == len(cell) == len(energy)
    assert np.all(np.diff(offsets) > 0)
    deposited = np.add.reduceat(energy, offsets[:-1])
    assert np.all(energy > 0)
    assert np.all(cell < 51_200)
    assert np.all(deposited <= np.asarray(result["energy_loss"]) * (1 + 1e-5) + 1e-6)
    assert np.all((deposited > 0.5) & (deposited < 100.0))  # 10–100 GeV muons through 228 X0
    assert result["alone"] == result["batch_muon_2"]  # muon 2 alone: bit-identical


def probe_full_simulation(out: str) -> None:
    """Simulate 4 muons with FTFP_BERT, then muon 2 alone (needs the data sets)."""
    backend = Geant4Backend(Detector())
    gun = {"true_energy": np.array([10.0, 100.0, 100.0, 50.0]), "charge": np.array([1, -1, 1, -1], np.int8)}
    gun |= {"x0": np.array([0.5, -3.0, 7.0, 0.0]), "y0": np.array([1.0, 2.0, -4.0, 0.0])}
    seeds = np.array([11, 12, 13, 14], np.uint64)
    batch = backend.simulate(**gun, start_z_mm=-50.0, seed=seeds)  # type: ignore[arg-type]
    alone = backend.simulate(**{k: v[2:3] for k, v in gun.items()}, start_z_mm=-50.0, seed=seeds[2:3])  # type: ignore[arg-type]

    def muon(result: Any, i: int) -> list[Any]:
        lo, hi = result.offsets[i], result.offsets[i + 1]
        return [result.cell[lo:hi].tolist(), result.energy[lo:hi].tolist(), float(result.energy_loss[i])]

    Path(out).write_text(
        json.dumps(
            {
                "offsets": batch.offsets.tolist(),
                "cell": batch.cell.tolist(),
                "energy": batch.energy.tolist(),
                "energy_loss": batch.energy_loss.tolist(),
                "batch_muon_2": muon(batch, 2),
                "alone": muon(alone, 0),
            }
        )
    )
