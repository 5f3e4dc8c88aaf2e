"""Bias correction: a linear fit of the mean prediction against true energy, then its inverse (paper §4.1).

The correction is fitted on validation data, stored with the run (:meth:`BiasCorrection.to_dict`), and
applied unchanged to test data.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import OptimizeWarning, curve_fit

from mucalo.errors import ConfigError, DataFormatError
from mucalo.evaluation._stats import as_energy_pair, bin_index, bootstrap_mean, split_by_bin
from mucalo.evaluation.config import EvaluationConfig
from mucalo.evaluation.exceptions import EvaluationError

__all__ = ["BiasCorrection", "BinnedMeans", "binned_means", "fit_bias_correction", "fit_line"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_FIELDS = ("slope", "offset", "slope_err", "offset_err")

#: A fitted response flatter than this is refused: inverting it would multiply the spread of the
#: predictions by more than 1000 (typically a model that still predicts a constant).
_MIN_FIT_SLOPE = 1e-3


@dataclass(frozen=True, slots=True)
class BiasCorrection:
    """The fitted response pred = slope·E_true + offset and its inverse.

    Attributes:
        slope: dimensionless, > 0.
        offset: GeV.
        slope_err: fit uncertainty of the slope (scaled by the reduced χ², as curve_fit's default).
        offset_err: fit uncertainty of the offset, GeV.
    """

    slope: float
    offset: float
    slope_err: float = 0.0
    offset_err: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.slope) and self.slope > 0):
            msg = f"bias_correction.slope: expected a finite positive number, got {self.slope!r}"
            raise ConfigError(msg)
        if not math.isfinite(self.offset):
            msg = f"bias_correction.offset: expected a finite number, got {self.offset!r}"
            raise ConfigError(msg)
        for name in ("slope_err", "offset_err"):
            value = getattr(self, name)
            if math.isnan(value) or value < 0:
                msg = f"bias_correction.{name}: expected a non-negative number, got {value!r}"
                raise ConfigError(msg)

    @classmethod
    def identity(cls) -> BiasCorrection:
        """No correction (slope 1, offset 0): the "no bias correction" ablation of paper §7.5."""
        return cls(1.0, 0.0)

    def apply(self, prediction: npt.ArrayLike) -> FloatArray:
        """Corrected energies (pred − offset)/slope, GeV, float64, same shape as ``prediction``."""
        return (np.asarray(prediction, dtype=np.float64) - self.offset) / self.slope

    def response(self, true_energy: npt.ArrayLike) -> FloatArray:
        """The fitted mean prediction slope·E + offset at true energies E, GeV."""
        return self.slope * np.asarray(true_energy, dtype=np.float64) + self.offset

    def to_dict(self) -> dict[str, float]:
        """Plain dict for the run directory's JSON."""
        return {name: float(getattr(self, name)) for name in _FIELDS}

    @classmethod
    def from_dict(cls, data: object, *, where: str = "bias_correction") -> BiasCorrection:
        """Inverse of :meth:`to_dict`; ``where`` names the file in error messages.

        Raises:
            DataFormatError: a key is missing or unknown, or a value is not a number.
            ConfigError: a value is out of range (e.g. slope ≤ 0).
        """
        if not isinstance(data, Mapping):
            msg = f"{where}: expected a JSON object with keys {list(_FIELDS)}, got {type(data).__name__}"
            raise DataFormatError(msg)
        missing = [k for k in ("slope", "offset") if k not in data]
        unknown = sorted(set(data) - set(_FIELDS))
        if missing or unknown:
            msg = f"{where}: expected keys {list(_FIELDS)}, missing {missing}, unknown {unknown}"
            raise DataFormatError(msg)
        values: dict[str, float] = {}
        for key, value in data.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                msg = f"{where}.{key}: expected a number, got {value!r}"
                raise DataFormatError(msg)
            values[key] = float(value)
        return cls(**values)


@dataclass(frozen=True, kw_only=True, slots=True)
class BinnedMeans:
    """Mean prediction per true-energy bin, the points the bias fit uses (paper Fig. 8).

    Attributes:
        edges_gev: (B + 1,) bin edges, GeV.
        centre_gev: (B,) bin centres, GeV (the fit's x, as in the reference code).
        mean_gev: (B,) bootstrap mean of the predictions, GeV; NaN where a bin has < 2 events.
        error_gev: (B,) bootstrap standard deviation of the mean, GeV; NaN where a bin has < 2 events.
        count: (B,) events per bin.
    """

    edges_gev: FloatArray
    centre_gev: FloatArray
    mean_gev: FloatArray
    error_gev: FloatArray
    count: IntArray

    @property
    def valid(self) -> npt.NDArray[np.bool_]:
        """Bins that enter the fit."""
        return np.isfinite(self.mean_gev) & np.isfinite(self.error_gev)


def binned_means(
    true_energy: npt.ArrayLike,
    prediction: npt.ArrayLike,
    *,
    edges_gev: npt.ArrayLike,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> BinnedMeans:
    """Bootstrap mean prediction and its uncertainty in bins of true energy.

    Args:
        true_energy: (N,) GeV.
        prediction: (N,) raw predictions, GeV.
        edges_gev: (B + 1,) increasing bin edges, GeV; bins are lower-inclusive, upper-exclusive.
        n_bootstrap: resamples per bin (10 000 in the paper); 0 uses the sample mean and its standard error.
        rng: random generator of the bootstrap.
    """
    true, pred = as_energy_pair(true_energy, prediction, where="bias fit")
    edges = np.asarray(edges_gev, dtype=np.float64)
    n_bins = edges.size - 1
    mean = np.full(n_bins, np.nan)
    error = np.full(n_bins, np.nan)
    groups = split_by_bin(bin_index(true, edges), n_bins)
    count = np.array([g.size for g in groups], dtype=np.int64)
    for b, members in enumerate(groups):
        if members.size >= 2:
            mean[b], error[b] = bootstrap_mean(pred[members], n_bootstrap, rng)
    return BinnedMeans(
        edges_gev=edges,
        centre_gev=0.5 * (edges[:-1] + edges[1:]),
        mean_gev=mean,
        error_gev=error,
        count=count,
    )


def _line(x: FloatArray, slope: float, offset: float) -> FloatArray:
    return slope * x + offset


def fit_line(points: BinnedMeans, *, quiet: bool = False) -> BiasCorrection:
    """Weighted linear fit pred = a·E + b to the valid bins (scipy curve_fit, p0 = (1, 1), relative σ).

    ``quiet`` logs the zero-spread fallback at debug level only (bootstrap replicas, where a bin holding
    one event drawn twice is common and harmless).

    Raises:
        EvaluationError: fewer than 3 usable bins, the fit fails, or the slope is not above 1e-3
            (a response that does not grow with energy cannot be inverted).
    """
    valid = points.valid
    if int(valid.sum()) < 3:
        msg = f"bias fit: expected at least 3 bins with ≥ 2 events each, found {int(valid.sum())}"
        raise EvaluationError(msg)
    x, y, sigma = points.centre_gev[valid], points.mean_gev[valid], points.error_gev[valid].copy()
    positive = sigma > 0
    if not positive.all():
        # A bin of identical predictions has zero spread: give it the smallest spread seen elsewhere
        # rather than an infinite weight (happens with a model that predicts a constant).
        floor = float(sigma[positive].min()) if positive.any() else 1.0
        logger.log(
            logging.DEBUG if quiet else logging.WARNING,
            "bias fit: %d bin(s) with zero spread; using σ = %g GeV",
            int((~positive).sum()),
            floor,
        )
        sigma[~positive] = floor
    try:
        with warnings.catch_warnings():
            # Data on an exact line (a perfect model) leave no residuals to scale the covariance by;
            # the parameters are still right, and their errors are taken as 0 below.
            warnings.simplefilter("ignore", OptimizeWarning)
            params, covariance = curve_fit(_line, x, y, p0=(1.0, 1.0), sigma=sigma, absolute_sigma=False)
    except (RuntimeError, ValueError) as err:
        msg = f"bias fit: the linear fit failed ({err})"
        raise EvaluationError(msg) from err
    slope, offset = (float(p) for p in params)
    errors = np.sqrt(np.diag(covariance))
    if not np.isfinite(errors).all():
        logger.warning("bias fit: covariance not estimable (points exactly on a line?); errors set to 0")
        errors = np.zeros(2)
    slope_err, offset_err = (float(e) for e in errors)
    if not (math.isfinite(slope) and slope > _MIN_FIT_SLOPE and math.isfinite(offset)):
        msg = (
            f"bias fit: expected a finite slope above {_MIN_FIT_SLOPE} (a response that grows with "
            f"energy), got slope={slope!r}, offset={offset!r}"
        )
        raise EvaluationError(msg)
    return BiasCorrection(slope, offset, slope_err, offset_err)


def fit_bias_correction(
    true_energy: npt.ArrayLike,
    prediction: npt.ArrayLike,
    *,
    config: EvaluationConfig | None = None,
    n_bootstrap: int | None = None,
    seed: int | None = None,
) -> BiasCorrection:
    """Fit the bias correction on validation predictions (paper §4.1, reference-code-notes §7.1).

    Args:
        true_energy: (N,) true energies, GeV.
        prediction: (N,) raw predictions, GeV.
        config: binning (default: 39 bins of 100 GeV over 100–4000 GeV).
        n_bootstrap: resamples per bin; default ``config.fit_bootstrap`` (10 000); 0 = standard error.
        seed: bootstrap seed; default ``config.seed``.

    Returns:
        The fitted :class:`BiasCorrection`.

    Raises:
        EvaluationError: bad inputs, too few populated bins, or a failed fit.
    """
    cfg = config or EvaluationConfig()
    rng = np.random.default_rng(cfg.seed if seed is None else seed)
    points = binned_means(
        true_energy,
        prediction,
        edges_gev=cfg.fit_edges_gev,
        n_bootstrap=cfg.fit_bootstrap if n_bootstrap is None else n_bootstrap,
        rng=rng,
    )
    return fit_line(points)
