"""The muon gun: energy spectrum, charge and start position of each muon (SYSTEM.md "Detector").

Every muon's parameters are a pure function of (run seed, global muon index), so a sample split into
shards in any way, or simulated by any number of workers, holds exactly the same muons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from mucalo.detector.geometry import Detector
from mucalo.errors import ConfigError

__all__ = ["Gun", "GunSample", "Spectrum", "muon_seeds"]


@dataclass(frozen=True, slots=True)
class Spectrum:
    """Kinetic-energy spectrum: ``uniform:LO:HI`` or ``fixed:E1,E2,…`` (GeV).

    A fixed spectrum gives equal shares of the N muons to each energy, in the order given.
    """

    kind: Literal["uniform", "fixed"]
    energies_gev: tuple[float, ...]

    @classmethod
    def parse(cls, text: str, *, where: str = "gun.spectrum") -> Spectrum:
        """Parse the CLI/YAML form; raises :class:`ConfigError` naming ``where`` when malformed."""
        kind, _, rest = text.strip().partition(":")
        try:
            values = tuple(float(v) for v in rest.replace(",", ":").split(":") if v.strip())
        except ValueError as err:
            msg = f"{where}: expected 'uniform:LO:HI' or 'fixed:E1,E2,...' in GeV, got {text!r}"
            raise ConfigError(msg) from err
        if kind == "uniform":
            if len(values) != 2 or not 0 < values[0] < values[1]:
                msg = f"{where}: expected 'uniform:LO:HI' with 0 < LO < HI GeV, got {text!r}"
                raise ConfigError(msg)
            return cls("uniform", values)
        if kind == "fixed":
            if not values or min(values) <= 0:
                msg = f"{where}: expected 'fixed:E1,E2,...' with positive GeV values, got {text!r}"
                raise ConfigError(msg)
            return cls("fixed", values)
        msg = f"{where}: unknown spectrum kind {kind!r}; expected 'uniform' or 'fixed' (got {text!r})"
        raise ConfigError(msg)

    def __str__(self) -> str:
        if self.kind == "uniform":
            return f"uniform:{self.energies_gev[0]:g}:{self.energies_gev[1]:g}"
        return "fixed:" + ",".join(f"{e:g}" for e in self.energies_gev)


@dataclass(frozen=True, slots=True)
class GunSample:
    """Gun parameters of N muons (float32-rounded: the stored truth is the exact simulation input)."""

    true_energy: npt.NDArray[np.float32]  # GeV
    charge: npt.NDArray[np.int8]  # +1 μ+, −1 μ−
    x0: npt.NDArray[np.float32]  # mm
    y0: npt.NDArray[np.float32]  # mm
    seed: npt.NDArray[np.uint64]  # per-muon simulation seed


@dataclass(frozen=True, kw_only=True, slots=True)
class Gun:
    """The particle gun; defaults are the paper's training gun."""

    spectrum: str = "uniform:50:8000"  # 'uniform:LO:HI' or 'fixed:E1,E2,...', GeV
    charge: Literal["both", "mu+", "mu-"] = "both"  # 'both' = μ+/μ− with probability ½ each
    start_z_mm: float = -50.0  # start before the front face (z = 0), mm; must be < 0
    xy_half_width_mm: float = 20.0  # x0, y0 uniform in [−w, w] mm
    _parsed: Spectrum = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_parsed", Spectrum.parse(self.spectrum))
        if self.charge not in ("both", "mu+", "mu-"):
            msg = f"gun.charge: expected 'both', 'mu+' or 'mu-', got {self.charge!r}"
            raise ConfigError(msg)
        if not self.start_z_mm < 0:
            msg = f"gun.start_z_mm: expected a negative z (before the front face at 0), got {self.start_z_mm}"
            raise ConfigError(msg)
        if not self.xy_half_width_mm >= 0:
            msg = f"gun.xy_half_width_mm: expected ≥ 0, got {self.xy_half_width_mm}"
            raise ConfigError(msg)

    @property
    def parsed_spectrum(self) -> Spectrum:
        """The spectrum as a :class:`Spectrum`."""
        return self._parsed

    def check_fits(self, detector: Detector) -> None:
        """Refuse a gun that would start muons outside the calorimeter's face."""
        half = 0.5 * min(detector.width_x_mm, detector.width_y_mm)
        if self.xy_half_width_mm >= half:
            msg = (
                f"gun.xy_half_width_mm: {self.xy_half_width_mm} mm puts muons outside the face; "
                f"expected < {half} mm (half the detector width)"
            )
            raise ConfigError(msg)

    def sample(self, run_seed: int, start: int, stop: int, n_total: int) -> GunSample:
        """Gun parameters of global muons ``start:stop`` of a run of ``n_total`` muons."""
        seeds = muon_seeds(run_seed, start, stop)
        index = np.arange(start, stop, dtype=np.int64)
        n = stop - start
        energy = np.empty(n, np.float64)
        charge = np.empty(n, np.int8)
        xy = np.empty((n, 2), np.float64)
        uniform = np.empty(n, np.float64)
        for k, s in enumerate(seeds):
            # one generator per muon: its parameters do not depend on how the run is split
            rng = np.random.default_rng(int(s))
            draws = rng.random(4)
            uniform[k] = draws[0]
            charge[k] = 1 if draws[1] < 0.5 else -1
            xy[k] = (2.0 * draws[2:4] - 1.0) * self.xy_half_width_mm
        spec = self._parsed
        if spec.kind == "uniform":
            lo, hi = spec.energies_gev
            energy = lo + (hi - lo) * uniform
        else:
            values = np.asarray(spec.energies_gev)
            energy = values[(index * len(values)) // max(n_total, 1)]
        if self.charge != "both":
            charge[:] = 1 if self.charge == "mu+" else -1
        return GunSample(
            true_energy=energy.astype(np.float32),
            charge=charge,
            x0=xy[:, 0].astype(np.float32),
            y0=xy[:, 1].astype(np.float32),
            seed=seeds,
        )


def muon_seeds(run_seed: int, start: int, stop: int) -> npt.NDArray[np.uint64]:
    """Per-muon seeds of global muons ``start:stop``, derived from one run seed (SeedSequence hashing)."""
    if run_seed < 0:
        msg = f"seed: expected a non-negative integer, got {run_seed}"
        raise ConfigError(msg)
    out = np.empty(stop - start, np.uint64)
    for k, index in enumerate(range(start, stop)):
        out[k] = np.random.SeedSequence([run_seed, index]).generate_state(1, np.uint64)[0]
    return out
