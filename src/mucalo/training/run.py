"""The run directory of a training, and loading it back to predict.

Layout (everything needed to predict later; written by the main rank, files atomically)::

    RUN/
      config.json        {"train": TrainConfig, "model": ModelConfig, "feature_columns": [...]} (resolved)
      config.yaml        the same, for people
      dataset.json       the dataset trained on: path, format, n_folds, fold_sizes, feature_names,
                         has_hits, grid_shape, and the feature "standardisation" the models expect
      folds.json         [{"model": m, "train": [...], "monitor": k}, ...]
      versions.json      mucalo, torch, numpy, python; schema_version of the checkpoints
      history.csv        one row per epoch per model (columns: state.HISTORY_COLUMNS)
      model_{m}/checkpoint.pt   last epoch: model, optimiser, loss thresholds, TrainState, RNG states,
                                history, configs, standardisation, versions (what --resume reads)
      model_{m}/best.pt         best monitoring loss: model + optimiser state, model config,
                                val_loss, epoch, standardisation (what prediction uses)
      ensemble.json      written when all models are done: per-model best_val_loss, best_epoch,
                         epochs, stop_reason, monitor fold, and weights ∝ 1/best_val_loss (sum 1)
      train.log          the CLI's log
      bias_correction.json   added by the evaluation stage

:func:`load_run` reads a finished run into a :class:`TrainedRun`, whose :meth:`TrainedRun.predict` gives
per-model and ensemble predictions for any dataset with the same features (its features are
standardised with the run's statistics, not the dataset's own).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import yaml
from torch import nn

from mucalo.config import config_to_dict, from_dict
from mucalo.data import MuonDataset, Standardisation, make_loader, open_dataset
from mucalo.errors import CheckpointError, ConfigError, MissingDataError
from mucalo.io.atomic import write_json_atomic, write_text_atomic
from mucalo.models import FastPath, FastPathConfig, ModelConfig, build_model
from mucalo.provenance import versions
from mucalo.training.checkpoint import SCHEMA_VERSION, load_checkpoint
from mucalo.training.config import TrainConfig
from mucalo.training.folds import ModelFolds
from mucalo.training.loop import BEST_FILE, model_inputs

__all__ = [
    "RunPrediction",
    "TrainedRun",
    "dataset_reference",
    "load_run",
    "model_dir",
    "read_run_config",
    "write_run_files",
]

CONFIG_FILE = "config.json"
DATASET_FILE = "dataset.json"
FOLDS_FILE = "folds.json"
VERSIONS_FILE = "versions.json"
ENSEMBLE_FILE = "ensemble.json"
HISTORY_FILE = "history.csv"


def model_dir(run: Path, model: int) -> Path:
    """``RUN/model_{m}``."""
    return run / f"model_{model}"


def dataset_reference(dataset: MuonDataset, standardisation: Standardisation) -> dict[str, Any]:
    """What ``dataset.json`` records about the training data."""
    return {
        "path": str(Path(dataset.path).resolve()),
        "format": dataset.format,
        "n_folds": dataset.n_folds,
        "fold_sizes": dataset.fold_sizes,
        "feature_names": list(dataset.feature_names),
        "has_hits": dataset.has_hits,
        "grid_shape": list(dataset.grid_shape),
        "standardisation": standardisation.to_dict(),
    }


def write_run_files(
    run: Path,
    *,
    config: TrainConfig,
    model_config: ModelConfig,
    feature_columns: Sequence[str],
    dataset: Mapping[str, Any],
    folds: Sequence[ModelFolds],
) -> None:
    """Write config, dataset reference, folds and versions of a new run."""
    resolved = {
        "train": config.to_dict(),
        "model": config_to_dict(model_config),
        "feature_columns": list(feature_columns),
    }
    write_json_atomic(run / CONFIG_FILE, resolved)
    write_text_atomic(run / "config.yaml", yaml.safe_dump(resolved, sort_keys=False))
    write_json_atomic(run / DATASET_FILE, dict(dataset))
    write_json_atomic(
        run / FOLDS_FILE, [{"model": f.model, "train": list(f.train), "monitor": f.monitor} for f in folds]
    )
    write_json_atomic(run / VERSIONS_FILE, {**versions(), "checkpoint_schema": SCHEMA_VERSION})


def read_run_config(run: Path) -> tuple[TrainConfig, ModelConfig, list[str], dict[str, Any]]:
    """(train config, model config, feature columns, dataset reference) of a run directory.

    Raises:
        MissingDataError: not a run directory.
        CheckpointError: its files are unreadable or inconsistent.
    """
    config_data = _read_json(run / CONFIG_FILE)
    dataset_data = _read_json(run / DATASET_FILE)
    try:
        config = TrainConfig.from_dict(config_data["train"], where=f"{run / CONFIG_FILE}: train")
        model_config = from_dict(ModelConfig, config_data["model"], where=f"{run / CONFIG_FILE}: model")
        columns = [str(c) for c in config_data["feature_columns"]]
    except (KeyError, TypeError, ConfigError) as err:
        msg = f"{run / CONFIG_FILE}: not a mucalo training config ({err})"
        raise CheckpointError(msg) from err
    return config, model_config, columns, dataset_data


def _read_json(path: Path) -> Any:
    if not path.is_file():
        msg = f"{path}: not found; is {path.parent} a mucalo training run?"
        raise MissingDataError(msg)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        msg = f"{path}: not valid JSON ({err})"
        raise CheckpointError(msg) from err


@dataclass(frozen=True, kw_only=True, slots=True)
class RunPrediction:
    """Predictions of a run's models for some muons.

    Attributes:
        index: (N,) global muon indices in the dataset.
        fold: (N,) fold of each muon.
        true_energy: (N,) GeV.
        per_model: (M, N) predictions of each model, GeV.
        ensemble: (N,) weighted mean of the models, GeV.
        weights: (M,) ensemble weights (sum 1).
    """

    index: npt.NDArray[np.int64]
    fold: npt.NDArray[np.int64]
    true_energy: npt.NDArray[np.float64]
    per_model: npt.NDArray[np.float64]
    ensemble: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class TrainedRun:
    """A finished training run: its models (eval mode, best states), ensemble weights and settings.

    Attributes:
        path: the run directory.
        config: resolved training config.
        model_config: architecture of every model.
        feature_columns: feature names the models read, in order.
        standardisation: statistics that turn those raw features into model inputs.
        dataset: the ``dataset.json`` reference of the training data.
        folds: each model's training and monitoring folds.
        models: the M models in their best states, on CPU, eval mode.
        weights: (M,) ensemble weights ∝ 1/best monitoring loss, sum 1.
        best_losses: (M,) best monitoring losses.
        ensemble: the full ``ensemble.json`` content.
    """

    path: Path
    config: TrainConfig
    model_config: ModelConfig
    feature_columns: tuple[str, ...]
    standardisation: Standardisation
    dataset: dict[str, Any]
    folds: tuple[ModelFolds, ...]
    models: tuple[nn.Module, ...]
    weights: npt.NDArray[np.float64]
    best_losses: npt.NDArray[np.float64]
    ensemble: dict[str, Any]

    @property
    def holdout_fold(self) -> int | None:
        """The fold no model trained or monitored on (None if every fold was used)."""
        return self.config.folds.holdout_fold

    def open_training_dataset(self) -> MuonDataset:
        """Open the dataset the run was trained on (path from ``dataset.json``)."""
        return open_dataset(self.dataset["path"])

    @torch.no_grad()
    def predict(
        self,
        dataset: MuonDataset | str | os.PathLike[str],
        folds: Sequence[int] | None = None,
        *,
        batch_size: int = 256,
        device: str | torch.device = "cpu",
        fast: FastPathConfig | None = None,
    ) -> RunPrediction:
        """Predict the muons of ``folds`` (None: all folds) with every model and the ensemble.

        Args:
            dataset: an open dataset or its path; it must have the run's feature columns.
            folds: folds to predict, e.g. ``[run.holdout_fold]``; None for all.
            batch_size: muons per forward pass.
            device: where the models run.
            fast: fast-path switches (default: :meth:`FastPathConfig.exact`, float32 through the derived
                inference head, equal to the plain model to float32 rounding and 1.5–1.7× faster on CPU).

        Returns:
            Per-model and ensemble predictions in fold order, then muon order.

        Raises:
            ConfigError: the dataset lacks a feature column or the hits a grid model needs.
            MissingDataError: the run's statistics need raw features the dataset cannot give.
        """
        data = dataset if isinstance(dataset, MuonDataset) else open_dataset(dataset)
        chosen = list(range(data.n_folds)) if folds is None else list(folds)
        path = FastPath(fast or FastPathConfig.exact(), device=device)
        loader = make_loader(
            data,
            chosen,
            batch_size=batch_size,
            shuffle=False,
            seed=0,
            feature_columns=list(self.feature_columns),
            with_grid=self.model_config.uses_grid,
            standardisation=self._standardisation_for(data),
            pin_memory=path.device.type == "cuda",
            channels_last=path.config.channels_last,
        )
        models = [path.inference_model(path.prepare_model(model.eval())) for model in self.models]
        indices, truths, outputs = [], [], []
        for batch in loader:
            grid, features = model_inputs(batch, self.model_config, path, path.device)
            with torch.inference_mode(), path.autocast():  # no autograd graph for predictions
                outputs.append(
                    torch.stack([m(grid, features).float() for m in models]).double().cpu().numpy()
                )
            indices.append(batch["index"].numpy())
            truths.append(batch["target"].double().numpy())
        for model in self.models:
            model.to("cpu")
        per_model = np.concatenate(outputs, axis=1)
        index = np.concatenate(indices).astype(np.int64)
        return RunPrediction(
            index=index,
            fold=data.fold_of(index),
            true_energy=np.concatenate(truths),
            per_model=per_model,
            ensemble=self.weights @ per_model,
            weights=self.weights,
        )

    def _standardisation_for(self, data: MuonDataset) -> Standardisation | None:
        """None when the dataset's own statistics are the run's (no raw features needed), else the run's."""
        own = data.standardisation.select(data.feature_columns(list(self.feature_columns)))
        same = np.array_equal(own.mean, self.standardisation.mean) and np.array_equal(
            own.std, self.standardisation.std
        )
        return None if same else self.standardisation


def load_run(path: str | os.PathLike[str]) -> TrainedRun:
    """Read a finished training run (its models in their best states, on CPU, in eval mode).

    Raises:
        MissingDataError: not a run directory, or a file is missing.
        CheckpointError: the training is not finished (no ``ensemble.json``: resume it) or a file is
            inconsistent.
    """
    run = Path(path)
    config, model_config, columns, dataset_ref = read_run_config(run)
    if not (run / ENSEMBLE_FILE).is_file():
        msg = f"{run}: no {ENSEMBLE_FILE}, the training is not finished; continue it with --resume {run}"
        raise CheckpointError(msg)
    ensemble = _read_json(run / ENSEMBLE_FILE)
    folds = tuple(
        ModelFolds(model=int(f["model"]), train=tuple(int(k) for k in f["train"]), monitor=int(f["monitor"]))
        for f in _read_json(run / FOLDS_FILE)
    )
    models = []
    for folds_m in folds:
        best = load_checkpoint(model_dir(run, folds_m.model) / BEST_FILE, kind="best")
        if from_dict(ModelConfig, best["model_config"], where=str(run)) != model_config:
            msg = (
                f"{model_dir(run, folds_m.model) / BEST_FILE}: model_config differs from {run / CONFIG_FILE}"
            )
            raise CheckpointError(msg)
        model = build_model(model_config)
        model.load_state_dict(best["model"])
        models.append(model.eval())
    weights = np.asarray(ensemble["weights"], dtype=np.float64)
    if weights.shape != (len(models),) or not np.isclose(weights.sum(), 1.0):
        msg = f"{run / ENSEMBLE_FILE}: expected {len(models)} weights summing to 1, got {weights.tolist()}"
        raise CheckpointError(msg)
    return TrainedRun(
        path=run,
        config=config,
        model_config=model_config,
        feature_columns=tuple(columns),
        standardisation=Standardisation.from_dict(
            dataset_ref["standardisation"], where=str(run / DATASET_FILE)
        ),
        dataset=dataset_ref,
        folds=folds,
        models=tuple(models),
        weights=weights,
        best_losses=np.asarray(ensemble["best_val_loss"], dtype=np.float64),
        ensemble=ensemble,
    )
