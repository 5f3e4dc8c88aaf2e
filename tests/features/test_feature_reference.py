"""The compiled kernel against the slow literal implementation (feature_reference.py).

Random sparse events (clusters on and off the column, blobs, cells at the thresholds, zero energies),
other detectors and box sizes, and real Geant4 muons.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from feature_reference import reference_features

from mucalo.detector import Detector
from mucalo.features import FeatureConfig, compute_features, compute_features_batch
from mucalo.io.shards import ShardSet


def random_event(rng: np.random.Generator, detector: Detector, n_hits: int) -> tuple[np.ndarray, ...]:
    """Hits clumped around a few centres (so that clusters and boxes form), some near the column."""
    n_layers, nx, ny = detector.shape
    x0, y0 = rng.uniform(-0.4, 0.4, 2) * np.array([detector.width_x_mm, detector.width_y_mm])
    ixm, iym = (int(v) for v in detector.column_of(x0, y0))
    centres = np.column_stack([rng.integers(0, n_layers, 6), rng.integers(0, nx, 6), rng.integers(0, ny, 6)])
    centres[:2, 1:] = (ixm, iym)  # two clumps on the muon column
    pick = centres[rng.integers(0, 6, n_hits)] + rng.integers(-2, 3, (n_hits, 3))
    pick = np.clip(pick, 0, np.array(detector.shape) - 1)
    track = rng.integers(0, n_layers, n_hits // 4)  # cells in the muon column itself
    cell = np.unique(
        np.concatenate(
            [
                detector.flat_index(pick[:, 0], pick[:, 1], pick[:, 2]),
                detector.flat_index(track, np.full_like(track, ixm), np.full_like(track, iym)),
            ]
        )
    )
    # a quarter above 0.1 GeV, as in real muons' halo-dominated hits
    energy = np.exp(rng.uniform(np.log(1e-4), np.log(1.0), cell.size)).astype(np.float32)
    special = rng.random(cell.size)
    energy[special < 0.05] = np.float32(detector.threshold_gev)
    energy[(special >= 0.05) & (special < 0.1)] = np.float32(detector.soft_threshold_gev)
    energy[(special >= 0.1) & (special < 0.12)] = 0.0
    order = rng.permutation(cell.size)  # the kernel must not rely on sorted cells
    return cell[order], energy[order], float(x0), float(y0)


DETECTORS = {
    "default": (Detector(), FeatureConfig()),
    "small": (
        Detector(
            n_layers=23,
            n_cells_x=12,
            n_cells_y=9,
            layer_depth_mm=30.0,
            cell_size_mm=5.0,
            field_t=-1.5,
            threshold_gev=0.2,
            soft_threshold_gev=0.02,
        ),
        FeatureConfig(box_size=2, curvature_weight_mm=20.0, emeas_clip_gev=50.0),
    ),
    "box4": (Detector(n_layers=20, n_cells_x=16, n_cells_y=16), FeatureConfig(box_size=4)),
    "too_thin_for_boxes": (Detector(n_layers=10, n_cells_x=16, n_cells_y=2), FeatureConfig()),
}


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_random_events_match_the_reference(name: str) -> None:
    detector, config = DETECTORS[name]
    rng = np.random.default_rng(sorted(DETECTORS).index(name))
    for n_hits in (0, 1, 5, 40, 200, 600, 1500):
        cell, energy, x0, y0 = random_event(rng, detector, n_hits)
        got = compute_features(cell, energy, x0, y0, detector, config=config)
        want = reference_features(
            cell,
            energy,
            x0,
            y0,
            detector,
            box=config.box_size,
            weight_mm=config.curvature_weight_mm,
            clip_gev=config.emeas_clip_gev,
        )
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, err_msg=f"{name}, {n_hits} hits")


def test_batch_equals_single_muons_on_random_events() -> None:
    detector = Detector()
    rng = np.random.default_rng(7)
    events = [random_event(rng, detector, n) for n in (300, 0, 50, 700, 1)]
    offsets = np.cumsum([0] + [e[0].size for e in events])
    batch = compute_features_batch(
        offsets,
        np.concatenate([e[0] for e in events]),
        np.concatenate([e[1] for e in events]),
        [e[2] for e in events],
        [e[3] for e in events],
        detector,
    )
    assert batch.dtype == np.float32
    for row, (cell, energy, x0, y0) in zip(batch, events, strict=True):
        single = compute_features(cell, energy, x0, y0, detector)
        np.testing.assert_array_equal(row, single.astype(np.float32))


def test_real_geant4_muons_match_the_reference(g4ref_small_path: Path) -> None:
    shards = ShardSet(g4ref_small_path)
    truth = shards.truth()
    for index in (0, 1, 10, 11, 20, 30):  # 100, 1000, 4000, 8000 GeV
        cell, energy = shards.muon(index)
        x0, y0 = float(truth["x0"][index]), float(truth["y0"][index])
        got = compute_features(cell, energy, x0, y0, shards.detector)
        want = reference_features(cell, energy, x0, y0, shards.detector)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, err_msg=f"muon {index}")
