"""The training loop of one model: :func:`fit` reads top to bottom, like nanoGPT's ``train.py``.

Per epoch: train on the training folds (LR and β1 set before every optimiser step), evaluate the loss
and the Mean Improvement on the monitoring fold, keep the best state, decide the schedule's next move
(:func:`~mucalo.training.schedule.end_of_epoch`), carry it out (reload the best state, change LR/β1,
stop), then write an atomic checkpoint and the history. No callbacks: everything that happens is here.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn
from tqdm import tqdm

from mucalo.config import config_to_dict
from mucalo.data import MuonDataset, MuonLoader, make_loader
from mucalo.errors import CheckpointError, ConfigError
from mucalo.evaluation import EvaluationError, headline_metrics
from mucalo.models import FastPath, FastPathConfig, ModelConfig
from mucalo.training.checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint
from mucalo.training.config import TrainConfig
from mucalo.training.distributed import DistInfo, all_gather_cat, all_reduce_sum
from mucalo.training.exceptions import TrainingError
from mucalo.training.folds import ModelFolds
from mucalo.training.loss import BinnedHuberLoss
from mucalo.training.schedule import (
    EpochEnd,
    end_of_epoch,
    initial_lr_beta1,
    make_optimizer,
    one_cycle,
    set_lr_beta1,
)
from mucalo.training.state import EpochRecord, TrainState, write_history_csv

__all__ = ["FitResult", "fit", "model_inputs"]

logger = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.pt"
BEST_FILE = "best.pt"


@dataclass(frozen=True, kw_only=True, slots=True)
class FitResult:
    """What one model's training produced (the model itself is left in its best state)."""

    model: int  # model index
    best_loss: float  # lowest monitoring loss
    best_epoch: int  # epoch that reached it (1-based)
    epochs: int  # epochs trained
    stop_reason: str | None  # "early-stop" or "max-epochs"
    history: tuple[EpochRecord, ...]  # one record per epoch


@dataclass(frozen=True, kw_only=True, slots=True)
class _Epoch:
    """Sums of one training epoch."""

    loss_sum: float  # Σ batch-mean loss × batch size (all ranks)
    n_muons: int  # muons trained on (all ranks)
    seconds: float


def fit(
    model: nn.Module,
    *,
    dataset: MuonDataset,
    folds: ModelFolds,
    config: TrainConfig,
    model_config: ModelConfig,
    model_dir: Path,
    metadata: Mapping[str, Any],
    device: str | torch.device = "cpu",
    dist: DistInfo | None = None,
    resume: bool = False,
    progress: bool = True,
    history_csv: Path | None = None,
    earlier_history: Sequence[EpochRecord] = (),
) -> FitResult:
    """Train one model with the paper's loss and schedule, checkpointing every epoch.

    Args:
        model: the freshly built (seeded) model, on CPU; trained in place and left in its best state.
        dataset: the folds to read.
        folds: this model's training and monitoring folds.
        config: the resolved training config.
        model_config: the model's architecture (stored in checkpoints).
        model_dir: where ``checkpoint.pt`` and ``best.pt`` go (written by the main rank only).
        metadata: JSON-able extras stored in every checkpoint: ``standardisation`` (dict) and
            ``feature_columns`` (list of names).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        dist: rank information (default: a single process).
        resume: continue from ``model_dir/checkpoint.pt`` if it exists.
        progress: a tqdm bar per epoch on stderr (only on a TTY, only on the main rank).
        history_csv: the run's ``history.csv``, rewritten after every epoch with ``earlier_history``
            (other models) and this model's rows.
        earlier_history: rows of models trained before this one.

    Returns:
        The best loss, epochs and history.

    Raises:
        ConfigError: no training batch fits (batch size larger than the training folds).
        CheckpointError: the checkpoint to resume from belongs to another configuration.
        TrainingError: the monitoring loss never became finite.
    """
    dist = dist or DistInfo()
    device = torch.device(device)
    fast = FastPath(
        FastPathConfig(bf16=config.bf16, channels_last=config.channels_last, compile=config.compile),
        device=device,
    )
    raw = model.to(device)
    net = fast.prepare_model(raw)
    loss_fn = BinnedHuberLoss(config.loss).to(device)
    optimizer = make_optimizer(raw.parameters(), config.schedule)
    gather = functools.partial(all_gather_cat, info=dist) if dist.distributed else None
    batch_size = _rank_batch_size(config.batch_size, dist)
    data_seed = config.seed + folds.model
    columns = list(metadata["feature_columns"])

    def train_loader(epoch: int) -> MuonLoader:
        return make_loader(
            dataset,
            list(folds.train),
            batch_size=batch_size,
            shuffle=True,
            seed=data_seed,
            epoch=epoch,
            workers=config.workers,
            drop_last=config.drop_last,
            pin_memory=device.type == "cuda",
            channels_last=config.channels_last,
            feature_columns=columns,
            rank=dist.rank,
            world_size=dist.world_size,
            with_grid=model_config.uses_grid,
        )

    steps_per_epoch = len(train_loader(0))
    if steps_per_epoch == 0:
        n_train = sum(dataset.fold_sizes[f] for f in folds.train)
        msg = (
            f"train.batch_size: {config.batch_size} leaves no complete training batch in the {n_train} "
            f"muons of folds {list(folds.train)}; lower it or set train.drop_last false"
        )
        raise ConfigError(msg)
    lr, beta1 = initial_lr_beta1(config.schedule)
    phase = "constant" if config.schedule.kind == "constant" else "cycle"
    state = TrainState(model=folds.model, steps_per_epoch=steps_per_epoch, phase=phase, lr=lr, beta1=beta1)
    history: list[EpochRecord] = []
    best: dict[str, Any] | None = None
    checkpoint_path, best_path = model_dir / CHECKPOINT_FILE, model_dir / BEST_FILE
    identity = _identity(config, model_config, folds)

    if resume and checkpoint_path.is_file():
        ckpt = load_checkpoint(checkpoint_path, kind="checkpoint", map_location=device)
        _check_identity(ckpt, identity, checkpoint_path)
        raw.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        loss_fn.load_state_dict(ckpt["loss"])
        state = TrainState.from_dict(ckpt["state"], where=str(checkpoint_path))
        history = [EpochRecord(**row) for row in ckpt["history"]]
        if state.best_epoch >= 0:
            saved = load_checkpoint(best_path, kind="best", map_location=device)
            best = {"model": saved["model"], "optimizer": saved["optimizer"]}
        restore_rng(ckpt["rng"])
        logger.info("model %d: resumed after epoch %d from %s", folds.model, state.epoch, checkpoint_path)

    train_net: nn.Module = net
    if dist.distributed:
        train_net = nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None
        )

    while not state.finished:
        # --- one epoch of training -----------------------------------------------------------
        start = time.perf_counter()
        state, epoch = _train_epoch(
            train_net,
            loss_fn,
            optimizer,
            train_loader(state.epoch),
            state=state,
            config=config,
            model_config=model_config,
            fast=fast,
            device=device,
            dist=dist,
            gather=gather,
            progress=progress,
        )
        state = state.replace(epoch=state.epoch + 1)

        # --- monitoring fold: loss (thresholds frozen) and Mean Improvement ---------------------
        val_loss, prediction, truth = _validate(
            net,
            loss_fn,
            dataset,
            folds.monitor,
            config=config,
            model_config=model_config,
            fast=fast,
            device=device,
            columns=columns,
        )
        mean_improvement = _mean_improvement(truth, prediction) if config.monitor_metrics else math.nan
        improved = val_loss < state.best_loss  # strict, as the authors' SaveBest
        if improved:
            state = state.replace(best_loss=val_loss, best_epoch=state.epoch)
            best = _snapshot(raw, optimizer)
            if dist.is_main:
                save_checkpoint(
                    best_path,
                    {
                        **best,
                        "model_config": config_to_dict(model_config),
                        "val_loss": val_loss,
                        "loss": loss_fn.state_dict(),  # the thresholds val_loss was computed with
                        "epoch": state.epoch,
                        "standardisation": dict(metadata["standardisation"]),
                    },
                    kind="best",
                )
        record = EpochRecord(
            model=folds.model,
            epoch=state.epoch,
            train_loss=epoch.loss_sum / epoch.n_muons,
            val_loss=val_loss,
            lr=state.lr,
            beta1=state.beta1,
            mean_improvement=mean_improvement,
            seconds=time.perf_counter() - start,
            muons_per_s=epoch.n_muons / epoch.seconds,
        )
        history.append(record)

        # --- schedule: end of the 1cycle, LR steps, early stopping -------------------------------
        was_phase = state.phase
        state, decision = end_of_epoch(state, improved=improved, config=config.schedule)
        if decision.reload_best and best is not None:
            raw.load_state_dict(best["model"])
            optimizer.load_state_dict(best["optimizer"])
            state = state.replace(n_reloads=state.n_reloads + 1)
        if was_phase == "cycle" and state.phase == "step":
            # the fixed LR/β1 of the step phase are those in force when the best state was saved
            group = optimizer.param_groups[0]
            state = state.replace(lr=float(group["lr"]), beta1=float(group["betas"][0]))
        if decision.lr_step:
            set_lr_beta1(optimizer, state.lr, state.beta1)
        if decision.stop is not None:
            if best is None:
                msg = f"model {folds.model}: the monitoring loss was never finite in {state.epoch} epochs"
                raise TrainingError(msg)
            raw.load_state_dict(best["model"])
            optimizer.load_state_dict(best["optimizer"])
            state = state.replace(finished=True, stop_reason=decision.stop)
        _log_epoch(record, state, improved=improved, decision_text=_describe(decision, was_phase, state))

        # --- checkpoint and history (main rank only) ----------------------------------------------
        if dist.is_main:
            save_checkpoint(
                checkpoint_path,
                {
                    "model": raw.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "loss": loss_fn.state_dict(),
                    "state": state.to_dict(),
                    "rng": capture_rng(),
                    "history": [r.to_dict() for r in history],
                    "config": identity["config"],
                    "model_config": identity["model_config"],
                    "folds": identity["folds"],
                    "standardisation": dict(metadata["standardisation"]),
                },
                kind="checkpoint",
            )
            if history_csv is not None:
                write_history_csv(history_csv, [*earlier_history, *history])

    return FitResult(
        model=folds.model,
        best_loss=state.best_loss,
        best_epoch=state.best_epoch,
        epochs=state.epoch,
        stop_reason=state.stop_reason,
        history=tuple(history),
    )


def model_inputs(
    batch: Mapping[str, Any], model_config: ModelConfig, fast: FastPath, device: torch.device
) -> tuple[Tensor | None, Tensor | None]:
    """(grid, features) of a loader batch on ``device``, None for the input the model does not read."""
    grid = fast.prepare_grid(batch["grid"]) if model_config.uses_grid else None
    features = batch["features"].to(device, non_blocking=True) if model_config.uses_features else None
    return grid, features


def _train_epoch(
    model: nn.Module,
    loss_fn: BinnedHuberLoss,
    optimizer: torch.optim.Optimizer,
    loader: Iterable[dict[str, Any]],
    *,
    state: TrainState,
    config: TrainConfig,
    model_config: ModelConfig,
    fast: FastPath,
    device: torch.device,
    dist: DistInfo,
    gather: Any,
    progress: bool,
) -> tuple[TrainState, _Epoch]:
    """One pass over the training folds; returns the advanced state and the epoch's sums."""
    model.train()
    loss_fn.train()
    sums = torch.zeros(2, dtype=torch.float64, device=device)  # Σ loss × n, n
    start = time.perf_counter()
    show = progress and dist.is_main and sys.stderr.isatty()
    bar = tqdm(
        total=state.steps_per_epoch,
        desc=f"model {state.model} epoch {state.epoch + 1}",
        unit="batch",
        file=sys.stderr,
        disable=not show,
        leave=False,
        dynamic_ncols=True,
    )
    for batch in loader:
        if state.phase == "cycle":
            lr, beta1 = one_cycle(state.step, steps_per_epoch=state.steps_per_epoch, config=config.schedule)
        else:
            lr, beta1 = state.lr, state.beta1
        set_lr_beta1(optimizer, lr, beta1)
        grid, features = model_inputs(batch, model_config, fast, device)
        target = batch["target"].to(device, non_blocking=True)
        with fast.autocast():
            prediction = model(grid, features)
        loss = loss_fn(prediction.float(), target, gather=gather)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        state = state.replace(step=state.step + 1, lr=lr, beta1=beta1)
        sums[0] += loss.detach().double() * target.numel()
        sums[1] += target.numel()
        if show:
            bar.update(1)
            bar.set_postfix(
                loss=f"{loss.item():.4g}", muons_s=f"{sums[1].item() / (time.perf_counter() - start):.0f}"
            )
    bar.close()
    totals = all_reduce_sum(sums, dist).tolist()
    return state, _Epoch(loss_sum=totals[0], n_muons=int(totals[1]), seconds=time.perf_counter() - start)


@torch.no_grad()
def _validate(
    model: nn.Module,
    loss_fn: BinnedHuberLoss,
    dataset: MuonDataset,
    fold: int,
    *,
    config: TrainConfig,
    model_config: ModelConfig,
    fast: FastPath,
    device: torch.device,
    columns: list[str],
) -> tuple[float, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Mean loss per muon over the monitoring fold (thresholds frozen), predictions and true energies.

    Every rank evaluates the whole fold, so all ranks reach the same decisions without communication.

    .. note:: The authors logged the plain mean of per-batch means (reference-code-notes §6.1), which
       lets a final partial batch weigh as much as a full one; mucalo averages over muons.
    """
    model.eval()
    loss_fn.eval()
    loader = make_loader(
        dataset,
        [fold],
        batch_size=config.eval_batch_size,
        shuffle=False,
        seed=0,
        epoch=0,
        workers=config.workers,
        drop_last=False,
        pin_memory=device.type == "cuda",
        channels_last=config.channels_last,
        feature_columns=columns,
        with_grid=model_config.uses_grid,
    )
    loss_sum, predictions, targets = 0.0, [], []
    for batch in loader:
        grid, features = model_inputs(batch, model_config, fast, device)
        target = batch["target"].to(device, non_blocking=True)
        with fast.autocast():
            prediction = model(grid, features).float()
        loss_sum += float(loss_fn(prediction, target)) * target.numel()
        predictions.append(prediction.double().cpu().numpy())
        targets.append(target.double().cpu().numpy())
    truth = np.concatenate(targets)
    return loss_sum / max(truth.size, 1), np.concatenate(predictions), truth


def _mean_improvement(truth: npt.NDArray[np.float64], prediction: npt.NDArray[np.float64]) -> float:
    """Mean Improvement (%) on the monitoring fold, bias fit included, no bootstrap (NaN if undefined)."""
    if not np.all(np.isfinite(prediction)):
        return math.nan
    try:
        metrics = headline_metrics(truth, prediction, n_bootstrap=0, fit_bootstrap=0)
    except EvaluationError as err:  # e.g. a small monitoring fold or an early, near-constant model
        logger.debug("Mean Improvement undefined: %s", err)
        return math.nan
    return float(metrics["mean_improvement"])


def _snapshot(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Deep copies of the model and optimiser states (the in-memory best state)."""
    return {"model": copy.deepcopy(model.state_dict()), "optimizer": copy.deepcopy(optimizer.state_dict())}


def _rank_batch_size(batch_size: int, dist: DistInfo) -> int:
    if batch_size % dist.world_size:
        msg = f"batch_size: {batch_size} is not divisible by the {dist.world_size} ranks"
        raise ConfigError(msg)
    return batch_size // dist.world_size


def _identity(config: TrainConfig, model_config: ModelConfig, folds: ModelFolds) -> dict[str, Any]:
    """What a checkpoint must match to be resumed."""
    return {
        "config": config.to_dict(),
        "model_config": config_to_dict(model_config),
        "folds": {"model": folds.model, "train": list(folds.train), "monitor": folds.monitor},
    }


def _check_identity(ckpt: Mapping[str, Any], identity: Mapping[str, Any], path: Path) -> None:
    for key, expected in identity.items():
        if ckpt[key] != expected:
            msg = f"{path}: {key} differs from this run's; resume with the run's own configuration"
            raise CheckpointError(msg)


def _describe(decision: EpochEnd, was_phase: str, state: TrainState) -> str:
    if decision.stop is not None:
        return f"stop ({decision.stop}), best state of epoch {state.best_epoch} loaded"
    if was_phase == "cycle" and state.phase == "step":
        return f"1cycle over: best state reloaded, step decay from LR {state.lr:.3g}"
    if decision.lr_step:
        reload = "best state reloaded, " if decision.reload_best else ""
        return f"{reload}LR step to {state.lr:.3g}, β1 {state.beta1:.3g}"
    return ""


def _log_epoch(record: EpochRecord, state: TrainState, *, improved: bool, decision_text: str) -> None:
    logger.info(
        "model %d epoch %d: train %.5g  val %.5g%s  LR %.3g  β1 %.3f  MI %.2f%%  %.0f muons/s  %.1f s%s",
        record.model,
        record.epoch,
        record.train_loss,
        record.val_loss,
        " *" if improved else "",
        record.lr,
        record.beta1,
        record.mean_improvement,
        record.muons_per_s,
        record.seconds,
        f"  [{decision_text}]" if decision_text else "",
    )
