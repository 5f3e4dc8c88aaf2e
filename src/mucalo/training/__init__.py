"""The training stage (paper §3.2): the paper's loss, 1cycle + step-decay schedule, folds and ensembles.

``train_run(dataset, out, config=..., model_config=...)`` trains ``config.folds.n_models`` models into a
run directory (layout in :mod:`mucalo.training.run`), checkpointing every epoch; ``resume_run(out)``
continues it after an interruption; ``load_run(out)`` reads it back for prediction. Runs unchanged under
``torchrun`` (DDP; gloo on CPU, nccl on GPU).
"""

from __future__ import annotations

from mucalo.training.checkpoint import (
    SCHEMA_VERSION,
    capture_rng,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)
from mucalo.training.config import (
    LOSS_ABLATIONS,
    PRESETS,
    FoldConfig,
    FoldStrategy,
    LossConfig,
    LossKind,
    ScheduleConfig,
    ScheduleKind,
    ThresholdMode,
    TrainConfig,
    load_train_config,
    loss_ablation,
)
from mucalo.training.distributed import DistInfo, close_distributed, init_distributed, unwrap
from mucalo.training.exceptions import TrainingError
from mucalo.training.folds import ModelFolds, ensemble_weights, plan_folds
from mucalo.training.loop import FitResult, fit
from mucalo.training.loss import BinnedHuberLoss, energy_weight, huberise, nearest_rank
from mucalo.training.lr_finder import LRRangeResult, lr_range_test
from mucalo.training.run import RunPrediction, TrainedRun, load_run
from mucalo.training.runner import TrainSummary, model_config_for, resume_run, train_run
from mucalo.training.schedule import EpochEnd, end_of_epoch, make_optimizer, one_cycle
from mucalo.training.state import HISTORY_COLUMNS, EpochRecord, TrainState

__all__ = (
    "HISTORY_COLUMNS",
    "LOSS_ABLATIONS",
    "PRESETS",
    "SCHEMA_VERSION",
    "BinnedHuberLoss",
    "DistInfo",
    "EpochEnd",
    "EpochRecord",
    "FitResult",
    "FoldConfig",
    "FoldStrategy",
    "LRRangeResult",
    "LossConfig",
    "LossKind",
    "ModelFolds",
    "RunPrediction",
    "ScheduleConfig",
    "ScheduleKind",
    "ThresholdMode",
    "TrainConfig",
    "TrainState",
    "TrainSummary",
    "TrainedRun",
    "TrainingError",
    "capture_rng",
    "close_distributed",
    "end_of_epoch",
    "energy_weight",
    "ensemble_weights",
    "fit",
    "huberise",
    "init_distributed",
    "load_checkpoint",
    "load_run",
    "load_train_config",
    "loss_ablation",
    "lr_range_test",
    "make_optimizer",
    "model_config_for",
    "nearest_rank",
    "one_cycle",
    "plan_folds",
    "restore_rng",
    "resume_run",
    "save_checkpoint",
    "train_run",
    "unwrap",
)
