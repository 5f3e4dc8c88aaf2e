"""Muon transport through the block (numba): helix in B, multiple scattering, continuous and
discrete losses, and the secondaries' showers (PHYSICS.md §7, §9.2).

Each step runs to the block boundary or ``max_step_mm``, whichever comes first (shorter for a slow
muon, which may lose at most 5 % of its energy continuously in a step). The continuous (sub-cut)
loss is deposited cell by cell along the step's chord, each cell's piece Gamma-distributed on its
own (as if the muon stepped from boundary to boundary); the step's discrete interactions are a
Poisson number at uniform places on the chord, each with the process chosen by its rate and the
transfer sampled from the tables.
Every kernel takes the shared :class:`~mucalo.simulation.fast.state.KernelState` ``s`` first.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

from mucalo.simulation.fast.constants import ALPHA, ELECTRON_MASS, MUON_MASS, PROTON_MASS, SQRT_E
from mucalo.simulation.fast.deposit import (
    cell_at,
    cell_of,
    deposit_loss,
    deposit_point,
    escape,
    geometry,
    grid_add,
)
from mucalo.simulation.fast.gflash import gflash_shower
from mucalo.simulation.fast.minimc import (
    KIND_ELECTRON,
    KIND_PHOTON,
    KIND_POSITRON,
    KIND_SHOWER,
    interp_table,
    library_replay,
    orthonormal_basis,
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
from mucalo.simulation.fast.rng import (
    AZIMUTH,
    exponential,
    normal_pair,
    poisson,
    uniform,
    uniform_and_two_azimuths,
    uniform_pair,
)
from mucalo.simulation.fast.state import C_TOUCHED, TALLY_ESCAPED, TALLY_INVISIBLE, KernelState

__all__ = ["transport_muon"]

FloatArray = npt.NDArray[np.float64]
State = npt.NDArray[np.uint64]

_ELECTRON_LOCAL_MEV = 1.0  # knock-on electrons below this deposit where they are made (as the mini-MC)
_STOP_MEV = 10.0  # a muon below this kinetic energy deposits it in place (range of a few mm)
_STEP_LOSS = 0.05  # a step loses at most this fraction of the kinetic energy continuously
_CURVATURE = 0.299792458  # k [1/mm] = 0.2998 q B[T] / p[MeV]
_INV_SQRT12 = 0.28867513459481287


@numba.njit(cache=True, inline="always")
def _table_position(log_t_grid: FloatArray, log_t: float) -> tuple[int, float]:
    f = (log_t - log_t_grid[0]) / (log_t_grid[1] - log_t_grid[0])
    n = log_t_grid.shape[0]
    if f <= 0.0:
        return 0, 0.0
    if f >= n - 1:
        return n - 2, 1.0
    k = int(f)
    return k, f - k


@numba.njit(cache=True, inline="always")
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
    return float((lo + f) / (cdf_row.shape[0] - 1))


@numba.njit(cache=True, inline="always")
def _max_transfer(kinetic: float) -> float:
    gamma = (kinetic + MUON_MASS) / MUON_MASS
    ratio = ELECTRON_MASS / MUON_MASS
    return 2.0 * ELECTRON_MASS * (gamma * gamma - 1.0) / (1.0 + 2.0 * gamma * ratio + ratio * ratio)


DeltaConstants = tuple[float, float, float, float, float, float, float]


@numba.njit(cache=True, inline="always")
def _delta_constants(kinetic: float) -> DeltaConstants:
    """What knock-on sampling needs of the muon, MeV units (§2.2): (T_max, E, β²/T_max, 1/(2E²),
    f_max, t_one, (E + m_e)/p) — reciprocals, so that a draw multiplies instead of dividing.

    Below t_one the radiative factor 1 + rad·l1·(l2 − l1) is ≥ 1 (l2 − l1 falls with t and vanishes
    there), so a draw under the spin factor is accepted without the two logarithms. A muon step
    computes these once and refreshes them only when its energy has changed by more than 1 %: T_max
    then moves by < 2 %, and a transfer above the true T_max has a probability of 0.017 MeV / T_max per
    knock-on (4·10⁻⁷ at 50 GeV).
    """
    t_max = _max_transfer(kinetic)
    e = kinetic + MUON_MASS
    p2 = kinetic * (kinetic + 2.0 * MUON_MASS)
    f_max = 1.0 + ALPHA / (2.0 * math.pi) * math.log(2.0 * e / MUON_MASS) ** 2
    m2 = MUON_MASS * MUON_MASS
    t_one = (4.0 * e * e / m2 - 1.0) / (4.0 * e / m2 + 2.0 / ELECTRON_MASS)
    beta2 = p2 / (e * e)
    return t_max, e, beta2 / t_max, 0.5 / (e * e), f_max, t_one, (e + ELECTRON_MASS) / math.sqrt(p2)


@numba.njit(cache=True, inline="always")
def _sample_delta(rng: State, constants: DeltaConstants, cut: float) -> float:
    """Knock-on energy: 1/T² on [cut, T_max], accepted with the spin and radiative factors (§2.2)."""
    t_max, e, beta2_per_t_max, inv_2e2, f_max, t_one, _ = constants
    rad = ALPHA / (2.0 * math.pi)
    m2 = MUON_MASS * MUON_MASS
    while True:
        u, test = uniform_pair(rng)  # 32 bits each: T is resolved to < 0.5 MeV even at a T_max of 40 GeV
        t = cut * t_max / (cut * (1.0 - u) + t_max * u)
        spin = 1.0 - beta2_per_t_max * t + t * t * inv_2e2
        test *= f_max
        if t <= t_one and test <= spin:
            return t
        l1 = math.log(1.0 + 2.0 * t / ELECTRON_MASS)
        l2 = math.log(4.0 * e * (e - t) / m2)
        if test <= spin * (1.0 + rad * l1 * (l2 - l1)):
            return t


@numba.njit(cache=True, inline="always")
def _delta_cos(constants: DeltaConstants, transfer: float) -> float:
    """cos θ = T (E + m_e)/(p_δ p) of a knock-on electron of kinetic energy T = ``transfer``."""
    return min(math.sqrt(transfer / (transfer + 2.0 * ELECTRON_MASS)) * constants[6], 1.0)


@numba.njit(cache=True, inline="always")
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


@numba.njit(cache=True, inline="always")
def _distance_out(p: FloatArray, x: float, y: float, z: float, ux: float, uy: float, uz: float) -> float:
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


@numba.njit(cache=True, inline="always")
def _delta_direction(
    rng: State, kinetic: float, transfer: float, ux: float, uy: float, uz: float
) -> tuple[float, float, float]:
    """Direction of a knock-on electron of kinetic energy ``transfer`` from a muon of ``kinetic``."""
    return rotate(rng, ux, uy, uz, _delta_cos(_delta_constants(kinetic), transfer))


@numba.njit(cache=True)
def _interact_delta(
    s: KernelState,
    kinetic: float,
    transfer: float,
    x: float,
    y: float,
    z: float,
    ux: float,
    uy: float,
    uz: float,
) -> float:
    """A knock-on electron of known energy: its shower (or mini-MC); returns the transfer, MeV."""
    dx, dy, dz = _delta_direction(s.rng, kinetic, transfer, ux, uy, uz)
    _secondary(s, KIND_ELECTRON, transfer, x, y, z, dx, dy, dz)
    return transfer


@numba.njit(cache=True)
def _secondary(
    s: KernelState, kind: int, energy: float, x: float, y: float, z: float, ux: float, uy: float, uz: float
) -> None:
    """Hand a secondary to GFlash (at or above E_GF; a recorded shower up to the library's top) or to
    the mini Monte Carlo stack."""
    if energy < s.params[P_EGF]:
        push(s, kind, x, y, z, ux, uy, uz, energy)
        return
    if kind == KIND_PHOTON:  # convert first: the shower starts one free path downstream
        step = math.exp(interp_table(s.photon_table, 1, math.log(energy))) * exponential(s.rng)
        x += step * ux
        y += step * uy
        z += step * uz
        if cell_of(s, x, y, z) < 0:
            escape(s, energy)
            return
    elif kind == KIND_POSITRON:  # the positron's annihilation energy belongs to its shower
        energy += 2.0 * ELECTRON_MASS
    if not library_replay(s, KIND_SHOWER, energy, x, y, z, ux, uy, uz):  # a recorded shower, if small
        gflash_shower(s, energy, x, y, z, ux, uy, uz)


@numba.njit(cache=True)
def _interact(
    s: KernelState,
    process: int,
    kinetic: float,
    x: float,
    y: float,
    z: float,
    ux: float,
    uy: float,
    uz: float,
) -> float:
    """Sample one discrete interaction, create its secondaries; returns the energy transfer, MeV."""
    p = s.params
    rng = s.rng
    e = kinetic + MUON_MASS
    if process == 0:  # knock-on electron
        transfer = _sample_delta(rng, _delta_constants(kinetic), p[P_ECUT])
        return _interact_delta(s, kinetic, transfer, x, y, z, ux, uy, uz)
    k, frac = _table_position(s.mu_log_t, math.log(kinetic))
    if uniform(rng) < frac:  # statistical interpolation between the table nodes
        k += 1
    x_scaled = _sample_x(s.mu_cdf[process - 1, k], uniform(rng))
    if process == 1:  # bremsstrahlung photon along the muon
        lo = p[P_GCUT]
        hi = kinetic
    elif process == 2:  # pair (total energies of e+ and e−)
        lo = 4.0 * ELECTRON_MASS
        hi = e - 0.75 * SQRT_E * MUON_MASS * p[P_ZMIN] ** (1.0 / 3.0)
    else:  # photonuclear
        lo = 200.0
        hi = e - 0.5 * PROTON_MASS
    if hi <= lo:
        return 0.0
    transfer = lo * math.exp(x_scaled * math.log(hi / lo))
    if process == 1:
        _secondary(s, KIND_PHOTON, transfer, x, y, z, ux, uy, uz)
    elif process == 2:
        v = transfer / e
        rho_max = (1.0 - 6.0 * MUON_MASS * MUON_MASS / (e * e * (1.0 - v))) * math.sqrt(
            max(0.0, 1.0 - 4.0 * ELECTRON_MASS / transfer)
        )
        r = max(rho_max, 0.0) * (2.0 * uniform(rng) - 1.0)  # uniform asymmetry, as Geant4
        t_minus = max(0.5 * (1.0 - r) * transfer - ELECTRON_MASS, 0.0)
        t_plus = transfer - 2.0 * ELECTRON_MASS - t_minus
        _secondary(s, KIND_ELECTRON, t_minus, x, y, z, ux, uy, uz)
        _secondary(s, KIND_POSITRON, t_plus, x, y, z, ux, uy, uz)
    else:  # hadronic final state [U]: the visible part showers like an EM cascade
        visible = p[P_HAD_VIS] * transfer
        s.tally[TALLY_INVISIBLE] += transfer - visible
        _secondary(s, KIND_ELECTRON, visible, x, y, z, ux, uy, uz)
    return float(transfer)


@numba.njit(cache=True, inline="always")
def _total_rate(rate: FloatArray, enabled: FloatArray, k: int, frac: float) -> float:
    total = 0.0
    for proc in range(4):
        total += enabled[proc] * (rate[proc, k] + frac * (rate[proc, k + 1] - rate[proc, k]))
    return total


@numba.njit(cache=True, inline="always")
def _choose(rate: FloatArray, enabled: FloatArray, k: int, frac: float, pick: float) -> int:
    for proc in range(4):
        r = enabled[proc] * (rate[proc, k] + frac * (rate[proc, k + 1] - rate[proc, k]))
        if pick < r:
            return proc
        pick -= r
    return 0


@numba.njit(cache=True)
def transport_muon(s: KernelState, kinetic: float, charge: float, x: float, y: float, z: float) -> float:
    """Transport one muon of kinetic energy ``kinetic`` (MeV) from (x, y, z) along +z.

    Returns the kinetic energy (MeV) with which it leaves the block (0 if it stops).
    """
    p = s.params
    rng = s.rng
    log_t_grid = s.mu_log_t
    rate = s.mu_rate
    dedx = s.mu_dedx
    # arrays for the knock-on electrons, handled here: they are most of the interactions
    grid = s.grid
    touched = s.touched
    counters = s.counters
    tally = s.tally
    lib_index = s.lib_index
    lib_points = s.lib_points
    lib_meta = s.lib_meta
    e_cut = p[P_ECUT]
    e_gflash = p[P_EGF]
    geo = geometry(p)
    electron_ln_e0 = lib_meta[KIND_ELECTRON, 0]
    electron_inv_step = 1.0 / lib_meta[KIND_ELECTRON, 1]
    electron_nodes = int(lib_meta[KIND_ELECTRON, 2])
    electron_histories = int(lib_meta[KIND_ELECTRON, 3])
    electron_first = int(lib_meta[KIND_ELECTRON, 4])
    ux, uy, uz = 0.0, 0.0, 1.0
    curvature = _CURVATURE * charge * p[P_FIELD]
    enabled = np.array([1.0, p[P_BREMS], p[P_PAIR], p[P_NUCL]])
    if z < 0.0:  # the vacuum in front of the block: the field bends the track already
        p_mev = math.sqrt(kinetic * (kinetic + 2.0 * MUON_MASS))
        x, y, z, ux, uy, uz = _helix(x, y, z, ux, uy, uz, -z / uz, curvature / p_mev)
        z = max(z, 0.0)
    if cell_of(s, x, y, z) < 0:
        return kinetic
    x0_mm = p[P_X0]
    while True:
        if kinetic <= _STOP_MEV:
            deposit_point(s, x, y, z, kinetic)
            return 0.0
        k, frac = _table_position(log_t_grid, math.log(kinetic))
        total = _total_rate(rate, enabled, k, frac)
        per_mm = dedx[k] + frac * (dedx[k + 1] - dedx[k])
        s_out = _distance_out(p, x, y, z, ux, uy, uz)
        # the tables are read at the step's start: a slow muon steps short enough to lose < 5 %
        step = min(s_out, p[P_MAX_STEP], max(_STEP_LOSS * kinetic / per_mm, 0.1) if per_mm > 0.0 else s_out)
        leaves = s_out <= step
        e = kinetic + MUON_MASS
        p_mev = math.sqrt(kinetic * (kinetic + 2.0 * MUON_MASS))
        nx, ny, nz, vx, vy, vz = _helix(x, y, z, ux, uy, uz, step, curvature / p_mev)
        if p[P_MS] > 0.0 and step > 0.0:
            theta0 = 13.6 * e / (p_mev * p_mev) * math.sqrt(step / x0_mm * p[P_HIGHLAND])
            e1x, e1y, e1z, e2x, e2y, e2z = orthonormal_basis(vx, vy, vz)
            a1, a2 = normal_pair(rng)
            b1, b2 = normal_pair(rng)
            d1 = step * theta0 * (a1 * _INV_SQRT12 + b1 * 0.5)
            d2 = step * theta0 * (a2 * _INV_SQRT12 + b2 * 0.5)
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
        shape_per_mm = 0.0
        if p[P_FLUCT] > 0.0 and per_mm > 0.0:
            t_max = _max_transfer(kinetic)
            cut = min(p[P_ECUT], t_max)
            beta2 = p_mev * p_mev / (e * e)
            variance_per_mm = p[P_BOHR] / beta2 * cut * (1.0 - 0.5 * beta2 * cut / t_max)
            if variance_per_mm > 0.0:  # Gamma with the mean and the Bohr variance (§2.3), per cell
                shape_per_mm = per_mm * per_mm / variance_per_mm
        kinetic -= deposit_loss(s, x, y, z, nx, ny, nz, per_mm, shape_per_mm, kinetic)
        # the discrete interactions of the step: a Poisson number at uniform places on its chord
        # (the rates change by < 0.1 % over a step, so this equals sampling the free paths one by one)
        n_interactions = poisson(rng, total * step)
        if n_interactions > 0:
            # the muon's frame and the knock-on kinematics, shared by the step's interactions
            m1x, m1y, m1z, m2x, m2y, m2z = orthonormal_basis(ux, uy, uz)
            delta = _delta_constants(kinetic)
            delta_kinetic = kinetic
            delta_rate = enabled[0] * (rate[0, k] + frac * (rate[0, k + 1] - rate[0, k]))
        for _ in range(n_interactions):
            if kinetic <= _STOP_MEV:
                break
            f, pick = uniform_pair(rng)  # the place on the chord and the process
            px, py, pz = x + f * (nx - x), y + f * (ny - y), z + f * (nz - z)
            pick *= total
            process = 0 if pick < delta_rate else _choose(rate, enabled, k, frac, pick)
            if process == 0:
                if abs(kinetic - delta_kinetic) > 1e-2 * kinetic:  # a large loss earlier in the step
                    delta = _delta_constants(kinetic)
                    delta_kinetic = kinetic
                transfer = _sample_delta(rng, delta, e_cut)
                if transfer < e_gflash:
                    kinetic -= transfer
                    if transfer < _ELECTRON_LOCAL_MEV:  # range < 0.8 mm
                        cell = cell_at(geo, px, py, pz)
                        if cell < 0:
                            tally[TALLY_ESCAPED] += transfer
                        else:
                            grid_add(grid, touched, counters, cell, transfer)
                        continue
                    # the electron's direction d at the kinematic angle and a random azimuth φ
                    # around the muon, and a frame (a, b, d) turned by a second random azimuth ψ
                    # for the history: all from the muon's frame, without square roots or rejection
                    cos_t = _delta_cos(delta, transfer)
                    sin_t = math.sqrt(max(0.0, 1.0 - cos_t * cos_t))
                    u_history, phi, psi = uniform_and_two_azimuths(rng)
                    c, sn = AZIMUTH[0, phi], AZIMUTH[1, phi]
                    wx, wy, wz = c * m1x + sn * m2x, c * m1y + sn * m2y, c * m1z + sn * m2z
                    dx, dy, dz = cos_t * ux + sin_t * wx, cos_t * uy + sin_t * wy, cos_t * uz + sin_t * wz
                    node = math.floor((math.log(transfer) - electron_ln_e0) * electron_inv_step + 0.5)
                    if 0 <= node < electron_nodes:
                        h = (
                            electron_first
                            + node * electron_histories
                            + min(int(u_history * electron_histories), electron_histories - 1)
                        )
                        # (a0, b0, d) right-handed: a0 = cos θ w − sin θ u, b0 = u × w
                        a0x = cos_t * wx - sin_t * ux
                        a0y = cos_t * wy - sin_t * uy
                        a0z = cos_t * wz - sin_t * uz
                        b0x, b0y, b0z = c * m2x - sn * m1x, c * m2y - sn * m1y, c * m2z - sn * m1z
                        c, sn = AZIMUTH[0, psi], AZIMUTH[1, psi]
                        ax, ay, az = c * a0x + sn * b0x, c * a0y + sn * b0y, c * a0z + sn * b0z
                        bx, by, bz = c * b0x - sn * a0x, c * b0y - sn * a0y, c * b0z - sn * a0z
                        # minimc.replay_directed written out: as a call it reference-counts its
                        # nine array arguments, which costs more than the replay
                        n_touched = counters[C_TOUCHED]
                        escaped = 0.0
                        for i_point in range(lib_index[h], lib_index[h + 1]):
                            qx = lib_points[i_point, 0]
                            qy = lib_points[i_point, 1]
                            qz = lib_points[i_point, 2]
                            e_point = lib_points[i_point, 3] * transfer
                            cell = cell_at(
                                geo,
                                px + qx * ax + qy * bx + qz * dx,
                                py + qx * ay + qy * by + qz * dy,
                                pz + qx * az + qy * bz + qz * dz,
                            )
                            if cell < 0:
                                escaped += e_point
                            else:
                                value = grid[cell]
                                touched[n_touched] = cell  # kept only if it was empty (see grid_add)
                                n_touched += value == 0.0
                                grid[cell] = value + e_point
                        counters[C_TOUCHED] = n_touched
                        if escaped > 0.0:
                            tally[TALLY_ESCAPED] += escaped
                        continue
                    push(s, KIND_ELECTRON, px, py, pz, dx, dy, dz, transfer)
                    run_stack(s)
                    continue
                kinetic -= _interact_delta(s, kinetic, transfer, px, py, pz, ux, uy, uz)  # it showers
                run_stack(s)
                continue
            kinetic -= _interact(s, process, kinetic, px, py, pz, ux, uy, uz)
            run_stack(s)
        x, y, z, ux, uy, uz = nx, ny, nz, vx, vy, vz
        if leaves:
            return kinetic
