"""The Geant4 application of one process: run manager, geometry, physics, per-event gun and read-out.

Geant4 allows one run manager per process. :class:`Geant4Session` builds it once (serial run manager,
the calorimeter of :mod:`.geant4_geometry`, a physics list given by the caller) and then simulates
batches of muons, one Geant4 run per batch and one event per muon. Python runs once per event (the gun,
which re-seeds the engine with the muon's own seed, and the read-out of the scorer's hits map) and for
the few steps in the vacuum world (the exit monitor), never per step inside the block.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mucalo.detector import Detector
from mucalo.errors import ConfigError
from mucalo.simulation.backend import SimulatedMuons
from mucalo.simulation.geant4_data import import_geant4
from mucalo.simulation.geant4_geometry import SCORER_COLLECTION, make_detector_construction, to_geant4_z

__all__ = ["GUN_CLEARANCE_MM", "Geant4Session", "MuonBatch"]

log = logging.getLogger(__name__)

#: Vacuum kept between the gun and the upstream world boundary, mm.
GUN_CLEARANCE_MM = 10.0
_QUIET_COMMANDS = (
    "/control/verbose 0",
    "/run/verbose 0",
    "/event/verbose 0",
    "/tracking/verbose 0",
    "/process/em/verbose 0",
    "/process/had/verbose 0",
)


@dataclass(frozen=True, slots=True)
class MuonBatch:
    """Gun parameters of N muons, as Python lists (what the per-event gun reads)."""

    energy_mev: list[float]
    muon: list[str]  # "mu+" or "mu-"
    x_mm: list[float]
    y_mm: list[float]
    z_mm: float  # Geant4 z of the gun
    seed: list[int]  # signed 64-bit, as G4Random.setTheSeed takes it

    @classmethod
    def from_arrays(
        cls,
        detector: Detector,
        *,
        true_energy: npt.ArrayLike,
        charge: npt.ArrayLike,
        x0: npt.ArrayLike,
        y0: npt.ArrayLike,
        start_z_mm: float,
        seed: npt.ArrayLike,
    ) -> MuonBatch:
        """Check and convert the backend's arrays (GeV, ±1, mm, mm, mm, uint64)."""
        arrays = {
            "true_energy": np.asarray(true_energy, np.float64),
            "charge": np.asarray(charge, np.int64),
            "x0": np.asarray(x0, np.float64),
            "y0": np.asarray(y0, np.float64),
            "seed": np.asarray(seed, np.uint64),
        }
        sizes = {name: a.shape for name, a in arrays.items()}
        if len(set(sizes.values())) != 1 or arrays["seed"].ndim != 1:
            msg = f"geant4 simulate: expected 1-d arrays of one length, got shapes {sizes}"
            raise ConfigError(msg)
        if not np.all(np.isin(arrays["charge"], (-1, 1))):
            msg = f"charge: expected +1 or -1, got {sorted(set(arrays['charge'].tolist()))}"
            raise ConfigError(msg)
        if not np.all(arrays["true_energy"] > 0):
            msg = f"true_energy: expected positive kinetic energies in GeV, min {arrays['true_energy'].min()}"
            raise ConfigError(msg)
        return cls(
            energy_mev=(arrays["true_energy"] * 1000.0).tolist(),
            muon=["mu+" if q > 0 else "mu-" for q in arrays["charge"].tolist()],
            x_mm=arrays["x0"].tolist(),
            y_mm=arrays["y0"].tolist(),
            z_mm=to_geant4_z(detector, start_z_mm),
            # uint64 seeds reach 2**64 − 1: pass the same 64 bits as the signed long Geant4 takes.
            seed=arrays["seed"].view(np.int64).tolist(),
        )


class Geant4Session:
    """The Geant4 application of this process: run manager, geometry, physics, gun and read-out.

    Args:
        detector: the calorimeter.
        physics_list: a callable returning the G4VUserPhysicsList instance to use (called after the run
            manager exists, as Geant4 requires).
        upstream_mm: vacuum before the front face, mm (the gun must lie inside it).

    Raises:
        ConfigError: this process already has a Geant4 run manager.
    """

    def __init__(self, detector: Detector, *, physics_list: Callable[[], Any], upstream_mm: float) -> None:
        g4 = import_geant4()
        if g4.G4RunManager.GetRunManager() is not None:
            msg = (
                "geant4: this process already runs a Geant4 configuration; Geant4 allows one run manager "
                "per process (use one backend configuration per worker process)"
            )
            raise ConfigError(msg)
        self.detector = detector
        self.upstream_mm = upstream_mm
        with _captured_stdout("start-up"):
            self.run_manager = g4.G4RunManagerFactory.CreateRunManager(g4.G4RunManagerType.Serial)
            self.construction = make_detector_construction(detector, upstream_mm=upstream_mm)
            self.run_manager.SetUserInitialization(self.construction)
            self.physics_list = physics_list()
            self.run_manager.SetUserInitialization(self.physics_list)
            self.gun = _gun_class()()
            self.run_manager.SetUserAction(self.gun)
            ui = g4.G4UImanager.GetUIpointer()
            for command in _QUIET_COMMANDS:
                ui.ApplyCommand(command)
            self.run_manager.Initialize()
            self.recorder = _recorder_class()(
                g4.G4SDManager.GetSDMpointer().GetCollectionID(SCORER_COLLECTION),
                self.construction.exit_monitor,
            )
            self.run_manager.SetUserAction(self.recorder)
            self.run_manager.BeamOn(0)  # builds the physics tables now, inside the capture
        banner = str(self.run_manager.GetVersionString())
        found = re.search(r"geant4-\d+-\d+(-patch-\d+)?", banner)
        self.version = found.group(0) if found else banner.strip()  # e.g. geant4-11-04-patch-01
        log.info("Geant4 ready: %s", self.version)

    def run(self, batch: MuonBatch) -> SimulatedMuons:
        """Simulate one batch of muons (one Geant4 run, one event per muon)."""
        if -(batch.z_mm + 0.5 * self.detector.depth_mm) > self.upstream_mm - GUN_CLEARANCE_MM:
            msg = (
                f"gun.start_z_mm: the gun lies outside the Geant4 world, built for a start at most "
                f"{self.upstream_mm - GUN_CLEARANCE_MM} mm upstream in this process"
            )
            raise ConfigError(msg)
        n = len(batch.seed)
        self.gun.batch = batch
        self.recorder.reset()
        if n:
            with _captured_stdout("run"):
                self.run_manager.BeamOn(n)
        result: SimulatedMuons = self.recorder.collect(batch)
        return result


def _gun_class() -> type:
    g4 = import_geant4()

    class _Gun(g4.G4VUserPrimaryGeneratorAction):  # type: ignore[misc,name-defined]
        """One muon per event, after re-seeding the engine with that muon's seed."""

        def __init__(self) -> None:
            super().__init__()
            self.particle_gun = g4.G4ParticleGun(1)
            self.batch: MuonBatch | None = None
            self._particles: dict[str, Any] = {}

        def GeneratePrimaries(self, event: Any) -> None:
            batch, i = self.batch, event.GetEventID()
            assert batch is not None  # set by Geant4Session.run before BeamOn
            g4.G4Random.setTheSeed(batch.seed[i])
            name = batch.muon[i]
            if name not in self._particles:
                self._particles[name] = g4.G4ParticleTable.GetParticleTable().FindParticle(name)
            gun = self.particle_gun
            gun.SetParticleDefinition(self._particles[name])
            gun.SetParticleEnergy(batch.energy_mev[i])
            gun.SetParticlePosition(g4.G4ThreeVector(batch.x_mm[i], batch.y_mm[i], batch.z_mm))
            gun.SetParticleMomentumDirection(g4.G4ThreeVector(0.0, 0.0, 1.0))
            gun.GeneratePrimaryVertex(event)

    return _Gun


def _recorder_class() -> type:
    g4 = import_geant4()

    class _Recorder(g4.G4UserEventAction):  # type: ignore[misc,name-defined]
        """Reads the scorer's hits map and the exit monitor at the end of every event."""

        def __init__(self, collection_id: int, exit_monitor: Any) -> None:
            super().__init__()
            self.collection_id = collection_id
            self.exit_monitor = exit_monitor
            self.reset()

        def reset(self) -> None:
            self.hits: list[npt.NDArray[np.float64]] = []
            self.exit_mev: list[float] = []
            self.escaped_mev: list[float] = []

        def EndOfEventAction(self, event: Any) -> None:
            collections = event.GetHCofThisEvent()
            hits_map = collections.GetHC(self.collection_id) if collections is not None else None
            pairs = list(hits_map) if hits_map is not None else []  # (cell, MeV), one per hit cell
            self.hits.append(np.asarray(pairs, np.float64).reshape(-1, 2))
            self.exit_mev.append(self.exit_monitor.muon_exit_mev)
            self.escaped_mev.append(self.exit_monitor.escaped_mev)

        def collect(self, batch: MuonBatch) -> SimulatedMuons:
            cells, energies = [], []
            for pairs in self.hits:
                order = np.argsort(pairs[:, 0], kind="stable")
                cell = pairs[order, 0].astype(np.int64)
                energy = (pairs[order, 1] / 1000.0).astype(np.float32)
                keep = energy > 0
                cells.append(cell[keep])
                energies.append(energy[keep])
            counts = np.array([len(c) for c in cells], np.int64)
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            e0 = np.asarray(batch.energy_mev, np.float64)
            exit_mev = np.asarray(self.exit_mev, np.float64)
            return SimulatedMuons(
                offsets=offsets,
                cell=np.concatenate(cells) if cells else np.zeros(0, np.int64),
                energy=np.concatenate(energies) if energies else np.zeros(0, np.float32),
                energy_loss=((e0 - exit_mev) / 1000.0).astype(np.float32),
                escaped=np.asarray(self.escaped_mev, np.float64) / 1000.0,
            )

    return _Recorder


@contextlib.contextmanager
def _captured_stdout(what: str) -> Iterator[None]:
    """Send what Geant4 prints to stdout (banner, tables, warnings) to the log instead.

    Geant4 writes through C++ streams to file descriptor 1, so the descriptor itself is redirected to a
    temporary file. Should Geant4 abort inside, that file (``$TMPDIR/mucalo-geant4-*.log``) keeps its
    last words.
    """
    sys.stdout.flush()
    handle, name = tempfile.mkstemp(prefix="mucalo-geant4-", suffix=".log")
    saved = os.dup(1)
    os.dup2(handle, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(handle)
        text = Path(name).read_text(errors="replace")
        Path(name).unlink()
        if text.strip():
            level = logging.WARNING if "G4Exception" in text else logging.DEBUG
            log.log(level, "Geant4 output during %s:\n%s", what, text.rstrip())
