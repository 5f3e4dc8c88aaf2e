"""``fast``: mucalo's physics-based muon + shower simulation, validated against Geant4.

Muon transport with restricted ionisation, knock-on electrons, KKP bremsstrahlung, KP pair production
(optional photonuclear), multiple scattering and the helix in B; secondaries shower through GFlash
above ``gflash_min_mev`` and a particle-level mini Monte Carlo below. See PHYSICS.md.
"""

from __future__ import annotations

from mucalo.simulation.fast.backend import CODE_VERSION, DetailedMuons, FastBackend
from mucalo.simulation.fast.config import FastSimConfig

__all__ = ("CODE_VERSION", "DetailedMuons", "FastBackend", "FastSimConfig")
