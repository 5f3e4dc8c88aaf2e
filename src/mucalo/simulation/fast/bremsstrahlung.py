"""Muon bremsstrahlung, Kelner–Kokoulin–Petrukhin, as ``G4MuBremsstrahlungModel`` (PHYSICS.md §3)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mucalo.simulation.fast.constants import (
    ALPHA,
    CLASSICAL_ELECTRON_RADIUS_CM,
    ELECTRON_MASS,
    MUON_MASS,
    SQRT_E,
)

__all__ = ["brems_dcs"]

FloatArray = npt.NDArray[np.float64]


def brems_dcs(z: int, a: float, kinetic: npt.ArrayLike, photon: npt.ArrayLike) -> FloatArray:
    """dσ/dε per atom of (Z, A) for a photon of energy ε = ``photon`` (MeV), in cm²/MeV.

    ``kinetic`` (muon T, MeV) and ``photon`` broadcast against each other; zero outside 0 < ε ≤ T.
    """
    t = np.asarray(kinetic, dtype=np.float64)
    eps = np.asarray(photon, dtype=np.float64)
    e = t + MUON_MASS
    v = eps / e
    ok = (eps > 0.0) & (eps <= t)
    one_minus = np.clip(e - eps, 1e-300, None)
    delta = MUON_MASS * MUON_MASS * eps / (2.0 * e * one_minus)
    big_b, big_b_prime = (202.4, 446.0) if z == 1 else (183.0, 1429.0)
    z13 = z ** (-1.0 / 3.0)
    d_n = 1.54 * a**0.27
    d_n_prime = d_n ** (1.0 - 1.0 / z)
    b_z = big_b * z13
    phi_n = np.log(
        b_z
        * (MUON_MASS + delta * (d_n_prime * SQRT_E - 2.0))
        / (d_n_prime * (ELECTRON_MASS + delta * SQRT_E * b_z))
    )
    phi_n = np.clip(phi_n, 0.0, None)
    bp_z = big_b_prime * z13 * z13
    eps_e_max = e / (1.0 + MUON_MASS * MUON_MASS / (2.0 * ELECTRON_MASS * e))
    phi_e = np.log(
        bp_z
        * MUON_MASS
        / (
            (1.0 + delta * MUON_MASS / (ELECTRON_MASS * ELECTRON_MASS * SQRT_E))
            * (ELECTRON_MASS + delta * SQRT_E * bp_z)
        )
    )
    phi_e = np.where(eps < eps_e_max, np.clip(phi_e, 0.0, None), 0.0)
    norm = (16.0 / 3.0) * ALPHA * (CLASSICAL_ELECTRON_RADIUS_CM * ELECTRON_MASS / MUON_MASS) ** 2
    dcs = norm / np.where(ok, eps, 1.0) * (1.0 - v + 0.75 * v * v) * z * (z * phi_n + phi_e)
    return np.asarray(np.where(ok, dcs, 0.0))
