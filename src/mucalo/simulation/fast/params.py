"""The flat float64 parameter vector the numba kernels read, and where each value sits in it.

Numba kernels take one ``params`` array instead of a config object; the indices below are module
constants, which numba folds at compile time.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from mucalo.detector import Detector
from mucalo.simulation.fast.config import FastSimConfig
from mucalo.simulation.fast.constants import BETHE_K
from mucalo.simulation.fast.material import Material

__all__ = ["N_PARAMS", "build_params"]

# geometry
P_NX = 0  # cells in x
P_NY = 1  # cells in y
P_NL = 2  # layers
P_PITCH = 3  # transverse cell pitch, mm
P_LAYER = 4  # layer depth, mm
P_HALF_X = 5  # half width in x, mm
P_HALF_Y = 6  # half width in y, mm
P_DEPTH = 7  # block depth, mm
P_FIELD = 8  # B along +y, tesla
# material
P_X0 = 9  # radiation length, mm
P_ZEFF = 10  # GFlash Z_eff
P_EC = 11  # GFlash critical energy, MeV
P_BOHR = 12  # (K/2)⟨Z/A⟩ρ, MeV/mm (Bohr variance prefactor)
P_ZMIN = 13  # smallest Z (sets the pair-energy range of the table)
P_HIGHLAND = 14  # (1 + 0.038 ln(depth/X0))², the per-step Highland log factor
# switches (1.0 on, 0.0 off)
P_FLUCT = 15
P_MS = 16
P_BREMS = 17
P_PAIR = 18
P_NUCL = 19
# cuts and knobs
P_ECUT = 20  # δ-ray cut, MeV
P_GCUT = 21  # brems photon cut, MeV
P_MAX_STEP = 22  # mm
P_EGF = 23  # GFlash threshold, MeV
P_RM = 24  # Molière radius, mm
P_SPOTS = 25  # spot multiplier
P_HALO_FRAC = 26  # energy fraction of GFlash showers in explicit soft photons
P_HALO_E = 27  # lowest soft-photon energy (1/k spectrum), MeV
P_DETOUR = 28  # factor on the multiple-scattering chord of an electron segment
P_PHOTON_LOCAL = 29  # photons below this are absorbed in place, MeV
P_BREMS_KMIN = 30  # lowest brems photon of mini-MC electrons, MeV
P_HAD_VIS = 31  # visible share of a photonuclear transfer
P_TAIL_SPLIT = 32  # GFlash tail spots are split into this many pieces
P_INV_PITCH = 33  # 1 / transverse pitch, 1/mm
P_INV_LAYER = 34  # 1 / layer depth, 1/mm
P_HALO_KMAX = 35  # highest soft-photon energy of GFlash showers, MeV
P_SPOT_SHAPE = 36  # Gamma shape of the random spot-energy factors (0: equal spots)
P_CORE_KEEP = 37  # fraction of GFlash core spots kept (weighted up)
N_PARAMS = 38


def build_params(detector: Detector, material: Material, config: FastSimConfig) -> npt.NDArray[np.float64]:
    """Fill the parameter vector from the detector, material and config."""
    p = np.zeros(N_PARAMS, dtype=np.float64)
    p[P_NX] = detector.n_cells_x
    p[P_NY] = detector.n_cells_y
    p[P_NL] = detector.n_layers
    p[P_PITCH] = detector.cell_size_mm
    p[P_LAYER] = detector.layer_depth_mm
    p[P_HALF_X] = 0.5 * detector.width_x_mm
    p[P_HALF_Y] = 0.5 * detector.width_y_mm
    p[P_DEPTH] = detector.depth_mm
    p[P_FIELD] = detector.field_t
    x0_mm = material.radiation_length_mm
    p[P_X0] = x0_mm
    p[P_ZEFF] = material.z_eff
    p[P_EC] = material.critical_energy_gp_mev
    p[P_BOHR] = 0.5 * BETHE_K * material.z_over_a * material.density_g_cm3 / 10.0
    p[P_ZMIN] = min(el.z for el in material.elements)
    p[P_HIGHLAND] = (1.0 + 0.038 * math.log(detector.depth_mm / x0_mm)) ** 2
    p[P_FLUCT] = float(config.ionisation_fluctuations)
    p[P_MS] = float(config.multiple_scattering)
    p[P_BREMS] = float(config.bremsstrahlung)
    p[P_PAIR] = float(config.pair_production)
    p[P_NUCL] = float(config.photonuclear)
    p[P_ECUT] = config.electron_cut_mev
    p[P_GCUT] = config.photon_cut_mev
    p[P_MAX_STEP] = config.max_step_mm
    p[P_EGF] = config.gflash_min_mev
    p[P_RM] = config.moliere_radius_mm
    p[P_SPOTS] = config.spot_multiplier
    p[P_HALO_FRAC] = config.halo_fraction
    p[P_HALO_E] = config.halo_photon_min_mev
    p[P_DETOUR] = config.electron_detour
    p[P_PHOTON_LOCAL] = config.photon_local_mev
    p[P_BREMS_KMIN] = config.brems_min_photon_mev
    p[P_HAD_VIS] = config.hadronic_visible_fraction
    p[P_TAIL_SPLIT] = config.tail_split
    p[P_INV_PITCH] = 1.0 / detector.cell_size_mm
    p[P_INV_LAYER] = 1.0 / detector.layer_depth_mm
    p[P_HALO_KMAX] = config.halo_photon_max_mev
    p[P_SPOT_SHAPE] = 0.0 if config.spot_energy_shape is None else config.spot_energy_shape
    p[P_CORE_KEEP] = config.core_spot_fraction
    return p
