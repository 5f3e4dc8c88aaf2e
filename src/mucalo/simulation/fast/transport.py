"""Muon transport through the block (numba): helix in B, multiple scattering, continuous and
discrete losses, and the secondaries' showers (PHYSICS.md §7, §9.2).

Each step runs to the next discrete interaction, the block boundary or ``max_step_mm``, whichever
comes first. The continuous (sub-cut) loss of the step is Gamma-distributed and spread along its
chord; at an interaction the process is chosen by its rate and the transfer sampled from the tables.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

from mucalo.simulation.fast.constants import ALPHA, ELECTRON_MASS, MUON_MASS, SQRT_E
from mucalo.simulation.fast.deposit import TALLY_INVISIBLE, cell_of, deposit_point, deposit_segment
from mucalo.simulation.fast.gflash import gflash_shower, orthonormal_basis
from mucalo.simulation.fast.minimc import (
    KIND_ELECTRON,
    KIND_PHOTON,
    KIND_POSITRON,
    interp_table,
    push,
    rotate,
    run_stack,
)
from mucalo.simulation.fast.params import (
    P_BOHR,
    P_BREMS,
    P_DEPTH,
    P_ECUT,
    P_EGF,
    P_FIELD,
    P_FLUCT,
    P_GCUT,
    P_HAD_VIS,
    P_HALF_X,
    P_HALF_Y,
    P_HIGHLAND,
    P_MAX_STEP,
    P_MS,
    P_NUCL,
    P_PAIR,
    P_X0,
    P_ZMIN,
)
from mucalo.simulation.fast.rng import exponential, gamma_variate, normal, uniform

__all__ = ["transport_muon"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
State = npt.NDArray[np.uint64]

_STOP_MEV = 10.0  # a muon below this kinetic energy deposits it in place (range of a few mm)
_CURVATURE = 0.299792458  # k [1/mm] = 0.2998 q B[T] / p[MeV]


@numba.njit(cache=True, inline="always")
def _table_position(log_t_grid: FloatArray, log_t: float) -> tuple[int, float]:
    step = log_t_grid[1] - log_t_grid[0]
    f = (log_t - log_t_grid[0]) / step
    n = log_t_grid.shape[0]
    if f <= 0.0:
        return 0, 0.0
    if f >= n - 1:
        return n - 2, 1.0
    k = int(f)
    return k, f - k


@numba.njit(cache=True)
def _sample_x(cdf_row: FloatArray, u: float) -> float:
    """x ∈ [0, 1] with P(x' < x) = cdf_row(x), piecewise-uniform within the bins."""
    lo = 0
    hi = cdf_row.shape[0] - 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if cdf_row[mid] <= u:
            lo = mid
        else:
            hi = mid
    width = cdf_row[hi] - cdf_row[lo]
    f = (u - cdf_row[lo]) / width if width > 0.0 else 0.5
    return (lo + f) / (cdf_row.shape[0] - 1)


@numba.njit(cache=True)
def _max_transfer(kinetic: float) -> float:
    gamma = (kinetic + MUON_MASS) / MUON_MASS
    ratio = ELECTRON_MASS / MUON_MASS
    return 2.0 * ELECTRON_MASS * (gamma * gamma - 1.0) / (1.0 + 2.0 * gamma * ratio + ratio * ratio)


@numba.njit(cache=True)
def _sample_delta(state: State, kinetic: float, cut: float) -> float:
    """Knock-on energy: 1/T² on [cut, T_max], accepted with the spin and radiative factors (§2.2)."""
    t_max = _max_transfer(kinetic)
    e = kinetic + MUON_MASS
    beta2 = kinetic * (kinetic + 2.0 * MUON_MASS) / (e * e)
    rad = ALPHA / (2.0 * math.pi)
    f_max = 1.0 + rad * math.log(2.0 * e / MUON_MASS) ** 2
    while True:
        u = uniform(state)
        t = cut * t_max / (cut * (1.0 - u) + t_max * u)
        spin = 1.0 - beta2 * t / t_max + t * t / (2.0 * e * e)
        l1 = math.log(1.0 + 2.0 * t / ELECTRON_MASS)
        l2 = math.log(4.0 * e * (e - t) / (MUON_MASS * MUON_MASS))
        if uniform(state) * f_max <= spin * (1.0 + rad * l1 * (l2 - l1)):
            return t


@numba.njit(cache=True)
def _helix(
    x: float, y: float, z: float, ux: float, uy: float, uz: float, s: float, k: float
) -> tuple[float, float, float, float, float, float]:
    """Move s mm along a helix of curvature k (1/mm) around +y (k > 0 bends +z towards −x)."""
    phi = k * s
    if abs(phi) < 1e-4:
        sin_k = s * (1.0 - phi * phi / 6.0)
        cos_m1_k = -0.5 * s * phi * (1.0 - phi * phi / 12.0)
        c = 1.0 - 0.5 * phi * phi
        sn = phi
    else:
        sn = math.sin(phi)
        c = math.cos(phi)
        sin_k = sn / k
        cos_m1_k = (c - 1.0) / k
    nx = x + ux * sin_k + uz * cos_m1_k
    nz = z + uz * sin_k - ux * cos_m1_k
    return nx, y + uy * s, nz, ux * c - uz * sn, uy, uz * c + ux * sn


@numba.njit(cache=True)
def _distance_out(x: float, y: float, z: float, ux: float, uy: float, uz: float, p: FloatArray) -> float:
    """Straight-line distance from an inside point to the block surface along u, mm."""
    s = 1e30
    if uz > 0.0:
        s = min(s, (p[P_DEPTH] - z) / uz)
    elif uz < 0.0:
        s = min(s, -z / uz)
    if ux > 0.0:
        s = min(s, (p[P_HALF_X] - x) / ux)
    elif ux < 0.0:
        s = min(s, (-p[P_HALF_X] - x) / ux)
    if uy > 0.0:
        s = min(s, (p[P_HALF_Y] - y) / uy)
    elif uy < 0.0:
        s = min(s, (-p[P_HALF_Y] - y) / uy)
    return max(s, 0.0)


@numba.njit(cache=True)
def _secondary(
    kind: int,
    energy: float,
    x: float,
    y: float,
    z: float,
    ux: float,
    uy: float,
    uz: float,
    p: FloatArray,
    photon_table: FloatArray,
    electron_table: FloatArray,
    state: State,
    grid: FloatArray,
    touched: IntArray,
    counters: IntArray,
    tally: FloatArray,
    stack: FloatArray,
    scratch: FloatArray,
) -> None:
    """Hand a secondary to GFlash (at or above E_GF) or to the mini Monte Carlo stack."""
    if energy < p[P_EGF]:
        push(stack, counters, kind, x, y, z, ux, uy, uz, energy, p, grid, touched, tally)
        return
    if kind == KIND_PHOTON:  # convert first: the shower starts one free path downstream
        step = math.exp(interp_table(photon_table, 1, math.log(energy))) * exponential(state)
        x += step * ux
        y += step * uy
        z += step * uz
        if cell_of(x, y, z, p) < 0:
            deposit_point(x, y, z, energy, p, grid, touched, counters, tally)  # tallied as escaped
            return
    elif kind == KIND_POSITRON:  # the positron's annihilation energy belongs to its shower
        energy += 2.0 * ELECTRON_MASS
    gflash_shower(
        energy, x, y, z, ux, uy, uz, p, photon_table, electron_table, state,
        grid, touched, counters, tally, stack, scratch,
    )  # fmt: skip


@numba.njit(cache=True)
def _interact(
    process: int,
    kinetic: float,
    x: float,
    y: float,
    z: float,
    ux: float,
    uy: float,
    uz: float,
    p: FloatArray,
    log_t_grid: FloatArray,
    cdf: FloatArray,
    photon_table: FloatArray,
    electron_table: FloatArray,
    state: State,
    grid: FloatArray,
    touched: IntArray,
    counters: IntArray,
    tally: FloatArray,
    stack: FloatArray,
    scratch: FloatArray,
) -> float:
    """Sample one discrete interaction, create its secondaries; returns the energy transfer, MeV."""
    e = kinetic + MUON_MASS
    if process == 0:  # knock-on electron
        transfer = _sample_delta(state, kinetic, p[P_ECUT])
        p_mu = math.sqrt(kinetic * (kinetic + 2.0 * MUON_MASS))
        p_delta = math.sqrt(transfer * (transfer + 2.0 * ELECTRON_MASS))
        cos_t = min(transfer * (e + ELECTRON_MASS) / (p_delta * p_mu), 1.0)
        dx, dy, dz = rotate(ux, uy, uz, cos_t, 2.0 * math.pi * uniform(state))
        _secondary(
            KIND_ELECTRON,
            transfer,
            x,
            y,
            z,
            dx,
            dy,
            dz,
            p,
            photon_table,
            electron_table,
            state,
            grid,
            touched,
            counters,
            tally,
            stack,
            scratch,
        )
        return transfer
    k, frac = _table_position(log_t_grid, math.log(kinetic))
    if uniform(state) < frac:
        k += 1
    x_scaled = _sample_x(cdf[process - 1, k], uniform(state))
    if process == 1:  # bremsstrahlung photon along the muon
        lo = p[P_GCUT]
        hi = kinetic
    elif process == 2:  # pair (total energies of e+ and e−)
        lo = 4.0 * ELECTRON_MASS
        hi = e - 0.75 * SQRT_E * MUON_MASS * p[P_ZMIN] ** (1.0 / 3.0)
    else:  # photonuclear
        lo = 200.0
        hi = e - 0.5 * 938.272
    if hi <= lo:
        return 0.0
    transfer = lo * math.exp(x_scaled * math.log(hi / lo))
    if process == 1:
        _secondary(
            KIND_PHOTON,
            transfer,
            x,
            y,
            z,
            ux,
            uy,
            uz,
            p,
            photon_table,
            electron_table,
            state,
            grid,
            touched,
            counters,
            tally,
            stack,
            scratch,
        )
    elif process == 2:
        v = transfer / e
        rho_max = (1.0 - 6.0 * MUON_MASS * MUON_MASS / (e * e * (1.0 - v))) * math.sqrt(
            max(0.0, 1.0 - 4.0 * ELECTRON_MASS / transfer)
        )
        r = max(rho_max, 0.0) * (2.0 * uniform(state) - 1.0)  # uniform asymmetry, as Geant4
        t_minus = max(0.5 * (1.0 - r) * transfer - ELECTRON_MASS, 0.0)
        t_plus = transfer - 2.0 * ELECTRON_MASS - t_minus
        _secondary(
            KIND_ELECTRON,
            t_minus,
            x,
            y,
            z,
            ux,
            uy,
            uz,
            p,
            photon_table,
            electron_table,
            state,
            grid,
            touched,
            counters,
            tally,
            stack,
            scratch,
        )
        _secondary(
            KIND_POSITRON,
            t_plus,
            x,
            y,
            z,
            ux,
            uy,
            uz,
            p,
            photon_table,
            electron_table,
            state,
            grid,
            touched,
            counters,
            tally,
            stack,
            scratch,
        )
    else:  # hadronic final state [U]: the visible part showers like an EM cascade
        visible = p[P_HAD_VIS] * transfer
        tally[TALLY_INVISIBLE] += transfer - visible
        _secondary(
            KIND_ELECTRON,
            visible,
            x,
            y,
            z,
            ux,
            uy,
            uz,
            p,
            photon_table,
            electron_table,
            state,
            grid,
            touched,
            counters,
            tally,
            stack,
            scratch,
        )
    return transfer


@numba.njit(cache=True)
def transport_muon(
    kinetic: float,
    charge: float,
    x: float,
    y: float,
    z: float,
    p: FloatArray,
    log_t_grid: FloatArray,
    rate: FloatArray,
    dedx: FloatArray,
    cdf: FloatArray,
    photon_table: FloatArray,
    electron_table: FloatArray,
    state: State,
    grid: FloatArray,
    touched: IntArray,
    counters: IntArray,
    tally: FloatArray,
    stack: FloatArray,
    scratch: FloatArray,
) -> float:
    """Transport one muon of kinetic energy ``kinetic`` (MeV) from (x, y, z) along +z.

    Returns the kinetic energy (MeV) with which it leaves the block (0 if it stops).
    """
    ux, uy, uz = 0.0, 0.0, 1.0
    field = p[P_FIELD]
    enabled = np.array([1.0, p[P_BREMS], p[P_PAIR], p[P_NUCL]])
    if z < 0.0:  # the vacuum in front of the block: the field bends the track already
        p_mev = math.sqrt(kinetic * (kinetic + 2.0 * MUON_MASS))
        x, y, z, ux, uy, uz = _helix(x, y, z, ux, uy, uz, -z / uz, _CURVATURE * charge * field / p_mev)
        z = max(z, 0.0)
    if cell_of(x, y, z, p) < 0:
        return kinetic
    x0_mm = p[P_X0]
    while True:
        if kinetic <= _STOP_MEV:
            deposit_point(x, y, z, kinetic, p, grid, touched, counters, tally)
            return 0.0
        log_t = math.log(kinetic)
        k, frac = _table_position(log_t_grid, log_t)
        total = 0.0
        for proc in range(4):
            total += enabled[proc] * (rate[proc, k] + frac * (rate[proc, k + 1] - rate[proc, k]))
        s_int = exponential(state) / total if total > 0.0 else 1e30
        s_out = _distance_out(x, y, z, ux, uy, uz, p)
        s = min(s_int, s_out, p[P_MAX_STEP])
        leaves = s_out <= s
        interacts = (not leaves) and s_int <= s
        e = kinetic + MUON_MASS
        p_mev = math.sqrt(kinetic * (kinetic + 2.0 * MUON_MASS))
        nx, ny, nz, vx, vy, vz = _helix(x, y, z, ux, uy, uz, s, _CURVATURE * charge * field / p_mev)
        if p[P_MS] > 0.0 and s > 0.0:
            theta0 = 13.6 * e / (p_mev * p_mev) * math.sqrt(s / x0_mm * p[P_HIGHLAND])
            e1x, e1y, e1z, e2x, e2y, e2z = orthonormal_basis(vx, vy, vz)
            a1, b1, a2, b2 = normal(state), normal(state), normal(state), normal(state)
            d1 = s * theta0 * (a1 * 0.28867513 + b1 * 0.5)
            d2 = s * theta0 * (a2 * 0.28867513 + b2 * 0.5)
            nx += d1 * e1x + d2 * e2x
            ny += d1 * e1y + d2 * e2y
            nz += d1 * e1z + d2 * e2z
            vx += theta0 * (b1 * e1x + b2 * e2x)
            vy += theta0 * (b1 * e1y + b2 * e2y)
            vz += theta0 * (b1 * e1z + b2 * e2z)
            norm = math.sqrt(vx * vx + vy * vy + vz * vz)
            vx /= norm
            vy /= norm
            vz /= norm
        mean_loss = (dedx[k] + frac * (dedx[k + 1] - dedx[k])) * s
        loss = mean_loss
        if p[P_FLUCT] > 0.0 and mean_loss > 0.0:
            cut = min(p[P_ECUT], _max_transfer(kinetic))
            beta2 = p_mev * p_mev / (e * e)
            variance = p[P_BOHR] * s / beta2 * cut * (1.0 - 0.5 * beta2 * cut / _max_transfer(kinetic))
            if variance > 0.0:
                loss = gamma_variate(state, mean_loss * mean_loss / variance) * variance / mean_loss
        loss = min(loss, kinetic)
        deposit_segment(x, y, z, nx, ny, nz, loss, p, grid, touched, counters, tally)
        kinetic -= loss
        x, y, z, ux, uy, uz = nx, ny, nz, vx, vy, vz
        if leaves:
            return kinetic
        if interacts and kinetic > _STOP_MEV:
            pick = uniform(state) * total
            process = 0
            for proc in range(4):
                r = enabled[proc] * (rate[proc, k] + frac * (rate[proc, k + 1] - rate[proc, k]))
                if pick < r:
                    process = proc
                    break
                pick -= r
            transfer = _interact(
                process,
                kinetic,
                x,
                y,
                z,
                ux,
                uy,
                uz,
                p,
                log_t_grid,
                cdf,
                photon_table,
                electron_table,
                state,
                grid,
                touched,
                counters,
                tally,
                stack,
                scratch,
            )
            kinetic -= transfer
            run_stack(p, photon_table, electron_table, state, grid, touched, counters, tally, stack)
