"""Configuration of the fast simulation: physics switches, cuts and the shower tuning knobs.

Defaults are the values validated against the Geant4 reference (``../g4ref``, PHYSICS.md §8.4, §9.1).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from mucalo.errors import ConfigError

__all__ = ["FastSimConfig"]


@dataclass(frozen=True, kw_only=True, slots=True)
class FastSimConfig:
    """Physics of ``mucalo.simulation.fast``.

    Cuts are the Geant4 production thresholds of the reference (0.7 mm in PbWO4). The shower knobs
    are tuning values (PHYSICS.md §8.4, tag [U]); their defaults come from scans against
    ``../g4ref/fixed.h5`` (600–1,500 fast muons per reference energy; mean hit cells, cells above 1 MeV
    and lateral RMS at 100 GeV–8 TeV) and are reported by ``mucalo validate-sim``. Broad spot energies
    (Gamma shape 0.6) and halo photons up to 10 MeV give the sparse periphery of a GFlash shower a few
    MeV-sized deposits among many small ones, as Geant4 has. The halo knobs trade speed for the sparse
    low-energy cells: ``halo_fraction=0`` with ``tail_split=4`` cuts the cost per GeV 2–3× at TeV
    energies but loses ~35 % of the hit cells, ~15 % of the cells above 1 MeV and ~12 % of the lateral
    RMS (1 TeV).
    """

    # --- physics switches
    ionisation_fluctuations: bool = True  # Gamma-distributed sub-cut loss per step (§2.3)
    multiple_scattering: bool = True  # Highland Gaussian scattering of the muon (§7.1)
    bremsstrahlung: bool = True  # KKP muon bremsstrahlung (§3)
    pair_production: bool = True  # KP direct e+e− pair production (§4)
    photonuclear: bool = False  # Borog–Petrukhin; off to match the Geant4 reference (§5)
    # --- cuts (MeV)
    electron_cut_mev: float = 0.842  # δ-rays above this are explicit (G4 e− threshold, 0.7 mm)
    photon_cut_mev: float = 0.0758  # muon brems photons above this are explicit (G4 γ threshold)
    # --- muon transport
    max_step_mm: float = 120.0  # longest muon step (chord of the helix), mm; each cell's loss is drawn apart
    # --- showers (GFlash above gflash_min_mev, particle-level mini Monte Carlo below)
    gflash_min_mev: float = 200.0  # E_GF: secondaries at least this energetic shower via GFlash
    moliere_radius_mm: float = 17.5  # radial scale R_M of the GFlash profiles, mm (tuned; 20.2 Rossi)
    spot_multiplier: float = 0.5  # scales the number of GFlash spots, 393·E[GeV]^0.876
    core_spot_fraction: float = 0.35  # share of the spots of the dense core kept (weighted up)
    spot_energy_shape: float | None = 0.6  # Gamma shape of random spot energies (None: equal spots)
    tail_split: int = 8  # a GFlash spot of the radial tail is deposited as this many pieces
    halo_fraction: float = 0.1  # fraction of GFlash spots turned into soft photons (library-replayed)
    halo_photon_min_mev: float = 0.1  # soft photons follow 1/k from this energy, MeV ...
    halo_photon_max_mev: float = 10.0  # ... to this one, MeV
    electron_detour: float = 1.0  # factor on the multiple-scattering chord of an electron's segment (§8.3)
    photon_local_mev: float = 0.05  # photons below this are absorbed where they are made, MeV
    brems_min_photon_mev: float = 0.0758  # lowest brems photon energy of mini-MC electrons, MeV
    # --- photonuclear final state (only when photonuclear = True)
    hadronic_visible_fraction: float = 0.7  # visible share of the transfer; the rest is invisible

    def __post_init__(self) -> None:
        positive = (
            "electron_cut_mev",
            "photon_cut_mev",
            "max_step_mm",
            "gflash_min_mev",
            "moliere_radius_mm",
            "spot_multiplier",
            "halo_photon_min_mev",
            "halo_photon_max_mev",
            "electron_detour",
            "photon_local_mev",
            "brems_min_photon_mev",
        )
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                msg = f"simulation.fast.{name}: expected a finite number, got {value!r}"
                raise ConfigError(msg)
            if value <= 0:
                msg = f"simulation.fast.{name}: expected a positive number, got {value!r}"
                raise ConfigError(msg)
        if self.spot_energy_shape is not None and (
            isinstance(self.spot_energy_shape, bool)
            or not isinstance(self.spot_energy_shape, int | float)
            or not 0.0 < self.spot_energy_shape < math.inf
        ):
            msg = (
                "simulation.fast.spot_energy_shape: expected a positive number or null, "
                f"got {self.spot_energy_shape!r}"
            )
            raise ConfigError(msg)
        if isinstance(self.tail_split, bool) or not isinstance(self.tail_split, int) or self.tail_split < 1:
            msg = f"simulation.fast.tail_split: expected a positive integer, got {self.tail_split!r}"
            raise ConfigError(msg)
        if isinstance(self.core_spot_fraction, bool) or not 0.0 < self.core_spot_fraction <= 1.0:
            msg = (
                "simulation.fast.core_spot_fraction: expected a number in (0, 1], "
                f"got {self.core_spot_fraction!r}"
            )
            raise ConfigError(msg)
        for name in ("halo_fraction", "hadronic_visible_fraction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                msg = f"simulation.fast.{name}: expected a number in [0, 1], got {value!r}"
                raise ConfigError(msg)
        for f in fields(self):
            if f.type == "bool" and not isinstance(getattr(self, f.name), bool):
                msg = f"simulation.fast.{f.name}: expected true or false, got {getattr(self, f.name)!r}"
                raise ConfigError(msg)
        if self.halo_photon_max_mev <= self.halo_photon_min_mev:
            msg = (
                f"simulation.fast.halo_photon_max_mev: expected more than halo_photon_min_mev="
                f"{self.halo_photon_min_mev}, got {self.halo_photon_max_mev}"
            )
            raise ConfigError(msg)
        if self.gflash_min_mev < 50.0:
            msg = (
                f"simulation.fast.gflash_min_mev: GFlash is not valid below ~50 MeV (PHYSICS.md §8.1), "
                f"got {self.gflash_min_mev}"
            )
            raise ConfigError(msg)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields."""
        return asdict(self)
