"""Optimiser, 1cycle and step decay (paper §3.2.3; reference-code-notes §4.7, §6.2).

The 1cycle part is a pure function of the optimiser step (:func:`one_cycle`), so a resumed run needs only
the step count. What happens between epochs (switch to step decay, LR steps, early stopping) is decided by
the pure :func:`end_of_epoch` from the counters in :class:`~mucalo.training.state.TrainState`; the loop
carries the decision out in the open (reloading the best state is explicit code there).

.. note::
    Decisions where the paper and the authors' code differ (SYSTEM.md wins):

    * at each LR step the best state (model + optimiser) is reloaded, as the paper says; the code only
      reloaded once, at the end of the 1cycle (``reload_on_step=False`` reproduces that);
    * after a step the step counter restarts, so the next step needs ``step_patience`` more
      non-improving epochs (paper: "training until no improvement, reloading, and halving continues");
      the code halved every epoch until an improvement;
    * as in the code, non-improving epochs of the 1cycle do not count towards early stopping.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from mucalo.training.config import ScheduleConfig
from mucalo.training.state import TrainState

__all__ = [
    "EpochEnd",
    "cosine_interpolate",
    "end_of_epoch",
    "initial_lr_beta1",
    "make_optimizer",
    "one_cycle",
    "set_lr_beta1",
]


def make_optimizer(parameters: Iterable[nn.Parameter], config: ScheduleConfig) -> torch.optim.Optimizer:
    """Adam (β2, ε from ``config``; LR and β1 are overwritten every step), or AdamW with weight decay."""
    lr, beta1 = initial_lr_beta1(config)
    if config.weight_decay is None:
        return torch.optim.Adam(parameters, lr=lr, betas=(beta1, config.beta2), eps=config.eps)
    return torch.optim.AdamW(
        parameters, lr=lr, betas=(beta1, config.beta2), eps=config.eps, weight_decay=config.weight_decay
    )


def set_lr_beta1(optimizer: torch.optim.Optimizer, lr: float, beta1: float) -> None:
    """Set the LR and β1 of every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr
        group["betas"] = (beta1, group["betas"][1])


def cosine_interpolate(start: float, end: float, fraction: float) -> float:
    """start + (end − start)·(1 − cos(π·fraction))/2, for fraction in [0, 1]."""
    return start + (end - start) * (1.0 - math.cos(math.pi * fraction)) / 2.0


def initial_lr_beta1(config: ScheduleConfig) -> tuple[float, float]:
    """(LR, β1) at step 0."""
    if config.kind == "constant":
        return config.lr, config.constant_beta1
    return one_cycle(0, steps_per_epoch=1, config=config)


def one_cycle(step: int, *, steps_per_epoch: int, config: ScheduleConfig) -> tuple[float, float]:
    """(LR, β1) of the 1cycle at optimiser step ``step`` (0-based), cosine interpolation.

    Warm-up over ``warmup_epochs·steps_per_epoch`` steps: LR lr/start_div → lr, β1 high → low; decay over
    ``decay_epochs·steps_per_epoch`` steps: LR → lr/end_div, β1 → high; after the cycle the end values.
    """
    n_warm = config.warmup_epochs * steps_per_epoch
    n_decay = config.decay_epochs * steps_per_epoch
    peak, start, end = config.lr, config.lr / config.start_div, config.lr / config.end_div
    if step < n_warm:
        fraction = step / n_warm
        return (
            cosine_interpolate(start, peak, fraction),
            cosine_interpolate(config.beta1_high, config.beta1_low, fraction),
        )
    if step < n_warm + n_decay:
        fraction = (step - n_warm) / n_decay
        return (
            cosine_interpolate(peak, end, fraction),
            cosine_interpolate(config.beta1_low, config.beta1_high, fraction),
        )
    if n_warm + n_decay == 0:
        return peak, config.beta1_high
    return end, config.beta1_high


@dataclass(frozen=True, kw_only=True, slots=True)
class EpochEnd:
    """What the loop must do after an epoch (decided by :func:`end_of_epoch`)."""

    reload_best: bool  # load the best model + optimiser state before the next epoch
    lr: float | None  # new fixed LR (None: unchanged / still the 1cycle)
    beta1: float | None  # new fixed β1
    phase: str  # phase for the next epoch: "cycle", "step" or "constant"
    stop: str | None  # reason to stop ("early-stop", "max-epochs"), None to go on
    lr_step: bool  # an LR step happened


def end_of_epoch(state: TrainState, *, improved: bool, config: ScheduleConfig) -> tuple[TrainState, EpochEnd]:
    """Advance the improvement counters of ``state`` for a finished epoch and decide what comes next.

    ``state.epoch`` must already count the finished epoch. Pure: returns a new state.

    Rules: during the 1cycle nothing counts but improvements; at its end the best state is reloaded and
    LR/β1 are frozen at the reloaded optimiser's values (the loop fills them in); in the step phase every
    non-improving epoch advances both counters, and ``step_patience`` of them since the last improvement
    or step trigger a step (reload best if ``reload_on_step``, LR × step_factor, β1 = beta1_high);
    ``patience`` of them since the last improvement stop the run, as does ``max_epochs``.
    """
    without = state.epochs_without_improvement
    since_step = state.epochs_since_step
    counting = state.phase != "cycle"
    if improved:
        without, since_step = 0, 0
    elif counting:
        without, since_step = without + 1, since_step + 1
    phase, lr, beta1, reload_best, lr_step = state.phase, None, None, False, False
    stop: str | None = None
    if state.phase == "cycle" and state.epoch >= config.cycle_epochs:
        phase, reload_best = "step", True
    elif state.phase == "step" and since_step >= config.step_patience:
        lr, beta1 = state.lr * config.step_factor, config.beta1_high
        reload_best, lr_step, since_step = config.reload_on_step, True, 0
    if counting and without >= config.patience:
        stop = "early-stop"
    elif state.epoch >= config.max_epochs:
        stop = "max-epochs"
    if stop is not None:
        reload_best, lr, beta1, lr_step = False, None, None, False
    new_state = state.replace(
        epochs_without_improvement=without,
        epochs_since_step=since_step,
        phase=phase,
        n_lr_steps=state.n_lr_steps + int(lr_step),
        lr=state.lr if lr is None else lr,
        beta1=state.beta1 if beta1 is None else beta1,
    )
    return new_state, EpochEnd(
        reload_best=reload_best, lr=lr, beta1=beta1, phase=phase, stop=stop, lr_step=lr_step
    )
