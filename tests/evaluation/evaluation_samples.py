"""Synthetic predictions with a known linear bias and Gaussian resolution (helpers for these tests)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: The truth of the synthetic samples: pred = SLOPE·(E + N(0, RESOLUTION·E)) + OFFSET.
SLOPE, OFFSET, RESOLUTION = 0.85, 120.0, 0.25
#: Fixed energies of the paper's test set, GeV.
TEST_ENERGIES = np.arange(100.0, 4101.0, 400.0)


@dataclass(frozen=True)
class Sample:
    """True energies and predictions, GeV."""

    true_energy: FloatArray
    prediction: FloatArray


def make_sample(
    true_energy: FloatArray, rng: np.random.Generator, *, resolution: float = RESOLUTION
) -> Sample:
    """Predictions with σ/E = ``resolution`` before the linear response SLOPE·E + OFFSET."""
    measured = true_energy + rng.normal(0.0, resolution * true_energy)
    return Sample(true_energy, SLOPE * measured + OFFSET)
