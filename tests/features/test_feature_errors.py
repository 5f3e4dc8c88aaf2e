"""Bad input gives DataFormatError naming where, the muon and the problem."""

from __future__ import annotations

import numpy as np
import pytest

from mucalo.detector import Detector
from mucalo.errors import DataFormatError
from mucalo.features import compute_features, compute_features_batch

DET = Detector()


def single(cell: list[int], energy: list[float], x0: float = 0.0, y0: float = 0.0) -> np.ndarray:
    return compute_features(np.array(cell), np.array(energy, dtype=np.float32), x0, y0, DET)


@pytest.mark.parametrize(
    ("cell", "energy", "match"),
    [
        ([5, 51_200], [0.1, 0.2], r"muon 0: hit 1: cell 51200 is outside the \(50, 32, 32\) grid"),
        ([-1], [0.1], "muon 0: hit 0: cell -1 is outside"),
        ([5, 6], [0.1, -0.2], "hit 1: cell 6 has negative energy"),
        ([5, 6], [np.nan, 0.2], "hit 0: cell 5 has energy nan"),
        ([5, 6], [0.1, np.inf], "hit 1: cell 6 has energy inf"),
        ([7, 5, 7], [0.1, 0.2, 0.3], "hit 2: cell 7 appears more than once"),
    ],
)
def test_bad_hits(cell: list[int], energy: list[float], match: str) -> None:
    with pytest.raises(DataFormatError, match=match):
        single(cell, energy)


def test_zero_energy_is_allowed() -> None:
    values = single([5, 6], [0.0, 0.0])
    assert np.all(values == 0.0)


def test_non_finite_truth() -> None:
    with pytest.raises(DataFormatError, match="muon 0: truth x0 = nan is not finite"):
        single([5], [0.1], x0=float("nan"))


def test_batch_names_where_and_the_muon() -> None:
    offsets = np.array([0, 2, 3, 5])
    cell = np.array([1, 2, 3, 4, 60_000])
    energy = np.ones(5, dtype=np.float32)
    with pytest.raises(DataFormatError, match=r"^run\.h5: muon 12: hit 1: cell 60000 is outside"):
        compute_features_batch(
            offsets, cell, energy, np.zeros(3), np.zeros(3), DET, where="run.h5", first_muon=10
        )
    with pytest.raises(DataFormatError, match=r"run\.h5: muon 11: truth y0 = inf"):
        compute_features_batch(
            offsets, cell, energy, np.zeros(3), [0, np.inf, 0], DET, where="run.h5", first_muon=10
        )


def test_inconsistent_arrays() -> None:
    energy = np.ones(3, dtype=np.float32)
    with pytest.raises(DataFormatError, match="offsets must rise from 0 to the number of hits 3"):
        compute_features_batch([0, 2], [1, 2, 3], energy, [0.0], [0.0], DET)
    with pytest.raises(DataFormatError, match="cell and energy must be 1-d of equal length"):
        compute_features_batch([0, 3], [1, 2, 3], energy[:2], [0.0], [0.0], DET)
    with pytest.raises(DataFormatError, match=r"truth x0 has shape \(2,\), expected \(1,\)"):
        compute_features_batch([0, 3], [1, 2, 3], energy, [0.0, 1.0], [0.0], DET)
    with pytest.raises(DataFormatError, match="cell indices must be integers"):
        compute_features_batch([0, 3], [1.0, 2.0, 3.0], energy, [0.0], [0.0], DET)


def test_state_is_clean_after_an_error() -> None:
    with pytest.raises(DataFormatError):
        single([5, 6, 6], [0.5, 0.5, 0.5])
    values = single([5, 6], [0.5, 0.5])
    assert values[0] == 1.0
