"""Settings of the training stage (SYSTEM.md "Training"; paper §3.2; reference-code-notes §5–6).

The defaults are the paper's recipe. Presets (``configs/train_quick.yaml``, ``configs/train_paper.yaml``)
override only what differs and are read by :func:`load_train_config`, a strict loader: an unknown key,
a wrong type or an out-of-range value raises :class:`~mucalo.errors.ConfigError` naming the file and the
dotted field.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from mucalo.errors import ConfigError, MissingDataError

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
    "apply_overrides",
    "load_train_config",
    "loss_ablation",
    "parse_override",
]

LossKind = Literal["huber", "mfse", "mse"]
ThresholdMode = Literal["running", "batch", "fixed"]
ScheduleKind = Literal["one-cycle", "constant"]
FoldStrategy = Literal["all-fold", "unique-fold"]

#: Preset names known to :func:`load_train_config` (files ``configs/train_<name>.yaml`` in the package).
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
    lr: float = 5e-3  # peak LR of the 1cycle (authors' default; the paper's text says 3e-5), or the constant LR
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

    def __post_init__(self) -> None:
        for name in ("batch_size", "eval_batch_size"):
            _check_int(name, getattr(self, name), minimum=1)
        _check_int("seed", self.seed, minimum=0)
        _check_int("workers", self.workers, minimum=0)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (tuples become lists)."""
        return _jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "train config") -> TrainConfig:
        """Strict inverse of :meth:`to_dict` (missing keys take the defaults)."""
        return _build(cls, data, where=where, prefix="")


# --- presets and overrides ------------------------------------------------------------------------


def load_train_config(
    preset: str | os.PathLike[str] | None = "quick",
    *,
    overrides: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """Read a preset (a name of :data:`PRESETS` or a YAML path) and apply dotted ``overrides``.

    Args:
        preset: ``"quick"``, ``"paper"``, a path to a YAML file, or None for the code defaults.
        overrides: ``{"schedule.lr": 3e-5, "batch_size": 64, ...}``, validated like the YAML.

    Returns:
        The resolved, validated config.

    Raises:
        MissingDataError: the preset file does not exist.
        ConfigError: unknown key, wrong type or out-of-range value (the file and dotted field are named).
    """
    data: dict[str, Any] = {}
    where = "defaults"
    if preset is not None:
        text, where = _read_preset(preset)
        loaded = yaml.safe_load(text)
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            msg = f"{where}: expected a mapping at the top level, got {type(loaded).__name__}"
            raise ConfigError(msg)
        data = loaded
    if overrides:
        data = apply_overrides(data, overrides)
        where = f"{where} + overrides"
    return TrainConfig.from_dict(data, where=where)


def _read_preset(preset: str | os.PathLike[str]) -> tuple[str, str]:
    if isinstance(preset, str) and preset in PRESETS:
        name = f"train_{preset}.yaml"
        return resources.files("mucalo.configs").joinpath(name).read_text(encoding="utf-8"), f"configs/{name}"
    path = Path(preset)
    if not path.is_file():
        msg = f"training preset {os.fspath(preset)!r}: not a preset name {PRESETS} nor an existing YAML file"
        raise MissingDataError(msg)
    return path.read_text(encoding="utf-8"), os.fspath(path)


def parse_override(text: str) -> tuple[str, Any]:
    """Parse one ``--set key.path=value`` (the value is read as YAML: ``3e-5``, ``true``, ``[1, 2]``)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        msg = f"--set {text!r}: expected KEY.PATH=VALUE, e.g. schedule.lr=3e-5"
        raise ConfigError(msg)
    return key.strip(), yaml.safe_load(value)


def apply_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the nested mapping ``data`` with dotted keys set (validation happens when building)."""
    out: dict[str, Any] = _deep_copy(data)
    for dotted, value in overrides.items():
        node = out
        parts = dotted.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                msg = f"override {dotted!r}: {part!r} is a value, not a section"
                raise ConfigError(msg)
            node = child
        node[parts[-1]] = value
    return out


def _deep_copy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in data.items()}


# --- strict construction from plain data ------------------------------------------------------------


def _build(cls: type[Any], data: Mapping[str, Any], *, where: str, prefix: str) -> Any:
    if not isinstance(data, Mapping):
        msg = f"{where}: {prefix.rstrip('.') or 'top level'}: expected a mapping, got {type(data).__name__}"
        raise ConfigError(msg)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            msg = f"{where}: {prefix}{key}: unknown key"
            raise ConfigError(msg + _did_you_mean(str(key), names))
        values[key] = _coerce(value, hints[key], where=where, dotted=f"{prefix}{key}")
    try:
        return cls(**values)
    except ConfigError as err:
        msg = f"{where}: {err}"
        raise ConfigError(msg) from err


def _coerce(value: Any, hint: Any, *, where: str, dotted: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _build(hint, value, where=where, prefix=f"{dotted}.")
    if origin in (types.UnionType, typing.Union):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        (inner,) = [o for o in options if o is not type(None)]
        return _coerce(value, inner, where=where, dotted=dotted)
    if origin is Literal:
        if value not in get_args(hint):
            msg = f"{where}: {dotted}: expected one of {get_args(hint)}, got {value!r}"
            raise ConfigError(msg)
        return value
    if origin is tuple:
        items = get_args(hint)
        if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != len(items):
            msg = f"{where}: {dotted}: expected a list of {len(items)} values, got {value!r}"
            raise ConfigError(msg)
        return tuple(_coerce(v, t, where=where, dotted=f"{dotted}[{i}]") for i, (v, t) in enumerate(zip(value, items)))
    if hint is bool:
        if not isinstance(value, bool):
            msg = f"{where}: {dotted}: expected true or false, got {value!r}"
            raise ConfigError(msg)
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            msg = f"{where}: {dotted}: expected an integer, got {value!r}"
            raise ConfigError(msg)
        return value
    if hint is float:
        # YAML 1.1 reads "5e-3" (no dot) as a string: accept numeric strings, reject anything else
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                value = None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            msg = f"{where}: {dotted}: expected a finite number, got {value!r}"
            raise ConfigError(msg)
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            msg = f"{where}: {dotted}: expected a string, got {value!r}"
            raise ConfigError(msg)
        return value
    msg = f"{where}: {dotted}: unsupported field type {hint!r}"  # a bug in this module, not user input
    raise TypeError(msg)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


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
    if isinstance(value, bool) or not isinstance(value, int | float) or not (math.isfinite(value) and value > 0):
        msg = f"{name}: expected a positive number, got {value!r}"
        raise ConfigError(msg)
