"""The particle library: energy bookkeeping of its histories and the merging of close points."""

from __future__ import annotations

import numpy as np
import pytest

from mucalo.detector import Detector
from mucalo.simulation.fast import FastBackend
from mucalo.simulation.fast.library import MERGE_RADIUS_MM, _merge_close_points


def test_close_points_merge_at_their_energy_weighted_centroid() -> None:
    record = np.array(
        [
            [0.0, 0.0, 0.0, 1.0],  # history 0: two points 0.1 mm apart ...
            [0.1, 0.0, 0.0, 3.0],
            [0.0, 0.0, 0.0, 1.0],  # history 1: two points 1 mm apart stay apart
            [1.0, 0.0, 0.0, 2.0],
        ]
    )
    points, ends = _merge_close_points(record, np.array([2, 4]), 0.25)
    assert ends.tolist() == [1, 3]
    np.testing.assert_allclose(points[0], [0.075, 0.0, 0.0, 4.0])
    np.testing.assert_allclose(points[1:], record[2:])


def test_points_of_different_histories_never_merge() -> None:
    record = np.array([[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0]])
    points, ends = _merge_close_points(record, np.array([1, 2]), 0.25)
    assert ends.tolist() == [1, 2]
    np.testing.assert_allclose(points, record)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    backend = FastBackend(Detector(), cache_dir=tmp_path_factory.getbasetemp() / "fast-tables")
    return backend._library


def test_every_history_keeps_its_energy(library: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Recorded histories have no geometry: their energy fractions sum to 1 after merging."""
    index, points, _ = library
    assert np.all(np.diff(index) > 0)
    sums = np.add.reduceat(points[:, 3], index[:-1])
    np.testing.assert_allclose(sums, 1.0, rtol=0, atol=1e-9)


def test_no_two_points_of_a_history_are_closer_than_the_merge_radius(
    library: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    index, points, _ = library
    for h in range(0, index.size - 1, 97):  # a sample of histories of every kind
        xyz = points[index[h] : index[h + 1], :3]
        d2 = ((xyz[:, None, :] - xyz[None, :, :]) ** 2).sum(-1)
        np.fill_diagonal(d2, np.inf)
        # a centroid may drift towards a point kept earlier; allow that drift, not a second cluster
        assert d2.min() > (0.5 * MERGE_RADIUS_MM) ** 2
