"""Tiny trained runs on real Geant4 muons for the CLI tests of evaluate, predict and export.

The tiny HL run itself is built by ``tests/run_fixtures.py``, shared with the evaluation tests.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import typer
from typer.testing import CliRunner, Result

from mucalo.data import build_dataset, open_dataset
from mucalo.training import load_train_config, model_config_for, train_run

_RUNNER = CliRunner()


def invoke(app: typer.Typer, args: Sequence[str]) -> Result:
    """Run a CLI command; then drop the log handlers it installed (they write to the runner's closed
    stream, and a library call later in the same test would log there)."""
    logger = logging.getLogger("mucalo")
    handlers, level = list(logger.handlers), logger.level
    try:
        return _RUNNER.invoke(app, list(args))
    finally:
        for handler in list(logger.handlers):
            if handler not in handlers:
                logger.removeHandler(handler)
        logger.setLevel(level)


def build_hybrid_run(root: Path, shards: Path) -> Path:
    """A hybrid model after one epoch on 20 muons of ``shards`` (4 folds; grids for the export parity)."""
    dataset = build_dataset(shards, root / "dataset", n_folds=4, seed=0)
    data = open_dataset(dataset)
    config = load_train_config(
        "quick", overrides={"batch_size": 8, "schedule.max_epochs": 1, "monitor_metrics": False}
    )
    run = root / "run"
    train_run(data, run, config=config, model_config=model_config_for(data, kind="hybrid"), progress=False)
    return run
