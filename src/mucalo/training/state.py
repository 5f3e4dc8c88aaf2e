"""The typed training state and the per-epoch history rows.

:class:`TrainState` is everything about *where* a training is, apart from the tensors (model, optimiser,
loss thresholds): schedule position, phase, fixed LR/β1, best loss and the patience counters. It is saved
in every checkpoint, so a resumed run takes exactly the same decisions.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mucalo.errors import CheckpointError
from mucalo.io.atomic import write_text_atomic

__all__ = ["HISTORY_COLUMNS", "EpochRecord", "TrainState", "write_history_csv"]


@dataclass(frozen=True, kw_only=True, slots=True)
class TrainState:
    """Position of one model's training (updated with :meth:`replace`, saved in every checkpoint)."""

    model: int = 0  # index of the model in the ensemble
    epoch: int = 0  # completed epochs
    step: int = 0  # optimiser steps taken (the 1cycle position)
    steps_per_epoch: int = 0  # optimiser steps per epoch (fixed at the start)
    phase: str = "cycle"  # "cycle" (1cycle), "step" (step decay) or "constant"
    lr: float = 0.0  # LR in force (fixed outside the 1cycle)
    beta1: float = 0.0  # Adam β1 in force
    best_loss: float = math.inf  # lowest monitoring loss so far
    best_epoch: int = -1  # epoch (1-based count) that reached it; −1 before the first
    epochs_without_improvement: int = 0  # early-stopping counter (not advanced during the 1cycle)
    epochs_since_step: int = 0  # non-improving epochs since the last improvement or LR step
    n_lr_steps: int = 0  # LR steps taken
    n_reloads: int = 0  # times the best state was reloaded
    finished: bool = False  # training over (and the best state loaded)
    stop_reason: str | None = None  # "early-stop" or "max-epochs"

    def replace(self, **changes: Any) -> TrainState:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form for checkpoints."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str) -> TrainState:
        """Inverse of :meth:`to_dict`; missing or unknown keys raise :class:`CheckpointError`."""
        names = {f.name for f in dataclasses.fields(cls)}
        if set(data) != names:
            msg = (
                f"{where}: train state keys differ from this mucalo's: missing {sorted(names - set(data))}, "
                f"unknown {sorted(set(data) - names)}"
            )
            raise CheckpointError(msg)
        return cls(**data)


#: Columns of ``history.csv``, one row per epoch per model.
HISTORY_COLUMNS = (
    "model",
    "epoch",
    "train_loss",
    "val_loss",
    "lr",
    "beta1",
    "mean_improvement",
    "seconds",
    "muons_per_s",
)


@dataclass(frozen=True, kw_only=True, slots=True)
class EpochRecord:
    """One row of ``history.csv``.

    Attributes:
        model: model index.
        epoch: 1-based epoch number.
        train_loss: mean training loss over the epoch's muons (thresholds as they were per batch).
        val_loss: mean loss over the monitoring fold's muons, thresholds frozen.
        lr: LR of the epoch's last optimiser step.
        beta1: Adam β1 of the epoch's last optimiser step.
        mean_improvement: Mean Improvement on the monitoring fold, % (NaN when undefined or off).
        seconds: wall time of the epoch (training + validation), s.
        muons_per_s: training throughput (all ranks), muons/s.
    """

    model: int
    epoch: int
    train_loss: float
    val_loss: float
    lr: float
    beta1: float
    mean_improvement: float
    seconds: float
    muons_per_s: float

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form."""
        return dataclasses.asdict(self)


def write_history_csv(path: str | os.PathLike[str], records: Iterable[EpochRecord]) -> None:
    """Write the rows (sorted by model, then epoch) to ``path`` atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in sorted(records, key=lambda r: (r.model, r.epoch)):
        writer.writerow({k: repr(v) if isinstance(v, float) else v for k, v in record.to_dict().items()})
    write_text_atomic(path, buffer.getvalue())
