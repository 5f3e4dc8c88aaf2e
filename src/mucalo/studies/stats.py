"""The arithmetic of the study tables: mean ± standard error over models and the change in %.

The paper's tables quote the Mean Improvement as the mean over five models ± the standard error of that
mean, and the change as 100·(MI − MI_nominal)/MI_nominal with both errors propagated as independent
(this reproduces the errors of its Table 2; Table 1's are not reproducible from the printed values).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Estimate", "mean_with_error", "relative_change"]


@dataclass(frozen=True, slots=True)
class Estimate:
    """A value with its uncertainty.

    Attributes:
        value: NaN when nothing was measured.
        error: standard error; None when it cannot be estimated (one value, or an ensemble).
        n: number of finite values it came from.
    """

    value: float
    error: float | None
    n: int

    @property
    def finite(self) -> bool:
        """Whether there is a value."""
        return math.isfinite(self.value)


def mean_with_error(values: Iterable[float | None]) -> Estimate:
    """Mean and standard error of the mean (sample std with ddof 1, over √n) of the finite values.

    None and NaN values (a model whose bias fit failed) are left out and not counted in ``n``.

    Examples:
        >>> mean_with_error([19.0, 20.0, 21.0])
        Estimate(value=20.0, error=0.5773502691896258, n=3)
    """
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    n = len(finite)
    if n == 0:
        return Estimate(math.nan, None, 0)
    mean = math.fsum(finite) / n
    if n == 1:
        return Estimate(mean, None, 1)
    variance = math.fsum((v - mean) ** 2 for v in finite) / (n - 1)
    return Estimate(mean, math.sqrt(variance / n), n)


def relative_change(value: Estimate, reference: Estimate) -> Estimate:
    """100·(value − reference)/reference in %, errors propagated as independent.

    σ = 100·sqrt((σ_v/r)² + (v·σ_r/r²)²), with a missing error counted as 0; the error is None when
    neither has one. NaN when either value is missing or the reference is 0.
    """
    v, r = value.value, reference.value
    if not (math.isfinite(v) and math.isfinite(r)) or r == 0:
        return Estimate(math.nan, None, 0)
    change = 100.0 * (v - r) / r
    if value.error is None and reference.error is None:
        return Estimate(change, None, min(value.n, reference.n))
    sigma_v = value.error or 0.0
    sigma_r = reference.error or 0.0
    error = 100.0 * math.hypot(sigma_v / r, v * sigma_r / r**2)
    return Estimate(change, error, min(value.n, reference.n))
