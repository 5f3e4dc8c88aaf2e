"""Atomic checkpoints and random-number-generator states.

A checkpoint (``model_{m}/checkpoint.pt``, written after every epoch) holds everything a resumed run needs
to continue bit-identically on CPU: model, optimiser, loss thresholds, :class:`TrainState`, all RNG states
(Python, NumPy, torch CPU and CUDA), the history, the resolved configs, the standardisation statistics
and the versions. ``best.pt`` holds the best model and optimiser state (what step decay reloads and what
prediction uses). Files are written under a temporary name and renamed (``os.replace``), so a kill never
leaves a half-written checkpoint. Everything is stored as tensors and plain Python values, so
``torch.load(weights_only=True)`` reads them.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mucalo.errors import CheckpointError, MissingDataError
from mucalo.io.atomic import atomic_path
from mucalo.provenance import versions

__all__ = [
    "BEST_KEYS",
    "CHECKPOINT_KEYS",
    "SCHEMA_VERSION",
    "capture_rng",
    "load_checkpoint",
    "restore_rng",
    "save_checkpoint",
]

#: Version of the checkpoint layout; a different one is refused on resume.
SCHEMA_VERSION = 1
#: Keys every ``checkpoint.pt`` must have.
CHECKPOINT_KEYS = frozenset(
    {
        "schema_version",
        "kind",
        "model",
        "optimizer",
        "loss",
        "state",
        "rng",
        "history",
        "config",
        "model_config",
        "folds",
        "standardisation",
        "versions",
    }
)
#: Keys every ``best.pt`` must have.
BEST_KEYS = frozenset(
    {
        "schema_version",
        "kind",
        "model",
        "optimizer",
        "model_config",
        "val_loss",
        "epoch",
        "standardisation",
        "versions",
    }
)


def capture_rng() -> dict[str, Any]:
    """All global RNG states as tensors and plain values (Python, NumPy legacy, torch CPU, CUDA)."""
    np_state = np.random.get_state(legacy=False)
    assert isinstance(np_state, dict)  # legacy=False always gives the dict form
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "python": {"version": version, "internal": torch.tensor(internal, dtype=torch.int64), "gauss": gauss},
        "numpy": {
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def restore_rng(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng` (CUDA states are restored when CUDA is available)."""
    python = state["python"]
    random.setstate((python["version"], tuple(int(v) for v in python["internal"].tolist()), python["gauss"]))
    numpy = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": numpy["key"].numpy().astype(np.uint32), "pos": numpy["pos"]},
            "has_gauss": numpy["has_gauss"],
            "gauss": numpy["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | os.PathLike[str], payload: Mapping[str, Any], *, kind: str) -> Path:
    """Write ``payload`` (plus schema version, kind and versions) atomically with ``torch.save``.

    Args:
        path: final file name.
        payload: the content; for ``kind="checkpoint"`` it must hold :data:`CHECKPOINT_KEYS`, for
            ``kind="best"`` :data:`BEST_KEYS` (schema_version, kind and versions are added here).
        kind: ``"checkpoint"`` or ``"best"``.

    Returns:
        The final path.
    """
    content = {**payload, "schema_version": SCHEMA_VERSION, "kind": kind, "versions": versions()}
    _check_keys(content, kind=kind, where=Path(path))
    with atomic_path(path) as tmp:
        torch.save(content, tmp)
    return Path(path)


def load_checkpoint(
    path: str | os.PathLike[str], *, kind: str, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read and check a file written by :func:`save_checkpoint`.

    Raises:
        MissingDataError: no such file.
        CheckpointError: unreadable, another schema version, the wrong kind or missing keys.
    """
    where = Path(path)
    if not where.is_file():
        msg = f"{where}: checkpoint not found"
        raise MissingDataError(msg)
    try:
        content = torch.load(where, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises pickle, zip and runtime errors alike; re-raised as ours
        msg = f"{where}: cannot read the checkpoint ({type(err).__name__}: {err})"
        raise CheckpointError(msg) from err
    if not isinstance(content, dict):
        msg = f"{where}: expected a dict, found {type(content).__name__}"
        raise CheckpointError(msg)
    if content.get("schema_version") != SCHEMA_VERSION:
        msg = (
            f"{where}: schema_version {content.get('schema_version')!r}, this mucalo reads {SCHEMA_VERSION}; "
            "retrain or use the mucalo version that wrote it"
        )
        raise CheckpointError(msg)
    if content.get("kind") != kind:
        msg = f"{where}: expected a {kind!r} file, found {content.get('kind')!r}"
        raise CheckpointError(msg)
    _check_keys(content, kind=kind, where=where)
    return content


def _check_keys(content: Mapping[str, Any], *, kind: str, where: Path) -> None:
    required = {"checkpoint": CHECKPOINT_KEYS, "best": BEST_KEYS}.get(kind)
    if required is None:
        msg = f"checkpoint kind: expected 'checkpoint' or 'best', got {kind!r}"
        raise CheckpointError(msg)
    missing = sorted(required - set(content))
    if missing:
        msg = f"{where}: {kind} file incomplete, missing {missing}"
        raise CheckpointError(msg)
