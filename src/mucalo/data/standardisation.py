"""Feature standardisation: (x − mean) / std per feature, statistics from the training folds only.

The statistics travel with the dataset and, through the training stage, inside every trained model, so
that new data are transformed with exactly the numbers the model saw (reference-code-notes §2.7: the
authors' fold file lost them; mucalo keeps them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mucalo.errors import DataFormatError

__all__ = ["Standardisation", "compute_standardisation"]


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class Standardisation:
    """Per-feature mean and standard deviation (population std, as the authors' ``prep_data.py``).

    Attributes:
        feature_names: the F feature names, in column order.
        mean: (F,) float64, in the features' units.
        std: (F,) float64, > 0 (a constant feature gets std 1 so that it maps to 0, not NaN).
        folds: the folds the statistics were computed on; empty for the identity (features already
            standardised by whoever wrote the file).
    """

    feature_names: tuple[str, ...]
    mean: npt.NDArray[np.float64]
    std: npt.NDArray[np.float64]
    folds: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.feature_names)
        if self.mean.shape != (n,) or self.std.shape != (n,):
            msg = f"standardisation: mean {self.mean.shape} and std {self.std.shape} must both be ({n},)"
            raise DataFormatError(msg)
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.std)) and np.all(self.std > 0)):
            msg = "standardisation: mean must be finite and std finite and > 0"
            raise DataFormatError(msg)

    @classmethod
    def identity(cls, feature_names: Sequence[str]) -> Standardisation:
        """Mean 0, std 1: for features that were standardised before they reached mucalo."""
        n = len(feature_names)
        return cls(feature_names=tuple(feature_names), mean=np.zeros(n), std=np.ones(n))

    @property
    def is_identity(self) -> bool:
        """True when applying it changes nothing."""
        return bool(np.all(self.mean == 0) and np.all(self.std == 1))

    def apply(self, values: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
        """Standardise raw features (N, F) → float32 (N, F)."""
        return ((values - self.mean) / self.std).astype(np.float32)

    def invert(self, values: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
        """Raw features from standardised ones (N, F) → float32 (N, F)."""
        return (values * self.std + self.mean).astype(np.float32)

    def select(self, columns: Sequence[int]) -> Standardisation:
        """The statistics of a subset of the columns (for feature ablations)."""
        idx = np.asarray(columns, dtype=np.int64)
        return Standardisation(
            feature_names=tuple(self.feature_names[i] for i in idx),
            mean=self.mean[idx],
            std=self.std[idx],
            folds=self.folds,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (stored in ``dataset.json`` and in trained models)."""
        return {
            "feature_names": list(self.feature_names),
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
            "folds": list(self.folds),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "standardisation") -> Standardisation:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(
                feature_names=tuple(str(n) for n in data["feature_names"]),
                mean=np.asarray(data["mean"], dtype=np.float64),
                std=np.asarray(data["std"], dtype=np.float64),
                folds=tuple(int(k) for k in data.get("folds", ())),
            )
        except (KeyError, TypeError, ValueError) as err:
            msg = f"{where}: expected keys feature_names, mean, std (lists of equal length): {err}"
            raise DataFormatError(msg) from err


def compute_standardisation(
    features: npt.NDArray[np.float32], feature_names: Sequence[str], *, folds: Sequence[int]
) -> Standardisation:
    """Mean and population std of ``features`` (N, F), computed in float64.

    Args:
        features: raw features of the muons of the statistics folds only.
        feature_names: F names.
        folds: which folds ``features`` come from (recorded, not used).
    """
    values = np.asarray(features, dtype=np.float64)
    mean = values.mean(axis=0) if len(values) else np.zeros(values.shape[1])
    std = values.std(axis=0) if len(values) else np.ones(values.shape[1])
    # a feature that is constant on the training folds carries no information; std 1 maps it to 0
    std = np.where(std > 0, std, 1.0)
    return Standardisation(feature_names=tuple(feature_names), mean=mean, std=std, folds=tuple(folds))
