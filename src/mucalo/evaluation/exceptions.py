"""The evaluation stage's own error."""

from __future__ import annotations

from mucalo.errors import MucaloError

__all__ = ["EvaluationError"]


class EvaluationError(MucaloError, ValueError):
    """The data cannot support the evaluation asked for (too few events per bin, a failed fit, …)."""
