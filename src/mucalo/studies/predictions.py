"""Predictions of a finished run on the hold-out fold and on each model's monitoring fold, cached.

Each model predicts the hold-out fold (the evaluation sample) and its own monitoring fold (the validation
sample its bias correction is fitted on). The arrays are cached in ``<run>/study_predictions.npz``,
keyed by the run's ``ensemble.json``, so a retrained run is predicted again and a report is otherwise
cheap to remake.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mucalo.data import MuonDataset
from mucalo.errors import ConfigError
from mucalo.io.atomic import atomic_path
from mucalo.training import TrainedRun, load_run

__all__ = ["RunPredictions", "predict_run", "run_fingerprint"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

CACHE_FILE = "study_predictions.npz"


@dataclass(frozen=True, kw_only=True, slots=True)
class RunPredictions:
    """What a run's models predict.

    Attributes:
        holdout_fold: the fold no model trained or monitored on.
        holdout_true: (N,) true energies of the hold-out fold, GeV.
        holdout: (M, N) each model's predictions on the hold-out fold, GeV.
        weights: (M,) ensemble weights (sum 1).
        monitor_folds: (M,) each model's monitoring fold.
        monitor_true: M arrays (n_m,) of true energies of model m's monitoring fold, GeV.
        monitor: M arrays (n_m,) of model m's predictions on its monitoring fold, GeV.
    """

    holdout_fold: int
    holdout_true: FloatArray
    holdout: FloatArray
    weights: FloatArray
    monitor_folds: tuple[int, ...]
    monitor_true: tuple[FloatArray, ...]
    monitor: tuple[FloatArray, ...]

    @property
    def n_models(self) -> int:
        """Models in the run."""
        return int(self.holdout.shape[0])

    @property
    def ensemble(self) -> FloatArray:
        """(N,) ensemble prediction on the hold-out fold, GeV."""
        return np.asarray(self.weights @ self.holdout, dtype=np.float64)


def run_fingerprint(path: Path) -> str:
    """A hash of the run's ``ensemble.json``: changes whenever the run is retrained."""
    return hashlib.sha256((path / "ensemble.json").read_bytes()).hexdigest()[:16]


def predict_run(
    path: Path,
    dataset: MuonDataset,
    *,
    device: str = "cpu",
    batch_size: int = 256,
    trained: TrainedRun | None = None,
) -> RunPredictions:
    """Predictions of a finished run (from the cache when it is current).

    Args:
        path: the run directory.
        dataset: the data it was trained on.
        device: where the models run.
        batch_size: muons per forward pass.
        trained: the loaded run, if the caller has it.

    Raises:
        ConfigError: the run has no hold-out fold.
        CheckpointError: the run is not finished.
    """
    fingerprint = run_fingerprint(path)
    cached = _read_cache(path / CACHE_FILE, fingerprint)
    if cached is not None:
        return cached
    run = trained or load_run(path)
    holdout = run.holdout_fold
    if holdout is None:
        msg = f"{path}: trained without a hold-out fold (folds.holdout_fold null); a study needs one"
        raise ConfigError(msg)
    logger.info("run %s: predicting the hold-out fold %d and the monitoring folds", path, holdout)
    on_holdout = run.predict(dataset, [holdout], batch_size=batch_size, device=device)
    monitor_true, monitor = [], []
    for m, folds in enumerate(run.folds):
        # one model at a time: a run restricted to model m predicts only what m needs
        single = dataclasses.replace(run, models=(run.models[m],), weights=np.ones(1))
        result = single.predict(dataset, [folds.monitor], batch_size=batch_size, device=device)
        monitor_true.append(result.true_energy)
        monitor.append(result.per_model[0])
    predictions = RunPredictions(
        holdout_fold=int(holdout),
        holdout_true=on_holdout.true_energy,
        holdout=on_holdout.per_model,
        weights=np.asarray(run.weights, dtype=np.float64),
        monitor_folds=tuple(f.monitor for f in run.folds),
        monitor_true=tuple(monitor_true),
        monitor=tuple(monitor),
    )
    _write_cache(path / CACHE_FILE, predictions, fingerprint)
    return predictions


def _write_cache(path: Path, predictions: RunPredictions, fingerprint: str) -> None:
    offsets = np.cumsum([0, *(a.size for a in predictions.monitor)]).astype(np.int64)
    # a temporary file per process, then a rename: several reporting processes may race
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        np.savez(
            handle,
            fingerprint=np.array(fingerprint),
            holdout_fold=np.array(predictions.holdout_fold),
            holdout_true=predictions.holdout_true,
            holdout=predictions.holdout,
            weights=predictions.weights,
            monitor_folds=np.array(predictions.monitor_folds, dtype=np.int64),
            monitor_offsets=offsets,
            monitor_true=np.concatenate(predictions.monitor_true),
            monitor=np.concatenate(predictions.monitor),
        )


def _read_cache(path: Path, fingerprint: str) -> RunPredictions | None:
    if not path.is_file():
        return None
    with np.load(path) as data:
        if str(data["fingerprint"]) != fingerprint:
            logger.info("%s: stale (the run was retrained), predicting again", path)
            return None
        offsets = data["monitor_offsets"]
        bounds = list(itertools.pairwise(offsets))
        return RunPredictions(
            holdout_fold=int(data["holdout_fold"]),
            holdout_true=data["holdout_true"].astype(np.float64),
            holdout=data["holdout"].astype(np.float64),
            weights=data["weights"].astype(np.float64),
            monitor_folds=tuple(int(k) for k in data["monitor_folds"]),
            monitor_true=tuple(data["monitor_true"][a:b].astype(np.float64) for a, b in bounds),
            monitor=tuple(data["monitor"][a:b].astype(np.float64) for a, b in bounds),
        )
