"""Compiled per-muon kernel of the 28 features (numba); the public wrappers are in ``compute.py``.

The kernel works on one CSR slice of sparse hits at a time and takes every detector number from
:class:`KernelParams`. Conventions (SYSTEM.md "High-level features"):

- the muon column is ``(floor((x0 + W_x/2)/pitch), floor((y0 + W_y/2)/pitch))``; Δx, Δy are cell centre
  minus true impact; the thresholds compare energies in float64 (E > E_thr is "above");
- z-region r of layer k is ``(5·k) // n_layers``: exactly layers 0–9, 10–19, … for 50 layers, which is
  the paper's z < 400, [400, 800), … mm at the layers' upstream faces; for another depth the five
  regions stay fifths of the block rather than fixed millimetres. The halves of V[24] are
  ``(2·k) // n_layers`` (layers 0–24 and 25–49) and a layer's z is its upstream face;
- clusters are the 6-connected components of the cells above threshold, found by breadth-first search
  through a dense cell → hit map that is reset after every muon. Every cell above threshold is thus
  clustered, and the unclustered energy (box scan) is exactly the cells with E ≤ E_thr.

All compiled functions live in this one module on purpose: numba's on-disk cache (``cache=True``) is
invalidated by a change of the file holding the cached function only, not of the files it calls into.

Error codes (``error`` = code, muon, hit within the muon) are turned into messages by ``compute.py``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

__all__ = [
    "ERR_CELL_RANGE",
    "ERR_DUPLICATE_CELL",
    "ERR_NEGATIVE_ENERGY",
    "ERR_NONFINITE_ENERGY",
    "N_Z_REGIONS",
    "KernelParams",
    "features_range",
]

N_Z_REGIONS = 5  # r2m1 … r2m5
ERR_CELL_RANGE = 1
ERR_NONFINITE_ENERGY = 2
ERR_NEGATIVE_ENERGY = 3
ERR_DUPLICATE_CELL = 4

_N_OUT = 28


class KernelParams(NamedTuple):
    """Every number the kernel needs (detector and feature constants), typed for numba."""

    n_layers: int
    nx: int
    ny: int
    layer_depth_mm: float
    pitch_mm: float
    field_t: float
    threshold_gev: float
    soft_threshold_gev: float
    curvature_weight_mm: float
    emeas_clip_gev: float
    box: int


class _Scratch(NamedTuple):
    slot: np.ndarray  # int64 [n_cells]: hit number of a cell in the current muon, −1 when not hit
    grid: np.ndarray  # float64 [n_cells]: unclustered energy of the current muon, 0 elsewhere
    ysum: np.ndarray  # float64 [n_cells]: box-scan scratch
    xysum: np.ndarray  # float64 [n_cells]: box-scan scratch
    plane: np.ndarray  # float64 [nx·ny]: box-scan scratch
    plane_max: np.ndarray  # float64 [n_layers − box + 1]
    masked: np.ndarray  # int64 [nx·ny]
    hit_layer: np.ndarray  # int64 [max hits]: layer, ix, iy of each hit
    hit_ix: np.ndarray
    hit_iy: np.ndarray
    queue: np.ndarray  # int64 [max hits]: breadth-first-search queue
    label: np.ndarray  # int64 [max hits]: −2 below threshold, −1 above and unvisited, else cluster
    wtab: np.ndarray  # float64 [ny]: curvature weight of each y row
    region: np.ndarray  # int64 [n_layers]: z-region of each layer
    half: np.ndarray  # int64 [n_layers]: half (0, 1) of each layer for V[24]


@njit(cache=True, nogil=True)
def _scratch(p, max_hits):  # type: ignore[no-untyped-def]
    n_cells = p.n_layers * p.nx * p.ny
    region = np.empty(p.n_layers, dtype=np.int64)
    half = np.empty(p.n_layers, dtype=np.int64)
    for layer in range(p.n_layers):
        region[layer] = (N_Z_REGIONS * layer) // p.n_layers
        half[layer] = (2 * layer) // p.n_layers
    return _Scratch(
        np.full(n_cells, -1, dtype=np.int64),
        np.zeros(n_cells),
        np.zeros(n_cells),  # entries past the last full window are never written and must stay 0
        np.zeros(n_cells),
        np.zeros(p.nx * p.ny),
        np.zeros(max(p.n_layers - p.box + 1, 0)),
        np.empty(p.nx * p.ny, dtype=np.int64),
        np.empty(max_hits, dtype=np.int64),
        np.empty(max_hits, dtype=np.int64),
        np.empty(max_hits, dtype=np.int64),
        np.empty(max_hits, dtype=np.int64),
        np.empty(max_hits, dtype=np.int64),
        np.empty(p.ny),
        region,
        half,
    )


@njit(cache=True, nogil=True, inline="always")
def _visit(neighbour, slot, label, queue, tail, cluster):  # type: ignore[no-untyped-def]
    """Queue the hit at flat cell ``neighbour`` if it is above threshold and unvisited; new tail."""
    hit = slot[neighbour]
    if hit >= 0 and label[hit] == -1:
        label[hit] = cluster
        queue[tail] = hit
        return tail + 1
    return tail


@njit(cache=True, nogil=True)
def _clusters(cell, energy, lo, m, p, s, ixm, iym, out):  # type: ignore[no-untyped-def]
    """6-connected components of the hits labelled −1; fills V[9]–V[14] and V[16]–V[21]."""
    nxy = p.nx * p.ny
    slot, label, queue = s.slot, s.label, s.queue
    hit_layer, hit_ix, hit_iy = s.hit_layer, s.hit_ix, s.hit_iy
    n1, cells1, maxcells1, maxe1 = 0, 0, 0, 0.0
    extx, exty, extz = 0, 0, 0
    n2, cells2, maxcells2, maxe2 = 0, 0, 0, 0.0
    cluster = 0
    for seed in range(m):
        if label[seed] != -1:
            continue
        label[seed] = cluster
        queue[0] = seed
        head, tail = 0, 1
        esum = 0.0
        lmin, lmax, xmin, xmax, ymin, ymax = p.n_layers, -1, p.nx, -1, p.ny, -1
        on_column = False
        while head < tail:
            hit = queue[head]
            head += 1
            layer, ix, iy = hit_layer[hit], hit_ix[hit], hit_iy[hit]
            esum += np.float64(energy[lo + hit])
            lmin, lmax = min(lmin, layer), max(lmax, layer)
            xmin, xmax = min(xmin, ix), max(xmax, ix)
            ymin, ymax = min(ymin, iy), max(ymax, iy)
            if ix == ixm and iy == iym:
                on_column = True
            c = cell[lo + hit]
            if layer > 0:
                tail = _visit(c - nxy, slot, label, queue, tail, cluster)
            if layer < p.n_layers - 1:
                tail = _visit(c + nxy, slot, label, queue, tail, cluster)
            if ix > 0:
                tail = _visit(c - p.ny, slot, label, queue, tail, cluster)
            if ix < p.nx - 1:
                tail = _visit(c + p.ny, slot, label, queue, tail, cluster)
            if iy > 0:
                tail = _visit(c - 1, slot, label, queue, tail, cluster)
            if iy < p.ny - 1:
                tail = _visit(c + 1, slot, label, queue, tail, cluster)
        if on_column:  # type 1
            n1 += 1
            cells1 += tail
            maxcells1 = max(maxcells1, tail)
            maxe1 = max(maxe1, esum)
            extx = max(extx, xmax - xmin)
            exty = max(exty, ymax - ymin)
            extz = max(extz, lmax - lmin)
        else:  # type 2
            n2 += 1
            cells2 += tail
            maxcells2 = max(maxcells2, tail)
            maxe2 = max(maxe2, esum)
        cluster += 1
    out[9] = n1
    out[10] = maxcells1
    out[11] = maxe1
    out[12] = extx
    out[13] = exty
    out[14] = extz
    out[16] = cells1 / n1 if n1 > 0 else 0.0
    out[17] = n2
    out[18] = maxcells2
    out[19] = maxe2
    out[20] = maxe2 / maxcells2 if maxcells2 > 0 else 0.0
    out[21] = cells2 / n2 if n2 > 0 else 0.0


# --- box scan of the unclustered energy: V[25] (highest box) and V[15] ------------------------------
# SYSTEM.md: boxes lie fully inside the grid (origins z 0…n_layers−box, x and y 0…n−box); a box is
# excluded when its x–y footprint holds the muon column at any depth; among tied highest boxes the first
# in C order of origin (iz, ix, iy) is taken; V[15] is the highest box that shares no cell with it.
# Box sums are separable running sums over the flat (layer, x, y) grid: along y, then x (over the whole
# grid at once), then z (one layer origin, a "plane" of n_x·n_y positions, at a time). Positions whose
# window wraps into the next row are no box and are masked. Only planes within ``box`` layers of the
# highest box can hold boxes overlapping it, so V[15] needs those few planes recomputed, the others by
# their stored maxima.


@njit(cache=True, nogil=True)
def _maximum(values, n):  # type: ignore[no-untyped-def]
    """Largest of ``values[:n]`` (−inf when n = 0).

    Four independent running maxima: numba's ``max`` in one dependent chain is four times slower.
    """
    m0 = -np.inf
    m1 = -np.inf
    m2 = -np.inf
    m3 = -np.inf
    n4 = n - n % 4
    for i in range(0, n4, 4):
        m0 = max(m0, values[i])
        m1 = max(m1, values[i + 1])
        m2 = max(m2, values[i + 2])
        m3 = max(m3, values[i + 3])
    for i in range(n4, n):
        m0 = max(m0, values[i])
    return max(max(m0, m1), max(m2, m3))


@njit(cache=True, nogil=True)
def _shifted_sums(src, dst, n, stride, box):  # type: ignore[no-untyped-def]
    """``dst[p] = Σ_t<box src[p + t·stride]`` for p < n − (box − 1)·stride; later entries untouched.

    Shifted views keep every index a plain loop counter (no negative-index wrap-around test), which is
    what lets these loops vectorise.
    """
    m = n - (box - 1) * stride
    if box == 3:  # the paper's box: one fused loop, several times faster than read-modify-write passes
        src1 = src[stride:]
        src2 = src[2 * stride :]
        for p in range(m):
            dst[p] = src[p] + src1[p] + src2[p]
        return
    for p in range(m):
        dst[p] = src[p]
    for t in range(1, box):
        src_t = src[t * stride :]
        for p in range(m):
            dst[p] += src_t[p]


@njit(cache=True, nogil=True)
def _plane(xysum, plane, k, nxy, box, masked, n_masked):  # type: ignore[no-untyped-def]
    """Sums of the boxes of layer origin k into ``plane`` [n_x·n_y] (position ix·n_y + iy).

    The positions in ``masked[:n_masked]`` (no box, or a box on the muon column) are set to −1: real
    sums are ≥ 0, so −1 drops them from every maximum.
    """
    _shifted_sums(xysum[k * nxy : (k + box) * nxy], plane, box * nxy, nxy, box)
    for r in range(n_masked):
        plane[masked[r]] = -1.0


@njit(cache=True, nogil=True)
def box_scan(grid, ysum, xysum, plane, plane_max, masked, n_layers, nx, ny, box, ixm, iym, out):  # type: ignore[no-untyped-def]  # fmt: skip
    """Fill ``out[25]`` (highest box) and ``out[15]`` (highest box sharing no cell with it).

    Args:
        grid: float64 [n_layers·nx·ny] dense unclustered energy, GeV (flat cell index).
        ysum, xysum: float64 [n_layers·nx·ny] scratch, zero past the last full window.
        plane, masked: float64 / int64 [nx·ny] scratch; plane_max: float64 [n_layers − box + 1].
        ixm, iym: muon column (may lie outside the grid).
    """
    oz = n_layers - box + 1
    ox = nx - box + 1
    oy = ny - box + 1
    out[15] = 0.0
    out[25] = 0.0
    if oz <= 0 or ox <= 0 or oy <= 0:
        return
    nxy = nx * ny
    n_cells = n_layers * nxy
    n_masked = 0
    for i in range(nx):
        for j in range(ny):
            outside = i >= ox or j >= oy
            on_column = i <= ixm < i + box and j <= iym < j + box
            if outside or on_column:
                masked[n_masked] = i * ny + j
                n_masked += 1
    _shifted_sums(grid, ysum, n_cells, 1, box)
    _shifted_sums(ysum, xysum, n_cells, ny, box)
    for k in range(oz):
        _plane(xysum, plane, k, nxy, box, masked, n_masked)
        plane_max[k] = _maximum(plane, nxy)
    best = _maximum(plane_max, oz)
    if best < 0.0:  # every box holds the muon column
        return
    bk = 0
    while plane_max[bk] != best:
        bk += 1
    _plane(xysum, plane, bk, nxy, box, masked, n_masked)
    first = 0
    while plane[first] != best:
        first += 1
    bi = first // ny
    bj = first % ny
    second = 0.0
    for k in range(oz):
        if abs(k - bk) >= box:
            second = max(second, plane_max[k])
            continue
        _plane(xysum, plane, k, nxy, box, masked, n_masked)
        for i in range(max(bi - box + 1, 0), min(bi + box, ox)):
            for j in range(max(bj - box + 1, 0), min(bj + box, oy)):
                plane[i * ny + j] = -1.0
        second = max(second, _maximum(plane, nxy))
    out[25] = best
    out[15] = second


@njit(cache=True, nogil=True)
def _curvature(s_half, x_half, z_half, field_t, clip_gev):  # type: ignore[no-untyped-def]
    """V[24] = 0.3·|B|·R, GeV with R in m, of the circle (x − x_c)² + z² = R² through the half-points.

    0 when a half has no weighted energy (or B = 0); the clip value for equal x (a straight track).
    """
    if s_half[0] <= 0.0 or s_half[1] <= 0.0 or field_t == 0.0:
        return 0.0
    x1 = x_half[0] / s_half[0]
    z1 = z_half[0] / s_half[0]
    x2 = x_half[1] / s_half[1]
    z2 = z_half[1] / s_half[1]
    if x2 == x1:
        return clip_gev
    centre = (z2 * z2 - z1 * z1 + x2 * x2 - x1 * x1) / (2.0 * (x2 - x1))
    radius_mm = math.sqrt((x1 - centre) ** 2 + z1 * z1)
    return min(0.3 * abs(field_t) * radius_mm * 1e-3, clip_gev)


@njit(cache=True, nogil=True)
def _muon(cell, energy, lo, hi, x0, y0, p, s, out, error):  # type: ignore[no-untyped-def]
    """All 28 features of hits ``lo:hi`` into ``out``; returns an error code (0 = fine), hit in error[2]."""
    m = hi - lo
    nxy = p.nx * p.ny
    n_cells = p.n_layers * nxy
    half_x = 0.5 * p.nx * p.pitch_mm
    half_y = 0.5 * p.ny * p.pitch_mm
    ixm = math.floor((x0 + half_x) / p.pitch_mm)
    iym = math.floor((y0 + half_y) / p.pitch_mm)
    y_mu = (iym + 0.5) * p.pitch_mm - half_y  # centre of the cell row holding the true y
    # arrays as locals: LLVM then keeps them in registers instead of reloading the tuple per access
    slot, grid, label, wtab, region, half = s.slot, s.grid, s.label, s.wtab, s.region, s.half
    hit_layer, hit_ix, hit_iy = s.hit_layer, s.hit_ix, s.hit_iy
    pitch, ny, depth = p.pitch_mm, p.ny, p.layer_depth_mm
    threshold, soft = p.threshold_gev, p.soft_threshold_gev
    for iy in range(ny):
        wtab[iy] = math.exp(-abs((iy + 0.5) * pitch - half_y - y_mu) / p.curvature_weight_mm)
    for v in range(_N_OUT):
        out[v] = 0.0

    e_all, hx, hy, r2 = 0.0, 0.0, 0.0, 0.0
    e_above, hx1, hy1 = 0.0, 0.0, 0.0
    e_soft, e_mid = 0.0, 0.0
    region_e = np.zeros(N_Z_REGIONS)
    region_r2 = np.zeros(N_Z_REGIONS)
    s_half = np.zeros(2)
    x_half = np.zeros(2)
    z_half = np.zeros(2)
    code = 0
    registered = 0
    for k in range(m):
        c = cell[lo + k]
        e = np.float64(energy[lo + k])
        if c < 0 or c >= n_cells:
            code = ERR_CELL_RANGE
        elif not math.isfinite(e):
            code = ERR_NONFINITE_ENERGY
        elif e < 0.0:
            code = ERR_NEGATIVE_ENERGY
        elif slot[c] != -1:
            code = ERR_DUPLICATE_CELL
        if code != 0:
            error[2] = k
            break
        slot[c] = k
        registered += 1
        layer = c // nxy
        ix = (c - layer * nxy) // ny
        iy = c - layer * nxy - ix * ny
        hit_layer[k] = layer
        hit_ix[k] = ix
        hit_iy[k] = iy
        x = (ix + 0.5) * pitch - half_x
        dx = x - x0
        dy = (iy + 0.5) * pitch - half_y - y0
        er2 = e * (dx * dx + dy * dy)
        e_all += e
        hx += e * dx
        hy += e * dy
        r2 += er2
        region_e[region[layer]] += e
        region_r2[region[layer]] += er2
        ew = e * wtab[iy]
        h = half[layer]
        s_half[h] += ew
        x_half[h] += ew * x
        z_half[h] += ew * (layer * depth)  # a layer's z is its upstream face
        if e > threshold:
            e_above += e
            hx1 += e * dx
            hy1 += e * dy
            label[k] = -1
        else:
            if e > soft:
                e_mid += e
            else:
                e_soft += e
            label[k] = -2
            grid[c] = e

    if code == 0:
        _clusters(cell, energy, lo, m, p, s, ixm, iym, out)
        box_scan(s.grid, s.ysum, s.xysum, s.plane, s.plane_max, s.masked, p.n_layers, p.nx, p.ny, p.box,
                 ixm, iym, out)  # fmt: skip
    # leave the dense maps as found (−1 / 0) for the next muon, also after an error
    for k in range(registered):
        slot[cell[lo + k]] = -1
        grid[cell[lo + k]] = 0.0
    if code != 0:
        return code

    out[0] = e_above
    if e_all > 0.0:
        out[1] = math.sqrt(hx * hx + hy * hy) / e_all
        out[3] = r2 / e_all
        out[22] = hx / e_all  # named "ymom" in the published data
        out[23] = hy / e_all  # named "xmom"
    if e_above > 0.0:
        out[2] = math.sqrt(hx1 * hx1 + hy1 * hy1) / e_above
    for r in range(N_Z_REGIONS):
        if region_e[r] > 0.0:
            out[4 + r] = region_r2[r] / region_e[r]
    out[24] = _curvature(s_half, x_half, z_half, p.field_t, p.emeas_clip_gev)
    out[26] = e_soft
    out[27] = e_mid
    return 0


@njit(cache=True, nogil=True)
def features_range(offsets, cell, energy, x0, y0, start, stop, p, out, error):  # type: ignore[no-untyped-def]
    """Features of muons ``start:stop`` into rows ``out[start:stop]``.

    Args:
        offsets: int64 [N+1] CSR offsets. cell: int64 [nnz] flat indices. energy: float [nnz] GeV.
        x0, y0: float64 [N] true impact point, mm.
        p: :class:`KernelParams`.
        out: float64 [N, 28].
        error: int64 [3], set to (code, muon, hit) at the first bad hit; the scan stops there.
    """
    max_hits = 0
    for i in range(start, stop):
        max_hits = max(max_hits, offsets[i + 1] - offsets[i])
    s = _scratch(p, max_hits)
    for i in range(start, stop):
        code = _muon(cell, energy, offsets[i], offsets[i + 1], x0[i], y0[i], p, s, out[i], error)
        if code != 0:
            error[0] = code
            error[1] = i
            return
