"""A slow, literal implementation of SYSTEM.md's feature definitions, to cross-check the compiled kernel.

Dense numpy grid, scipy.ndimage.label for the clusters, every box sum by brute force, the paper's own
form of the radius. Nothing here is shared with mucalo.features except the detector geometry helpers.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

from mucalo.detector import Detector


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator != 0 else 0.0


def reference_features(
    cell: np.ndarray,
    energy: np.ndarray,
    x0: float,
    y0: float,
    detector: Detector,
    *,
    box: int = 3,
    weight_mm: float = 50.0,
    clip_gev: float = 10_000.0,
) -> np.ndarray:
    """V[0]..V[27] of one muon, float64."""
    n_layers, nx, ny = detector.shape
    e = np.asarray(energy, dtype=np.float64)
    layer, ix, iy = detector.unflatten(cell)
    x = detector.x_centre(ix)
    y = detector.y_centre(iy)
    z = detector.layer_front_mm(layer)
    dx, dy = x - x0, y - y0
    ixm, iym = (int(v) for v in detector.column_of(x0, y0))
    above = e > detector.threshold_gev
    soft = e <= detector.soft_threshold_gev
    v = np.zeros(28)

    v[0] = e[above].sum()
    v[1] = _ratio(math.hypot((e * dx).sum(), (e * dy).sum()), e.sum())
    v[2] = _ratio(math.hypot((e * dx)[above].sum(), (e * dy)[above].sum()), e[above].sum())
    r2 = e * (dx**2 + dy**2)
    v[3] = _ratio(r2.sum(), e.sum())
    region = (5 * layer) // n_layers
    for r in range(5):
        v[4 + r] = _ratio(r2[region == r].sum(), e[region == r].sum())

    dense = np.zeros(detector.shape)
    dense[layer, ix, iy] = e
    six_neighbours = ndimage.generate_binary_structure(3, 1)
    labels, n_clusters = ndimage.label(dense > detector.threshold_gev, six_neighbours)
    type1: list[tuple[int, float, int, int, int]] = []
    type2: list[tuple[int, float]] = []
    for k in range(1, n_clusters + 1):
        where = np.nonzero(labels == k)
        size, total = where[0].size, dense[where].sum()
        on_column = 0 <= ixm < nx and 0 <= iym < ny and bool(np.any(labels[:, ixm, iym] == k))
        if on_column:
            extents = [int(a.max() - a.min()) for a in where]  # z, x, y
            type1.append((size, total, extents[1], extents[2], extents[0]))
        else:
            type2.append((size, total))
    if type1:
        v[9] = len(type1)
        v[10] = max(c[0] for c in type1)
        v[11] = max(c[1] for c in type1)
        v[12] = max(c[2] for c in type1)
        v[13] = max(c[3] for c in type1)
        v[14] = max(c[4] for c in type1)
        v[16] = sum(c[0] for c in type1) / len(type1)
    if type2:
        v[17] = len(type2)
        v[18] = max(c[0] for c in type2)
        v[19] = max(c[1] for c in type2)
        v[20] = v[19] / v[18]
        v[21] = sum(c[0] for c in type2) / len(type2)

    if n_layers >= box and nx >= box and ny >= box:
        unclustered = np.where(dense > detector.threshold_gev, 0.0, dense)
        sums = sliding_window_view(unclustered, (box, box, box)).sum(axis=(3, 4, 5))
        kk, ii, jj = np.indices(sums.shape)
        allowed = ~((ii <= ixm) & (ixm < ii + box) & (jj <= iym) & (iym < jj + box))
        if allowed.any():
            flat = np.where(allowed, sums, -np.inf).ravel()
            first = int(np.argmax(flat))  # argmax returns the first of tied maxima: C order
            bk, bi, bj = np.unravel_index(first, sums.shape)
            v[25] = flat[first]
            overlap = (abs(kk - bk) < box) & (abs(ii - bi) < box) & (abs(jj - bj) < box)
            rest = sums[allowed & ~overlap]
            v[15] = max(rest.max(), 0.0) if rest.size else 0.0

    y_mu = float(detector.y_centre(iym))
    w = np.exp(-np.abs(y - y_mu) / weight_mm)
    first_half = 2 * layer < n_layers
    points = []
    for sel in (first_half, ~first_half):
        s = (e * w)[sel].sum()
        points.append((_ratio((e * w * x)[sel].sum(), s), _ratio((e * w * z)[sel].sum(), s), s))
    (x1, z1, s1), (x2, z2, s2) = points
    if s1 > 0 and s2 > 0 and detector.field_t != 0:
        if x1 == x2:
            v[24] = clip_gev
        else:
            xc = (z2**2 - z1**2 + x2**2 - x1**2) / (2 * (x2 - x1))
            radius = math.sqrt(x1**2 - 2 * x1 * xc + xc**2 + z1**2)  # the paper's form
            v[24] = min(abs(0.3 * detector.field_t * radius / 1000), clip_gev)

    v[22] = _ratio((e * dx).sum(), e.sum())
    v[23] = _ratio((e * dy).sum(), e.sum())
    v[26] = e[soft].sum()
    v[27] = e[~above & ~soft].sum()
    return v
