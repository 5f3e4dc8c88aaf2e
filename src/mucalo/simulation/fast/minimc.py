"""Particle-level mini Monte Carlo for photons and e± below the GFlash threshold (PHYSICS.md §8.3).

Photons fly exponential paths and undergo photo-absorption (local deposit), Klein–Nishina Compton
scattering or conversion. Electrons above 1 MeV travel a straight segment of ``detour`` times their
CSDA range, radiate their mean radiation yield as 1/k brems photons and deposit the rest along the
segment; below 1 MeV they deposit in place (the reference has no e± brems below 1 MeV). Positrons
end with two back-to-back 511 keV photons. Particles wait on an explicit stack (no recursion).

Stack rows: kind (0 γ, 1 e−, 2 e+), x, y, z [mm], ux, uy, uz, energy [MeV, kinetic for e±].
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

from mucalo.simulation.fast.constants import ELECTRON_MASS
from mucalo.simulation.fast.deposit import TALLY_ESCAPED, cell_of, deposit_point, deposit_segment
from mucalo.simulation.fast.params import P_BREMS_KMIN, P_DETOUR, P_PHOTON_LOCAL, P_X0
from mucalo.simulation.fast.rng import exponential, uniform

__all__ = [
    "KIND_ELECTRON",
    "KIND_PHOTON",
    "KIND_POSITRON",
    "STACK_SIZE",
    "interp_table",
    "isotropic",
    "push",
    "rotate",
    "run_stack",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
State = npt.NDArray[np.uint64]

KIND_PHOTON = 0
KIND_ELECTRON = 1
KIND_POSITRON = 2
STACK_SIZE = 4096
_ELECTRON_LOCAL_MEV = 1.0  # below this e± deposit where they are (range < 0.8 mm, no brems in G4 ref)


@numba.njit(cache=True)
def interp_table(table: FloatArray, row: int, log_x: float) -> float:
    """Linear interpolation of ``table[row]`` on the uniform grid ``table[0]``, clamped at the ends."""
    n = table.shape[1]
    f = (log_x - table[0, 0]) / (table[0, 1] - table[0, 0])
    if f <= 0.0:
        return table[row, 0]
    if f >= n - 1:
        return table[row, n - 1]
    i = int(f)
    f -= i
    return table[row, i] + f * (table[row, i + 1] - table[row, i])


@numba.njit(cache=True)
def rotate(ux: float, uy: float, uz: float, cos_t: float, phi: float) -> tuple[float, float, float]:
    """Direction at polar angle acos(cos_t) and azimuth phi around the unit vector u."""
    sin_t = math.sqrt(max(0.0, 1.0 - cos_t * cos_t))
    cp = math.cos(phi)
    sp = math.sin(phi)
    perp = math.sqrt(ux * ux + uy * uy)
    if perp < 1e-10:
        sign = 1.0 if uz >= 0.0 else -1.0
        return sin_t * cp, sin_t * sp, sign * cos_t
    vx = (ux * uz * cp - uy * sp) / perp
    vy = (uy * uz * cp + ux * sp) / perp
    vz = -perp * cp
    return ux * cos_t + vx * sin_t, uy * cos_t + vy * sin_t, uz * cos_t + vz * sin_t


@numba.njit(cache=True)
def isotropic(state: State) -> tuple[float, float, float]:
    """A uniformly distributed unit vector."""
    cos_t = 2.0 * uniform(state) - 1.0
    sin_t = math.sqrt(max(0.0, 1.0 - cos_t * cos_t))
    phi = 2.0 * math.pi * uniform(state)
    return sin_t * math.cos(phi), sin_t * math.sin(phi), cos_t


@numba.njit(cache=True)
def push(
    stack: FloatArray,
    counters: IntArray,
    kind: int,
    x: float,
    y: float,
    z: float,
    ux: float,
    uy: float,
    uz: float,
    energy: float,
    p: FloatArray,
    grid: FloatArray,
    touched: IntArray,
    tally: FloatArray,
) -> None:
    """Put a particle on the stack; if it is full, deposit the particle's energy where it is."""
    n = counters[1]
    if n >= stack.shape[0]:
        extra = 2.0 * ELECTRON_MASS if kind == KIND_POSITRON else 0.0
        deposit_point(x, y, z, energy + extra, p, grid, touched, counters, tally)
        return
    row = stack[n]
    row[0] = kind
    row[1] = x
    row[2] = y
    row[3] = z
    row[4] = ux
    row[5] = uy
    row[6] = uz
    row[7] = energy
    counters[1] = n + 1


@numba.njit(cache=True)
def _compton(state: State, k: float) -> tuple[float, float]:
    """Klein–Nishina: (ε = k'/k, cos θ) by the Butcher–Messel mixture with rejection."""
    kappa = k / ELECTRON_MASS
    eps0 = 1.0 / (1.0 + 2.0 * kappa)
    eps0_sq = eps0 * eps0
    alpha1 = -math.log(eps0)
    alpha2 = alpha1 + 0.5 * (1.0 - eps0_sq)
    while True:
        if alpha1 > alpha2 * uniform(state):
            eps = math.exp(-alpha1 * uniform(state))
            eps_sq = eps * eps
        else:
            eps_sq = eps0_sq + (1.0 - eps0_sq) * uniform(state)
            eps = math.sqrt(eps_sq)
        one_minus_cos = (1.0 - eps) / (eps * kappa)
        sin2 = one_minus_cos * (2.0 - one_minus_cos)
        if 1.0 - eps * sin2 / (1.0 + eps_sq) >= uniform(state):
            return eps, 1.0 - one_minus_cos


@numba.njit(cache=True)
def _photon(
    row: FloatArray,
    p: FloatArray,
    photon_table: FloatArray,
    state: State,
    grid: FloatArray,
    touched: IntArray,
    counters: IntArray,
    tally: FloatArray,
    stack: FloatArray,
) -> None:
    x, y, z = row[1], row[2], row[3]
    ux, uy, uz = row[4], row[5], row[6]
    k = row[7]
    local = p[P_PHOTON_LOCAL]
    while True:
        if k < local:
            deposit_point(x, y, z, k, p, grid, touched, counters, tally)
            return
        log_k = math.log(k)
        step = math.exp(interp_table(photon_table, 1, log_k)) * exponential(state)
        x += step * ux
        y += step * uy
        z += step * uz
        if cell_of(x, y, z, p) < 0:
            tally[TALLY_ESCAPED] += k
            return
        r = uniform(state)
        f_photo = interp_table(photon_table, 2, log_k)
        if r < f_photo:
            deposit_point(x, y, z, k, p, grid, touched, counters, tally)
            return
        if k > 2.0 * ELECTRON_MASS and r < f_photo + interp_table(photon_table, 3, log_k):
            kinetic = k - 2.0 * ELECTRON_MASS
            t1 = kinetic * uniform(state)
            push(stack, counters, KIND_ELECTRON, x, y, z, ux, uy, uz, t1, p, grid, touched, tally)
            push(stack, counters, KIND_POSITRON, x, y, z, ux, uy, uz, kinetic - t1, p, grid, touched, tally)
            return
        eps, cos_t = _compton(state, k)
        k_out = eps * k
        vx, vy, vz = rotate(ux, uy, uz, cos_t, 2.0 * math.pi * uniform(state))
        kinetic = k - k_out
        if kinetic < _ELECTRON_LOCAL_MEV:
            deposit_point(x, y, z, kinetic, p, grid, touched, counters, tally)
        else:  # electron momentum = k u − k' v
            ex, ey, ez = k * ux - k_out * vx, k * uy - k_out * vy, k * uz - k_out * vz
            norm = math.sqrt(ex * ex + ey * ey + ez * ez)
            push(
                stack,
                counters,
                KIND_ELECTRON,
                x,
                y,
                z,
                ex / norm,
                ey / norm,
                ez / norm,
                kinetic,
                p,
                grid,
                touched,
                tally,
            )
        ux, uy, uz = vx, vy, vz
        k = k_out


@numba.njit(cache=True)
def _electron(
    row: FloatArray,
    p: FloatArray,
    electron_table: FloatArray,
    state: State,
    grid: FloatArray,
    touched: IntArray,
    counters: IntArray,
    tally: FloatArray,
    stack: FloatArray,
) -> None:
    kind = int(row[0])
    x, y, z = row[1], row[2], row[3]
    ux, uy, uz = row[4], row[5], row[6]
    kinetic = row[7]
    x1, y1, z1 = x, y, z
    if kinetic < _ELECTRON_LOCAL_MEV:
        deposit_point(x, y, z, kinetic, p, grid, touched, counters, tally)
    else:
        # the electron slows down in halving energy intervals; each interval radiates the increase of
        # the radiation yield Y(T)·T as 1/k photons up to its upper energy, emitted where it is crossed
        detour = p[P_DETOUR]
        range0 = math.exp(interp_table(electron_table, 1, math.log(kinetic)))
        length = detour * range0
        k_min = p[P_BREMS_KMIN]
        x0_mm = p[P_X0]
        emitted = 0.0
        t_hi = kinetic
        rad_hi = interp_table(electron_table, 2, math.log(t_hi)) * t_hi
        path_hi = 0.0
        while t_hi > _ELECTRON_LOCAL_MEV:
            t_lo = max(0.5 * t_hi, _ELECTRON_LOCAL_MEV)
            log_lo = math.log(t_lo)
            rad_lo = interp_table(electron_table, 2, log_lo) * t_lo
            path_lo = range0 - math.exp(interp_table(electron_table, 1, log_lo))
            budget = rad_hi - rad_lo
            log_span = math.log(t_hi / k_min)
            while budget > k_min:
                k = min(k_min * math.exp(uniform(state) * log_span), budget)  # 1/k spectrum
                budget -= k
                emitted += k
                path = path_hi + uniform(state) * (path_lo - path_hi)
                # emission angle: the multiple-scattering width accumulated so far, isotropic when large
                theta = 13.6 / t_lo * math.sqrt(path / x0_mm)
                if theta > 1.0:
                    vx, vy, vz = isotropic(state)
                else:
                    cos_t = math.cos(theta * math.sqrt(2.0 * exponential(state)))
                    vx, vy, vz = rotate(ux, uy, uz, cos_t, 2.0 * math.pi * uniform(state))
                d = detour * path
                push(
                    stack, counters, KIND_PHOTON, x + d * ux, y + d * uy, z + d * uz,
                    vx, vy, vz, k, p, grid, touched, tally,
                )  # fmt: skip
            t_hi = t_lo
            rad_hi = rad_lo
            path_hi = path_lo
        x1, y1, z1 = x + length * ux, y + length * uy, z + length * uz
        deposit_segment(x, y, z, x1, y1, z1, kinetic - emitted, p, grid, touched, counters, tally)
    if kind == KIND_POSITRON:
        vx, vy, vz = isotropic(state)
        push(stack, counters, KIND_PHOTON, x1, y1, z1, vx, vy, vz, ELECTRON_MASS, p, grid, touched, tally)
        push(stack, counters, KIND_PHOTON, x1, y1, z1, -vx, -vy, -vz, ELECTRON_MASS, p, grid, touched, tally)


@numba.njit(cache=True)
def run_stack(
    p: FloatArray,
    photon_table: FloatArray,
    electron_table: FloatArray,
    state: State,
    grid: FloatArray,
    touched: IntArray,
    counters: IntArray,
    tally: FloatArray,
    stack: FloatArray,
) -> None:
    """Transport every particle on the stack (and their products) until it is empty."""
    row = np.empty(8)
    while counters[1] > 0:
        counters[1] -= 1
        row[:] = stack[counters[1]]
        if int(row[0]) == KIND_PHOTON:
            _photon(row, p, photon_table, state, grid, touched, counters, tally, stack)
        else:
            _electron(row, p, electron_table, state, grid, touched, counters, tally, stack)
