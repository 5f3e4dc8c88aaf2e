"""The calorimeter geometry and the muon gun (SYSTEM.md "Detector")."""

from __future__ import annotations

from mucalo.detector.geometry import MAX_CELLS, Detector
from mucalo.detector.gun import Gun, Spectrum

__all__ = ("MAX_CELLS", "Detector", "Gun", "Spectrum")
