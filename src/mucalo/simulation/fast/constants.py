"""Physical constants of the fast simulation (PHYSICS.md, table of constants).

Energies are MeV and masses rest energies (c = 1); cross sections use cm, geometry uses mm.
"""

from __future__ import annotations

import math

__all__ = [
    "ALPHA",
    "AVOGADRO",
    "BARN_CM2",
    "BETHE_K",
    "CLASSICAL_ELECTRON_RADIUS_CM",
    "ELECTRON_MASS",
    "MUON_MASS",
    "PROTON_MASS",
    "RIGIDITY_GEV_PER_TESLA_METRE",
    "SCREENING_ENERGY",
    "SQRT_E",
]

ELECTRON_MASS = 0.51099895  # MeV
MUON_MASS = 105.6583755  # MeV
PROTON_MASS = 938.272  # MeV
CLASSICAL_ELECTRON_RADIUS_CM = 2.8179403e-13  # r_e, cm
ALPHA = 1.0 / 137.035999  # fine-structure constant
AVOGADRO = 6.02214076e23  # 1/mol
BETHE_K = 0.307075  # 4π N_A r_e² m_e, MeV cm²/mol
SQRT_E = math.sqrt(math.e)  # √e, appears in the screening functions
SCREENING_ENERGY = 21.205  # E_s = m_e √(4π/α), MeV (Molière radius, multiple scattering)
BARN_CM2 = 1e-24  # 1 barn in cm²
RIGIDITY_GEV_PER_TESLA_METRE = 0.299792458  # p[GeV] = 0.2998 · B[T] · R[m]
