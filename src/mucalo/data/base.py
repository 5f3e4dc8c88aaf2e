"""The interface every dataset offers, whatever file it lives in (mucalo dataset or LUMIN fold file).

A dataset is a sequence of muons split into folds; muon ``i`` (the *global index*) belongs to the fold
``k`` with ``fold_offsets[k] <= i < fold_offsets[k+1]``. Hits stay sparse: ``hits(fold)`` and
``batch_hits(indices)`` return CSR triples (offsets rebased to 0, flat cell, energy GeV), and dense grids
are only ever built per batch (:mod:`mucalo.data.grid`).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from mucalo.data.standardisation import Standardisation
from mucalo.detector import Detector
from mucalo.errors import ConfigError, MissingDataError

__all__ = ["Hits", "MuonDataset", "ShuffleScope"]

#: (offsets [n+1] int64 from 0, cell [m] flat index (layer·nx + ix)·ny + iy, energy [m] float32 GeV)
Hits = tuple[npt.NDArray[np.int64], npt.NDArray[np.integer[Any]], npt.NDArray[np.float32]]
#: How a shuffled epoch is ordered: across all chosen muons, or fold by fold (LUMIN's way).
ShuffleScope = Literal["dataset", "fold"]


class MuonDataset(abc.ABC):
    """Muons in folds: targets, features, sparse hits, detector and standardisation statistics.

    Attributes:
        path: the file or directory the dataset was opened from.
        format: ``"mucalo-dataset"`` or ``"lumin-fold-file"``.
        fold_offsets: (n_folds + 1,) int64, first global index of each fold plus the total.
        feature_names: names of the F feature columns.
        detector: the geometry of the hits (for LUMIN files: the published one, shape from the file).
        standardisation: what turns the stored features into model inputs (identity when the file's
            features were standardised by its authors, ``features_prestandardised``).
        features_prestandardised: True when the stored features are already standardised.
        preferred_shuffle_scope: ``"fold"`` when random access across folds is slow (compressed files).
    """

    path: Path
    format: str
    fold_offsets: npt.NDArray[np.int64]
    feature_names: list[str]
    detector: Detector
    standardisation: Standardisation
    features_prestandardised: bool
    preferred_shuffle_scope: ShuffleScope = "dataset"

    # --- sizes ---------------------------------------------------------------------------------
    @property
    def n_folds(self) -> int:
        """Number of folds."""
        return int(self.fold_offsets.size - 1)

    @property
    def n_muons(self) -> int:
        """Number of muons over all folds."""
        return int(self.fold_offsets[-1])

    @property
    def fold_sizes(self) -> list[int]:
        """Number of muons per fold."""
        return [int(v) for v in np.diff(self.fold_offsets)]

    @property
    def grid_shape(self) -> tuple[int, int, int]:
        """(layers, x cells, y cells) of the dense grids."""
        return self.detector.shape

    def check_fold(self, fold: int) -> int:
        """``fold`` as an int, or ConfigError when it is not a fold of this dataset."""
        if isinstance(fold, bool) or not isinstance(fold, int | np.integer) or not 0 <= fold < self.n_folds:
            msg = f"{self.path}: fold {fold!r} does not exist; folds are 0..{self.n_folds - 1}"
            raise ConfigError(msg)
        return int(fold)

    def fold_of(self, indices: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Fold of each global muon index."""
        idx = np.asarray(indices, dtype=np.int64)
        return (np.searchsorted(self.fold_offsets, idx, side="right") - 1).astype(np.int64)

    def feature_columns(self, columns: Sequence[str | int] | None) -> list[int]:
        """Column numbers of ``columns`` (names or numbers; None: all), checked against the dataset."""
        if columns is None:
            return list(range(len(self.feature_names)))
        result = []
        for column in columns:
            if isinstance(column, str):
                if column not in self.feature_names:
                    msg = f"{self.path}: feature {column!r} unknown; the features are {self.feature_names}"
                    raise ConfigError(msg)
                result.append(self.feature_names.index(column))
            elif isinstance(column, int | np.integer) and 0 <= column < len(self.feature_names):
                result.append(int(column))
            else:
                msg = f"{self.path}: feature column {column!r} outside [0, {len(self.feature_names)})"
                raise ConfigError(msg)
        return result

    # --- data ----------------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def has_hits(self) -> bool:
        """False for files holding only the high-level features (LUMIN ``--hl-only``)."""

    @abc.abstractmethod
    def targets(self, fold: int) -> npt.NDArray[np.float32]:
        """True muon energies of a fold, (n,) float32 GeV."""

    @abc.abstractmethod
    def stored_features(self, fold: int) -> npt.NDArray[np.float32]:
        """Features of a fold as the file stores them, (n, F) float32 (raw unless prestandardised)."""

    @abc.abstractmethod
    def hits(self, fold: int) -> Hits:
        """Sparse hits of a whole fold: offsets (n+1) from 0, cell int64, energy float32 GeV."""

    @abc.abstractmethod
    def batch_hits(self, indices: npt.NDArray[np.int64]) -> Hits:
        """Sparse hits of the muons ``indices`` (global), in that order; cell may be any integer dtype."""

    @abc.abstractmethod
    def metadata(self) -> dict[str, Any]:
        """Provenance of the dataset (config, seed, versions, sources; what the file records)."""

    def features(self, fold: int, *, standardised: bool = True) -> npt.NDArray[np.float32]:
        """Features of a fold, (n, F) float32: standardised model inputs, or raw values.

        Raises:
            MissingDataError: raw features asked of a file whose features were standardised by someone
                who did not record the statistics (the published fold files, reference-code-notes §2.7).
        """
        stored = self.stored_features(fold)
        if standardised:
            return self.standardisation.apply(stored)
        if not self.features_prestandardised:
            return stored
        source = self.source_standardisation
        if source is None:
            msg = (
                f"{self.path}: the raw features cannot be recovered: the file stores standardised features "
                "without their mean/std (use standardised=True)"
            )
            raise MissingDataError(msg)
        return source.invert(stored)

    @property
    def source_standardisation(self) -> Standardisation | None:
        """The statistics the file's writer applied to the stored features, when it recorded them."""
        return None

    # --- summary -------------------------------------------------------------------------------
    def fold_hit_sums(self, fold: int) -> tuple[int, float]:
        """(number of hits, sum of hit energies GeV) of a fold; subclasses stream it."""
        offsets, _, energy = self.hits(fold)
        return int(offsets[-1]), float(np.sum(energy, dtype=np.float64))

    def info(self) -> dict[str, Any]:
        """What ``mucalo dataset info`` shows: sizes, names and per-fold sums to check before training."""
        folds = []
        for fold in range(self.n_folds):
            stored = self.stored_features(fold)
            n_hits, energy_sum = self.fold_hit_sums(fold) if self.has_hits else (0, 0.0)
            folds.append(
                {
                    "fold": fold,
                    "n_muons": self.fold_sizes[fold],
                    "target_sum": float(np.sum(self.targets(fold), dtype=np.float64)),
                    "feature_sums": np.sum(stored, axis=0, dtype=np.float64).tolist(),
                    "hit_energy_sum": energy_sum,
                    "n_hits": n_hits,
                }
            )
        return {
            "path": str(self.path),
            "format": self.format,
            "n_folds": self.n_folds,
            "n_muons": self.n_muons,
            "fold_sizes": self.fold_sizes,
            "feature_names": list(self.feature_names),
            "features_prestandardised": self.features_prestandardised,
            "feature_sums_of": "standardised features" if self.features_prestandardised else "raw features",
            "has_hits": self.has_hits,
            "grid_shape": list(self.grid_shape),
            "detector": self.detector.to_dict(),
            "standardisation": self.standardisation.to_dict(),
            "metadata": self.metadata(),
            "folds": folds,
        }
