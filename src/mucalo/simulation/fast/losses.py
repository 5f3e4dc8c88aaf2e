"""Integrated muon energy losses per process, b(E) coefficients and the expected mean loss (§6).

These are the numbers the README of the Geant4 reference quotes (``G4EmCalculator``), used by the
tests and by :mod:`mucalo.simulation.fast.tables`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from mucalo.simulation.fast.bremsstrahlung import brems_dcs
from mucalo.simulation.fast.constants import MUON_MASS
from mucalo.simulation.fast.ionisation import ionisation_dedx
from mucalo.simulation.fast.material import Material
from mucalo.simulation.fast.pair_production import pair_dcs, pair_energy_limits
from mucalo.simulation.fast.photonuclear import (
    PHOTONUCLEAR_MIN_TRANSFER,
    photonuclear_dcs,
    photonuclear_max_transfer,
)
from mucalo.simulation.fast.quadrature import integrate_log

__all__ = [
    "PROCESSES",
    "expected_mean_loss",
    "mass_stopping_power",
    "process_moment",
    "radiative_b",
]

FloatArray = npt.NDArray[np.float64]

#: Processes known to :func:`mass_stopping_power`.
PROCESSES = ("ionisation", "brems", "pair", "photonuclear")

_BREMS_LOWEST = 1e-3  # MeV: lower limit of the unrestricted brems loss integral (the rest is < 1e-8)


def _element_moment(
    material: Material,
    dcs: Callable[[int, float, FloatArray, FloatArray], FloatArray],
    limits: Callable[[int, FloatArray], tuple[FloatArray, FloatArray]],
    kinetic: FloatArray,
    *,
    power: int,
    panels: int,
) -> FloatArray:
    """Σ_i n_i ∫ ε^power dσ_i/dε dε over the limits, per cm (power 1: MeV/cm; 0: 1/cm)."""
    total = np.zeros_like(kinetic)
    for n_i, el in zip(material.atom_densities_cm3, material.elements, strict=True):
        lo, hi = limits(el.z, kinetic)

        def moment(x: FloatArray, z: int = el.z, a: float = el.a) -> FloatArray:
            return np.asarray(x ** (power + 1) * dcs(z, a, kinetic[:, None], x))

        total += n_i * integrate_log(moment, lo, np.maximum(hi, lo), panels=panels)
    return total


def process_moment(
    material: Material,
    process: str,
    kinetic: npt.ArrayLike,
    *,
    lower: float | None = None,
    power: int = 1,
    panels: int = 64,
) -> FloatArray:
    """Σ_i n_i ∫ ε^power dσ/dε dε of a radiative process from ``lower`` (MeV; None: the process minimum).

    power = 1 gives the loss in MeV/cm, power = 0 the interaction rate in 1/cm.
    """
    t = np.atleast_1d(np.asarray(kinetic, dtype=np.float64))
    if process == "brems":
        low = _BREMS_LOWEST if lower is None else lower

        def limits(z: int, tk: FloatArray) -> tuple[FloatArray, FloatArray]:
            return np.full_like(tk, low), tk

        def dcs(z: int, a: float, tk: FloatArray, x: FloatArray) -> FloatArray:
            return brems_dcs(z, a, tk, x)

    elif process == "pair":

        def limits(z: int, tk: FloatArray) -> tuple[FloatArray, FloatArray]:
            lo, hi = pair_energy_limits(z, tk)
            return np.full_like(tk, lo if lower is None else max(lo, lower)), hi

        def dcs(z: int, a: float, tk: FloatArray, x: FloatArray) -> FloatArray:
            return pair_dcs(z, tk, x)

    elif process == "photonuclear":

        def limits(z: int, tk: FloatArray) -> tuple[FloatArray, FloatArray]:
            low = PHOTONUCLEAR_MIN_TRANSFER if lower is None else max(lower, PHOTONUCLEAR_MIN_TRANSFER)
            return np.full_like(tk, low), photonuclear_max_transfer(tk)

        def dcs(z: int, a: float, tk: FloatArray, x: FloatArray) -> FloatArray:
            return photonuclear_dcs(a, tk, x)

    else:
        msg = f"process: expected one of {PROCESSES[1:]}, got {process!r}"
        raise ValueError(msg)
    return _element_moment(material, dcs, limits, t, power=power, panels=panels).reshape(np.shape(kinetic))


def mass_stopping_power(
    material: Material, process: str, kinetic: npt.ArrayLike, *, panels: int = 64
) -> FloatArray:
    """Unrestricted mean loss of ``process`` divided by ρ, MeV cm²/g, at muon kinetic energy T (MeV).

    ``panels = 1`` with ``process = 'pair'`` emulates Geant4 11.4's single-panel dE/dx quadrature.
    """
    if process == "ionisation":
        return np.asarray(ionisation_dedx(material, kinetic) / material.density_g_cm3)
    return np.asarray(process_moment(material, process, kinetic, panels=panels) / material.density_g_cm3)


def radiative_b(material: Material, process: str, kinetic: npt.ArrayLike) -> FloatArray:
    """b_p(E) = (dE/dx)_p/(ρE) in cm²/g, E the total muon energy."""
    t = np.asarray(kinetic, dtype=np.float64)
    return np.asarray(mass_stopping_power(material, process, t) / (t + MUON_MASS))


def expected_mean_loss(
    material: Material,
    kinetic: float,
    depth_mm: float,
    *,
    processes: tuple[str, ...] = ("ionisation", "brems", "pair"),
    step_mm: float = 1.0,
) -> float:
    """Mean muon energy loss (MeV) over ``depth_mm`` from the summed dE/dx, in 1 mm steps (README)."""
    grid = np.geomspace(max(kinetic * 0.5, 10.0), kinetic * 1.001, 64)
    dedx_mm = np.zeros_like(grid)
    for process in processes:
        dedx_mm += mass_stopping_power(material, process, grid) * material.density_g_cm3 / 10.0
    t = kinetic
    for _ in range(round(depth_mm / step_mm)):
        t -= float(np.interp(np.log(t), np.log(grid), dedx_mm)) * step_mm
    return kinetic - t
