"""A cheap stand-in physics for driver tests (the real backends are tested on their own)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mucalo.simulation import SimulatedMuons
from mucalo.simulation import driver as driver_module


class ToyBackend:
    """Deposits a few cells along the track, each muon a pure function of its seed."""

    name = "toy"

    def __init__(self, fail_on_energy: float | None = None) -> None:
        self.fail_on_energy = fail_on_energy

    def describe(self) -> dict[str, Any]:
        return {"code": "toy"}

    def simulate(self, *, true_energy, charge, x0, y0, start_z_mm, seed) -> SimulatedMuons:  # type: ignore[no-untyped-def]
        offsets, cells, energies = [0], [], []
        for e0, s in zip(true_energy, seed, strict=True):
            if self.fail_on_energy is not None and e0 == self.fail_on_energy:
                raise KeyboardInterrupt  # stands in for a killed job
            rng = np.random.default_rng(int(s))
            cell = np.unique(rng.integers(0, 51_200, size=5))
            cells.append(cell)
            energies.append(rng.random(cell.size).astype(np.float32) + 0.01)
            offsets.append(offsets[-1] + cell.size)
        energy = np.concatenate(energies)
        n = len(true_energy)
        return SimulatedMuons(
            offsets=np.asarray(offsets),
            cell=np.concatenate(cells),
            energy=energy,
            energy_loss=np.full(n, 1.0, np.float32),
            escaped=np.zeros(n),
        )


@pytest.fixture
def toy_backend(monkeypatch: pytest.MonkeyPatch) -> ToyBackend:
    backend = ToyBackend()
    monkeypatch.setattr(driver_module, "_backend", lambda config_json: backend)
    return backend
