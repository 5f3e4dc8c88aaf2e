"""Data-parallel training launched the way the README says: torchrun with 2 CPU processes (gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mucalo.training import load_run


@pytest.mark.distributed
def test_torchrun_with_two_cpu_processes_trains(small_dataset_path: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone",
        "-m", "mucalo.cli.main", "-q", "train", str(small_dataset_path),
        "--model", "hl", "--preset", "quick", "--epochs", "3", "--batch-size", "16", "--lr", "0.05",
        "--device", "cpu", "--out", str(run), "--json",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CI": "true"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    ensemble = json.loads((run / "ensemble.json").read_text())
    assert ensemble["weights"] == [1.0]
    history = (run / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 3  # header + one row per epoch, written once (rank 0 only)
    trained = load_run(run)
    prediction = trained.predict(small_dataset_path, [0])
    assert prediction.ensemble.size > 0
