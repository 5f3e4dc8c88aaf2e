"""Train an ensemble into a run directory, or resume one: the entry points behind ``mucalo train``.

:func:`train_run` opens the dataset, plans the folds, writes the run's config files and trains the
models one after the other with :func:`~mucalo.training.loop.fit`; :func:`resume_run` reads everything
back from the run directory and continues where the last checkpoint left off. Both work unchanged under
``torchrun`` (every rank runs them; only the main rank writes).
"""

from __future__ import annotations

import logging
import os
import random
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mucalo.config import from_dict
from mucalo.data import MuonDataset, open_dataset
from mucalo.errors import CheckpointError, ConfigError
from mucalo.io.atomic import write_json_atomic
from mucalo.models import ModelConfig, ablation_config, build_model
from mucalo.training.config import TrainConfig
from mucalo.training.distributed import DistInfo, barrier, init_distributed
from mucalo.training.folds import ModelFolds, ensemble_weights, plan_folds
from mucalo.training.loop import FitResult, fit
from mucalo.training.run import (
    CONFIG_FILE,
    ENSEMBLE_FILE,
    HISTORY_FILE,
    dataset_reference,
    model_dir,
    read_run_config,
    write_run_files,
)
from mucalo.training.state import EpochRecord

__all__ = ["TrainSummary", "model_config_for", "resume_run", "train_run"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class TrainSummary:
    """What a finished training produced (the models themselves: :func:`~mucalo.training.load_run`)."""

    path: Path  # the run directory
    fits: tuple[FitResult, ...]  # one per model
    weights: tuple[float, ...]  # ensemble weights, sum 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (for ``--json``)."""
        return {
            "run": str(self.path),
            "models": [
                {
                    "model": f.model,
                    "best_val_loss": f.best_loss,
                    "best_epoch": f.best_epoch,
                    "epochs": f.epochs,
                    "stop_reason": f.stop_reason,
                    "mean_improvement": _best_mi(f),
                }
                for f in self.fits
            ],
            "weights": list(self.weights),
        }


def model_config_for(
    dataset: MuonDataset,
    *,
    kind: str = "hybrid",
    ablation: str | None = None,
    feature_columns: Sequence[str] | None = None,
) -> ModelConfig:
    """The model config matching a dataset: its grid shape and the number of feature columns read.

    Args:
        dataset: the training data.
        kind: ``hybrid``, ``cnn`` or ``hl``.
        ablation: a Table 4 ablation name (see :data:`mucalo.models.ABLATIONS`), or None.
        feature_columns: the features the model reads (None: all the dataset's).
    """
    base = from_dict(ModelConfig, {"kind": kind}, where="model")
    config = base if ablation is None else ablation_config(ablation, base)
    n_features = len(dataset.feature_columns(list(feature_columns) if feature_columns is not None else None))
    layers, cells_x, cells_y = dataset.grid_shape
    return replace(config, n_features=n_features, grid_shape=(layers, cells_x, cells_y))


def train_run(
    dataset: MuonDataset | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    config: TrainConfig | None = None,
    model_config: ModelConfig | None = None,
    device: str = "cpu",
    overwrite: bool = False,
    progress: bool = True,
) -> TrainSummary:
    """Train ``config.folds.n_models`` models on ``dataset`` into the run directory ``out``.

    Args:
        dataset: an open dataset or a path for :func:`mucalo.data.open_dataset`.
        out: the run directory to create (see :mod:`mucalo.training.run` for its layout).
        config: training settings (default: the paper's).
        model_config: architecture (default: :func:`model_config_for` the dataset, hybrid).
        device: ``cpu``, ``cuda`` or ``cuda:N`` (under torchrun each rank uses ``cuda:LOCAL_RANK``).
        overwrite: replace an existing ``out``.
        progress: tqdm bars (stderr, TTY only, main rank only).

    Returns:
        Best losses, epochs and ensemble weights.

    Raises:
        ConfigError: ``out`` exists (without ``overwrite``), or the model does not fit the dataset.
    """
    config = config or TrainConfig()
    dist = init_distributed(device)
    data = dataset if isinstance(dataset, MuonDataset) else open_dataset(dataset)
    columns = [data.feature_names[c] for c in data.feature_columns(_columns(config))]
    model_config = model_config or model_config_for(data, feature_columns=columns)
    _check_model_fits(model_config, data, columns)
    run = Path(out)
    plan = plan_folds(data.n_folds, config.folds)
    if dist.is_main:
        if run.exists() and any(p.name != "train.log" for p in run.iterdir()):  # the CLI's log may be there
            if not overwrite:
                msg = f"{run}: exists; pass --overwrite to replace it or --resume {run} to continue it"
                raise ConfigError(msg)
            if not (run / CONFIG_FILE).is_file():
                msg = f"{run}: not a mucalo run directory (no {CONFIG_FILE}); refusing to delete it"
                raise ConfigError(msg)
            shutil.rmtree(run)
        run.mkdir(parents=True, exist_ok=True)
        standardisation = data.standardisation.select(data.feature_columns(columns))
        write_run_files(
            run,
            config=config,
            model_config=model_config,
            feature_columns=columns,
            dataset=dataset_reference(data, standardisation),
            folds=plan,
        )
    barrier(dist)
    return _train_models(
        data, run, config, model_config, columns, plan, dist, device, resume=False, progress=progress
    )


def resume_run(
    run: str | os.PathLike[str],
    *,
    dataset: MuonDataset | str | os.PathLike[str] | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> TrainSummary:
    """Continue a run from its last checkpoints (finished models are not retrained).

    Args:
        run: the run directory.
        dataset: the training data, when it moved since (default: the path in ``dataset.json``).
        device: as :func:`train_run`; may differ from the original run's.
        progress: tqdm bars.

    Raises:
        MissingDataError: ``run`` is not a run directory.
        CheckpointError: the dataset is not the one the run was trained on.
    """
    path = Path(run)
    config, model_config, columns, reference = read_run_config(path)
    dist = init_distributed(device)
    source = reference["path"] if dataset is None else dataset
    data = source if isinstance(source, MuonDataset) else open_dataset(source)
    if data.fold_sizes != reference["fold_sizes"] or list(data.feature_names) != reference["feature_names"]:
        msg = (
            f"{data.path}: fold sizes or feature names differ from the dataset {path / CONFIG_FILE} was "
            f"trained on ({reference['path']})"
        )
        raise CheckpointError(msg)
    plan = plan_folds(data.n_folds, config.folds)
    return _train_models(
        data, path, config, model_config, columns, plan, dist, device, resume=True, progress=progress
    )


def _train_models(
    data: MuonDataset,
    run: Path,
    config: TrainConfig,
    model_config: ModelConfig,
    columns: list[str],
    plan: list[ModelFolds],
    dist: DistInfo,
    device: str,
    *,
    resume: bool,
    progress: bool,
) -> TrainSummary:
    """Train (or continue) every model of the plan, then write ``ensemble.json``."""
    rank_device = _rank_device(device, dist)
    standardisation = data.standardisation.select(data.feature_columns(columns)).to_dict()
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    torch.use_deterministic_algorithms(config.deterministic, warn_only=True)
    fits: list[FitResult] = []
    history: list[EpochRecord] = []
    try:
        for folds in plan:
            logger.info(
                "model %d of %d: training folds %s, monitoring fold %d",
                folds.model + 1,
                len(plan),
                list(folds.train),
                folds.monitor,
            )
            _seed_everything(config.seed + folds.model)  # identical initial weights on every rank
            model = build_model(model_config)
            if config.output_bias == "mean-target":
                _start_at_mean_target(model, data, folds)
            _seed_everything(config.seed + folds.model + 1_000_003 * dist.rank)
            directory = model_dir(run, folds.model)
            if dist.is_main:
                directory.mkdir(parents=True, exist_ok=True)
            result = fit(
                model,
                dataset=data,
                folds=folds,
                config=config,
                model_config=model_config,
                model_dir=directory,
                metadata={"standardisation": standardisation, "feature_columns": columns},
                device=rank_device,
                dist=dist,
                resume=resume,
                progress=progress,
                history_csv=run / HISTORY_FILE,
                earlier_history=history,
            )
            fits.append(result)
            history.extend(result.history)
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
    weights = ensemble_weights([f.best_loss for f in fits])
    if dist.is_main:
        write_json_atomic(
            run / ENSEMBLE_FILE,
            {
                "weights": weights.tolist(),
                "best_val_loss": [f.best_loss for f in fits],
                "best_epoch": [f.best_epoch for f in fits],
                "epochs": [f.epochs for f in fits],
                "stop_reason": [f.stop_reason for f in fits],
                "monitor_fold": [p.monitor for p in plan],
                "rule": "weights proportional to 1 / best_val_loss, normalised to sum 1",
            },
        )
    barrier(dist)
    logger.info("run %s: %d model(s), ensemble weights %s", run, len(fits), np.round(weights, 4).tolist())
    return TrainSummary(path=run, fits=tuple(fits), weights=tuple(float(w) for w in weights))


def _columns(config: TrainConfig) -> list[str] | None:
    return None if config.feature_columns is None else list(config.feature_columns)


def _check_model_fits(model_config: ModelConfig, data: MuonDataset, columns: list[str]) -> None:
    if model_config.uses_features and model_config.n_features != len(columns):
        msg = (
            f"model.n_features: {model_config.n_features}, but the model reads {len(columns)} feature columns"
        )
        raise ConfigError(msg)
    if model_config.uses_grid:
        if not data.has_hits:
            msg = f"{data.path}: no hits, so a {model_config.kind!r} model cannot be trained; use --model hl"
            raise ConfigError(msg)
        if tuple(model_config.grid_shape) != tuple(data.grid_shape):
            msg = f"model.grid_shape: {model_config.grid_shape}, the dataset's grids are {data.grid_shape}"
            raise ConfigError(msg)


def _rank_device(device: str, dist: DistInfo) -> torch.device:
    """This rank's device: ``cuda:LOCAL_RANK`` under torchrun on GPUs, else ``device``."""
    chosen = torch.device(device)
    if chosen.type == "cuda" and dist.distributed:
        return torch.device("cuda", dist.local_rank)
    return chosen


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _best_mi(result: FitResult) -> float | None:
    for record in result.history:
        if record.epoch == result.best_epoch:
            return record.mean_improvement
    return None


def _start_at_mean_target(model: torch.nn.Module, data: MuonDataset, folds: ModelFolds) -> None:
    """Set the output bias to the mean true energy of the model's training folds (GeV)."""
    mean = float(np.mean(np.concatenate([data.targets(k) for k in folds.train]), dtype=np.float64))
    with torch.no_grad():
        model.out.bias.fill_(mean)  # type: ignore[union-attr,operator]
