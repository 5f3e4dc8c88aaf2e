"""Which folds each model of an ensemble trains and monitors on, and the ensemble weights.

Paper §3.2.1 and §3.2.4, reference-code-notes §6.4: of 36 folds, fold 0 is the hold-out; model m monitors
fold m + 1. ``all-fold``: every model trains on all the other non-hold-out folds (34 of 36).
``unique-fold``: each model trains on its own disjoint set (7 each for 5 models), taken in fold order from
the folds no earlier model trains on, skipping its own monitoring fold (model 0: monitor 1, train 2–8;
model 1: monitor 2, train 1, 9–14; …). A fold may monitor one model and train another.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mucalo.errors import ConfigError
from mucalo.training.config import FoldConfig

__all__ = ["ModelFolds", "ensemble_weights", "plan_folds"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelFolds:
    """The folds of one model."""

    model: int  # model index
    train: tuple[int, ...]  # training folds, increasing
    monitor: int  # monitoring (validation) fold: model selection, early stopping, ensemble weight


def plan_folds(n_folds: int, config: FoldConfig) -> list[ModelFolds]:
    """Assign training and monitoring folds to ``config.n_models`` models.

    Args:
        n_folds: folds in the dataset.
        config: number of models, strategy and hold-out fold.

    Returns:
        One :class:`ModelFolds` per model. With fewer usable folds than models the monitoring folds wrap
        around (model m monitors usable fold m mod n_usable).

    Raises:
        ConfigError: too few folds for the strategy, or a hold-out fold that does not exist.
    """
    if config.holdout_fold is not None and config.holdout_fold >= n_folds:
        msg = f"folds.holdout_fold: {config.holdout_fold} does not exist, the dataset has {n_folds} folds"
        raise ConfigError(msg)
    usable = [f for f in range(n_folds) if f != config.holdout_fold]
    if len(usable) < 2:
        msg = (
            f"folds: need at least 2 folds besides the hold-out (one to train, one to monitor), "
            f"the dataset has {n_folds}"
        )
        raise ConfigError(msg)
    monitors = [usable[m % len(usable)] for m in range(config.n_models)]
    if config.strategy == "all-fold":
        return [
            ModelFolds(model=m, train=tuple(f for f in usable if f != monitor), monitor=monitor)
            for m, monitor in enumerate(monitors)
        ]
    for per_model in range(len(usable) // config.n_models, 0, -1):
        plan = _unique(usable, monitors, per_model)
        if plan is not None:
            return plan
    msg = (
        f"folds: unique-fold training of {config.n_models} models needs at least one training fold per "
        f"model besides its monitoring fold; the dataset has {len(usable)} usable folds"
    )
    raise ConfigError(msg)


def _unique(usable: Sequence[int], monitors: Sequence[int], per_model: int) -> list[ModelFolds] | None:
    """Greedy disjoint assignment of ``per_model`` training folds each, or None if it runs out."""
    taken: set[int] = set()
    plan = []
    for m, monitor in enumerate(monitors):
        train = [f for f in usable if f not in taken and f != monitor][:per_model]
        if len(train) < per_model:
            return None
        taken.update(train)
        plan.append(ModelFolds(model=m, train=tuple(train), monitor=monitor))
    return plan


def ensemble_weights(best_losses: Sequence[float]) -> npt.NDArray[np.float64]:
    """Weights ∝ 1 / best monitoring loss, normalised to sum 1 (reference-code-notes §6.4).

    Raises:
        ConfigError: a loss is not a positive finite number (a model that never improved).
    """
    losses = np.asarray(best_losses, dtype=np.float64)
    if losses.ndim != 1 or losses.size == 0 or not all(math.isfinite(v) and v > 0 for v in losses):
        msg = f"ensemble weights: expected positive finite best losses, got {list(best_losses)!r}"
        raise ConfigError(msg)
    inverse: npt.NDArray[np.float64] = 1.0 / losses
    return inverse / float(inverse.sum())
