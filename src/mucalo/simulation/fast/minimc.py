"""Particle-level mini Monte Carlo for photons and e± below the GFlash threshold (PHYSICS.md §8.3).

Photons fly exponential paths and undergo photo-absorption (local deposit), Klein–Nishina Compton
scattering or conversion. Electrons above 1 MeV random-walk through energy intervals: each covers the
mean chord of its multiply scattered CSDA path, turned by the Highland multiple-scattering angle, radiates the
increase of the radiation yield as 1/k brems photons and deposits the rest along the segment. Below
1 MeV they deposit in place (the reference has no e± brems below 1 MeV). Positrons end with two
back-to-back 511 keV photons.

Photons below the library ceiling are not transported one by one: a history of the same energy is
drawn from the photon library (:mod:`~mucalo.simulation.fast.library`, built with this very code) and
replayed with a random rotation. Particles wait on an explicit stack (no recursion).

Every kernel takes the shared :class:`~mucalo.simulation.fast.state.KernelState` ``s`` first. Stack
rows are kind (0 γ, 1 e−, 2 e+), x, y, z, ux, uy, uz, energy (MeV, kinetic for e±).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

from mucalo.simulation.fast.constants import ELECTRON_MASS
from mucalo.simulation.fast.deposit import (
    cell_at,
    cell_of,
    deposit_point,
    deposit_segment,
    escape,
    geometry,
)
from mucalo.simulation.fast.params import P_BREMS_KMIN, P_DETOUR, P_PHOTON_LOCAL, P_X0
from mucalo.simulation.fast.rng import exponential, uniform
from mucalo.simulation.fast.state import C_RECORDING, C_STACK, C_TOUCHED, TALLY_ESCAPED, KernelState

__all__ = [
    "KIND_ELECTRON",
    "KIND_PHOTON",
    "KIND_POSITRON",
    "KIND_SHOWER",
    "interp_table",
    "isotropic",
    "library_replay",
    "orthonormal_basis",
    "push",
    "replay_directed",
    "rotate",
    "run_stack",
    "scattered_chord",
    "unit_disk",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
State = npt.NDArray[np.uint64]

KIND_PHOTON = 0
KIND_ELECTRON = 1
KIND_POSITRON = 2
KIND_SHOWER = 3  # library only: a whole GFlash shower of energy E (never on the stack)
_ELECTRON_LOCAL_MEV = 1.0  # below this e± deposit where they are (range < 0.8 mm, no brems in G4 ref)
_SLOWING = 0.6  # energy ratio of the successive intervals of an electron's random walk
_INV_SQRT2 = 0.7071067811865476


@numba.njit(cache=True, inline="always")
def interp_table(table: FloatArray, row: int, log_x: float) -> float:
    """Linear interpolation of ``table[row]`` on the uniform grid ``table[0]``, clamped at the ends."""
    n = table.shape[1]
    f = (log_x - table[0, 0]) / (table[0, 1] - table[0, 0])
    if f <= 0.0:
        return float(table[row, 0])
    if f >= n - 1:
        return float(table[row, n - 1])
    i = int(f)
    f -= i
    return float(table[row, i] + f * (table[row, i + 1] - table[row, i]))


@numba.njit(cache=True, inline="always")
def unit_disk(rng: State) -> tuple[float, float]:
    """(cos φ, sin φ) for a uniform azimuth, by rejection in the unit disk (no trigonometry)."""
    while True:
        a = 2.0 * uniform(rng) - 1.0
        b = 2.0 * uniform(rng) - 1.0
        r2 = a * a + b * b
        if 1e-12 < r2 <= 1.0:
            inv = 1.0 / math.sqrt(r2)
            return a * inv, b * inv


@numba.njit(cache=True, inline="always")
def orthonormal_basis(ux: float, uy: float, uz: float) -> tuple[float, float, float, float, float, float]:
    """Two unit vectors e1, e2 with (e1, e2, u) right-handed and orthonormal."""
    if abs(uz) < 0.9:  # e1 = z × u
        ax, ay, az = -uy, ux, 0.0
    else:  # e1 = x × u
        ax, ay, az = 0.0, -uz, uy
    norm = math.sqrt(ax * ax + ay * ay + az * az)
    ax /= norm
    ay /= norm
    az /= norm
    return ax, ay, az, uy * az - uz * ay, uz * ax - ux * az, ux * ay - uy * ax


@numba.njit(cache=True, inline="always")
def rotate(rng: State, ux: float, uy: float, uz: float, cos_t: float) -> tuple[float, float, float]:
    """Direction at polar angle acos(cos_t) and a uniform azimuth around the unit vector u."""
    sin_t = math.sqrt(max(0.0, 1.0 - cos_t * cos_t))
    c, s = unit_disk(rng)
    e1x, e1y, e1z, e2x, e2y, e2z = orthonormal_basis(ux, uy, uz)
    return (
        ux * cos_t + sin_t * (c * e1x + s * e2x),
        uy * cos_t + sin_t * (c * e1y + s * e2y),
        uz * cos_t + sin_t * (c * e1z + s * e2z),
    )


@numba.njit(cache=True, inline="always")
def isotropic(rng: State) -> tuple[float, float, float]:
    """A uniformly distributed unit vector."""
    cos_t = 2.0 * uniform(rng) - 1.0
    sin_t = math.sqrt(max(0.0, 1.0 - cos_t * cos_t))
    c, s = unit_disk(rng)
    return sin_t * c, sin_t * s, cos_t


@numba.njit(cache=True, inline="always")
def push(
    s: KernelState, kind: int, x: float, y: float, z: float, ux: float, uy: float, uz: float, energy: float
) -> None:
    """Put a particle on the stack; if it is full, deposit the particle's energy where it is."""
    stack = s.stack
    counters = s.counters
    n = counters[C_STACK]
    if n >= stack.shape[0]:
        extra = 2.0 * ELECTRON_MASS if kind == KIND_POSITRON else 0.0
        deposit_point(s, x, y, z, energy + extra)
        return
    stack[n, 0] = kind
    stack[n, 1] = x
    stack[n, 2] = y
    stack[n, 3] = z
    stack[n, 4] = ux
    stack[n, 5] = uy
    stack[n, 6] = uz
    stack[n, 7] = energy
    counters[C_STACK] = n + 1


@numba.njit(cache=True, inline="always")
def _compton(rng: State, k: float) -> tuple[float, float]:
    """Klein–Nishina: (ε = k'/k, cos θ) by the Butcher–Messel mixture with rejection."""
    kappa = k / ELECTRON_MASS
    eps0 = 1.0 / (1.0 + 2.0 * kappa)
    eps0_sq = eps0 * eps0
    alpha1 = -math.log(eps0)
    alpha2 = alpha1 + 0.5 * (1.0 - eps0_sq)
    while True:
        if alpha1 > alpha2 * uniform(rng):
            eps = math.exp(-alpha1 * uniform(rng))
            eps_sq = eps * eps
        else:
            eps_sq = eps0_sq + (1.0 - eps0_sq) * uniform(rng)
            eps = math.sqrt(eps_sq)
        one_minus_cos = (1.0 - eps) / (eps * kappa)
        sin2 = one_minus_cos * (2.0 - one_minus_cos)
        if 1.0 - eps * sin2 / (1.0 + eps_sq) >= uniform(rng):
            return eps, 1.0 - one_minus_cos


@numba.njit(cache=True, inline="always")
def replay_directed(
    index: IntArray,
    points: FloatArray,
    meta: FloatArray,
    p: FloatArray,
    grid: FloatArray,
    touched: IntArray,
    counters: IntArray,
    tally: FloatArray,
    rng: State,
    kind: int,
    energy: float,
    x: float,
    y: float,
    z: float,
    ux: float,
    uy: float,
    uz: float,
) -> bool:
    """Replay a library history of a particle of this kind and energy along u; False if there is none.

    The history is rotated onto u with a random azimuth; points outside the block escape (points are
    independent: a history is a tree of branches, not one chain). Array arguments: hot loops hoist
    them out of the state once (loading a StructRef field costs a reference-count round trip).
    """
    n_nodes = int(meta[kind, 2])
    if n_nodes == 0:
        return False
    node = math.floor((math.log(energy) - meta[kind, 0]) / meta[kind, 1] + 0.5)
    if node < 0 or node >= n_nodes:
        return False
    n_hist = int(meta[kind, 3])
    h = int(meta[kind, 4]) + node * n_hist + min(int(uniform(rng) * n_hist), n_hist - 1)
    scale = energy + 2.0 * ELECTRON_MASS if kind == KIND_POSITRON else energy
    e1x, e1y, e1z, e2x, e2y, e2z = orthonormal_basis(ux, uy, uz)
    c, sn = unit_disk(rng)  # a random azimuth of the history around u
    ax, ay, az = c * e1x + sn * e2x, c * e1y + sn * e2y, c * e1z + sn * e2z
    bx, by, bz = c * e2x - sn * e1x, c * e2y - sn * e1y, c * e2z - sn * e1z
    g = geometry(p)
    n_touched = counters[C_TOUCHED]
    escaped = 0.0
    for i in range(index[h], index[h + 1]):
        px, py, pz = points[i, 0], points[i, 1], points[i, 2]
        e = points[i, 3] * scale
        cell = cell_at(
            g,
            x + px * ax + py * bx + pz * ux,
            y + px * ay + py * by + pz * uy,
            z + px * az + py * bz + pz * uz,
        )
        if cell < 0:
            escaped += e
        else:
            value = grid[cell]
            touched[n_touched] = cell  # kept only if it was empty (see grid_add)
            n_touched += value == 0.0
            grid[cell] = value + e
    counters[C_TOUCHED] = n_touched
    if escaped > 0.0:
        tally[TALLY_ESCAPED] += escaped
    return True


@numba.njit(cache=True)
def library_replay(
    s: KernelState, kind: int, energy: float, x: float, y: float, z: float, ux: float, uy: float, uz: float
) -> bool:
    """:func:`replay_directed` on the state's arrays; while recording, the points are recorded."""
    meta = s.lib_meta
    if s.counters[C_RECORDING] == 0:
        return replay_directed(
            s.lib_index, s.lib_points, meta, s.params, s.grid, s.touched, s.counters, s.tally, s.rng,
            kind, energy, x, y, z, ux, uy, uz,
        )  # fmt: skip
    n_nodes = int(meta[kind, 2])
    if n_nodes == 0:
        return False
    node = math.floor((math.log(energy) - meta[kind, 0]) / meta[kind, 1] + 0.5)
    if node < 0 or node >= n_nodes:
        return False
    rng = s.rng
    n_hist = int(meta[kind, 3])
    h = int(meta[kind, 4]) + node * n_hist + min(int(uniform(rng) * n_hist), n_hist - 1)
    scale = energy + 2.0 * ELECTRON_MASS if kind == KIND_POSITRON else energy
    e1x, e1y, e1z, e2x, e2y, e2z = orthonormal_basis(ux, uy, uz)
    c, sn = unit_disk(rng)
    ax, ay, az = c * e1x + sn * e2x, c * e1y + sn * e2y, c * e1z + sn * e2z
    bx, by, bz = c * e2x - sn * e1x, c * e2y - sn * e1y, c * e2z - sn * e1z
    index = s.lib_index
    points = s.lib_points
    for i in range(index[h], index[h + 1]):
        px, py, pz = points[i, 0], points[i, 1], points[i, 2]
        deposit_point(
            s,
            x + px * ax + py * bx + pz * ux,
            y + px * ay + py * by + pz * uy,
            z + px * az + py * bz + pz * uz,
            points[i, 3] * scale,
        )
    return True


@numba.njit(cache=True)
def _photon(s: KernelState, x: float, y: float, z: float, ux: float, uy: float, uz: float, k: float) -> None:
    p = s.params
    if k < p[P_PHOTON_LOCAL]:
        deposit_point(s, x, y, z, k)
        return
    if library_replay(s, KIND_PHOTON, k, x, y, z, ux, uy, uz):
        return
    rng = s.rng
    photon_table = s.photon_table
    recording = s.counters[C_RECORDING] != 0
    while True:
        if k < p[P_PHOTON_LOCAL]:
            deposit_point(s, x, y, z, k)
            return
        log_k = math.log(k)
        step = math.exp(interp_table(photon_table, 1, log_k)) * exponential(rng)
        x += step * ux
        y += step * uy
        z += step * uz
        if not recording and cell_of(s, x, y, z) < 0:
            escape(s, k)
            return
        r = uniform(rng)
        f_photo = interp_table(photon_table, 2, log_k)
        if r < f_photo:
            deposit_point(s, x, y, z, k)
            return
        if k > 2.0 * ELECTRON_MASS and r < f_photo + interp_table(photon_table, 3, log_k):
            kinetic = k - 2.0 * ELECTRON_MASS
            t1 = kinetic * uniform(rng)
            push(s, KIND_ELECTRON, x, y, z, ux, uy, uz, t1)
            push(s, KIND_POSITRON, x, y, z, ux, uy, uz, kinetic - t1)
            return
        eps, cos_t = _compton(rng, k)
        k_out = eps * k
        vx, vy, vz = rotate(rng, ux, uy, uz, cos_t)
        kinetic = k - k_out
        if kinetic < _ELECTRON_LOCAL_MEV:
            deposit_point(s, x, y, z, kinetic)
        else:  # electron momentum = k u − k' v
            ex, ey, ez = k * ux - k_out * vx, k * uy - k_out * vy, k * uz - k_out * vz
            norm = math.sqrt(ex * ex + ey * ey + ez * ez)
            push(s, KIND_ELECTRON, x, y, z, ex / norm, ey / norm, ez / norm, kinetic)
        ux, uy, uz = vx, vy, vz
        k = k_out


@numba.njit(cache=True, inline="always")
def scattered_chord(theta0: float) -> float:
    """Mean chord / path length of a multiply scattered path with Highland angle ``theta0`` (rad).

    The mean displacement along the initial direction after a path t is λ(1 − e^(−t/λ)), with the transport
    mean free path λ = t/θ0² (small-angle ⟨cos θ⟩ = e^(−t/λ), ⟨θ²⟩ = 2θ0²). MeV electrons in PbWO4 curl
    up (θ0 > 1: chord ≈ 1/θ0²); above ~20 MeV the chord is nearly the path.
    """
    theta2 = theta0 * theta0
    if theta2 < 1e-6:
        return 1.0 - 0.5 * theta2
    return (1.0 - math.exp(-theta2)) / theta2


@numba.njit(cache=True, inline="always")
def _scatter(rng: State, ux: float, uy: float, uz: float, theta0: float) -> tuple[float, float, float]:
    """Direction after multiple scattering of projected width theta0 (isotropic when it is large)."""
    if theta0 > 1.0:
        return isotropic(rng)
    theta = theta0 * math.sqrt(2.0 * exponential(rng))  # space angle of two Gaussian projections
    return rotate(rng, ux, uy, uz, math.cos(min(theta, math.pi)))


@numba.njit(cache=True)
def _electron(
    s: KernelState, kind: int, x: float, y: float, z: float, ux: float, uy: float, uz: float, kinetic: float
) -> None:
    if kinetic < _ELECTRON_LOCAL_MEV:
        deposit_point(s, x, y, z, kinetic)
    elif library_replay(s, kind, kinetic, x, y, z, ux, uy, uz):
        return  # the history includes the annihilation photons of a positron
    else:
        # A random walk in energy intervals T → T·_SLOWING: each interval covers its CSDA path length,
        # turned by the Highland angle of that path, and radiates the increase of the radiation yield
        # Y(T)·T as 1/k brems photons along the current direction; the rest is deposited on the segment.
        p = s.params
        rng = s.rng
        electron_table = s.electron_table
        k_min = p[P_BREMS_KMIN]
        x0_mm = p[P_X0]
        chord = p[P_DETOUR]
        t_hi = kinetic
        log_hi = math.log(t_hi)
        rad_hi = interp_table(electron_table, 2, log_hi) * t_hi
        range_hi = math.exp(interp_table(electron_table, 1, log_hi))
        while t_hi > _ELECTRON_LOCAL_MEV:
            t_lo = max(_SLOWING * t_hi, _ELECTRON_LOCAL_MEV)
            log_lo = math.log(t_lo)
            rad_lo = interp_table(electron_table, 2, log_lo) * t_lo
            range_lo = math.exp(interp_table(electron_table, 1, log_lo))
            path = range_hi - range_lo
            t_mid = math.sqrt(t_hi * t_lo)
            beta_p = t_mid * (t_mid + 2.0 * ELECTRON_MASS) / (t_mid + ELECTRON_MASS)
            ratio = path / x0_mm
            theta0 = 13.6 / beta_p * math.sqrt(ratio) * max(1.0 + 0.038 * math.log(ratio), 0.5)
            # half of the angular variance before the segment, half after (θ0/√2 each)
            ux, uy, uz = _scatter(rng, ux, uy, uz, _INV_SQRT2 * theta0)
            length = chord * path * scattered_chord(theta0)
            budget = rad_hi - rad_lo
            radiated = 0.0
            log_span = math.log(t_hi / k_min)
            while budget - radiated > k_min:
                k = min(k_min * math.exp(uniform(rng) * log_span), budget - radiated)  # 1/k spectrum
                radiated += k
                d = uniform(rng) * length
                # brems photons leave along the electron's instantaneous direction, which wanders
                # around the segment's mean direction
                vx, vy, vz = _scatter(rng, ux, uy, uz, 0.5 * theta0)
                push(s, KIND_PHOTON, x + d * ux, y + d * uy, z + d * uz, vx, vy, vz, k)
            x1, y1, z1 = x + length * ux, y + length * uy, z + length * uz
            deposit_segment(s, x, y, z, x1, y1, z1, (t_hi - t_lo) - radiated)
            x, y, z = x1, y1, z1
            ux, uy, uz = _scatter(rng, ux, uy, uz, _INV_SQRT2 * theta0)
            t_hi, rad_hi, range_hi = t_lo, rad_lo, range_lo
        deposit_point(s, x, y, z, t_hi)  # the last MeV, within ~0.8 mm
    if kind == KIND_POSITRON:
        vx, vy, vz = isotropic(s.rng)
        push(s, KIND_PHOTON, x, y, z, vx, vy, vz, ELECTRON_MASS)
        push(s, KIND_PHOTON, x, y, z, -vx, -vy, -vz, ELECTRON_MASS)


@numba.njit(cache=True)
def run_stack(s: KernelState) -> None:
    """Transport every particle on the stack (and their products) until it is empty."""
    stack = s.stack
    counters = s.counters
    while counters[C_STACK] > 0:
        n = counters[C_STACK] - 1
        counters[C_STACK] = n
        kind = int(stack[n, 0])  # read the row out: the slot is reused by the particles it creates
        x, y, z = stack[n, 1], stack[n, 2], stack[n, 3]
        ux, uy, uz = stack[n, 4], stack[n, 5], stack[n, 6]
        energy = stack[n, 7]
        if kind == KIND_PHOTON:
            _photon(s, x, y, z, ux, uy, uz, energy)
        else:
            _electron(s, kind, x, y, z, ux, uy, uz, energy)
