"""Direct e+e− pair production by muons, Kokoulin–Petrukhin, as ``G4MuPairProductionModel`` (§4).

The pair energy ε is the sum of the total energies of e+ and e−. The integral over the asymmetry ρ
uses t = ln(1 − ρ) with an 8-point Gauss–Legendre rule, as Geant4 does.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from mucalo.simulation.fast.constants import (
    ALPHA,
    CLASSICAL_ELECTRON_RADIUS_CM,
    ELECTRON_MASS,
    MUON_MASS,
    SQRT_E,
)
from mucalo.simulation.fast.quadrature import gauss_legendre

__all__ = ["pair_dcs", "pair_energy_limits", "pair_max_asymmetry"]

FloatArray = npt.NDArray[np.float64]

_MIN_PAIR_ENERGY = 4.0 * ELECTRON_MASS
_RHO_ORDER = 8


def pair_energy_limits(z: int, kinetic: npt.ArrayLike) -> tuple[float, FloatArray]:
    """(ε_min, ε_max) of the pair energy for element Z and muon kinetic energy T, MeV."""
    e = np.asarray(kinetic, dtype=np.float64) + MUON_MASS
    eps_max = e - 0.75 * SQRT_E * MUON_MASS * z ** (1.0 / 3.0)
    return _MIN_PAIR_ENERGY, np.asarray(eps_max)


def pair_max_asymmetry(kinetic: npt.ArrayLike, pair: npt.ArrayLike) -> FloatArray:
    """ρ_max = [1 − 6m_μ²/(E²(1 − v))] √(1 − 4m_e/ε), clipped at 0."""
    e = np.asarray(kinetic, dtype=np.float64) + MUON_MASS
    eps = np.asarray(pair, dtype=np.float64)
    v = eps / e
    first = 1.0 - 6.0 * MUON_MASS * MUON_MASS / (e * e * np.clip(1.0 - v, 1e-300, None))
    second = np.sqrt(np.clip(1.0 - _MIN_PAIR_ENERGY / eps, 0.0, None))
    return np.asarray(np.clip(first * second, 0.0, None))


def _zeta(z: int, e: FloatArray) -> FloatArray:
    gamma1, gamma2 = (4.4e-5, 4.8e-5) if z == 1 else (1.95e-5, 5.3e-5)
    r = e / MUON_MASS
    num = 0.073 * np.log(r / (1.0 + gamma1 * z ** (2.0 / 3.0) * r)) - 0.26
    den = 0.058 * np.log(r / (1.0 + gamma2 * z ** (1.0 / 3.0) * r)) - 0.14
    return np.where(num > 0.0, num / np.where(den != 0.0, den, 1.0), 0.0)


def _phi_sum(z: int, e: FloatArray, v: FloatArray, rho: FloatArray) -> FloatArray:
    """Φ_e + (m_e/m_μ)² Φ_μ at asymmetry ρ (all arrays broadcast)."""
    big_b = 202.4 if z == 1 else 183.0
    z13 = z ** (1.0 / 3.0)
    rho2 = rho * rho
    one_m_rho2 = np.clip(1.0 - rho2, 1e-300, None)
    beta = v * v / (2.0 * (1.0 - v))
    xi = np.clip((MUON_MASS * v / (2.0 * ELECTRON_MASS)) ** 2 * one_m_rho2 / (1.0 - v), 1e-300, None)
    # electron term
    b_e_full = (
        ((2.0 + rho2) * (1.0 + beta) + xi * (3.0 + rho2)) * np.log1p(1.0 / xi)
        + (1.0 - rho2 - beta) / (1.0 + xi)
        - (3.0 + rho2)
    )
    b_e_asym = ((3.0 - rho2) + 2.0 * beta * (1.0 + rho2)) / (2.0 * xi)
    b_e = np.where(xi >= 1e3, b_e_asym, b_e_full)
    y_e = (5.0 - rho2 + 4.0 * beta * (1.0 + rho2)) / (
        2.0 * (1.0 + 3.0 * beta) * np.log(3.0 + 1.0 / xi) - rho2 - 2.0 * beta * (2.0 - rho2)
    )
    screen = 2.0 * ELECTRON_MASS * SQRT_E * big_b / z13 / (e * v * one_m_rho2)
    s_e = 1.0 + screen * (1.0 + xi) * (1.0 + y_e)
    l_e = np.log(big_b / z13 * np.sqrt((1.0 + xi) * (1.0 + y_e)) / s_e) - 0.5 * np.log1p(
        (1.5 * ELECTRON_MASS * z13 / MUON_MASS) ** 2 * (1.0 + xi) * (1.0 + y_e)
    )
    phi_e = np.clip(b_e * l_e, 0.0, None)
    # muon term
    b_mu_full = (
        ((1.0 + rho2) * (1.0 + 1.5 * beta) - (1.0 + 2.0 * beta) * (1.0 - rho2) / xi) * np.log1p(xi)
        + xi * (1.0 - rho2 - beta) / (1.0 + xi)
        + (1.0 + 2.0 * beta) * (1.0 - rho2)
    )
    b_mu_asym = 0.5 * xi * ((5.0 - rho2) + beta * (3.0 + rho2))
    b_mu = np.where(xi <= 1e-3, b_mu_asym, b_mu_full)
    y_mu = (4.0 + rho2 + 3.0 * beta * (1.0 + rho2)) / (
        (1.0 + rho2) * (1.5 + 2.0 * beta) * np.log(3.0 + xi) + 1.0 - 1.5 * rho2
    )
    s_mu = 1.0 + screen * (1.0 + xi) * (1.0 + y_mu)
    l_mu = np.log(big_b * (MUON_MASS / ELECTRON_MASS) / (1.5 * z13 * z13 * s_mu))
    phi_mu = np.clip(b_mu * l_mu, 0.0, None)
    return np.asarray(phi_e + (ELECTRON_MASS / MUON_MASS) ** 2 * phi_mu)


def pair_dcs(z: int, kinetic: npt.ArrayLike, pair: npt.ArrayLike) -> FloatArray:
    """dσ/dε per atom of element Z for pair energy ε = ``pair`` (MeV), in cm²/MeV.

    ``kinetic`` and ``pair`` broadcast; zero outside [4m_e, ε_max].
    """
    t = np.asarray(kinetic, dtype=np.float64)
    eps = np.asarray(pair, dtype=np.float64)
    t, eps = np.broadcast_arrays(t, eps)
    e = t + MUON_MASS
    _, eps_max = pair_energy_limits(z, t)
    ok = (eps >= _MIN_PAIR_ENERGY) & (eps <= eps_max)
    eps_safe = np.where(ok, eps, 0.5 * (_MIN_PAIR_ENERGY + np.maximum(eps_max, 1.0)))
    eps_safe = np.where(ok, eps_safe, np.minimum(eps_safe, e * 0.5))
    v = eps_safe / e
    rho_max = pair_max_asymmetry(t, eps_safe)
    ok &= rho_max > 0.0
    t_min = np.log(np.clip(1.0 - rho_max, 1e-300, None))
    nodes, weights = gauss_legendre(_RHO_ORDER)
    tt = t_min[..., None] * (1.0 - nodes)  # from t_min (u = 0) to 0 (u = 1)
    rho = 1.0 - np.exp(tt)
    integrand = _phi_sum(z, e[..., None], v[..., None], rho) * np.exp(tt)
    rho_integral = (integrand * weights).sum(axis=-1) * (-t_min)
    zeta = _zeta(z, e)
    norm = 4.0 / (3.0 * math.pi) * (ALPHA * CLASSICAL_ELECTRON_RADIUS_CM) ** 2
    dcs = norm * z * (z + zeta) * (1.0 - v) / eps_safe * rho_integral
    return np.asarray(np.where(ok, dcs, 0.0))
