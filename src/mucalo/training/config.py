"""Settings of the training stage (SYSTEM.md "Training"; paper §3.2; reference-code-notes §5–6).

The defaults are the paper's recipe. Presets (the ``train:`` section of ``configs/train_quick.yaml`` and
``configs/train_paper.yaml``) override only what differs and are read strictly by :mod:`mucalo.config`:
an unknown key, a wrong type or an out-of-range value raises :class:`~mucalo.errors.ConfigError` naming
the file and the dotted field.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from mucalo.config import apply_overrides, config_to_dict, from_dict, load_preset, set_dotted
from mucalo.errors import ConfigError

__all__ = [
    "LOSS_ABLATIONS",
    "PRESETS",
    "FoldConfig",
    "FoldStrategy",
    "LossConfig",
    "LossKind",
    "ScheduleConfig",
    "ScheduleKind",
    "ThresholdMode",
    "TrainConfig",
    "load_train_config",
    "loss_ablation",
]

LossKind = Literal["huber", "mfse", "mse"]
ThresholdMode = Literal["running", "batch", "fixed"]
ScheduleKind = Literal["one-cycle", "constant"]
FoldStrategy = Literal["all-fold", "unique-fold"]

#: Short preset names of :func:`load_train_config` (files ``configs/train_<name>.yaml`` in the package).
PRESETS = ("quick", "paper")


@dataclass(frozen=True, kw_only=True, slots=True)
class LossConfig:
    """The regression loss (paper §3.2.2, Eqs. 1–3; reference-code-notes §5).

    The default is the paper's: Huberised fractional squared error with five running per-bin thresholds
    and the high-energy down-weighting. Table 2's variants are single switches, see :data:`LOSS_ABLATIONS`.
    """

    kind: LossKind = "huber"  # huber: Huberised (L/E); mfse: (ŷ−y)²/y (Eq. 1); mse: (ŷ−y)², no 1/y
    thresholds: ThresholdMode = "running"  # Huber thresholds: running average, this batch only, first batch
    n_bins: int = 5  # equal-width true-energy bins with their own threshold; 1 = "single bin"
    energy_range_gev: tuple[float, float] = (50.0, 8000.0)  # span of the threshold bins, GeV
    percentile: float = 0.68  # nearest-rank percentile of the squared errors that sets a threshold
    momentum: float = 0.1  # running-average weight of the current batch's percentile
    down_weight: bool = True  # multiply by w(E) of Eq. 3
    weight_centre_gev: float = 5000.0  # w(centre) = 0.5, GeV
    weight_scale_below_gev: float = 300.0  # sigmoid scale for E ≤ centre, GeV
    weight_scale_above_gev: float = 600.0  # sigmoid scale for E > centre, GeV

    def __post_init__(self) -> None:
        _check_choice("loss.kind", self.kind, LossKind)
        _check_choice("loss.thresholds", self.thresholds, ThresholdMode)
        _check_int("loss.n_bins", self.n_bins, minimum=1)
        low, high = self.energy_range_gev
        if not (math.isfinite(low) and math.isfinite(high) and 0.0 <= low < high):
            msg = f"loss.energy_range_gev: expected (low, high) with 0 ≤ low < high, got {(low, high)!r}"
            raise ConfigError(msg)
        if not 0.0 < self.percentile < 1.0:
            msg = f"loss.percentile: expected a number in (0, 1), got {self.percentile!r}"
            raise ConfigError(msg)
        if not 0.0 < self.momentum <= 1.0:
            msg = f"loss.momentum: expected a number in (0, 1], got {self.momentum!r}"
            raise ConfigError(msg)
        for name in ("weight_scale_below_gev", "weight_scale_above_gev"):
            _check_positive(f"loss.{name}", getattr(self, name))

    @property
    def huberised(self) -> bool:
        """Whether large squared errors are continued linearly above a threshold."""
        return self.kind == "huber"


#: Table 2 of the paper: each loss ablation is one switch away from the default.
LOSS_ABLATIONS: types.MappingProxyType[str, types.MappingProxyType[str, Any]] = types.MappingProxyType(
    {
        "single-bin": types.MappingProxyType({"n_bins": 1}),
        "batch-thresholds": types.MappingProxyType({"thresholds": "batch"}),
        "fixed-thresholds": types.MappingProxyType({"thresholds": "fixed"}),
        "no-huber": types.MappingProxyType({"kind": "mfse"}),
        "mse": types.MappingProxyType({"kind": "mse"}),
        "no-down-weighting": types.MappingProxyType({"down_weight": False}),
    }
)


def loss_ablation(name: str, base: LossConfig | None = None) -> LossConfig:
    """The loss of one Table 2 ablation (``single-bin``, ``batch-thresholds``, ``fixed-thresholds``,
    ``no-huber``, ``mse``, ``no-down-weighting``), applied on top of ``base`` (default the paper's loss).

    Raises:
        ConfigError: unknown name (near matches are suggested).
    """
    if name not in LOSS_ABLATIONS:
        msg = f"loss ablation: unknown name {name!r}, expected one of {sorted(LOSS_ABLATIONS)}"
        raise ConfigError(msg + _did_you_mean(name, LOSS_ABLATIONS))
    return dataclasses.replace(base or LossConfig(), **LOSS_ABLATIONS[name])


@dataclass(frozen=True, kw_only=True, slots=True)
class ScheduleConfig:
    """Optimiser and learning-rate schedule (paper §3.2.3; reference-code-notes §4.7, §6.2).

    ``one-cycle``: 1cycle with cosine interpolation (``warmup_epochs``: LR lr/start_div → lr, β1 high → low;
    ``decay_epochs``: LR → lr/end_div, β1 → high), then step decay: after ``step_patience`` epochs
    without improvement the best state (model + optimiser) is reloaded, the LR multiplied by
    ``step_factor`` and β1 set to its high value. ``constant``: LR and β1 fixed (the paper's §7.3 test).
    Both stop after ``patience`` epochs without improvement or ``max_epochs`` in all, and end on the
    best state.
    """

    kind: ScheduleKind = "one-cycle"  # LR/β1 schedule
    lr: float = (
        5e-3  # peak LR of the 1cycle (authors' default; the paper's text says 3e-5), or the constant LR
    )
    start_div: float = 100.0  # 1cycle starts at lr / start_div
    end_div: float = 10.0  # 1cycle ends at lr / end_div
    beta1_low: float = 0.85  # β1 at the LR peak
    beta1_high: float = 0.95  # β1 at the 1cycle ends and after every LR step
    constant_beta1: float = 0.9  # β1 of the constant schedule (Adam's default)
    beta2: float = 0.999  # Adam β2
    eps: float = 1e-8  # Adam ε
    weight_decay: float | None = None  # None = plain Adam (nominal); a value switches to AdamW
    warmup_epochs: int = 2  # 1cycle rise
    decay_epochs: int = 18  # 1cycle fall
    step_patience: int = 2  # non-improving epochs before an LR step (step phase only)
    step_factor: float = 0.5  # LR multiplier at a step
    reload_on_step: bool = True  # reload the best state at each step (paper); False = authors' code
    patience: int = 10  # early stop after this many epochs without improvement (after the 1cycle)
    max_epochs: int = 50  # hard limit, 1cycle included

    def __post_init__(self) -> None:
        _check_choice("schedule.kind", self.kind, ScheduleKind)
        for name in ("lr", "start_div", "end_div", "eps"):
            _check_positive(f"schedule.{name}", getattr(self, name))
        for name in ("beta1_low", "beta1_high", "constant_beta1", "beta2"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                msg = f"schedule.{name}: expected a number in [0, 1), got {value!r}"
                raise ConfigError(msg)
        if self.weight_decay is not None:
            _check_positive("schedule.weight_decay", self.weight_decay)
        if not 0.0 < self.step_factor <= 1.0:
            msg = f"schedule.step_factor: expected a number in (0, 1], got {self.step_factor!r}"
            raise ConfigError(msg)
        for name in ("warmup_epochs", "decay_epochs"):
            _check_int(f"schedule.{name}", getattr(self, name), minimum=0)
        for name in ("step_patience", "patience", "max_epochs"):
            _check_int(f"schedule.{name}", getattr(self, name), minimum=1)

    @property
    def cycle_epochs(self) -> int:
        """Epochs of the 1cycle phase (0 for the constant schedule)."""
        return self.warmup_epochs + self.decay_epochs if self.kind == "one-cycle" else 0


@dataclass(frozen=True, kw_only=True, slots=True)
class FoldConfig:
    """Which folds each model trains and monitors on (paper §3.2.1, §3.2.4; reference-code-notes §6.4)."""

    n_models: int = 1  # models of the ensemble, trained one after the other
    strategy: FoldStrategy = "all-fold"  # all-fold: every non-hold-out fold; unique-fold: disjoint sets
    holdout_fold: int | None = 0  # never trained or monitored on; None uses every fold

    def __post_init__(self) -> None:
        _check_int("folds.n_models", self.n_models, minimum=1)
        _check_choice("folds.strategy", self.strategy, FoldStrategy)
        if self.holdout_fold is not None:
            _check_int("folds.holdout_fold", self.holdout_fold, minimum=0)


@dataclass(frozen=True, kw_only=True, slots=True)
class TrainConfig:
    """Everything that decides what a training run computes (the device is chosen at run time)."""

    loss: LossConfig = field(default_factory=LossConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    folds: FoldConfig = field(default_factory=FoldConfig)
    batch_size: int = 256  # global batch (all ranks together), muons
    eval_batch_size: int = 256  # monitoring-fold batch, muons
    drop_last: bool = True  # drop the incomplete last training batch (as the authors' code)
    seed: int = 0  # base seed: model m initialises and shuffles with seed + m
    bf16: bool = False  # bfloat16 autocast of the forward pass (the loss stays float32)
    channels_last: bool = False  # channels-last (NDHWC) grids and weights
    compile: bool = False  # torch.compile the model
    workers: int = 0  # data-loader worker processes
    deterministic: bool = True  # torch.use_deterministic_algorithms (warn-only where unsupported)
    monitor_metrics: bool = True  # Mean Improvement on the monitoring fold every epoch
    feature_columns: tuple[str, ...] | None = None  # features the model reads (None: all, in order)
    # initial bias of the output neuron: 'zero' as the authors (their 886k muons give enough steps to
    # grow it), 'mean-target' starts at the mean true energy of the training folds, which small
    # studies need (a few hundred steps cannot climb from 0 to ~4 TeV)
    output_bias: Literal["zero", "mean-target"] = "zero"

    def __post_init__(self) -> None:
        for name in ("batch_size", "eval_batch_size"):
            _check_int(name, getattr(self, name), minimum=1)
        _check_int("seed", self.seed, minimum=0)
        _check_int("workers", self.workers, minimum=0)
        if self.feature_columns is not None and len(self.feature_columns) == 0:
            msg = "feature_columns: expected at least one feature name, or null for all"
            raise ConfigError(msg)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (tuples become lists)."""
        result: dict[str, Any] = config_to_dict(self)
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "train") -> TrainConfig:
        """Strict inverse of :meth:`to_dict` (missing keys take the defaults)."""
        return from_dict(cls, data, where=where)


# --- presets and overrides ------------------------------------------------------------------------


def load_train_config(
    preset: str | os.PathLike[str] | None = "quick",
    *,
    overrides: Mapping[str, Any] | None = None,
    sets: Sequence[str] = (),
) -> TrainConfig:
    """Read the ``train:`` section of a preset, then apply dotted ``overrides`` and ``--set`` strings.

    Args:
        preset: ``"quick"`` or ``"paper"`` (the shipped ``configs/train_<name>.yaml``), any name or YAML
            path :func:`mucalo.config.load_preset` accepts, or None for the code defaults.
        overrides: ``{"schedule.lr": 3e-5, "batch_size": 64, ...}`` as Python values, validated like
            the YAML.
        sets: ``["schedule.patience=5", ...]`` (``--set``; values parsed as YAML, an optional leading
            ``train.`` is dropped), applied after ``overrides``.

    Returns:
        The resolved, validated config.

    Raises:
        ConfigError: unknown preset or key, wrong type or out-of-range value (the file and dotted
            field are named).
    """
    data: dict[str, Any] = {}
    where = "train"
    if preset is not None:
        name = f"train_{preset}" if isinstance(preset, str) and preset in PRESETS else preset
        loaded, source = load_preset(name)
        section = loaded.get("train", {})
        if not isinstance(section, dict):
            msg = f"{source}: train: expected a mapping, got {type(section).__name__}"
            raise ConfigError(msg)
        data, where = section, f"{source}: train"
    for dotted, value in (overrides or {}).items():
        data = set_dotted(data, dotted, value, where=f"override {dotted!r}")
    if sets:
        data = apply_overrides(data, [item.removeprefix("train.") for item in sets])
    return from_dict(TrainConfig, data, where=where)


def _did_you_mean(name: str, known: Sequence[str] | Mapping[str, Any]) -> str:
    near = difflib.get_close_matches(name, sorted(known), n=3)
    return f"; did you mean {', '.join(map(repr, near))}?" if near else ""


def _check_choice(name: str, value: Any, choices: Any) -> None:
    if value not in get_args(choices):
        msg = f"{name}: expected one of {get_args(choices)}, got {value!r}"
        raise ConfigError(msg)


def _check_int(name: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        msg = f"{name}: expected an integer ≥ {minimum}, got {value!r}"
        raise ConfigError(msg)


def _check_positive(name: str, value: Any) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value > 0)
    ):
        msg = f"{name}: expected a positive number, got {value!r}"
        raise ConfigError(msg)
