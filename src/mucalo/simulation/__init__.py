"""Muon simulation: backends (``fast``, ``geant4``) behind one driver that writes shards."""

from __future__ import annotations

from mucalo.simulation.backend import Backend, SimulatedMuons, make_backend
from mucalo.simulation.config import SimulationConfig
from mucalo.simulation.driver import SimulationResult, simulate

__all__ = ("Backend", "SimulatedMuons", "SimulationConfig", "SimulationResult", "make_backend", "simulate")
