"""Array helpers shared by the evaluation modules: input checks, binning and the bootstrap."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from mucalo.evaluation.exceptions import EvaluationError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Percentiles bounding the central 68.27 % (±1σ of a Gaussian), as in the reference code.
P16, P84 = 15.865, 84.135

#: Largest number of resampled values held at once by the bootstrap (memory bound, ~16 MB of float64).
_MAX_BOOTSTRAP_ELEMENTS = 2_000_000


def as_energy_pair(
    true_energy: npt.ArrayLike, prediction: npt.ArrayLike, *, where: str = "evaluation"
) -> tuple[FloatArray, FloatArray]:
    """Check and convert true energies and predictions to 1-D float64 arrays of equal length.

    Raises:
        EvaluationError: shapes differ, are not 1-D, or a value is not finite.
    """
    true = np.asarray(true_energy, dtype=np.float64)
    pred = np.asarray(prediction, dtype=np.float64)
    if true.ndim != 1 or pred.shape != true.shape:
        msg = (
            f"{where}: expected true_energy and prediction as 1-D arrays of equal length, "
            f"got shapes {true.shape} and {pred.shape}"
        )
        raise EvaluationError(msg)
    for name, arr in (("true_energy", true), ("prediction", pred)):
        bad = ~np.isfinite(arr)
        if bad.any():
            msg = f"{where}: {name} has {int(bad.sum())} non-finite value(s) out of {arr.size}"
            raise EvaluationError(msg)
    return true, pred


def bin_index(values: FloatArray, edges: FloatArray) -> IntArray:
    """Bin of each value for lower-inclusive, upper-exclusive bins; −1 outside all bins."""
    idx = np.searchsorted(edges, values, side="right").astype(np.int64) - 1
    idx[(idx < 0) | (idx >= edges.size - 1)] = -1
    return idx


def split_by_bin(idx: IntArray, n_bins: int) -> list[IntArray]:
    """Event indices of each bin (bins 0 … n_bins−1; −1 is dropped), in input order within a bin."""
    order = np.argsort(idx, kind="stable")
    sorted_idx = idx[order]
    bounds = np.searchsorted(sorted_idx, np.arange(n_bins + 1))
    return [order[bounds[b] : bounds[b + 1]] for b in range(n_bins)]


def resample_chunks(n_values: int, n_bootstrap: int, rng: np.random.Generator) -> Iterator[IntArray]:
    """Bootstrap index arrays of shape (chunk, n_values), chunked so that memory stays bounded."""
    chunk = max(1, _MAX_BOOTSTRAP_ELEMENTS // max(n_values, 1))
    done = 0
    while done < n_bootstrap:
        size = min(chunk, n_bootstrap - done)
        yield rng.integers(0, n_values, size=(size, n_values))
        done += size


def bootstrap_mean(values: FloatArray, n_bootstrap: int, rng: np.random.Generator) -> tuple[float, float]:
    """Mean of the bootstrap means and their standard deviation (LUMIN ``bootstrap_stats``).

    With ``n_bootstrap == 0`` the sample mean and the standard error of the mean are returned instead.
    """
    if n_bootstrap == 0:
        return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))
    means = np.concatenate(
        [values[chunk].mean(axis=1) for chunk in resample_chunks(values.size, n_bootstrap, rng)]
    )
    return float(means.mean()), float(means.std(ddof=1)) if means.size > 1 else 0.0


def fractional_resolution_rows(corrected: FloatArray, median_true: FloatArray) -> FloatArray:
    """Paper Eq. 4 with the half width, row by row.

    Args:
        corrected: (R, n) corrected predictions, GeV, one row per sample (data or bootstrap replica).
        median_true: (R,) median true energy of each row, GeV.

    Returns:
        (R,) sqrt((median E_corr − median E_true)² + Δ²) / median E_true, with Δ = (p84 − p16)/2.
    """
    p16, median, p84 = np.percentile(corrected, [P16, 50.0, P84], axis=1)
    half_width = 0.5 * (p84 - p16)
    return np.asarray(np.hypot(median - median_true, half_width) / median_true, dtype=np.float64)


def require_events(count: int, minimum: int, *, where: str) -> None:
    """Raise when fewer events than ``minimum`` are available."""
    if count < minimum:
        msg = f"{where}: expected at least {minimum} events, found {count}"
        raise EvaluationError(msg)
