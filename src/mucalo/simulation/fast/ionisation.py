"""Muon ionisation: restricted Bethe–Bloch loss and the knock-on electron spectrum (PHYSICS.md §2).

All functions are vectorised numpy over the muon kinetic energy ``kinetic`` (MeV). Losses are MeV/cm,
rates 1/cm; the material enters through :class:`~mucalo.simulation.fast.material.Material`.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from mucalo.simulation.fast.constants import ALPHA, BETHE_K, ELECTRON_MASS, MUON_MASS
from mucalo.simulation.fast.material import Material
from mucalo.simulation.fast.quadrature import integrate_log

__all__ = [
    "delta_ray_rate",
    "delta_ray_shape",
    "delta_ray_shape_max",
    "ionisation_dedx",
    "max_transfer",
]

FloatArray = npt.NDArray[np.float64]

#: Below this transfer (MeV) the radiative correction to knock-on electrons is not applied (Geant4).
_RADIATIVE_CORRECTION_MIN = 0.1


def max_transfer(kinetic: npt.ArrayLike) -> FloatArray:
    """T_max, the largest energy a muon of kinetic energy T can give a free electron, MeV."""
    t = np.asarray(kinetic, dtype=np.float64)
    gamma = (t + MUON_MASS) / MUON_MASS
    beta_gamma2 = gamma * gamma - 1.0
    ratio = ELECTRON_MASS / MUON_MASS
    return 2.0 * ELECTRON_MASS * beta_gamma2 / (1.0 + 2.0 * gamma * ratio + ratio * ratio)


def _density_correction(material: Material, x: FloatArray) -> FloatArray:
    c_bar, x0, x1, a = material.density_effect
    log10 = math.log(10.0)
    mid = 2.0 * log10 * x - c_bar + a * np.clip(x1 - x, 0.0, None) ** 3
    return np.where(x >= x1, 2.0 * log10 * x - c_bar, np.where(x >= x0, mid, 0.0))


def delta_ray_shape(kinetic: npt.ArrayLike, transfer: npt.ArrayLike) -> FloatArray:
    """T² d²N/(dT dx) / ((K/2)⟨Z/A⟩ρ/β²): spin-½ factor times the radiative correction (§2.2)."""
    t = np.asarray(kinetic, dtype=np.float64)
    e = t + MUON_MASS
    beta2 = t * (t + 2.0 * MUON_MASS) / (e * e)
    tr = np.asarray(transfer, dtype=np.float64)
    spin = 1.0 - beta2 * tr / max_transfer(t) + tr * tr / (2.0 * e * e)
    l1 = np.log1p(2.0 * tr / ELECTRON_MASS)
    l2 = np.log(4.0 * e * np.clip(e - tr, 1e-300, None) / (MUON_MASS * MUON_MASS))
    radiative = np.where(tr > _RADIATIVE_CORRECTION_MIN, (ALPHA / (2.0 * math.pi)) * l1 * (l2 - l1), 0.0)
    return np.asarray(np.clip(spin, 0.0, None) * (1.0 + radiative))


def delta_ray_shape_max(kinetic: npt.ArrayLike) -> FloatArray:
    """Majorant of :func:`delta_ray_shape` used for rejection: 1 + (α/2π) ln²(2E/m_μ)."""
    e = np.asarray(kinetic, dtype=np.float64) + MUON_MASS
    return np.asarray(1.0 + (ALPHA / (2.0 * math.pi)) * np.log(2.0 * e / MUON_MASS) ** 2)


def _prefactor(material: Material, kinetic: FloatArray) -> FloatArray:
    e = kinetic + MUON_MASS
    beta2 = kinetic * (kinetic + 2.0 * MUON_MASS) / (e * e)
    return np.asarray(0.5 * BETHE_K * material.z_over_a * material.density_g_cm3 / beta2)


def delta_ray_rate(material: Material, kinetic: npt.ArrayLike, cut: float) -> FloatArray:
    """Number of knock-on electrons with T > ``cut`` (MeV) per cm, radiative correction included."""
    t = np.atleast_1d(np.asarray(kinetic, dtype=np.float64))
    t_max = max_transfer(t)
    out = np.zeros_like(t)
    ok = t_max > cut
    if np.any(ok):
        tk = t[ok]

        def per_log_t(tr: FloatArray, tk: FloatArray = tk) -> FloatArray:
            return delta_ray_shape(tk[:, None], tr) / tr  # dN ∝ shape/T² dT = shape/T dlnT

        integral = integrate_log(per_log_t, np.full_like(tk, cut), t_max[ok])
        out[ok] = _prefactor(material, tk) * integral
    return out.reshape(np.shape(kinetic))


def ionisation_dedx(material: Material, kinetic: npt.ArrayLike, cut: float | None = None) -> FloatArray:
    """Mean ionisation loss −dE/dx in MeV/cm, restricted to transfers below ``cut`` (None: unrestricted).

    Bethe–Bloch with the Sternheimer–Peierls density effect and the radiative correction Δ_rad of
    Kelner, Kokoulin & Petrukhin, as ``G4MuBetheBlochModel`` (§2.1); the shell and higher-order
    corrections (< 0.1 % above 1 GeV) are left out.
    """
    t = np.atleast_1d(np.asarray(kinetic, dtype=np.float64))
    e = t + MUON_MASS
    gamma = e / MUON_MASS
    beta2 = 1.0 - 1.0 / (gamma * gamma)
    beta_gamma2 = gamma * gamma - 1.0
    t_max = max_transfer(t)
    t_up = t_max if cut is None else np.minimum(cut, t_max)
    i_mev = material.mean_excitation_ev * 1e-6
    x = np.log10(np.sqrt(beta_gamma2))
    bracket = (
        np.log(2.0 * ELECTRON_MASS * beta_gamma2 * t_up / (i_mev * i_mev))
        - beta2 * (1.0 + t_up / t_max)
        + (t_up / (2.0 * e)) ** 2
        - _density_correction(material, x)
    )
    # Δ_rad: (α/2π) ∫_{0.1 MeV}^{T_up} dT/T [spin factor] L1 (L2 − L1), the part of shape above 1
    ok = t_up > _RADIATIVE_CORRECTION_MIN
    if np.any(ok):
        tk = t[ok]

        def radiative_part(tr: FloatArray, tk: FloatArray = tk) -> FloatArray:
            return np.asarray(
                delta_ray_shape(tk[:, None], tr)
                - np.clip(delta_ray_shape_spin_only(tk[:, None], tr), 0.0, None)
            )

        corr = integrate_log(
            radiative_part,
            np.full_like(tk, _RADIATIVE_CORRECTION_MIN),
            t_up[ok],
        )
        bracket[ok] += corr
    return (_prefactor(material, t) * bracket).reshape(np.shape(kinetic))


def delta_ray_shape_spin_only(kinetic: npt.ArrayLike, transfer: npt.ArrayLike) -> FloatArray:
    """The spin-½ factor 1 − β²T/T_max + T²/(2E²) alone (no radiative correction)."""
    t = np.asarray(kinetic, dtype=np.float64)
    e = t + MUON_MASS
    beta2 = t * (t + 2.0 * MUON_MASS) / (e * e)
    tr = np.asarray(transfer, dtype=np.float64)
    return np.asarray(1.0 - beta2 * tr / max_transfer(t) + tr * tr / (2.0 * e * e))
