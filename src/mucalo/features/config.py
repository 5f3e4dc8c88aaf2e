"""Constants of the feature definitions that are not detector numbers (SYSTEM.md "High-level features").

Thresholds, magnetic field and cell sizes come from :class:`mucalo.detector.Detector`; this holds the few
numbers that belong to the definitions themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mucalo.errors import ConfigError

__all__ = ["FeatureConfig"]


@dataclass(frozen=True, kw_only=True, slots=True)
class FeatureConfig:
    """Parameters of the box scan and of the curvature estimator V[24]; defaults are the paper's."""

    box_size: int = 3  # edge of the cubic box of V[15], V[25], in cells (paper: 3×3×3)
    curvature_weight_mm: float = 50.0  # length of w = exp(−|y − y_μ| / length) in V[24], mm
    emeas_clip_gev: float = 10_000.0  # V[24] is clipped to [0, this], GeV (paper footnote 4)

    def __post_init__(self) -> None:
        if not isinstance(self.box_size, int) or isinstance(self.box_size, bool) or self.box_size <= 0:
            msg = f"features.box_size: expected a positive integer, got {self.box_size!r}"
            raise ConfigError(msg)
        for name in ("curvature_weight_mm", "emeas_clip_gev"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                msg = f"features.{name}: expected a positive number, got {value!r}"
                raise ConfigError(msg)
