"""The training stage's own error."""

from __future__ import annotations

from mucalo.errors import MucaloError

__all__ = ["TrainingError"]


class TrainingError(MucaloError, RuntimeError):
    """Training cannot go on or produced nothing usable (e.g. the monitoring loss was never finite)."""
