"""Grindhammer–Peters (GFlash) electromagnetic showers in a homogeneous medium (PHYSICS.md §8.1–8.2).

Each shower draws its own longitudinal profile (correlated ln T, ln α) and deposits its energy in
spots. Spot depths follow the spot profile (stratified: one pass over the CDF) and carry the weight
energy-profile/spot-profile; each spot is a core or a tail spot with the G–P probability at its
depth, and gets a radius from that component's profile.

Departures from plain GFlash, tuned against the Geant4 reference (PHYSICS.md §8.4, [U]): a cell of
the sparse periphery would otherwise receive one equal-energy spot of several MeV, where Geant4 has a
continuum of 0.1–3 MeV deposits from Compton electrons and photo-absorbed photons. So

- spot energies carry Gamma-distributed random factors (``spot_energy_shape``; drawn from a
  quantile table, exact in the tail);
- a tail spot is deposited as ``tail_split`` pieces at independent radii, each with its own Gamma
  energy factor (drawn as the spot's Gamma(P·a) total and Dirichlet shares of it, which is the same
  distribution with one normalisation per spot);
- a fraction ``halo_fraction`` of the spots become soft photons (1/k spectrum) emitted isotropically
  from the core and replayed from the photon library, which populates the low-energy halo;
- core spots, which land in cells that receive many, are thinned (``core_spot_fraction``) and
  weighted up, which keeps the cost per GeV down.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

from mucalo.simulation.fast.deposit import cell_at, deposit_point, geometry
from mucalo.simulation.fast.minimc import (
    KIND_PHOTON,
    isotropic,
    orthonormal_basis,
    push,
    run_stack,
)
from mucalo.simulation.fast.params import (
    P_CORE_KEEP,
    P_EC,
    P_HALO_E,
    P_HALO_FRAC,
    P_HALO_KMAX,
    P_RM,
    P_SPOT_SHAPE,
    P_SPOTS,
    P_TAIL_SPLIT,
    P_X0,
    P_ZEFF,
)
from mucalo.simulation.fast.rng import AZIMUTH, gamma_tail, normal, uniform, uniform_and_azimuth
from mucalo.simulation.fast.state import C_RECORDING, C_STACK, C_TOUCHED, TALLY_ESCAPED, KernelState

__all__ = ["gflash_shower"]

FloatArray = npt.NDArray[np.float64]
State = npt.NDArray[np.uint64]

_GRID = 48  # depth nodes of a shower's profile tables
_LOG_NODE = np.log(np.maximum(np.arange(_GRID), 1.0))  # ln i of the nodes (a compiled-in constant)


@numba.njit(cache=True)
def _profile(state: State, energy: float, z_eff: float, e_c: float) -> tuple[float, float, float]:
    """(T_i, α_i, ᾱ) of one shower: correlated log-normal fluctuations around G–P's means."""
    ln_y = math.log(energy / e_c)
    mean_ln_t = math.log(max(ln_y - 0.812, 0.05))
    sigma_t = 1.0 / max(-1.4 + 1.26 * ln_y, 0.5)
    mean_ln_a = math.log(0.81 + (0.458 + 2.26 / z_eff) * ln_y)
    sigma_a = 1.0 / max(-0.58 + 0.86 * ln_y, 0.5)
    rho = 0.705 - 0.023 * ln_y
    a_plus = math.sqrt(0.5 * (1.0 + rho))
    a_minus = math.sqrt(0.5 * (1.0 - rho))
    for _ in range(100):
        z1 = normal(state)
        z2 = normal(state)
        depth_max = math.exp(mean_ln_t + sigma_t * (z1 * a_plus + z2 * a_minus))
        alpha = math.exp(mean_ln_a + sigma_a * (z1 * a_plus - z2 * a_minus))
        if alpha > 1.0:  # redraw, as CMS does
            return depth_max, alpha, math.exp(mean_ln_a)
    return math.exp(mean_ln_t), max(math.exp(mean_ln_a), 1.05), max(math.exp(mean_ln_a), 1.05)


@numba.njit(cache=True)
def gflash_shower(
    s: KernelState, energy: float, x: float, y: float, z: float, ux: float, uy: float, uz: float
) -> None:
    """Deposit an EM shower of ``energy`` MeV starting at (x, y, z) along unit vector u.

    Spot buffers live in ``s.scratch``; larger showers allocate their own.
    """
    p = s.params
    state = s.rng
    z_eff = p[P_ZEFF]
    x0_mm = p[P_X0]
    rm_mm = p[P_RM]
    depth_max, alpha, alpha_mean = _profile(state, energy, z_eff, p[P_EC])
    beta = (alpha - 1.0) / depth_max
    spot_alpha = max(alpha * (0.639 + 0.00334 * z_eff), 1.0001)
    spot_beta = (spot_alpha - 1.0) / (depth_max * (0.698 + 0.00212 * z_eff))
    # per-shower tables on a depth grid (in X0): spot-profile CDF, energy/spot weight, radial shape
    # the grid spans 7 standard deviations past the mean of both profiles, but at most 1.5 times that
    # of the energy profile: for α ≲ 1.15 the spot profile's α is clamped near 1, and its own span (
    # thousands of X0) would leave the whole energy profile inside the first node
    energy_top = (alpha + 7.0 * math.sqrt(alpha)) / beta
    t_top = min(max((spot_alpha + 7.0 * math.sqrt(spot_alpha)) / spot_beta, energy_top), 1.5 * energy_top)
    dt = t_top / (_GRID - 1)
    tables = np.empty((5, _GRID))  # one allocation per shower
    cdf = tables[0]
    log_w = tables[1]
    core_prob = tables[2]
    core_radius = tables[3]
    tail_radius = tables[4]
    e_gev = energy * 1e-3
    ln_e = math.log(e_gev)
    tau_scale = (alpha - 1.0) / alpha * alpha_mean / max(alpha_mean - 1.0, 0.05) / depth_max
    z1 = 0.0251 + 0.00319 * ln_e
    z2 = 0.1162 - 0.000381 * z_eff
    k1 = 0.659 - 0.00309 * z_eff
    k4 = 0.3585 + 0.0421 * ln_e
    p1 = 2.632 - 0.00094 * z_eff
    p2 = 0.401 + 0.00187 * z_eff
    p3 = 1.313 - 0.0686 * ln_e
    # node 0 sits at t = 10⁻³ dt (the profiles diverge or vanish at 0); nodes i ≥ 1 at t = i dt,
    # where ln(t/t_top) = ln i + ln(dt/t_top) and the radial exponentials of τ = i dt τ_scale are
    # geometric in i: one multiplication per node instead of an exponential
    log_dt = math.log(dt / t_top)
    d_tau = dt * tau_scale
    tail_near = math.exp(-2.59 * (d_tau - 0.645))
    tail_near_ratio = math.exp(-2.59 * d_tau)
    tail_far = math.exp(k4 * (d_tau - 0.645))
    tail_far_ratio = math.exp(k4 * d_tau)
    core_arg = math.exp((p2 - d_tau) / p3)
    core_arg_ratio = math.exp(-d_tau / p3)
    previous = 0.0
    total = 0.0
    for i in range(_GRID):
        if i == 0:
            t = 1e-3 * dt
            log_t = math.log(1e-3) + log_dt
            tau = t * tau_scale
            exp_arg = math.exp((p2 - tau) / p3)
            tail = math.exp(-2.59 * (tau - 0.645)) + math.exp(k4 * (tau - 0.645))
        else:
            t = i * dt
            log_t = _LOG_NODE[i] + log_dt
            tau = i * d_tau
            exp_arg = core_arg
            tail = tail_near + tail_far
            core_arg *= core_arg_ratio
            tail_near *= tail_near_ratio
            tail_far *= tail_far_ratio
        density = math.exp((spot_alpha - 1.0) * log_t - spot_beta * (t - t_top))
        if i > 0:
            total += 0.5 * (density + previous) * dt
        previous = density
        cdf[i] = total
        log_w[i] = (alpha - spot_alpha) * log_t - (beta - spot_beta) * t
        core_prob[i] = p1 * exp_arg * math.exp(-exp_arg)
        core_radius[i] = rm_mm * (z1 + z2 * tau)
        tail_radius[i] = rm_mm * k1 * tail
    w_max = -1e300
    for i in range(_GRID):
        cdf[i] /= total
        w_max = max(w_max, log_w[i])
    for i in range(_GRID):  # energy/spot weight at the nodes; interpolated linearly between them
        log_w[i] = math.exp(log_w[i] - w_max)
    mean_spots = p[P_SPOTS] * 93.0 * math.log(z_eff) * e_gev**0.876
    n_spots = max(int(mean_spots + uniform(state)), 1)  # stochastic rounding keeps the mean
    tail_split = max(int(p[P_TAIL_SPLIT]), 1)
    n_entries = max(n_spots, tail_split)
    entries = s.scratch if n_entries <= s.scratch.shape[1] else np.empty((4, n_entries))
    position = entries[0]  # depth, in grid units
    weight = entries[1]  # energy weight
    component = entries[2]  # 0 core, 1 tail, 2 soft photons
    pieces = entries[3]  # the energy shares of one tail spot's pieces
    shape = p[P_SPOT_SHAPE]
    halo = p[P_HALO_FRAC]
    core_keep = p[P_CORE_KEEP]
    not_halo = 1.0 / (1.0 - halo) if halo < 1.0 else 0.0
    quantiles = s.spot_quantiles  # Gamma(a)/a and Gamma(P·a)/(P·a) quantiles, a = shape, P = tail_split
    n_quantiles = quantiles.shape[1]
    # pass 1: stratified spot depths (u_j = (j + U)/n walks the CDF once), components and weights
    i = 0
    n = 0
    w_sum = 0.0
    for j in range(n_spots):
        u = (j + uniform(state)) / n_spots
        while i < _GRID - 2 and cdf[i + 1] <= u:
            i += 1
        width = cdf[i + 1] - cdf[i]
        f = min(max((u - cdf[i]) / width, 0.0), 1.0) if width > 0.0 else 0.5
        w = log_w[i] + f * (log_w[i + 1] - log_w[i])
        # one uniform r decides: soft photons if r < halo; else r' = (r − halo)/(1 − halo) is uniform
        # again, a core spot if r' < p_core, and then r'/p_core is uniform for the thinning
        r = uniform(state)
        if r < halo:
            kind, row = 2.0, 0
        else:
            r = (r - halo) * not_halo
            p_core = core_prob[i] + f * (core_prob[i + 1] - core_prob[i])
            if r < p_core:
                # core spots land in cells that get many spots anyway: keep a fraction, heavier
                if r >= p_core * core_keep:
                    continue
                kind, row = 0.0, 0
                w /= core_keep
            else:  # a tail spot, deposited as P pieces of Gamma(a) energies: their sum is Gamma(P·a)
                kind, row = 1.0, 1
        factor = 1.0
        if shape > 0.0:  # random spot energies give a continuous cell spectrum where spots are sparse
            position_q = uniform(state) * n_quantiles  # quantile table (written out: no array call)
            bin_q = int(position_q)
            if bin_q < n_quantiles - 1:
                low_q = quantiles[row, bin_q]
                factor = low_q + (position_q - bin_q) * (quantiles[row, bin_q + 1] - low_q)
            else:  # the open last bin: the exact tail
                spot_shape = shape * tail_split if row == 1 else shape
                factor = gamma_tail(state, spot_shape, quantiles[row, bin_q] * spot_shape) / spot_shape
        position[n] = i + f
        weight[n] = w * factor
        component[n] = kind
        w_sum += w * factor
        n += 1
    # pass 2: place the spots (core or tail radius at their depth) and deposit their energy
    if n > 0 and w_sum <= 0.0:  # a few spots where the weight underflows: share the energy equally
        for j in range(n):
            weight[j] = 1.0
        w_sum = float(n)
    if n == 0:  # every spot thinned away (a tiny shower): one core spot at the shower maximum
        position[0] = (depth_max / dt) if depth_max / dt < _GRID - 1 else _GRID - 1.5
        weight[0] = 1.0
        component[0] = 0.0
        n = 1
        w_sum = 1.0
    e_scale = energy / w_sum
    e1x, e1y, e1z, e2x, e2y, e2z = orthonormal_basis(ux, uy, uz)
    k_lo = p[P_HALO_E]
    log_k_span = math.log(p[P_HALO_KMAX] / k_lo)
    ln_k_lo = math.log(k_lo)
    recording = s.counters[C_RECORDING] != 0
    grid = s.grid
    touched = s.touched
    counters = s.counters
    tally = s.tally
    lib_index = s.lib_index
    lib_iso = s.lib_iso
    lib_meta = s.lib_meta
    # the photon library's constants, read once: the halo photons replay inline, as a call passing
    # the library arrays costs ~100 ns against a few points each. A halo photon replays one of the
    # pre-rotated histories (lib_iso) turned by one of the 4 rotations that flip an even number of
    # axes (no permutation: the points' axes are read in place) on top of its random orientation.
    n_photon_nodes = 0 if recording else int(lib_meta[KIND_PHOTON, 2])  # none: photons go on the stack
    photon_ln_e0 = lib_meta[KIND_PHOTON, 0]
    photon_inv_step = 1.0 / lib_meta[KIND_PHOTON, 1]
    photon_n_hist = int(lib_meta[KIND_PHOTON, 3])
    photon_first = int(lib_meta[KIND_PHOTON, 4])
    iso_offset = lib_index[photon_first]
    geo = geometry(p)
    n_touched = counters[C_TOUCHED]
    escaped = 0.0
    for j in range(n):
        g = position[j]
        i = min(int(g), _GRID - 2)
        f = g - i
        along = g * dt * x0_mm
        kind = component[j]
        e_spot = weight[j] * e_scale
        cx, cy, cz = x + along * ux, y + along * uy, z + along * uz
        n_pieces = 1  # a core spot or the origin of soft photons: one place, at the core radius
        pieces[0] = 1.0
        share_sum = 1.0
        if kind == 1.0:  # a tail spot: P pieces at independent radii
            radius = tail_radius[i] + f * (tail_radius[i + 1] - tail_radius[i])
            # the pieces' shares are Dirichlet(a, …, a): P independent Gamma(a) draws over their
            # sum, which with the Gamma(P·a) spot total of pass 1 makes P independent Gamma(a) pieces
            n_pieces = tail_split
            share_sum = 0.0
            for k in range(tail_split):
                share = 1.0
                if shape > 0.0:
                    position_q = uniform(state) * n_quantiles
                    bin_q = int(position_q)
                    if bin_q < n_quantiles - 1:
                        low_q = quantiles[0, bin_q]
                        share = low_q + (position_q - bin_q) * (quantiles[0, bin_q + 1] - low_q)
                    else:
                        share = gamma_tail(state, shape, quantiles[0, bin_q] * shape) / shape
                pieces[k] = share
                share_sum += share
            if share_sum <= 0.0:  # every share underflowed: equal pieces
                for k in range(tail_split):
                    pieces[k] = 1.0
                share_sum = float(tail_split)
        else:
            radius = core_radius[i] + f * (core_radius[i + 1] - core_radius[i])
        e_share = e_spot / share_sum
        for piece in range(n_pieces):
            # r = R √(u/(1−u)) with u uniform has the G–P radial law; the azimuth comes with u
            u, azimuth = uniform_and_azimuth(state)
            scale = radius * math.sqrt(u / (1.0 - u))
            c = scale * AZIMUTH[0, azimuth]
            d = scale * AZIMUTH[1, azimuth]
            sx = cx + c * e1x + d * e2x
            sy = cy + c * e1y + d * e2y
            sz = cz + c * e1z + d * e2z
            e_piece = pieces[piece] * e_share
            if kind == 2.0:  # the spot's energy leaves the core as soft photons
                left = e_piece
                while left > 0.0:
                    ln_k = ln_k_lo + uniform(state) * log_k_span  # 1/k spectrum
                    k = math.exp(ln_k)
                    if k > left:  # the last photon takes what is left
                        k = left
                        ln_k = math.log(k)
                    left -= k
                    # replay from the photon library (see above)
                    node = math.floor((ln_k - photon_ln_e0) * photon_inv_step + 0.5)
                    if node < 0 or node >= n_photon_nodes:  # outside the library: transported later
                        vx, vy, vz = isotropic(state)
                        counters[C_TOUCHED] = n_touched  # a full stack deposits in place
                        push(s, KIND_PHOTON, sx, sy, sz, vx, vy, vz, k)
                        n_touched = counters[C_TOUCHED]
                        continue
                    u_history, flips = uniform_and_azimuth(state)
                    h = (
                        photon_first
                        + node * photon_n_hist
                        + min(int(u_history * photon_n_hist), photon_n_hist - 1)
                    )
                    sign_a = 1.0 if (flips & 1) == 0 else -1.0
                    sign_b = 1.0 if (flips & 2) == 0 else -1.0
                    sign_c = sign_a * sign_b  # proper rotations only: an even number of sign flips
                    photon_escaped = 0.0
                    for i_point in range(lib_index[h] - iso_offset, lib_index[h + 1] - iso_offset):
                        e_point = lib_iso[i_point, 3] * k
                        cell = cell_at(
                            geo,
                            sx + sign_a * lib_iso[i_point, 0],
                            sy + sign_b * lib_iso[i_point, 1],
                            sz + sign_c * lib_iso[i_point, 2],
                        )
                        if cell < 0:
                            photon_escaped += e_point
                        else:
                            value = grid[cell]
                            touched[n_touched] = cell  # kept only if it was empty (see grid_add)
                            n_touched += value == 0.0
                            grid[cell] = value + e_point
                    if photon_escaped > 0.0:
                        tally[TALLY_ESCAPED] += photon_escaped
                if counters[C_STACK] > 2048:  # photons beyond the library wait on the stack; keep it short
                    counters[C_TOUCHED] = n_touched
                    run_stack(s)
                    n_touched = counters[C_TOUCHED]
            elif recording:
                deposit_point(s, sx, sy, sz, e_piece)
            else:
                cell = cell_at(geo, sx, sy, sz)
                if cell < 0:
                    escaped += e_piece
                else:
                    value = grid[cell]
                    touched[n_touched] = cell  # kept only if it was empty (see grid_add)
                    n_touched += value == 0.0
                    grid[cell] = value + e_piece
    counters[C_TOUCHED] = n_touched
    if escaped > 0.0:
        tally[TALLY_ESCAPED] += escaped
