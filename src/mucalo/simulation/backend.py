"""What every simulation backend provides, and how the driver picks one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from mucalo.config import from_dict
from mucalo.detector import Detector
from mucalo.errors import ConfigError

__all__ = ["BACKENDS", "Backend", "SimulatedMuons", "make_backend"]

#: Backend names accepted by ``simulation.backend`` ('auto' picks the first that can run).
BACKENDS = ("auto", "fast", "geant4")


@dataclass(frozen=True, slots=True)
class SimulatedMuons:
    """Hits of N simulated muons, CSR-like (the shard layout)."""

    offsets: npt.NDArray[np.int64]  # [N+1]
    cell: npt.NDArray[np.int64]  # [nnz] flat cell index, increasing within a muon
    energy: npt.NDArray[np.float32]  # [nnz] GeV, > 0
    energy_loss: npt.NDArray[np.float32]  # [N] E0 − muon exit energy, GeV
    escaped: npt.NDArray[np.float64]  # [N] energy of secondaries that left the block, GeV


class Backend(Protocol):
    """A muon simulation: gun parameters in, cell deposits out."""

    name: str

    def describe(self) -> dict[str, Any]:
        """JSON-able description stored in each shard's ``simulation`` attribute."""
        ...

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
        """Simulate muons; each is reproducible from its own seed alone."""
        ...


def make_backend(name: str, detector: Detector, options: dict[str, Any] | None = None) -> Backend:
    """Instantiate backend ``name`` ('fast', 'geant4' or 'auto') with its options mapping.

    'auto' takes the fast simulation when it is installed, else Geant4 (which needs its data sets).
    """

    options = options or {}
    if name == "auto":
        name = "fast" if _fast_available() else "geant4"
    if name == "fast":
        from mucalo.simulation.fast import FastBackend, FastSimConfig

        return FastBackend(detector, from_dict(FastSimConfig, options.get("fast"), where="simulation.fast"))
    if name == "geant4":
        from mucalo.simulation.geant4 import Geant4Backend, Geant4Config

        return Geant4Backend(
            detector, from_dict(Geant4Config, options.get("geant4"), where="simulation.geant4")
        )
    msg = f"simulation.backend: expected one of {list(BACKENDS)}, got {name!r}"
    raise ConfigError(msg)


def _fast_available() -> bool:
    try:
        import mucalo.simulation.fast  # noqa: F401
    except ImportError:
        return False
    return True
