"""The ``geant4`` simulation backend: full Geant4 through the geant4-pybind wheel (pinned 0.1.3).

A stock physics list by name (``G4PhysListFactory``, default FTFP_BERT, the paper's), the calorimeter of
:mod:`mucalo.simulation.geant4_geometry` with per-event cell scoring by Geant4's own scorer
(``G4PSEnergyDeposit3D`` on replica cells: no Python in the per-step path), a uniform field along +y on
the global field manager, and a serial run manager. Python runs only once per event (gun, read-out) and
for the few steps in the vacuum world (muon exit energy, energy leaving the world).

Reproducibility: at the start of event i the engine (CLHEP MixMaxRng) is re-seeded with
``G4Random.setTheSeed(seed[i])``, so each muon depends on its own seed only, as in ``../g4ref``.

The data sets are checked before anything of Geant4 is imported (:mod:`.geant4_data`); when they are
missing, :class:`Geant4Backend` raises :class:`~mucalo.errors.MissingDataError` naming them. Geant4 has
one run manager per process: a process can run one Geant4 configuration (the driver keeps one backend
per worker process).
"""

from __future__ import annotations

import functools
import importlib.metadata
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mucalo.detector import Detector
from mucalo.errors import ConfigError, MissingDataError
from mucalo.simulation.backend import SimulatedMuons
from mucalo.simulation.geant4_data import (
    GEANT4_VERSION,
    WHEEL,
    find_datasets,
    import_geant4,
    missing_datasets_message,
    prepare_environment,
    required_datasets,
    split_physics_list,
    wheel_installed,
)
from mucalo.simulation.geant4_session import GUN_CLEARANCE_MM, Geant4Session, MuonBatch

__all__ = ["Geant4Backend", "Geant4Config", "geant4_available"]

#: Vacuum kept before the front face (and after the back face) at least, mm (as in ../g4ref).
_MIN_UPSTREAM_MM = 60.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Geant4Config:
    """Options of the geant4 backend (``simulation.geant4`` in a run config)."""

    physics_list: str = "FTFP_BERT"  # stock reference list by name, optionally with an EM suffix (_EMZ)
    production_cut_mm: float = 0.7  # range cut for γ, e±, p (Geant4's default)
    data_dir: Path | None = None  # directory of the data sets; else $GEANT4_DATA_DIR / G4*DATA variables

    def __post_init__(self) -> None:
        split_physics_list(self.physics_list)  # refuses unknown names with the known ones
        cut = self.production_cut_mm
        if not isinstance(cut, int | float) or not math.isfinite(cut) or cut <= 0:
            msg = f"geant4.production_cut_mm: expected a positive length in mm, got {cut!r}"
            raise ConfigError(msg)
        if self.data_dir is not None:
            object.__setattr__(self, "data_dir", Path(self.data_dir))  # YAML gives a string


def geant4_available(config: Geant4Config | None = None) -> tuple[bool, str]:
    """Whether the geant4 backend can run here, and why not; imports nothing of Geant4.

    Returns:
        (usable, reason): reason is "" when usable, else the missing wheel or data sets.
    """
    config = config or Geant4Config()
    search = find_datasets(required_datasets(config.physics_list), data_dir=config.data_dir)
    if search.missing:
        return False, missing_datasets_message(config.physics_list, search)
    if not wheel_installed():
        return False, f"the Python package geant4_pybind is not installed (pip install '{WHEEL}')"
    return True, ""


class Geant4Backend:
    """Geant4 muons in the calorimeter; see the module docstring."""

    name = "geant4"

    def __init__(self, detector: Detector, config: Geant4Config | None = None) -> None:
        """Check the data sets and the wheel; Geant4 itself starts at the first :meth:`simulate`.

        Raises:
            MissingDataError: a data set the physics list needs, or the geant4_pybind wheel, is missing.
        """
        self.detector = detector
        self.config = config or Geant4Config()
        self._search = find_datasets(
            required_datasets(self.config.physics_list), data_dir=self.config.data_dir
        )
        if self._search.missing:
            msg = missing_datasets_message(self.config.physics_list, self._search)
            if not wheel_installed():
                msg += f" The Python package geant4_pybind is not installed either: pip install '{WHEEL}'."
            raise MissingDataError(msg)
        if not wheel_installed():
            msg = f"the geant4 backend needs the Python package geant4_pybind: pip install '{WHEEL}'"
            raise MissingDataError(msg)
        self._version: str | None = None

    def describe(self) -> dict[str, Any]:
        """JSON-able description stored in each shard's ``simulation`` attribute."""
        return {
            "code": f"{self._version or 'Geant4 ' + GEANT4_VERSION} via geant4-pybind {_wheel_version()}",
            "physics_list": self.config.physics_list,
            "production_cut_mm": self.config.production_cut_mm,
            "datasets": {name: str(path) for name, path in sorted(self._search.found.items())},
            "run_manager": "Serial",
            "geometry": "homogeneous block, G4PVReplica layers (z) × rows (x) × cells (y); vacuum world "
            "1 mm wider than the block and ≥ 60 mm longer at each end",
            "magnetic_field": {"field_t": self.detector.field_t, "direction": "+y", "scope": "whole world"},
            "readout": "G4PSEnergyDeposit3D on the replica cells (G4MultiFunctionalDetector), per event",
            "seed_scheme": "G4Random.setTheSeed(seed[i]) (MixMaxRng) at the start of event i",
            "energy_loss": "true_energy − muon kinetic energy when it leaves the world (GeV)",
            "escaped": "kinetic energy of the other particles leaving the world (GeV)",
        }

    def simulate(
        self,
        *,
        true_energy: npt.NDArray[np.float64],
        charge: npt.NDArray[np.int8],
        x0: npt.NDArray[np.float64],
        y0: npt.NDArray[np.float64],
        start_z_mm: float,
        seed: npt.NDArray[np.uint64],
    ) -> SimulatedMuons:
        """Simulate muons moving along +z from (x0, y0, start_z_mm); each reproducible from its seed alone."""
        if not start_z_mm < 0:
            msg = f"gun.start_z_mm: expected a start upstream of the front face (< 0 mm), got {start_z_mm}"
            raise ConfigError(msg)
        batch = MuonBatch.from_arrays(
            self.detector,
            true_energy=true_energy,
            charge=charge,
            x0=x0,
            y0=y0,
            start_z_mm=start_z_mm,
            seed=seed,
        )
        upstream = max(_MIN_UPSTREAM_MM, GUN_CLEARANCE_MM - start_z_mm)
        config = self.config
        session = _shared_session(
            self.detector, config.physics_list, float(config.production_cut_mm), config.data_dir, upstream
        )
        self._version = session.version
        return session.run(batch)


@functools.cache
def _shared_session(
    detector: Detector, physics_list: str, production_cut_mm: float, data_dir: Path | None, upstream_mm: float
) -> Geant4Session:
    # One Geant4 application per process and configuration; functools.cache never evicts, so the
    # Python objects Geant4 points to stay alive for the life of the process.
    search = find_datasets(required_datasets(physics_list), data_dir=data_dir)
    prepare_environment(search, data_dir)
    return Geant4Session(
        detector,
        physics_list=functools.partial(_reference_physics_list, physics_list, production_cut_mm),
        upstream_mm=upstream_mm,
    )


def _reference_physics_list(name: str, production_cut_mm: float) -> Any:
    g4 = import_geant4()
    factory = g4.G4PhysListFactory()
    factory.SetVerbose(0)
    if not factory.IsReferencePhysList(name):
        msg = f"geant4.physics_list: G4PhysListFactory does not know {name!r}"
        raise ConfigError(msg)
    physics = factory.GetReferencePhysList(name)
    physics.SetVerboseLevel(0)
    physics.SetDefaultCutValue(production_cut_mm * g4.mm)
    return physics


def _wheel_version() -> str:
    try:
        return importlib.metadata.version("geant4_pybind")
    except importlib.metadata.PackageNotFoundError:
        return WHEEL.split("==")[1]
