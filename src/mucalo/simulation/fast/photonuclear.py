"""Muon photonuclear interaction, Borog–Petrukhin in Kokoulin's form (``G4KokoulinMuonNuclearXS``, §5).

Off by default: the Geant4 reference samples have no muon–nuclear process.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from mucalo.simulation.fast.constants import ALPHA, MUON_MASS, PROTON_MASS

__all__ = ["PHOTONUCLEAR_MIN_TRANSFER", "photonuclear_dcs", "photonuclear_max_transfer"]

FloatArray = npt.NDArray[np.float64]

PHOTONUCLEAR_MIN_TRANSFER = 200.0  # MeV, the lower limit of the parametrisation
_LAMBDA2 = 0.4e6  # Λ² = 0.4 GeV², in MeV²
_MICROBARN_CM2 = 1e-30


def photonuclear_max_transfer(kinetic: npt.ArrayLike) -> FloatArray:
    """Upper limit of the transfer, E − M_p/2, MeV."""
    return np.asarray(np.asarray(kinetic, dtype=np.float64) + MUON_MASS - 0.5 * PROTON_MASS)


def photonuclear_dcs(a: float, kinetic: npt.ArrayLike, transfer: npt.ArrayLike) -> FloatArray:
    """dσ/dε per nucleus of mass number A for energy transfer ε (MeV), in cm²/MeV."""
    t = np.asarray(kinetic, dtype=np.float64)
    eps = np.asarray(transfer, dtype=np.float64)
    e = t + MUON_MASS
    ok = (eps > PHOTONUCLEAR_MIN_TRANSFER) & (eps < photonuclear_max_transfer(t))
    eps_safe = np.where(ok, eps, PHOTONUCLEAR_MIN_TRANSFER * 1.5)
    v = np.clip(eps_safe / e, 0.0, 1.0 - 1e-12)
    lam = math.sqrt(_LAMBDA2)
    eps_gev = eps_safe * 1e-3
    sigma_gamma_n = (49.2 + 11.1 * np.log(eps_gev) + 151.8 / np.sqrt(eps_gev)) * _MICROBARN_CM2
    a_eff = 0.22 * a + 0.78 * a**0.89
    m2 = MUON_MASS * MUON_MASS
    log_arg = (e * e * (1.0 - v) / m2) * (1.0 + m2 * v * v / (_LAMBDA2 * (1.0 - v)))
    log_arg /= 1.0 + (eps_safe / lam) * (1.0 + lam / (2.0 * PROTON_MASS) + eps_safe / lam)
    bracket = -(1.0 - v) + (1.0 - v + 0.5 * v * v * (1.0 + 2.0 * m2 / _LAMBDA2)) * np.log(log_arg)
    dcs = (ALPHA / math.pi) * a_eff * sigma_gamma_n / eps_safe * bracket
    return np.asarray(np.where(ok, np.clip(dcs, 0.0, None), 0.0))
