"""Configuration of a dataset build (SYSTEM.md "Training": 36 folds, fold 0 held out)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mucalo.errors import ConfigError

__all__ = ["DatasetConfig"]


@dataclass(frozen=True, kw_only=True, slots=True)
class DatasetConfig:
    """How muons are split into folds and which folds the standardisation statistics come from."""

    n_folds: int = 36  # number of folds (paper: 36; a fixed-energy test sample uses 1)
    seed: int = 0  # seed of the fold assignment (same seed and muon count → same folds)
    holdout_fold: int | None = 0  # fold held out of the standardisation statistics; None: use all folds

    def __post_init__(self) -> None:
        if not isinstance(self.n_folds, int) or isinstance(self.n_folds, bool) or self.n_folds < 1:
            msg = f"dataset.n_folds: expected a positive integer, got {self.n_folds!r}"
            raise ConfigError(msg)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            msg = f"dataset.seed: expected a non-negative integer, got {self.seed!r}"
            raise ConfigError(msg)
        if self.holdout_fold is not None and not 0 <= self.holdout_fold < self.n_folds:
            msg = (
                f"dataset.holdout_fold: expected a fold in [0, {self.n_folds}) or None, "
                f"got {self.holdout_fold!r}"
            )
            raise ConfigError(msg)

    @property
    def statistics_folds(self) -> tuple[int, ...]:
        """Folds whose features give the standardisation mean/std: every fold but the hold-out.

        With a single fold (a test sample) there is no training fold, so that fold itself is used; models
        carry the statistics of their own training data, so these only matter for a stand-alone look.
        """
        folds = tuple(k for k in range(self.n_folds) if k != self.holdout_fold)
        return folds or tuple(range(self.n_folds))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (stored in ``dataset.json``)."""
        return asdict(self)
