"""Photon attenuation and electron range/yield in PbWO4 for the low-energy mini Monte Carlo (§8.3).

Values from NIST XCOM (no Rayleigh scattering, as in the Geant4 reference) and ESTAR (I = 600.7 eV),
as tabulated in PHYSICS.md §8.3; the kernels interpolate them in log–log.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mucalo.errors import ConfigError
from mucalo.simulation.fast.material import Material

__all__ = ["LowEnergyTables", "low_energy_tables"]

FloatArray = npt.NDArray[np.float64]

# photon energy (MeV), μ/ρ (cm²/g), photo-effect and pair fractions (the rest is Compton)
_PHOTON_K = (0.05, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 0.8, 1, 1.5, 2, 3, 5, 10, 20, 100, 1000, 1e5)
_PHOTON_MU = (
    5.57,
    3.4,
    4.0,
    4.17,
    1.49,
    0.739,
    0.306,
    0.132,
    0.0793,
    0.0657,
    0.0502,
    0.0446,
    0.0405,
    0.0398,
    0.0447,
    0.0546,
    0.0805,
    0.0989,
    0.1010,
)
_PHOTON_PHOTO = (
    0.98,
    0.98,
    0.975,
    0.97,
    0.93,
    0.87,
    0.72,
    0.47,
    0.27,
    0.20,
    0.12,
    0.08,
    0.05,
    0.02,
    0.01,
    0.0,
    0.0,
    0.0,
    0.0,
)
_PHOTON_PAIR = (
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.03,
    0.10,
    0.25,
    0.46,
    0.71,
    0.86,
    0.97,
    1.0,
    1.0,
)
# electron kinetic energy (MeV), CSDA range (mm), radiation yield
_ELECTRON_T = (0.01, 0.1, 0.2, 0.5, 0.8, 1, 2, 5, 10, 20, 50, 100, 1000)
_ELECTRON_RANGE = (0.0008, 0.030, 0.091, 0.34, 0.61, 0.79, 1.67, 3.87, 6.60, 10.4, 16.6, 21.8, 40.0)
_ELECTRON_YIELD = (0.001, 0.008, 0.014, 0.029, 0.041, 0.048, 0.079, 0.154, 0.247, 0.369, 0.544, 0.66, 0.9)


_GRID_POINTS = 512  # uniform ln-energy grid of the kernels' tables (O(1) lookups)


class LowEnergyTables:
    """Tables for the kernels on uniform ln-energy grids (row 0 is the grid).

    Attributes:
        photon: (4, n) rows ln k [MeV], ln λ [mm], photo-effect fraction, pair fraction.
        electron: (3, n) rows ln T [MeV], ln R_CSDA [mm], radiation yield.
    """

    __slots__ = ("electron", "photon")

    def __init__(self, photon: FloatArray, electron: FloatArray) -> None:
        self.photon = photon
        self.electron = electron


def _resample(log_x: FloatArray, rows: list[FloatArray], lo: float, hi: float) -> FloatArray:
    grid = np.linspace(np.log(lo), np.log(hi), _GRID_POINTS)
    return np.vstack([grid, *[np.interp(grid, log_x, row) for row in rows]])


def low_energy_tables(material: Material) -> LowEnergyTables:
    """Tables for ``material``; only PbWO4 has them."""
    if material.name != "G4_PbWO4":
        msg = (
            "detector.material: low-energy photon/electron data exist only for G4_PbWO4, "
            f"got {material.name!r}"
        )
        raise ConfigError(msg)
    log_k = np.log(np.asarray(_PHOTON_K))
    log_lam_mm = np.log(10.0 / (np.asarray(_PHOTON_MU) * material.density_g_cm3))
    photon = _resample(
        log_k, [log_lam_mm, np.asarray(_PHOTON_PHOTO), np.asarray(_PHOTON_PAIR)], _PHOTON_K[0], _PHOTON_K[-1]
    )
    log_t = np.log(np.asarray(_ELECTRON_T))
    electron = _resample(
        log_t,
        [np.log(np.asarray(_ELECTRON_RANGE)), np.asarray(_ELECTRON_YIELD)],
        _ELECTRON_T[0],
        _ELECTRON_T[-1],
    )
    return LowEnergyTables(photon=photon, electron=electron)
