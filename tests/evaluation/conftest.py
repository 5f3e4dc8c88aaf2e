"""Fixtures of the evaluation tests: synthetic samples with a known bias and resolution."""

from __future__ import annotations

import numpy as np
import pytest
from evaluation_samples import TEST_ENERGIES, Sample, make_sample


@pytest.fixture(scope="module")
def continuous() -> Sample:
    """40 000 muons uniform in 50–8000 GeV (≈ 500 per 100 GeV fit bin)."""
    rng = np.random.default_rng(11)
    return make_sample(rng.uniform(50.0, 8000.0, 40_000), rng)


@pytest.fixture(scope="module")
def fixed() -> Sample:
    """2000 muons at each of the 11 test energies."""
    rng = np.random.default_rng(12)
    return make_sample(np.repeat(TEST_ENERGIES, 2000), rng)
