"""Compiled per-muon kernels of the 28 features (numba); the public wrappers are in ``compute.py``.

Everything here works on one CSR slice of sparse hits at a time and takes every detector number as an
argument. Conventions (SYSTEM.md "High-level features"):

- the muon column is ``(floor((x0 + W_x/2)/pitch), floor((y0 + W_y/2)/pitch))``; Δx, Δy are cell centre
  minus true impact; thresholds compare the energies in float64;
- z-region r of layer k is ``(N_Z_REGIONS·k) // n_layers`` (layers 0–9, 10–19, … for 50 layers: the
  paper's 400 mm slices are fifths of the 2032 mm depth, measured at the layers' upstream faces), and
  the two halves of V[24] are ``(2·k) // n_layers`` (layers 0–24 and 25–49);
- clusters are the 6-connected components of the cells with E > E_thr (breadth-first search over a
  dense cell → hit map that is reset after every muon), so every cell above threshold is clustered and
  the unclustered energy is exactly the cells with E ≤ E_thr;
- box sums are separable running sums over a dense grid of the unclustered energy.

Error codes returned in ``error[0]`` (``error[1]`` = muon, ``error[2]`` = hit inside the muon) are
translated into messages by ``compute.py``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "ERR_CELL_RANGE",
    "ERR_DUPLICATE_CELL",
    "ERR_NEGATIVE_ENERGY",
    "ERR_NONFINITE_ENERGY",
    "N_Z_REGIONS",
    "features_range",
]

N_Z_REGIONS = 5  # r2m1 … r2m5
ERR_CELL_RANGE = 1
ERR_NONFINITE_ENERGY = 2
ERR_NEGATIVE_ENERGY = 3
ERR_DUPLICATE_CELL = 4

_N_OUT = 28


@njit(cache=True, nogil=True)
def _visit(neighbour, slot, label, queue, tail, cluster):  # type: ignore[no-untyped-def]
    """Queue an unvisited above-threshold hit at flat cell ``neighbour``; returns the new queue tail."""
    hit = slot[neighbour]
    if hit >= 0 and label[hit] == -1:
        label[hit] = cluster
        queue[tail] = hit
        return tail + 1
    return tail


@njit(cache=True, nogil=True)
def _clusters(cell, energy, lo, m, n_layers, nx, ny, ixm, iym, hit_layer, hit_ix, hit_iy, slot, label,
              queue, out):  # type: ignore[no-untyped-def]  # fmt: skip
    """6-connected components of the hits labelled −1 (above threshold); fills V[9]–V[14], V[16]–V[21]."""
    nxy = nx * ny
    n1 = 0
    cells1 = 0
    maxcells1 = 0
    maxe1 = 0.0
    extx = 0
    exty = 0
    extz = 0
    n2 = 0
    cells2 = 0
    maxcells2 = 0
    maxe2 = 0.0
    cluster = 0
    for seed in range(m):
        if label[seed] != -1:
            continue
        label[seed] = cluster
        queue[0] = seed
        head = 0
        tail = 1
        esum = 0.0
        lmin = n_layers
        lmax = -1
        xmin = nx
        xmax = -1
        ymin = ny
        ymax = -1
        on_column = False
        while head < tail:
            hit = queue[head]
            head += 1
            layer = hit_layer[hit]
            ix = hit_ix[hit]
            iy = hit_iy[hit]
            esum += np.float64(energy[lo + hit])
            lmin = min(lmin, layer)
            lmax = max(lmax, layer)
            xmin = min(xmin, ix)
            xmax = max(xmax, ix)
            ymin = min(ymin, iy)
            ymax = max(ymax, iy)
            if ix == ixm and iy == iym:
                on_column = True
            c = cell[lo + hit]
            if layer > 0:
                tail = _visit(c - nxy, slot, label, queue, tail, cluster)
            if layer < n_layers - 1:
                tail = _visit(c + nxy, slot, label, queue, tail, cluster)
            if ix > 0:
                tail = _visit(c - ny, slot, label, queue, tail, cluster)
            if ix < nx - 1:
                tail = _visit(c + ny, slot, label, queue, tail, cluster)
            if iy > 0:
                tail = _visit(c - 1, slot, label, queue, tail, cluster)
            if iy < ny - 1:
                tail = _visit(c + 1, slot, label, queue, tail, cluster)
        count = tail
        if on_column:
            n1 += 1
            cells1 += count
            maxcells1 = max(maxcells1, count)
            maxe1 = max(maxe1, esum)
            extx = max(extx, xmax - xmin)
            exty = max(exty, ymax - ymin)
            extz = max(extz, lmax - lmin)
        else:
            n2 += 1
            cells2 += count
            maxcells2 = max(maxcells2, count)
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


@njit(cache=True, nogil=True)
def _box_scan(grid, xsum, rowbuf, n_layers, nx, ny, box, ixm, iym, out):  # type: ignore[no-untyped-def]
    """V[25] (highest box) and V[15] (highest box not sharing a cell with it) over ``grid``.

    ``xsum[k, i, j]`` holds the box×box sum of layer k over x i..i+box−1, y j..j+box−1; a box sum is then
    the sum of ``box`` consecutive layers. Boxes whose x–y footprint holds the muon column are skipped;
    ties go to the first origin in C order (iz, ix, iy).
    """
    oz = n_layers - box + 1
    ox = nx - box + 1
    oy = ny - box + 1
    if oz <= 0 or ox <= 0 or oy <= 0:
        out[15] = 0.0
        out[25] = 0.0
        return
    nxy = nx * ny
    for layer in range(n_layers):
        base = layer * nxy
        for ix in range(nx):
            row = base + ix * ny
            for j in range(oy):
                s = 0.0
                for t in range(box):
                    s += grid[row + j + t]
                rowbuf[ix, j] = s
        for i in range(ox):
            for j in range(oy):
                s = 0.0
                for t in range(box):
                    s += rowbuf[i + t, j]
                xsum[layer, i, j] = s
    best = -1.0
    bk = -1
    bi = -1
    bj = -1
    for k in range(oz):
        for i in range(ox):
            column_x = i <= ixm < i + box
            for j in range(oy):
                if column_x and j <= iym < j + box:
                    continue
                s = 0.0
                for t in range(box):
                    s += xsum[k + t, i, j]
                if s > best:
                    best = s
                    bk = k
                    bi = i
                    bj = j
    if bk < 0:  # every box holds the muon column
        out[15] = 0.0
        out[25] = 0.0
        return
    second = 0.0
    for k in range(oz):
        near_z = abs(k - bk) < box
        for i in range(ox):
            column_x = i <= ixm < i + box
            near_zx = near_z and abs(i - bi) < box
            for j in range(oy):
                if (column_x and j <= iym < j + box) or (near_zx and abs(j - bj) < box):
                    continue
                s = 0.0
                for t in range(box):
                    s += xsum[k + t, i, j]
                second = max(second, s)
    out[25] = best
    out[15] = second


@njit(cache=True, nogil=True)
def _curvature(s_half, x_half, z_half, field_t, clip_gev):  # type: ignore[no-untyped-def]
    """V[24] = 0.3·|B|·R (GeV, R in m) of the circle (x − x_c)² + z² = R² through the two half-points."""
    if s_half[0] <= 0.0 or s_half[1] <= 0.0 or field_t == 0.0:
        return 0.0
    x1 = x_half[0] / s_half[0]
    z1 = z_half[0] / s_half[0]
    x2 = x_half[1] / s_half[1]
    z2 = z_half[1] / s_half[1]
    if x2 == x1:  # a straight track: infinite radius
        return clip_gev
    centre = (z2 * z2 - z1 * z1 + x2 * x2 - x1 * x1) / (2.0 * (x2 - x1))
    radius_mm = math.sqrt((x1 - centre) ** 2 + z1 * z1)
    return min(0.3 * abs(field_t) * radius_mm * 1e-3, clip_gev)


@njit(cache=True, nogil=True)
def _muon(cell, energy, lo, hi, x0, y0, n_layers, nx, ny, layer_depth, pitch, field_t, thr, soft,
          weight_mm, clip_gev, box, region, half, wtab, slot, grid, xsum, rowbuf, hit_layer, hit_ix,
          hit_iy, queue, label, out, error):  # type: ignore[no-untyped-def]  # fmt: skip
    """All 28 features of hits ``lo:hi`` into ``out``; returns an error code (0 = fine), hit in error[2]."""
    m = hi - lo
    nxy = nx * ny
    n_cells = n_layers * nxy
    half_x = 0.5 * nx * pitch
    half_y = 0.5 * ny * pitch
    ixm = math.floor((x0 + half_x) / pitch)
    iym = math.floor((y0 + half_y) / pitch)
    y_mu = (iym + 0.5) * pitch - half_y
    for iy in range(ny):
        wtab[iy] = math.exp(-abs((iy + 0.5) * pitch - half_y - y_mu) / weight_mm)
    for v in range(_N_OUT):
        out[v] = 0.0

    e_all = 0.0
    hx = 0.0
    hy = 0.0
    r2 = 0.0
    e_above = 0.0
    hx1 = 0.0
    hy1 = 0.0
    e_soft = 0.0
    e_mid = 0.0
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
        rest = c - layer * nxy
        ix = rest // ny
        iy = rest - ix * ny
        hit_layer[k] = layer
        hit_ix[k] = ix
        hit_iy[k] = iy
        x = (ix + 0.5) * pitch - half_x
        dx = x - x0
        dy = (iy + 0.5) * pitch - half_y - y0
        ex = e * dx
        ey = e * dy
        er2 = e * (dx * dx + dy * dy)
        e_all += e
        hx += ex
        hy += ey
        r2 += er2
        r = region[layer]
        region_e[r] += e
        region_r2[r] += er2
        ew = e * wtab[iy]
        h = half[layer]
        s_half[h] += ew
        x_half[h] += ew * x
        z_half[h] += ew * (layer * layer_depth)
        if e > thr:
            e_above += e
            hx1 += ex
            hy1 += ey
            label[k] = -1
        else:
            if e > soft:
                e_mid += e
            else:
                e_soft += e
            label[k] = -2
            grid[c] = e

    if code == 0:
        _clusters(cell, energy, lo, m, n_layers, nx, ny, ixm, iym, hit_layer, hit_ix, hit_iy, slot,
                  label, queue, out)  # fmt: skip
        _box_scan(grid, xsum, rowbuf, n_layers, nx, ny, box, ixm, iym, out)
    # leave the dense scratch as found (all −1 / 0) for the next muon, also after an error
    for k in range(registered):
        c = cell[lo + k]
        slot[c] = -1
        grid[c] = 0.0
    if code != 0:
        return code

    out[0] = e_above
    if e_all > 0.0:
        out[1] = math.sqrt(hx * hx + hy * hy) / e_all
        out[3] = r2 / e_all
        out[22] = hx / e_all
        out[23] = hy / e_all
    if e_above > 0.0:
        out[2] = math.sqrt(hx1 * hx1 + hy1 * hy1) / e_above
    for r in range(N_Z_REGIONS):
        if region_e[r] > 0.0:
            out[4 + r] = region_r2[r] / region_e[r]
    out[24] = _curvature(s_half, x_half, z_half, field_t, clip_gev)
    out[26] = e_soft
    out[27] = e_mid
    return 0


@njit(cache=True, nogil=True)
def features_range(offsets, cell, energy, x0, y0, start, stop, n_layers, nx, ny, layer_depth, pitch,
                   field_t, thr, soft, weight_mm, clip_gev, box, out, error):  # type: ignore[no-untyped-def]  # fmt: skip
    """Features of muons ``start:stop`` into rows ``out[start:stop]`` (float64 [N, 28]).

    Args:
        offsets: int64 [N+1] CSR offsets; cell: int64 [nnz] flat indices; energy: float [nnz] GeV.
        x0, y0: float64 [N] true impact point, mm.
        error: int64 [3], set to (code, muon, hit) at the first bad hit; the scan stops there.
    """
    n_cells = n_layers * nx * ny
    max_hits = 0
    for i in range(start, stop):
        max_hits = max(max_hits, offsets[i + 1] - offsets[i])
    slot = np.full(n_cells, -1, dtype=np.int64)
    grid = np.zeros(n_cells)
    xsum = np.zeros((n_layers, max(nx - box + 1, 0), max(ny - box + 1, 0)))
    rowbuf = np.zeros((nx, max(ny - box + 1, 0)))
    hit_layer = np.empty(max_hits, dtype=np.int64)
    hit_ix = np.empty(max_hits, dtype=np.int64)
    hit_iy = np.empty(max_hits, dtype=np.int64)
    queue = np.empty(max_hits, dtype=np.int64)
    label = np.empty(max_hits, dtype=np.int64)
    wtab = np.empty(ny)
    region = np.empty(n_layers, dtype=np.int64)
    half = np.empty(n_layers, dtype=np.int64)
    for layer in range(n_layers):
        region[layer] = (N_Z_REGIONS * layer) // n_layers
        half[layer] = (2 * layer) // n_layers
    for i in range(start, stop):
        code = _muon(cell, energy, offsets[i], offsets[i + 1], x0[i], y0[i], n_layers, nx, ny,
                     layer_depth, pitch, field_t, thr, soft, weight_mm, clip_gev, box, region, half,
                     wtab, slot, grid, xsum, rowbuf, hit_layer, hit_ix, hit_iy, queue, label, out[i],
                     error)  # fmt: skip
        if code != 0:
            error[0] = code
            error[1] = i
            return
