"""Gauss–Legendre quadrature in a logarithmic variable, vectorised over many integration ranges."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

__all__ = ["gauss_legendre", "integrate_log"]

FloatArray = npt.NDArray[np.float64]


def gauss_legendre(order: int) -> tuple[FloatArray, FloatArray]:
    """Nodes and weights of the ``order``-point Gauss–Legendre rule on [0, 1]."""
    nodes, weights = np.polynomial.legendre.leggauss(order)
    return 0.5 * (nodes + 1.0), 0.5 * weights


def integrate_log(
    integrand: Callable[[FloatArray], FloatArray],
    lower: npt.ArrayLike,
    upper: npt.ArrayLike,
    *,
    panels: int = 32,
    order: int = 8,
) -> FloatArray:
    """∫ f(x) d(ln x) from ``lower`` to ``upper`` for each row.

    Args:
        integrand: f evaluated on an array of points of shape (rows, panels·order); must return the
            same shape.
        lower: (rows,) lower limits, > 0.
        upper: (rows,) upper limits; rows with upper ≤ lower give 0.
        panels: equal panels in ln x per row.
        order: Gauss–Legendre points per panel.

    Returns:
        (rows,) float64 integrals.
    """
    lo = np.log(np.atleast_1d(np.asarray(lower, dtype=np.float64)))
    hi = np.log(np.atleast_1d(np.asarray(upper, dtype=np.float64)))
    width = np.clip(hi - lo, 0.0, None)
    nodes, weights = gauss_legendre(order)
    u = ((np.arange(panels)[:, None] + nodes[None, :]) / panels).ravel()  # (panels·order,) in [0, 1]
    w = np.tile(weights, panels) / panels
    log_x = lo[:, None] + width[:, None] * u[None, :]
    values = integrand(np.exp(log_x))
    return np.asarray((values * w[None, :]).sum(axis=1) * width)
