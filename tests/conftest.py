"""Shared fixtures: the small Geant4 samples copied into tests/data, a default detector, run dirs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mucalo.detector import Detector

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def g4ref_small_path() -> Path:
    """40 real Geant4 muons: 10 each at 100, 1000, 4000 and 8000 GeV (in that order)."""
    return DATA / "g4ref_small.h5"


@pytest.fixture(scope="session")
def g4ref_uniform_path() -> Path:
    """120 real Geant4 muons, uniform in 50–8000 GeV."""
    return DATA / "g4ref_uniform_small.h5"


@pytest.fixture
def detector() -> Detector:
    """The published detector."""
    return Detector()
