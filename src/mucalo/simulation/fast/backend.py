"""The ``fast`` simulation backend: mucalo's own physics-based muon and shower simulation."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mucalo.detector import Detector
from mucalo.errors import ConfigError
from mucalo.simulation.backend import SimulatedMuons
from mucalo.simulation.fast.batch import simulate_batch
from mucalo.simulation.fast.config import FastSimConfig
from mucalo.simulation.fast.jit_cache import refresh_kernel_cache
from mucalo.simulation.fast.library import build_library, isotropic_photon_points
from mucalo.simulation.fast.lowenergy import low_energy_tables
from mucalo.simulation.fast.material import material_by_name
from mucalo.simulation.fast.params import build_params
from mucalo.simulation.fast.state import make_state
from mucalo.simulation.fast.tables import TABLES_VERSION, load_or_build_tables

__all__ = ["CODE_VERSION", "DetailedMuons", "FastBackend"]

logger = logging.getLogger(__name__)

#: Version of the fast simulation's physics; stored with every shard it writes.
CODE_VERSION = "1.1"  # 1.1: shower library, cell-by-cell continuous loss, 120 mm steps


@dataclass(frozen=True, slots=True)
class DetailedMuons:
    """:class:`SimulatedMuons` plus the float64 per-muon deposit (for bookkeeping checks)."""

    muons: SimulatedMuons
    deposited: npt.NDArray[np.float64]  # [N] GeV, sum of the muon's cells before float32 rounding
    energy_loss: npt.NDArray[np.float64]  # [N] GeV, E0 − exit energy before float32 rounding


class FastBackend:
    """Physics-based simulation of muons in the calorimeter (SYSTEM.md "Simulation", PHYSICS.md).

    Args:
        detector: geometry and field; only ``G4_PbWO4`` is supported.
        config: physics switches, cuts and tuning knobs (default: the validated values).
        cache_dir: where the interaction tables are cached (default ``$XDG_CACHE_HOME/mucalo`` or
            ``~/.cache/mucalo``).
    """

    name = "fast"

    def __init__(
        self, detector: Detector, config: FastSimConfig | None = None, *, cache_dir: Path | None = None
    ) -> None:
        self.detector = detector
        self.config = FastSimConfig() if config is None else config
        self.material = material_by_name(detector.material)
        self._tables = load_or_build_tables(
            self.material,
            electron_cut=self.config.electron_cut_mev,
            photon_cut=self.config.photon_cut_mev,
            cache_dir=cache_dir,
        )
        refresh_kernel_cache()
        low = low_energy_tables(self.material)
        self._params = build_params(detector, self.material, self.config)
        low_energy = (low.photon, low.electron)
        muon_tables = (self._tables.log_t, self._tables.rate, self._tables.dedx, self._tables.cdf)
        self._library = build_library(self._params, low_energy, muon_tables)
        self._state = make_state(
            params=self._params,
            muon_tables=muon_tables,
            low_energy=low_energy,
            library=self._library,
            n_cells=detector.n_cells,
            isotropic_points=isotropic_photon_points(self._library),
        )

    def describe(self) -> dict[str, Any]:
        """JSON-able description stored in each shard's ``simulation`` attribute."""
        return {
            "backend": self.name,
            "code": f"mucalo fast simulation {CODE_VERSION}",
            "code_version": CODE_VERSION,
            "tables_version": TABLES_VERSION,
            "material": self.material.describe(),
            "config": self.config.to_dict(),
            "cuts_mev": {"electron": self.config.electron_cut_mev, "photon": self.config.photon_cut_mev},
            "physics": (
                "muon: restricted Bethe-Bloch + Gamma fluctuations, knock-on electrons, KKP brems, KP pairs"
                + (", Borog-Petrukhin photonuclear" if self.config.photonuclear else "")
                + "; Highland multiple scattering; helix in B. Showers: GFlash (Grindhammer-Peters) above "
                f"{self.config.gflash_min_mev} MeV, particle-level mini Monte Carlo below"
            ),
        }

    def simulate(
        self,
        *,
        true_energy: npt.ArrayLike,
        charge: npt.ArrayLike,
        x0: npt.ArrayLike,
        y0: npt.ArrayLike,
        start_z_mm: float,
        seed: npt.ArrayLike,
    ) -> SimulatedMuons:
        """Simulate N muons moving along +z; muon i depends on its own inputs and ``seed[i]`` only.

        Args:
            true_energy: (N,) kinetic energies, GeV (> 0.01).
            charge: (N,) +1 for μ+, −1 for μ−.
            x0, y0: (N,) gun position, mm, block centred at x = y = 0.
            start_z_mm: gun z, mm; the front face is at z = 0.
            seed: (N,) uint64 per-muon seeds.

        Returns:
            Hits in CSR form, the muon energy loss and the energy of secondaries that escaped.
        """
        return self.simulate_detailed(
            true_energy=true_energy, charge=charge, x0=x0, y0=y0, start_z_mm=start_z_mm, seed=seed
        ).muons

    def simulate_detailed(
        self,
        *,
        true_energy: npt.ArrayLike,
        charge: npt.ArrayLike,
        x0: npt.ArrayLike,
        y0: npt.ArrayLike,
        start_z_mm: float,
        seed: npt.ArrayLike,
    ) -> DetailedMuons:
        """As :meth:`simulate`, also returning the float64 deposit per muon."""
        energy = np.ascontiguousarray(true_energy, dtype=np.float64)
        n = energy.shape[0]
        arrays: dict[str, npt.NDArray[Any]] = {
            "charge": np.ascontiguousarray(charge, dtype=np.float64),
            "x0": np.ascontiguousarray(x0, dtype=np.float64),
            "y0": np.ascontiguousarray(y0, dtype=np.float64),
            "seed": np.ascontiguousarray(seed, dtype=np.uint64),
        }
        for name, arr in arrays.items():
            if arr.shape != (n,):
                msg = f"simulate: {name} has shape {arr.shape}, expected ({n},) like true_energy"
                raise ConfigError(msg)
        if n and (not np.all(np.isfinite(energy)) or energy.min() <= 0.01):
            msg = f"simulate: true_energy must be finite and > 0.01 GeV, got min {energy.min()}"
            raise ConfigError(msg)
        if n and not np.all(np.abs(arrays["charge"]) == 1.0):
            msg = "simulate: charge must be +1 or -1"
            raise ConfigError(msg)
        offsets, cell, deposit, energy_loss, escaped, deposited = simulate_batch(
            self._state,
            energy,
            arrays["charge"],
            arrays["x0"],
            arrays["y0"],
            float(start_z_mm),
            arrays["seed"],
        )
        muons = SimulatedMuons(
            offsets=offsets,
            cell=cell,
            energy=deposit,
            energy_loss=energy_loss.astype(np.float32),
            escaped=escaped,
        )
        return DetailedMuons(muons=muons, deposited=deposited, energy_loss=energy_loss)
