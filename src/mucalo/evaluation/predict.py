"""Apply a trained run to new muons: ``mucalo predict RUN INPUT --out FILE`` (issue 9).

INPUT is a shard file or directory, a LUMIN fold file, or a mucalo dataset directory. Shards are read one
at a time into an in-memory one-fold :class:`~mucalo.data.MuonDataset` and predicted with
:meth:`TrainedRun.predict`, so prediction takes exactly the path of training and evaluation (loader,
standardisation with the run's statistics, model inputs), the shards are never modified or copied to
disk, the output keeps the shards' muon order, and memory is bounded by the largest shard. Features missing
from a shard are computed in memory (:func:`mucalo.features.compute_features_batch`).

The output (HDF5 or CSV, by suffix; written atomically) has one row per muon: where it came from, the true
energy, the raw ensemble prediction, the bias-corrected one (NaN when the run has no
``bias_correction.json``; run ``mucalo evaluate`` first), the ensemble spread and each model's prediction.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
import numpy.typing as npt

from mucalo import __version__
from mucalo.data import Hits, MuonDataset, Standardisation, open_dataset
from mucalo.data.lumin import is_lumin_file
from mucalo.data.store import is_dataset_dir
from mucalo.errors import ConfigError
from mucalo.evaluation.run_inputs import ENSEMBLE, StoredCorrection, load_bias_correction, model_labels
from mucalo.features import FEATURE_NAMES, compute_features_batch
from mucalo.io.atomic import atomic_path
from mucalo.io.shards import Shard, ShardSet
from mucalo.training import RunPrediction, TrainedRun, load_run

__all__ = ["ShardDataset", "predict_run", "shard_features"]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
FeatureSource = Literal["stored", "computed", "unused"]
_FORMATS = {".h5": "hdf5", ".hdf5": "hdf5", ".csv": "csv"}


class ShardDataset(MuonDataset):
    """One shard in memory as a one-fold dataset with the features a run reads (raw values).

    Args:
        shard: the shard.
        features: (N, F) raw features, columns ``standardisation.feature_names``.
        standardisation: the run's statistics for those columns.
        with_hits: read the shard's hits (needed by grid models only).
    """

    format = "mucalo-shard"

    def __init__(
        self,
        shard: Shard,
        *,
        features: npt.NDArray[np.float32],
        standardisation: Standardisation,
        with_hits: bool,
    ) -> None:
        self.path = shard.path
        self.fold_offsets = np.array([0, shard.n_muons], dtype=np.int64)
        self.feature_names = list(standardisation.feature_names)
        self.detector = shard.detector
        self.standardisation = standardisation
        self.features_prestandardised = False
        self._features = np.ascontiguousarray(features, dtype=np.float32)
        self._targets = shard.truth()["true_energy"].astype(np.float32)
        empty: Hits = (np.zeros(shard.n_muons + 1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
        self._hits = shard.hits() if with_hits else empty
        self._with_hits = with_hits
        self._simulation = shard.simulation

    @property
    def has_hits(self) -> bool:
        """Whether the hits were read."""
        return self._with_hits

    def targets(self, fold: int) -> npt.NDArray[np.float32]:
        """True energies, GeV."""
        self.check_fold(fold)
        return self._targets.copy()

    def stored_features(self, fold: int) -> npt.NDArray[np.float32]:
        """Raw features (N, F)."""
        self.check_fold(fold)
        return self._features.copy()

    def hits(self, fold: int) -> Hits:
        """All hits of the shard."""
        self.check_fold(fold)
        return self._hits

    def batch_hits(self, indices: npt.NDArray[np.int64]) -> Hits:
        """Hits of the muons ``indices``, in that order."""
        offsets, cell, energy = self._hits
        lo, hi = offsets[indices], offsets[indices + 1]
        out = np.zeros(indices.size + 1, dtype=np.int64)
        np.cumsum(hi - lo, out=out[1:])
        pick = np.concatenate(
            [np.arange(a, b) for a, b in zip(lo, hi, strict=True)] or [np.zeros(0, np.int64)]
        )
        return out, cell[pick], energy[pick]

    def metadata(self) -> dict[str, Any]:
        """The shard's simulation record."""
        return {"shard": str(self.path), "simulation": self._simulation}


def shard_features(run: TrainedRun, shard: Shard) -> tuple[npt.NDArray[np.float32], FeatureSource]:
    """Raw features of the run's columns: stored in the shard, else computed in memory."""
    columns = list(run.feature_columns)
    if not run.model_config.uses_features:
        # The loader always carries features; a grid-only model ignores them, so zeros do.
        return np.zeros((shard.n_muons, len(columns)), dtype=np.float32), "unused"
    stored = shard.feature_names or []
    if set(columns) <= set(stored):
        values = shard.features()
        assert values is not None
        return values[:, [stored.index(c) for c in columns]], "stored"
    unknown = [c for c in columns if c not in FEATURE_NAMES]
    if unknown:
        msg = (
            f"{shard.path}: the run reads features {unknown} that the shard does not store and mucalo "
            f"cannot compute (it computes {list(FEATURE_NAMES)})"
        )
        raise ConfigError(msg)
    logger.info("%s: computing the %d features in memory", shard.path, len(FEATURE_NAMES))
    truth = shard.truth()
    offsets, cell, energy = shard.hits()
    values = compute_features_batch(
        offsets, cell, energy, truth["x0"], truth["y0"], shard.detector, where=str(shard.path)
    )
    return values[:, [FEATURE_NAMES.index(c) for c in columns]], "computed"


def _columns(
    prediction: RunPrediction, labels: Sequence[str], stored: StoredCorrection | None
) -> dict[str, Any]:
    """The output columns after the input's own (index) columns."""
    deviation = prediction.per_model - prediction.ensemble[None, :]
    spread = np.sqrt(np.maximum(prediction.weights @ deviation**2, 0.0))
    correction = None if stored is None else stored.get(ENSEMBLE)
    corrected = (
        np.full(prediction.ensemble.shape, np.nan)
        if correction is None
        else correction.apply(prediction.ensemble)
    )
    columns: dict[str, Any] = {
        "true_energy": prediction.true_energy,
        "ensemble_raw": prediction.ensemble,
        "ensemble_corrected": corrected,
        "ensemble_spread": spread,
    }
    for m, label in enumerate(labels):
        columns[label] = prediction.per_model[m]
    return columns


def _write(path: Path, columns: dict[str, npt.NDArray[Any]], attrs: dict[str, Any], fmt: str) -> None:
    with atomic_path(path) as tmp:
        if fmt == "hdf5":
            with h5py.File(tmp, "w") as f:
                for name, values in columns.items():
                    f.create_dataset(name, data=values)
                for key, value in attrs.items():
                    f.attrs[key] = value if isinstance(value, str | int | float) else json.dumps(value)
            return
        names = list(columns)
        int_columns = {n for n, v in columns.items() if np.issubdtype(v.dtype, np.integer)}
        lines = [",".join(names)]
        for row in zip(*(columns[n].tolist() for n in names), strict=True):
            lines.append(
                ",".join(
                    str(v) if n in int_columns else repr(float(v)) for n, v in zip(names, row, strict=True)
                )
            )
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _predict_dataset(
    run: TrainedRun, data: MuonDataset, *, batch_size: int, device: str
) -> tuple[dict[str, Any], RunPrediction]:
    prediction = run.predict(data, None, batch_size=batch_size, device=device)
    return {"index": prediction.index, "fold": prediction.fold}, prediction


def _predict_shards(
    run: TrainedRun, shards: ShardSet, *, batch_size: int, device: str
) -> tuple[dict[str, Any], RunPrediction, list[FeatureSource]]:
    parts: list[RunPrediction] = []
    numbers, sources = [], []
    for k, shard in enumerate(shards.shards):
        features, source = shard_features(run, shard)
        data = ShardDataset(
            shard,
            features=features,
            standardisation=run.standardisation,
            with_hits=run.model_config.uses_grid,
        )
        parts.append(run.predict(data, None, batch_size=batch_size, device=device))
        numbers.append(np.full(shard.n_muons, k, dtype=np.int64))
        sources.append(source)
    prediction = RunPrediction(
        index=np.concatenate([p.index for p in parts]),
        fold=np.concatenate([p.fold for p in parts]),
        true_energy=np.concatenate([p.true_energy for p in parts]),
        per_model=np.concatenate([p.per_model for p in parts], axis=1),
        ensemble=np.concatenate([p.ensemble for p in parts]),
        weights=run.weights,
    )
    return {"shard": np.concatenate(numbers), "muon": prediction.index}, prediction, sources


def predict_run(
    run: TrainedRun | PathLike,
    input_path: PathLike,
    out: PathLike,
    *,
    batch_size: int = 256,
    device: str = "cpu",
    overwrite: bool = False,
) -> dict[str, Any]:
    """Predict the energies of the muons of ``input_path`` with the run's ensemble and write them to ``out``.

    Args:
        run: a run directory (or a loaded :class:`TrainedRun`).
        input_path: a shard file or directory of shards, a LUMIN fold file, or a mucalo dataset directory.
        out: ``.h5``/``.hdf5`` or ``.csv`` file. Columns: ``index`` and ``fold`` (datasets) or ``shard``
            (number in the shard list, attribute ``shard_files`` of the HDF5 file) and ``muon`` (index in
            that shard); ``true_energy``; ``ensemble_raw``; ``ensemble_corrected`` (NaN without a bias
            correction); ``ensemble_spread`` = √(Σ_m w_m (p_m − ensemble)²) with the ensemble weights w;
            ``model_{m}``. All energies in GeV.
        batch_size: muons per forward pass.
        device: where the models run.
        overwrite: replace an existing ``out``.

    Returns:
        A summary: ``out``, ``format``, ``input``, ``input_kind``, ``n_muons``, ``columns``,
        ``bias_corrected``, ``note``, ``features`` ("in the dataset", or for shards "stored", "computed" (in
        memory) or "unused", comma-separated when the shards differ).

    Raises:
        ConfigError: unknown suffix, ``out`` exists, or the input lacks features the run reads.
        MissingDataError, DataFormatError: the input cannot be read.
    """
    target = Path(out)
    fmt = _FORMATS.get(target.suffix.lower())
    if fmt is None:
        msg = f"{target}: unknown output format; use a name ending in {sorted(_FORMATS)}"
        raise ConfigError(msg)
    if target.exists() and not overwrite:
        msg = f"{target}: exists; pass --overwrite to replace it"
        raise ConfigError(msg)
    trained = run if isinstance(run, TrainedRun) else load_run(run)
    source = Path(input_path)
    labels = model_labels(trained)
    attrs: dict[str, Any] = {"run": str(trained.path), "input": str(source), "units": "GeV"}
    if is_dataset_dir(source) or is_lumin_file(source):
        data = open_dataset(source)
        kind = data.format
        index_columns, prediction = _predict_dataset(trained, data, batch_size=batch_size, device=device)
        features = "in the dataset"
    else:
        shards = ShardSet(source)
        kind = "shards"
        index_columns, prediction, sources = _predict_shards(
            trained, shards, batch_size=batch_size, device=device
        )
        features = ", ".join(sorted(set(sources)))
        attrs["shard_files"] = [str(p) for p in shards.files]
    stored = load_bias_correction(trained.path)
    correction = None if stored is None else stored.get(ENSEMBLE)
    if correction is None:
        note = (
            f"{trained.path} has no usable ensemble bias correction (run `mucalo evaluate` on it first); "
            "ensemble_corrected is NaN"
        )
        logger.warning(note)
    else:
        note = f"ensemble_corrected uses the ensemble correction of {stored.path if stored else ''}"
        attrs["bias_correction"] = correction.to_dict()
    attrs.update(note=note, mucalo_version=__version__, ensemble_weights=trained.weights.tolist())
    columns = {**index_columns, **_columns(prediction, labels, stored)}
    _write(target, columns, attrs, fmt)
    logger.info("%d muons predicted from %s into %s", prediction.ensemble.size, source, target)
    return {
        "out": str(target),
        "format": fmt,
        "input": str(source),
        "input_kind": kind,
        "n_muons": int(prediction.ensemble.size),
        "columns": list(columns),
        "bias_corrected": correction is not None,
        "note": note,
        "features": features,
    }
