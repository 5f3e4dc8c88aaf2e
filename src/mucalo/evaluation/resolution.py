"""Resolution per true-energy bin or fixed-energy point, the tracker model and their combination (paper §4.2).

All resolutions here are fractional (σ/E, 0.2 = 20 %); the headline metrics convert to percent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from mucalo.evaluation._stats import as_energy_pair, bin_index, fractional_resolution_rows, split_by_bin
from mucalo.evaluation.exceptions import EvaluationError

__all__ = [
    "ResolutionCurve",
    "binned_resolution",
    "combine_resolutions",
    "fixed_energies",
    "fixed_point_resolution",
    "mean_improvement",
    "tracker_resolution",
    "worst_resolution",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: More distinct true energies than this means the data are not a fixed-energy (test) sample.
_MAX_FIXED_POINTS = 200


def tracker_resolution(energy_gev: npt.ArrayLike, *, k_per_gev: float = 2e-4) -> FloatArray:
    """Fractional resolution of the assumed tracker, σ/E = k·E (20 % at 1 TeV by default)."""
    return k_per_gev * np.asarray(energy_gev, dtype=np.float64)


def combine_resolutions(calorimeter: npt.ArrayLike, tracker: npt.ArrayLike) -> FloatArray:
    """Inverse-variance combination σ_c = (σ_calo⁻² + σ_trk⁻²)^−½ of fractional resolutions.

    Limits are exact: a perfect measurement (σ = 0) gives σ_c = 0, a useless one (σ = inf) leaves the
    other unchanged.
    """
    calo = np.asarray(calorimeter, dtype=np.float64)
    trk = np.asarray(tracker, dtype=np.float64)
    with np.errstate(divide="ignore"):
        combined = 1.0 / np.sqrt(1.0 / calo**2 + 1.0 / trk**2)
    # Exactly the other measurement when one carries no information (not merely to rounding).
    combined = np.where(np.isposinf(calo), trk, np.where(np.isposinf(trk), calo, combined))
    return np.asarray(combined, dtype=np.float64)


def mean_improvement(tracker: npt.ArrayLike, combined: npt.ArrayLike) -> float:
    """Mean Improvement: mean over bins of σ_trk − σ_c, in percent; bins with a NaN are skipped.

    Returns NaN when no bin is usable.
    """
    diff = np.asarray(tracker, dtype=np.float64) - np.asarray(combined, dtype=np.float64)
    finite = np.isfinite(diff)
    if not finite.any():
        return float("nan")
    if not finite.all():
        logger.debug(  # every epoch on small monitoring folds: not worth a warning
            "mean improvement: %d of %d bins without a resolution skipped", int((~finite).sum()), diff.size
        )
    return float(100.0 * diff[finite].mean())


def worst_resolution(resolution: npt.ArrayLike) -> float:
    """Largest finite resolution over the bins, in percent (NaN when none)."""
    values = np.asarray(resolution, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(100.0 * values.max()) if values.size else float("nan")


@dataclass(frozen=True, kw_only=True, slots=True)
class ResolutionCurve:
    """Resolution per bin (validation) or per fixed energy (test); all arrays have shape (P,).

    Attributes:
        kind: "bins" (true-energy bins) or "fixed" (one point per generated energy).
        energy_gev: bin centre or fixed energy, GeV (the x of the plots and of the tracker model).
        low_gev, high_gev: bin edges, GeV (both equal to the energy for fixed points).
        count: events per point.
        median_true_gev, median_corrected_gev: medians of E_true and E_corr, GeV.
        half_width_gev: Δ = (p84 − p16)/2 of E_corr, GeV.
        calorimeter: fractional calorimeter resolution, Eq. 4 with the half width; NaN if < 2 events.
        tracker: fractional tracker resolution at ``energy_gev``.
        combined: inverse-variance combination of the two.
        calorimeter_err, combined_err: bootstrap standard deviations (NaN when not bootstrapped).
    """

    kind: Literal["bins", "fixed"]
    energy_gev: FloatArray
    low_gev: FloatArray
    high_gev: FloatArray
    count: IntArray
    median_true_gev: FloatArray
    median_corrected_gev: FloatArray
    half_width_gev: FloatArray
    calorimeter: FloatArray
    tracker: FloatArray
    combined: FloatArray
    calorimeter_err: FloatArray
    combined_err: FloatArray

    @property
    def mean_improvement(self) -> float:
        """Mean Improvement over the points, percent."""
        return mean_improvement(self.tracker, self.combined)

    @property
    def worst_combined(self) -> float:
        """Worst combined resolution over the points, percent."""
        return worst_resolution(self.combined)

    def interpolate(
        self, energy_gev: float, *, which: Literal["calorimeter", "combined"] = "calorimeter"
    ) -> float:
        """Linear interpolation of a resolution (fractional) at ``energy_gev``; NaN outside the points."""
        values = self.calorimeter if which == "calorimeter" else self.combined
        finite = np.isfinite(values)
        x, y = self.energy_gev[finite], values[finite]
        if x.size == 0 or not (x[0] <= energy_gev <= x[-1]):
            return float("nan")
        return float(np.interp(energy_gev, x, y))

    def with_errors(self, calorimeter_err: FloatArray, combined_err: FloatArray) -> ResolutionCurve:
        """Copy with bootstrap uncertainties filled in."""
        return replace(self, calorimeter_err=calorimeter_err, combined_err=combined_err)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of lists (NaN becomes None)."""
        out: dict[str, Any] = {"kind": self.kind}
        for field in fields(self):
            if field.name == "kind":
                continue
            values = np.asarray(getattr(self, field.name))
            out[field.name] = [None if not np.isfinite(v) else v.item() for v in values]
        return out


def _curve(
    *,
    kind: Literal["bins", "fixed"],
    energy: FloatArray,
    low: FloatArray,
    high: FloatArray,
    groups: list[IntArray],
    true: FloatArray,
    corrected: FloatArray,
    k_per_gev: float,
) -> ResolutionCurve:
    n_points = energy.size
    median_true = np.full(n_points, np.nan)
    median_corr = np.full(n_points, np.nan)
    half_width = np.full(n_points, np.nan)
    calorimeter = np.full(n_points, np.nan)
    for p, members in enumerate(groups):
        if members.size < 2:
            continue
        values = corrected[members]
        # Fixed points: the median true energy is the generated energy itself (paper §4.2).
        median_true[p] = energy[p] if kind == "fixed" else np.median(true[members])
        p16, median_corr[p], p84 = np.percentile(values, [15.865, 50.0, 84.135])
        half_width[p] = 0.5 * (p84 - p16)
        calorimeter[p] = fractional_resolution_rows(values[None, :], median_true[p : p + 1])[0]
    tracker = tracker_resolution(energy, k_per_gev=k_per_gev)
    nan = np.full(n_points, np.nan)
    return ResolutionCurve(
        kind=kind,
        energy_gev=energy,
        low_gev=low,
        high_gev=high,
        count=np.array([g.size for g in groups], dtype=np.int64),
        median_true_gev=median_true,
        median_corrected_gev=median_corr,
        half_width_gev=half_width,
        calorimeter=calorimeter,
        tracker=tracker,
        combined=combine_resolutions(calorimeter, tracker),
        calorimeter_err=nan,
        combined_err=nan.copy(),
    )


def binned_resolution(
    true_energy: npt.ArrayLike,
    corrected: npt.ArrayLike,
    *,
    edges_gev: npt.ArrayLike,
    k_per_gev: float = 2e-4,
) -> ResolutionCurve:
    """Resolution in bins of true energy; the tracker is evaluated at the bin centres (as the reference code).

    Args:
        true_energy: (N,) GeV.
        corrected: (N,) bias-corrected predictions, GeV.
        edges_gev: (P + 1,) bin edges, GeV (validation: 20 bins over 100–4000 GeV).
        k_per_gev: tracker slope, 1/GeV.
    """
    true_energy, corrected = as_energy_pair(true_energy, corrected, where="binned resolution")
    edges = np.asarray(edges_gev, dtype=np.float64)
    groups = split_by_bin(bin_index(true_energy, edges), edges.size - 1)
    return _curve(
        kind="bins",
        energy=0.5 * (edges[:-1] + edges[1:]),
        low=edges[:-1],
        high=edges[1:],
        groups=groups,
        true=true_energy,
        corrected=corrected,
        k_per_gev=k_per_gev,
    )


def fixed_energies(true_energy: FloatArray, *, energy_range_gev: tuple[float, float]) -> FloatArray:
    """The distinct generated energies within ``energy_range_gev`` (inclusive), GeV.

    Raises:
        EvaluationError: none in range, or so many distinct values that the data are not fixed-energy.
    """
    low, high = energy_range_gev
    energies = np.unique(true_energy[(true_energy >= low) & (true_energy <= high)])
    if energies.size == 0 or energies.size > _MAX_FIXED_POINTS:
        msg = (
            f"fixed-energy resolution: expected 1–{_MAX_FIXED_POINTS} distinct true energies in "
            f"[{low}, {high}] GeV, found {energies.size} (is this a continuous-spectrum sample?)"
        )
        raise EvaluationError(msg)
    return energies


def fixed_point_resolution(
    true_energy: npt.ArrayLike,
    corrected: npt.ArrayLike,
    *,
    energies_gev: npt.ArrayLike,
    k_per_gev: float = 2e-4,
) -> ResolutionCurve:
    """Resolution at each fixed generated energy (test data, paper Fig. 12).

    Args:
        true_energy: (N,) GeV; each event's value should equal one of ``energies_gev``.
        corrected: (N,) bias-corrected predictions, GeV.
        energies_gev: (P,) increasing generated energies, GeV (see :func:`fixed_energies`).
        k_per_gev: tracker slope, 1/GeV.
    """
    true_energy, corrected = as_energy_pair(true_energy, corrected, where="fixed-point resolution")
    energy = np.asarray(energies_gev, dtype=np.float64)
    # Map each event to its point; values stored as float32 are matched with a relative tolerance.
    nearest = np.clip(np.searchsorted(energy, true_energy), 0, energy.size - 1)
    left = np.clip(nearest - 1, 0, energy.size - 1)
    nearest = np.where(
        np.abs(energy[left] - true_energy) < np.abs(energy[nearest] - true_energy), left, nearest
    )
    matched = np.isclose(energy[nearest], true_energy, rtol=1e-6, atol=0.0)
    idx = np.where(matched, nearest, -1).astype(np.int64)
    return _curve(
        kind="fixed",
        energy=energy,
        low=energy,
        high=energy,
        groups=split_by_bin(idx, energy.size),
        true=true_energy,
        corrected=corrected,
        k_per_gev=k_per_gev,
    )
