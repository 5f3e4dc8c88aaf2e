"""Configuration of the simulation stage (SYSTEM.md "Detector" and "Simulation")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from mucalo.detector import Detector, Gun
from mucalo.errors import ConfigError

__all__ = ["SimulationConfig"]


@dataclass(frozen=True, kw_only=True, slots=True)
class SimulationConfig:
    """One simulation run: N muons from a gun into a detector, written as shards."""

    n_muons: int = 1000  # muons in the run
    muons_per_shard: int = 500  # the unit of work: one job writes one shard
    seed: int = 0  # run seed; per-shard and per-muon seeds derive from it
    backend: Literal["auto", "fast", "geant4"] = "auto"  # 'auto': fast if installed, else geant4
    workers: int = 1  # local worker processes (ignored when a Dask scheduler is given)
    detector: Detector = field(default_factory=Detector)
    gun: Gun = field(default_factory=Gun)
    fast: dict[str, Any] = field(default_factory=dict)  # options of the fast backend (FastSimConfig)
    geant4: dict[str, Any] = field(default_factory=dict)  # options of the geant4 backend (Geant4Config)

    def __post_init__(self) -> None:
        if self.n_muons <= 0:
            msg = f"simulation.n_muons: expected a positive integer, got {self.n_muons}"
            raise ConfigError(msg)
        if self.muons_per_shard <= 0:
            msg = f"simulation.muons_per_shard: expected a positive integer, got {self.muons_per_shard}"
            raise ConfigError(msg)
        if self.workers <= 0:
            msg = f"simulation.workers: expected a positive integer, got {self.workers}"
            raise ConfigError(msg)
        if self.seed < 0:
            msg = f"simulation.seed: expected a non-negative integer, got {self.seed}"
            raise ConfigError(msg)
        self.gun.check_fits(self.detector)

    @property
    def n_shards(self) -> int:
        """Number of shards (jobs) of the run."""
        return -(-self.n_muons // self.muons_per_shard)

    def shard_range(self, shard: int) -> tuple[int, int]:
        """Global muon range [start, stop) of shard number ``shard``."""
        start = shard * self.muons_per_shard
        return start, min(start + self.muons_per_shard, self.n_muons)
