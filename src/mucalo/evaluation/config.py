"""Settings of the evaluation stage (SYSTEM.md "Evaluation", reference-code-notes §7)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mucalo.errors import ConfigError

__all__ = ["EvaluationConfig"]


@dataclass(frozen=True, kw_only=True, slots=True)
class EvaluationConfig:
    """Binning, tracker model and bootstrap counts; the defaults reproduce the paper's evaluation.

    Bins are lower-inclusive and upper-exclusive, like the reference code.
    """

    fit_range_gev: tuple[float, float] = (100.0, 4000.0)  # true-energy range of the bias fit, GeV
    fit_bins: int = 39  # bias-fit bins over fit_range_gev (100 GeV wide by default)
    resolution_range_gev: tuple[float, float] = (100.0, 4000.0)  # binned (validation) resolution, GeV
    resolution_bins: int = 20  # resolution bins over resolution_range_gev (195 GeV wide by default)
    fixed_range_gev: tuple[float, float] = (100.0, 4100.0)  # fixed-energy (test) points kept, inclusive
    tracker_k_per_gev: float = 2e-4  # tracker σ/E = k·E (20 % at 1 TeV), 1/GeV
    fit_bootstrap: int = 10_000  # bootstrap resamples per bias-fit bin (0: standard error of the mean)
    metric_bootstrap: int = 200  # resamples of the whole pipeline for metric uncertainties (0: none)
    seed: int = 0  # seed of every bootstrap, so evaluations are reproducible

    def __post_init__(self) -> None:
        for name in ("fit_range_gev", "resolution_range_gev", "fixed_range_gev"):
            low, high = getattr(self, name)
            if not (math.isfinite(low) and math.isfinite(high) and 0 <= low < high):
                msg = f"evaluation.{name}: expected (low, high) with 0 ≤ low < high, got {(low, high)!r}"
                raise ConfigError(msg)
        for name in ("fit_bins", "resolution_bins"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                msg = f"evaluation.{name}: expected a positive integer, got {value!r}"
                raise ConfigError(msg)
        for name in ("fit_bootstrap", "metric_bootstrap"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                msg = f"evaluation.{name}: expected a non-negative integer, got {value!r}"
                raise ConfigError(msg)
        if not (math.isfinite(self.tracker_k_per_gev) and self.tracker_k_per_gev > 0):
            msg = f"evaluation.tracker_k_per_gev: expected a positive number, got {self.tracker_k_per_gev!r}"
            raise ConfigError(msg)

    @property
    def fit_edges_gev(self) -> npt.NDArray[np.float64]:
        """Bias-fit bin edges, GeV, shape (fit_bins + 1,)."""
        return np.linspace(*self.fit_range_gev, self.fit_bins + 1)

    @property
    def resolution_edges_gev(self) -> npt.NDArray[np.float64]:
        """Resolution bin edges, GeV, shape (resolution_bins + 1,)."""
        return np.linspace(*self.resolution_range_gev, self.resolution_bins + 1)
