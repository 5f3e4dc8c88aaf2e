"""The calorimeter material: elements, densities and the derived constants (PHYSICS.md §1).

Only ``G4_PbWO4`` is known; the numbers are built the way Geant4 builds its NIST material (by atom
count, density 8.28 g/cm³, mean excitation energy from the elemental values).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mucalo.errors import ConfigError
from mucalo.simulation.fast.constants import ALPHA, AVOGADRO

__all__ = ["MATERIALS", "Element", "Material", "material_by_name"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Element:
    """One element of a compound."""

    symbol: str
    z: int  # atomic number
    a: float  # mean atomic mass, g/mol (NIST)
    i_ev: float  # mean excitation energy, eV (Geant4 NIST elemental value)
    count: int  # atoms per formula unit


@dataclass(frozen=True, kw_only=True, slots=True)
class Material:
    """A homogeneous compound; every derived quantity follows PHYSICS.md §1.1–1.2."""

    name: str
    density_g_cm3: float
    elements: tuple[Element, ...]

    @property
    def formula_mass(self) -> float:
        """Mass of one formula unit, g/mol."""
        return sum(el.count * el.a for el in self.elements)

    @property
    def mass_fractions(self) -> tuple[float, ...]:
        """w_i of each element."""
        return tuple(el.count * el.a / self.formula_mass for el in self.elements)

    @property
    def atom_densities_cm3(self) -> tuple[float, ...]:
        """n_i = ρ N_A w_i / A_i, atoms per cm³."""
        return tuple(
            self.density_g_cm3 * AVOGADRO * w / el.a
            for w, el in zip(self.mass_fractions, self.elements, strict=True)
        )

    @property
    def z_over_a(self) -> float:
        """⟨Z/A⟩ = Σ w_i Z_i / A_i, mol/g."""
        return sum(w * el.z / el.a for w, el in zip(self.mass_fractions, self.elements, strict=True))

    @property
    def electron_density_cm3(self) -> float:
        """n_el = ρ N_A ⟨Z/A⟩, electrons per cm³."""
        return self.density_g_cm3 * AVOGADRO * self.z_over_a

    @property
    def mean_excitation_ev(self) -> float:
        """I from ln I = Σ n_i Z_i ln I_i / Σ n_i Z_i (the Geant4 rule; 542.7 eV for PbWO4)."""
        weights = [n * el.z for n, el in zip(self.atom_densities_cm3, self.elements, strict=True)]
        log_i = sum(wt * math.log(el.i_ev) for wt, el in zip(weights, self.elements, strict=True))
        return math.exp(log_i / sum(weights))

    @property
    def plasma_energy_ev(self) -> float:
        """ħω_p = 28.816 √(ρ⟨Z/A⟩) eV."""
        return 28.816 * math.sqrt(self.density_g_cm3 * self.z_over_a)

    @property
    def density_effect(self) -> tuple[float, float, float, float]:
        """Sternheimer–Peierls parameters (C̄, x0, x1, a) with m = 3 and δ0 = 0, as Geant4 computes them."""
        c_bar = 1.0 + 2.0 * math.log(self.mean_excitation_ev / self.plasma_energy_ev)
        i_ev = self.mean_excitation_ev
        # Sternheimer–Peierls (1971) solid/liquid rule, the branch Geant4 takes for I >= 100 eV
        if i_ev < 100.0:
            x0, x1 = (0.2, 2.0) if c_bar < 3.681 else (0.326 * c_bar - 1.0, 2.0)
        else:
            x0, x1 = (0.2, 3.0) if c_bar < 5.215 else (0.326 * c_bar - 1.5, 3.0)
        a = 2.0 * math.log(10.0) * (c_bar / (2.0 * math.log(10.0)) - x0) / (x1 - x0) ** 3
        return c_bar, x0, x1, a

    @property
    def radiation_length_g_cm2(self) -> float:
        """X0 from 1/X0 = Σ w_i / X0_i with Tsai's elemental values, g/cm²."""
        inv = sum(
            w / _tsai_radiation_length(el.z, el.a)
            for w, el in zip(self.mass_fractions, self.elements, strict=True)
        )
        return 1.0 / inv

    @property
    def radiation_length_mm(self) -> float:
        """X0 in mm (8.925 mm for PbWO4)."""
        return 10.0 * self.radiation_length_g_cm2 / self.density_g_cm3

    @property
    def z_eff(self) -> float:
        """Mass-weighted Z_eff = Σ w_i Z_i, as GFlash uses it (68.36 for PbWO4)."""
        return sum(w * el.z for w, el in zip(self.mass_fractions, self.elements, strict=True))

    @property
    def a_eff(self) -> float:
        """Mass-weighted A_eff = Σ w_i A_i, g/mol (170.88 for PbWO4)."""
        return sum(w * el.a for w, el in zip(self.mass_fractions, self.elements, strict=True))

    @property
    def critical_energy_gp_mev(self) -> float:
        """Grindhammer–Peters E_c = 2.66 (X0[g/cm²] Z_eff/A_eff)^1.1, MeV (8.76 for PbWO4)."""
        return 2.66 * float((self.radiation_length_g_cm2 * self.z_eff / self.a_eff) ** 1.1)

    def describe(self) -> dict[str, object]:
        """JSON-able summary (stored in the shard metadata)."""
        return {
            "name": self.name,
            "density_g_cm3": self.density_g_cm3,
            "elements": [(el.symbol, el.z, el.a, el.i_ev, el.count) for el in self.elements],
            "mean_excitation_ev": round(self.mean_excitation_ev, 3),
            "radiation_length_mm": round(self.radiation_length_mm, 4),
        }


def _tsai_radiation_length(z: int, a: float) -> float:
    """Tsai's radiation length of element (Z, A), g/cm² (PDG eq. 34.26)."""
    if z == 1:
        l_rad, l_rad_prime = 5.31, 6.144
    else:
        l_rad = math.log(184.15 * z ** (-1.0 / 3.0))
        l_rad_prime = math.log(1194.0 * z ** (-2.0 / 3.0))
    a2 = (ALPHA * z) ** 2
    coulomb = a2 * (1.0 / (1.0 + a2) + 0.20206 - 0.0369 * a2 + 0.0083 * a2**2 - 0.002 * a2**3)
    return 716.408 * a / (z * z * (l_rad - coulomb) + z * l_rad_prime)


MATERIALS: dict[str, Material] = {
    "G4_PbWO4": Material(
        name="G4_PbWO4",
        density_g_cm3=8.28,
        elements=(
            Element(symbol="Pb", z=82, a=207.217, i_ev=823.0, count=1),
            Element(symbol="W", z=74, a=183.84, i_ev=727.0, count=1),
            Element(symbol="O", z=8, a=15.9994, i_ev=95.0, count=4),
        ),
    ),
}


def material_by_name(name: str) -> Material:
    """The material called ``name`` (a Geant4 NIST name); raises ConfigError if unknown."""
    try:
        return MATERIALS[name]
    except KeyError:
        msg = f"detector.material: the fast simulation knows {sorted(MATERIALS)}, got {name!r}"
        raise ConfigError(msg) from None
