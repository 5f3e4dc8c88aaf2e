"""Hand-built events whose 28 features are worked out by hand (default detector unless stated).

Geometry used in the arithmetic: cell pitch 3.75 mm, grid from −60 to +60 mm, so cell ix has its centre
at (ix + 0.5)·3.75 − 60 mm (ix = 16 → +1.875, 15 → −1.875, 14 → −5.625, 17 → +5.625); layer k has its
upstream face at 40.64·k mm. Every test compares the full vector of 28 values: features not named in
the expectation must be exactly 0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mucalo.detector import Detector
from mucalo.features import FEATURE_NAMES, compute_features

Hit = tuple[int, int, int, float]  # (layer, ix, iy, energy GeV)
PITCH, HALF_WIDTH, DEPTH = 3.75, 60.0, 40.64


def centre(index: int) -> float:
    return (index + 0.5) * PITCH - HALF_WIDTH


def run(hits: list[Hit], x0: float, y0: float, *, dtype: type = np.float64, **detector: float) -> dict:
    det = Detector(**detector)
    cell = det.flat_index([h[0] for h in hits], [h[1] for h in hits], [h[2] for h in hits])
    energy = np.array([h[3] for h in hits], dtype=dtype)
    values = compute_features(cell, energy, x0, y0, det)
    assert values.shape == (28,)
    assert values.dtype == np.float64
    assert np.all(np.isfinite(values))
    return dict(zip(FEATURE_NAMES, values.tolist(), strict=True))


def check(got: dict, rel: float = 1e-12, **expected: float) -> None:
    unknown = set(expected) - set(FEATURE_NAMES)
    assert not unknown, unknown
    for name in FEATURE_NAMES:
        want = expected.get(name, 0.0)
        message = f"{name}: got {got[name]}, expected {want}"
        assert got[name] == pytest.approx(want, rel=rel, abs=1e-12), message


def emeas_by_hand(first: list[tuple[float, float, float]], second: list[tuple[float, float, float]]) -> float:
    """Paper §6.2 from (x, z, E·w) points of each half: 0.3·2 T·R with R in m."""
    x1 = sum(x * ew for x, _, ew in first) / sum(ew for *_, ew in first)
    z1 = sum(z * ew for _, z, ew in first) / sum(ew for *_, ew in first)
    x2 = sum(x * ew for x, _, ew in second) / sum(ew for *_, ew in second)
    z2 = sum(z * ew for _, z, ew in second) / sum(ew for *_, ew in second)
    xc = (z2**2 - z1**2 + x2**2 - x1**2) / (2 * (x2 - x1))
    return 0.3 * 2.0 * math.sqrt((x1 - xc) ** 2 + z1**2) / 1000


def test_empty_event_gives_28_zeros() -> None:
    check(run([], 3.0, -7.0))


def test_single_cell_above_threshold_in_the_muon_column() -> None:
    # x0 = 1, y0 = 2 → column (16, 16), centre (1.875, 1.875): Δx = 0.875, Δy = −0.125
    got = run([(5, 16, 16, 2.0)], 1.0, 2.0)
    r2 = 0.875**2 + 0.125**2  # 0.78125
    check(
        got,
        eabove=2.0,
        rmom=math.sqrt(r2),
        rmom1=math.sqrt(r2),
        r2m=r2,
        r2m1=r2,  # layer 5 is in layers 0–9
        nclu=1,
        ncellmax=1,
        eclumax=2.0,
        avgcells=1,
        ymom=0.875,  # the x moment, under its published name
        xmom=-0.125,
        # emeas = 0: only the first half (layers 0–24) has energy; no unclustered energy: boxes 0
    )


def test_clusters_on_and_off_the_muon_column() -> None:
    hits: list[Hit] = [
        # type 1, cluster A: 4 cells, 1.95 GeV, x 16–17, y 16–17, z 3–4
        (3, 16, 16, 1.0),
        (3, 17, 16, 0.5),
        (4, 17, 16, 0.25),
        (4, 17, 17, 0.2),
        # type 1, cluster B: 3 cells along z (layers 10–12), 0.9 GeV
        (10, 16, 16, 0.3),
        (11, 16, 16, 0.3),
        (12, 16, 16, 0.3),
        # touches B only along an edge, not a face: a type-2 cluster of its own
        (11, 17, 17, 0.4),
        # type 2, cluster C: 4 cells, 2.4 GeV
        (20, 5, 5, 0.6),
        (20, 5, 6, 0.6),
        (20, 6, 5, 0.6),
        (21, 5, 5, 0.6),
        # face neighbour of C below threshold: not clustered, the only unclustered energy
        (20, 5, 7, 0.05),
        # type 2, cluster D: one cell, 3 GeV
        (40, 30, 30, 3.0),
    ]
    got = run(hits, centre(16), centre(16))
    e = np.array([h[3] for h in hits])
    dx = np.array([centre(h[1]) for h in hits]) - centre(16)
    dy = np.array([centre(h[2]) for h in hits]) - centre(16)
    above = e > 0.1
    region = np.array([h[0] // 10 for h in hits])
    r2 = e * (dx**2 + dy**2)
    y_mu = centre(16)
    points = [(centre(h[1]), h[0] * DEPTH, h[3] * math.exp(-abs(centre(h[2]) - y_mu) / 50)) for h in hits]
    check(
        got,
        eabove=1.95 + 0.9 + 0.4 + 2.4 + 3.0,
        rmom=math.hypot((e * dx).sum(), (e * dy).sum()) / e.sum(),
        rmom1=math.hypot((e * dx)[above].sum(), (e * dy)[above].sum()) / e[above].sum(),
        r2m=r2.sum() / e.sum(),
        r2m1=r2[region == 0].sum() / e[region == 0].sum(),
        r2m2=r2[region == 1].sum() / e[region == 1].sum(),
        r2m3=r2[region == 2].sum() / e[region == 2].sum(),
        r2m5=r2[region == 4].sum() / e[region == 4].sum(),
        nclu=2,
        ncellmax=4,
        eclumax=1.95,
        maxdepthx=1,  # A
        maxdepthy=1,  # A
        maxdepthz=2,  # B
        avgcells=3.5,
        nclu1=3,
        ncellmax1=4,  # C
        eclumax1=3.0,  # D
        epercell1=3.0 / 4,  # maxima of different clusters
        avgcells_off_trk=2.0,  # (1 + 4 + 1) / 3
        ymom=(e * dx).sum() / e.sum(),
        xmom=(e * dy).sum() / e.sum(),
        emeas=emeas_by_hand(
            [p for p, h in zip(points, hits, strict=True) if h[0] < 25],
            [p for p, h in zip(points, hits, strict=True) if h[0] >= 25],
        ),
        maxsum=0.05,  # every box holding the single unclustered cell
        ea1=0.05,
    )


def test_thresholds_are_strict_above_and_inclusive_below() -> None:
    hits: list[Hit] = [
        (0, 16, 16, 0.5),  # above; its neighbour at exactly 0.1 does not join
        (1, 16, 16, 0.1),  # exactly E_thr: not above → ea1, unclustered (on the column: no box)
        (20, 3, 3, 0.01),  # exactly 0.01 → eb1
        (20, 3, 28, 0.0100000001),  # just above 0.01 → ea1
        (30, 28, 3, 0.1000000001),  # just above E_thr → a type-2 cluster
    ]
    got = run(hits, centre(16), centre(16))
    assert got["eabove"] == 0.5 + 0.1000000001
    assert got["eb1"] == 0.01
    assert got["ea1"] == 0.1 + 0.0100000001
    assert got["nclu"] == 1
    assert got["ncellmax"] == 1
    assert got["nclu1"] == 1
    assert got["eclumax1"] == 0.1000000001
    # boxes holding (1, 16, 16) hold the muon column and are excluded; the two 0.01-ish cells remain
    assert got["maxsum"] == 0.0100000001
    assert got["epercell"] == 0.01


def test_float32_energies_are_compared_in_float64() -> None:
    # float32(0.1) = 0.100000001…: above E_thr; float32(0.01) = 0.00999999977…: in eb1 (SYSTEM.md)
    hits: list[Hit] = [(0, 16, 16, 0.5), (1, 16, 16, 0.1), (20, 3, 3, 0.01)]
    got = run(hits, centre(16), centre(16), dtype=np.float32)
    f32 = [float(np.float32(h[3])) for h in hits]
    assert got["nclu"] == 1
    assert got["ncellmax"] == 2  # the float32 0.1 cell joins
    assert got["maxdepthz"] == 1
    assert got["eclumax"] == f32[0] + f32[1]
    assert got["eb1"] == f32[2]
    assert got["ea1"] == 0.0


def test_point_symmetric_event_has_no_first_moments() -> None:
    # x0 = y0 = 0 sits on a cell corner; column (16, 16) (centre 1.875, 1.875). Pairs mirrored through
    # the origin: (14, 15) ↔ (17, 16) at ±(5.625, 1.875); (10, 20) ↔ (21, 11) at ±(20.625, −16.875)
    hits: list[Hit] = [(2, 14, 15, 0.5), (2, 17, 16, 0.5), (30, 10, 20, 0.05), (30, 21, 11, 0.05)]
    got = run(hits, 0.0, 0.0)
    near = 5.625**2 + 1.875**2  # 35.15625 mm²
    far = 20.625**2 + 16.875**2  # 710.15625 mm²
    w = [math.exp(-3.75 / 50), 1.0, math.exp(-15.0 / 50), math.exp(-18.75 / 50)]  # |y − 1.875| / 50
    check(
        got,
        eabove=1.0,
        r2m=(1.0 * near + 0.1 * far) / 1.1,
        r2m1=near,  # layer 2
        r2m4=far,  # layer 30 is in layers 30–39
        nclu1=2,  # neither cell is in the muon column
        ncellmax1=1,
        eclumax1=0.5,
        epercell1=0.5,
        avgcells_off_trk=1.0,
        emeas=emeas_by_hand(
            [(-5.625, 2 * DEPTH, 0.5 * w[0]), (5.625, 2 * DEPTH, 0.5 * w[1])],
            [(-20.625, 30 * DEPTH, 0.05 * w[2]), (20.625, 30 * DEPTH, 0.05 * w[3])],
        ),
        maxsum=0.05,
        epercell=0.05,  # the other cell's box does not overlap the first
        ea1=0.1,
        # rmom, rmom1, ymom, xmom: exactly 0
    )


def test_straight_track_gives_the_clipped_curvature() -> None:
    # pairs mirrored in x only, all in the row of y_μ (w = 1): both half-points at x = 0 → R = ∞
    hits: list[Hit] = [(3, 14, 16, 0.5), (3, 17, 16, 0.5), (40, 12, 16, 0.2), (40, 19, 16, 0.2)]
    got = run(hits, 0.0, 0.0)
    assert got["emeas"] == 10_000.0
    assert got["ymom"] == 0.0  # x moment
    assert got["xmom"] == pytest.approx(1.875)  # every cell is 1.875 mm above y0
    assert got["rmom"] == pytest.approx(1.875)


def test_curvature_off_when_the_field_is_off() -> None:
    hits: list[Hit] = [(3, 14, 16, 0.5), (40, 19, 16, 0.2)]
    assert run(hits, 0.0, 0.0, field_t=0.0)["emeas"] == 0.0
    assert run(hits, 0.0, 0.0)["emeas"] > 0.0


def test_no_cell_above_threshold() -> None:
    hits: list[Hit] = [(10, 5, 5, 0.05), (10, 5, 6, 0.005), (45, 30, 1, 0.02)]
    got = run(hits, centre(16), centre(16))
    e = np.array([0.05, 0.005, 0.02])
    dx = np.array([centre(5), centre(5), centre(30)]) - centre(16)
    dy = np.array([centre(5), centre(6), centre(1)]) - centre(16)
    r2 = e * (dx**2 + dy**2)
    y_mu = centre(16)
    w = [math.exp(-abs(centre(iy) - y_mu) / 50) for iy in (5, 6, 1)]
    check(
        got,
        rmom=math.hypot((e * dx).sum(), (e * dy).sum()) / e.sum(),
        r2m=r2.sum() / e.sum(),
        r2m2=r2[:2].sum() / e[:2].sum(),  # layer 10
        r2m5=r2[2] / e[2],  # layer 45
        ymom=(e * dx).sum() / e.sum(),
        xmom=(e * dy).sum() / e.sum(),
        emeas=emeas_by_hand(
            [(centre(5), 10 * DEPTH, 0.05 * w[0]), (centre(5), 10 * DEPTH, 0.005 * w[1])],
            [(centre(30), 45 * DEPTH, 0.02 * w[2])],
        ),
        maxsum=0.055,  # both layer-10 cells in one box
        epercell=0.02,  # the far cell
        eb1=0.005,
        ea1=0.07,
    )


def test_z_regions_split_between_layers_9_and_10() -> None:
    got = run([(9, 16, 20, 0.05), (10, 16, 24, 0.05)], centre(16), centre(16))
    assert got["r2m1"] == pytest.approx((4 * 3.75) ** 2)
    assert got["r2m2"] == pytest.approx((8 * 3.75) ** 2)
    assert got["r2m3"] == got["r2m4"] == got["r2m5"] == 0.0


@pytest.mark.parametrize("radius_m", [20.0, 40.0])
def test_curvature_of_a_synthetic_arc(radius_m: float) -> None:
    """An arc x(z) = a + R − √(R² − z²) entering at x = a along z: V[24] recovers 0.3·B·R within 0.2 %.

    One GeV per layer, shared between the two cells around x(z_k) so that each layer's centroid is the
    arc's x at the layer's upstream face z_k = 40.64·k mm; all cells in the row of y_μ (w = 1).
    The half-centroids lie slightly off the arc; in the parabolic limit the offset is the same for both
    halves and cancels, leaving 3e-4 at 20 m and 8e-5 at 40 m.
    """
    radius = radius_m * 1000
    a = -50.0
    hits: list[Hit] = []
    for layer in range(50):
        z = layer * DEPTH
        x = a + radius - math.sqrt(radius**2 - z**2)
        u = (x + HALF_WIDTH) / PITCH - 0.5  # position in units of cell centres
        left = math.floor(u)
        frac = u - left
        hits += [(layer, left, 16, 1.0 - frac), (layer, left + 1, 16, frac)]
    got = run([h for h in hits if h[3] > 0], a, 0.0)
    assert got["emeas"] == pytest.approx(0.3 * 2.0 * radius_m, rel=2e-3)


def test_box_features_on_hand_placed_blobs() -> None:
    # muon column (16, 16); all energies ≤ 0.1 GeV, so everything is unclustered
    blob = [(k, i, j, 0.05) for k in (9, 10, 11) for i in (4, 5, 6) for j in (4, 5, 6)]  # 1.35 GeV
    extra = [(12, 5, 5, 0.1)]  # boxes with it overlap the blob's box, or hold only it (0.1)
    small = [(k, i, j, 0.04) for k in (30, 31) for i in (25, 26) for j in (25, 26)]  # 0.32 GeV
    on_column = [(k, i, j, 0.09) for k in (24, 25, 26) for i in (15, 16, 17) for j in (15, 16, 17)]
    got = run(blob + extra + small + on_column, centre(16), centre(16))
    # the 2.43 GeV column blob is excluded; a box beside the column still holds one slab of it:
    # 9 cells · 0.09 = 0.81 GeV, more than the small blob, and it does not overlap the highest box
    assert got["maxsum"] == pytest.approx(27 * 0.05, rel=1e-12)
    assert got["epercell"] == pytest.approx(9 * 0.09, rel=1e-12)
    assert got["eabove"] == 0.0
    assert got["nclu"] == got["nclu1"] == 0
    without_column = run(blob + extra + small, centre(16), centre(16))
    assert without_column["maxsum"] == pytest.approx(1.35, rel=1e-12)
    assert without_column["epercell"] == pytest.approx(0.32, rel=1e-12)  # not 1.0 (overlapping)


def test_tied_highest_boxes_take_the_first_in_c_order() -> None:
    # four cells in a row along y (iy 5–8) tie two overlapping boxes at 0.1875: iy origins 5 and 6.
    # The first (iy 5–7) leaves (10, 5, 8) + (10, 5, 10) = 0.078125 to a box that does not overlap it;
    # had the second been taken, only the lone 0.015625 cell would remain.
    hits: list[Hit] = [(10, 5, j, 0.0625) for j in (5, 6, 7, 8)] + [(10, 5, 10, 0.015625)]
    got = run(hits, centre(16), centre(16))
    assert got["maxsum"] == 0.1875
    assert got["epercell"] == 0.078125


def test_muon_outside_the_grid_has_no_column() -> None:
    # x0 = −70 mm → column index −3: no type-1 cluster, no box excluded
    got = run([(0, 0, 16, 0.5), (20, 0, 16, 0.05)], -70.0, centre(16))
    assert got["nclu"] == 0
    assert got["nclu1"] == 1
    assert got["maxsum"] == 0.05
    assert got["rmom"] == pytest.approx(centre(0) + 70.0)


def test_every_box_on_the_column_gives_zero() -> None:
    # a 3×3 face grid: every box footprint holds the column
    got = run([(1, 1, 1, 0.05)], 0.0, 0.0, n_cells_x=3, n_cells_y=3, cell_size_mm=40.0)
    assert got["maxsum"] == 0.0
    assert got["epercell"] == 0.0


def test_boxes_touching_the_highest_without_sharing_a_cell_count_for_the_second() -> None:
    # the blob of layers 9–11 gives the highest box; the blobs right behind it (layers 12–14) and right
    # beside it (ix 7–9, ix 1–3, iy 1–3) share no cell with it, so their full boxes are candidates
    blob = [(k, i, j, 0.05) for k in (9, 10, 11) for i in (4, 5, 6) for j in (4, 5, 6)]
    behind = [(k, i, j, 0.02) for k in (12, 13, 14) for i in (4, 5, 6) for j in (4, 5, 6)]
    beside = [(k, i, j, 0.01) for k in (9, 10, 11) for i in (7, 8, 9) for j in (4, 5, 6)]
    left = [(k, i, j, 0.01) for k in (9, 10, 11) for i in (1, 2, 3) for j in (4, 5, 6)]
    below = [(k, i, j, 0.01) for k in (9, 10, 11) for i in (4, 5, 6) for j in (1, 2, 3)]
    got = run(blob + behind, centre(16), centre(16))
    assert got["maxsum"] == pytest.approx(27 * 0.05, rel=1e-12)
    assert got["epercell"] == pytest.approx(27 * 0.02, rel=1e-12)
    for other in (beside, left, below):
        got = run(blob + other, centre(16), centre(16))
        assert got["epercell"] == pytest.approx(27 * 0.01, rel=1e-12)
