"""Training history (paper Fig. 7): losses and Mean Improvement, and the LR / β1 schedule, per epoch."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mucalo.errors import DataFormatError, MissingDataError
from mucalo.evaluation.figures._style import figure_style, new_figure, save_figure

__all__ = ["HISTORY_COLUMNS", "plot_training_history", "read_history_csv"]

#: Columns of a history table; ``model`` and ``epoch`` are required, the others are drawn when present.
HISTORY_COLUMNS = ("model", "epoch", "train_loss", "val_loss", "lr", "beta1", "mean_improvement")


def _float(text: str) -> float:
    return float(text) if text.strip() else float("nan")


def read_history_csv(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Read a history.csv: ``model`` stays text, every other column becomes float (empty → NaN).

    Raises:
        MissingDataError: the file does not exist.
        DataFormatError: a required column is missing or a value is not a number.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"{path}: training history not found"
        raise MissingDataError(msg)
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    names = list(rows[0]) if rows else []
    missing = [c for c in ("model", "epoch") if c not in names]
    if missing:
        msg = f"{path}: expected columns {list(HISTORY_COLUMNS)}, missing {missing} (found {names})"
        raise DataFormatError(msg)
    table: dict[str, npt.NDArray[Any]] = {"model": np.array([row["model"] for row in rows])}
    for column in names:
        if column == "model":
            continue
        try:
            table[column] = np.array([_float(row[column] or "") for row in rows], dtype=np.float64)
        except ValueError as err:
            msg = f"{path}: column {column!r}: expected numbers ({err})"
            raise DataFormatError(msg) from err
    return table


def plot_training_history(
    history: Mapping[str, Sequence[Any] | npt.NDArray[Any]],
    *,
    out_dir: Path,
    name: str = "training_history",
) -> list[Path]:
    """Fig. 7: (a) training and validation loss with the Mean Improvement, (b) LR and β1, against epoch.

    Args:
        history: columns of :data:`HISTORY_COLUMNS` (e.g. from :func:`read_history_csv`); one line per
            ``model``.

    Raises:
        DataFormatError: ``model`` or ``epoch`` is missing, or columns differ in length.
    """
    missing = [c for c in ("model", "epoch") if c not in history]
    lengths = {len(v) for v in history.values()}
    if missing or len(lengths) > 1:
        msg = f"training history: expected equal-length columns incl. 'model' and 'epoch'; missing {missing}"
        raise DataFormatError(msg)
    model = np.asarray(history["model"]).astype(str)
    columns = {k: np.asarray(v, dtype=np.float64) for k, v in history.items() if k != "model"}
    with figure_style():
        fig = new_figure(width=10.0, ncols=2)
        loss_ax, schedule_ax = fig.subplots(1, 2)
        mi_ax = loss_ax.twinx() if "mean_improvement" in columns else None
        beta_ax = schedule_ax.twinx() if "beta1" in columns else None
        for i, label in enumerate(dict.fromkeys(model)):
            rows = model == label
            epoch = columns["epoch"][rows]
            colour = f"C{i % 10}"
            for key, style in (("train_loss", "-"), ("val_loss", "--")):
                if key in columns:
                    loss_ax.plot(
                        epoch,
                        columns[key][rows],
                        ls=style,
                        color=colour,
                        label=f"{label} {key.replace('_', ' ')}",
                    )
            if mi_ax is not None:
                mi_ax.plot(epoch, columns["mean_improvement"][rows], ls=":", marker=".", color=colour)
            if "lr" in columns:
                schedule_ax.plot(epoch, columns["lr"][rows], color=colour, label=f"{label} LR")
            if beta_ax is not None:
                beta_ax.plot(epoch, columns["beta1"][rows], ls="--", color=colour)
        loss_ax.set(
            xlabel="Epoch", ylabel="Loss", yscale="log" if _positive(columns, "train_loss") else "linear"
        )
        loss_ax.legend(loc="upper right", fontsize="x-small")
        if mi_ax is not None:
            mi_ax.set_ylabel("Mean improvement [%] (dotted)")
        schedule_ax.set(xlabel="Epoch", ylabel="Learning rate")
        if _positive(columns, "lr"):
            schedule_ax.set_yscale("log")
        if beta_ax is not None:
            beta_ax.set_ylabel("β1 (dashed)")
        return save_figure(fig, out_dir, name)


def _positive(columns: Mapping[str, npt.NDArray[np.float64]], key: str) -> bool:
    values = columns.get(key)
    if values is None:
        return False
    finite = values[np.isfinite(values)]
    return bool(finite.size and (finite > 0).all())
