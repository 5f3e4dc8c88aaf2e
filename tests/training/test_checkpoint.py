"""Atomic checkpoints and RNG capture."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from mucalo.errors import CheckpointError, MissingDataError
from mucalo.training import TrainState, capture_rng, load_checkpoint, restore_rng, save_checkpoint
from mucalo.training.checkpoint import BEST_KEYS


def _draw() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_rng_states_round_trip() -> None:
    state = capture_rng()
    first = _draw()
    restore_rng(state)
    assert _draw() == first


def _best_payload() -> dict[str, object]:
    model = torch.nn.Linear(2, 1)
    return {
        "model": model.state_dict(),
        "optimizer": torch.optim.Adam(model.parameters()).state_dict(),
        "model_config": {"kind": "hl"},
        "val_loss": 1.5,
        "epoch": 3,
        "standardisation": {},
    }


def test_save_and_load_with_weights_only(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "best.pt", _best_payload(), kind="best")
    content = load_checkpoint(path, kind="best")
    assert set(BEST_KEYS) <= set(content)
    assert content["val_loss"] == 1.5
    assert content["versions"]["torch"] == str(torch.__version__)
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind
    rng = torch.load(
        save_checkpoint(tmp_path / "c.pt", {**_best_payload(), "rng": capture_rng()}, kind="best"),
        weights_only=True,
    )
    assert "rng" in rng


def test_incomplete_or_foreign_checkpoints_are_refused(tmp_path: Path) -> None:
    payload = _best_payload()
    del payload["epoch"]
    with pytest.raises(CheckpointError, match=r"best file incomplete, missing \['epoch'\]"):
        save_checkpoint(tmp_path / "best.pt", payload, kind="best")
    path = save_checkpoint(tmp_path / "best.pt", _best_payload(), kind="best")
    with pytest.raises(CheckpointError, match="expected a 'checkpoint' file, found 'best'"):
        load_checkpoint(path, kind="checkpoint")
    content = torch.load(path, weights_only=True)
    content["schema_version"] = 99
    torch.save(content, path)
    with pytest.raises(CheckpointError, match="schema_version 99"):
        load_checkpoint(path, kind="best")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read the checkpoint"):
        load_checkpoint(tmp_path / "junk.pt", kind="best")
    with pytest.raises(MissingDataError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "absent.pt", kind="best")


def test_train_state_round_trip_and_strictness() -> None:
    state = TrainState(model=2, epoch=5, step=50, phase="step", lr=1e-3, beta1=0.95, best_loss=0.5)
    assert TrainState.from_dict(state.to_dict(), where="x") == state
    data = state.to_dict()
    del data["best_loss"]
    with pytest.raises(CheckpointError, match=r"missing \['best_loss'\]"):
        TrainState.from_dict(data, where="x")
