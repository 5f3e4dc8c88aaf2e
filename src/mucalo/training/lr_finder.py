"""Learning-rate range test (Smith 2015; LUMIN's ``lr_find``, reference-code-notes §6.2).

The LR grows exponentially from ``lr_min`` to ``lr_max`` over ``n_steps`` optimiser steps on the training
folds, with the paper's loss and Adam; the loss is recorded per step and smoothed (bias-corrected
exponential average). The test stops early when the smoothed loss exceeds ``divergence`` × its minimum.
A good peak LR for the 1cycle lies somewhat below the LR of the minimum smoothed loss; the suggestion
returned is that LR divided by 10 (a common rule; read the curve).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from tqdm import tqdm

from mucalo.data import MuonDataset, make_loader
from mucalo.errors import ConfigError
from mucalo.models import FastPath, FastPathConfig, ModelConfig
from mucalo.training.config import TrainConfig
from mucalo.training.loop import model_inputs
from mucalo.training.loss import BinnedHuberLoss
from mucalo.training.schedule import make_optimizer, set_lr_beta1

__all__ = ["LRRangeResult", "lr_range_test"]


@dataclass(frozen=True, kw_only=True, slots=True)
class LRRangeResult:
    """The recorded curve.

    Attributes:
        lr: (S,) LR of each step.
        loss: (S,) batch loss of each step.
        smoothed: (S,) bias-corrected exponential average of the loss.
        lr_at_minimum: LR where the smoothed loss is lowest.
        suggested_lr: ``lr_at_minimum / 10``.
        stopped_early: the smoothed loss diverged before ``n_steps``.
    """

    lr: npt.NDArray[np.float64]
    loss: npt.NDArray[np.float64]
    smoothed: npt.NDArray[np.float64]
    lr_at_minimum: float
    suggested_lr: float
    stopped_early: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "lr": self.lr.tolist(),
            "loss": self.loss.tolist(),
            "smoothed": self.smoothed.tolist(),
            "lr_at_minimum": self.lr_at_minimum,
            "suggested_lr": self.suggested_lr,
            "stopped_early": self.stopped_early,
        }


def lr_range_test(
    model: nn.Module,
    dataset: MuonDataset,
    *,
    folds: Sequence[int],
    config: TrainConfig,
    model_config: ModelConfig,
    lr_min: float = 1e-7,
    lr_max: float = 10.0,
    n_steps: int = 100,
    smoothing: float = 0.98,
    divergence: float = 4.0,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> LRRangeResult:
    """Run the LR range test on a fresh model (trained in place; throw it away afterwards).

    Args:
        model: a freshly built model.
        dataset: training data.
        folds: folds to draw batches from (epochs repeat with new shuffles until ``n_steps``).
        config: training settings (loss, batch size, Adam β2/ε, β1 = ``schedule.constant_beta1``).
        model_config: the model's architecture (which inputs it reads).
        lr_min: first LR (authors: 1e-7).
        lr_max: last LR (authors: 10).
        n_steps: optimiser steps, ≥ 2.
        smoothing: weight of the running average of the loss.
        divergence: stop when the smoothed loss exceeds this × its minimum.
        device: where to run.
        progress: a tqdm bar on stderr (TTY only).

    Returns:
        The curve and a suggested peak LR.

    Raises:
        ConfigError: invalid range or step count.
    """
    if not (0 < lr_min < lr_max and math.isfinite(lr_max)) or n_steps < 2:
        msg = (
            f"lr range test: expected 0 < lr_min < lr_max and n_steps ≥ 2, got {lr_min}, {lr_max}, {n_steps}"
        )
        raise ConfigError(msg)
    device = torch.device(device)
    fast = FastPath(FastPathConfig(bf16=config.bf16, channels_last=config.channels_last), device=device)
    net = fast.prepare_model(model)
    net.train()
    loss_fn = BinnedHuberLoss(config.loss).to(device).train()
    optimizer = make_optimizer(net.parameters(), config.schedule)
    lrs = lr_min * (lr_max / lr_min) ** (np.arange(n_steps) / (n_steps - 1))
    losses: list[float] = []
    smoothed: list[float] = []
    average, best, epoch = 0.0, math.inf, 0
    bar = tqdm(
        total=n_steps, desc="LR range test", file=sys.stderr, disable=not (progress and sys.stderr.isatty())
    )
    while len(losses) < n_steps:
        loader = make_loader(
            dataset,
            list(folds),
            batch_size=config.batch_size,
            shuffle=True,
            seed=config.seed,
            epoch=epoch,
            drop_last=config.drop_last,
            feature_columns=None if config.feature_columns is None else list(config.feature_columns),
            with_grid=model_config.uses_grid,
            channels_last=config.channels_last,
        )
        if len(loader) == 0:
            msg = f"train.batch_size: {config.batch_size} leaves no training batch in folds {list(folds)}"
            raise ConfigError(msg)
        for batch in loader:
            step = len(losses)
            set_lr_beta1(optimizer, float(lrs[step]), config.schedule.constant_beta1)
            grid, features = model_inputs(batch, model_config, fast, device)
            with fast.autocast():
                prediction = net(grid, features)
            loss = loss_fn(prediction.float(), batch["target"].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            value = float(loss.detach())
            average = smoothing * average + (1 - smoothing) * value
            losses.append(value)
            smoothed.append(average / (1 - smoothing ** (step + 1)))
            best = min(best, smoothed[-1])
            bar.update(1)
            if not math.isfinite(smoothed[-1]) or smoothed[-1] > divergence * best or len(losses) == n_steps:
                break
        else:
            epoch += 1
            continue
        break
    bar.close()
    curve = np.asarray(smoothed)
    finite = np.where(np.isfinite(curve), curve, np.inf)
    at_minimum = float(lrs[int(np.argmin(finite))])
    return LRRangeResult(
        lr=lrs[: len(losses)].astype(np.float64),
        loss=np.asarray(losses),
        smoothed=curve,
        lr_at_minimum=at_minimum,
        suggested_lr=at_minimum / 10.0,
        stopped_early=len(losses) < n_steps,
    )
