"""Tiny trained runs on real Geant4 muons for the CLI tests of evaluate, predict and export.

The HL builder repeats ``tests/evaluation/run_fixture.py`` (test directories cannot share a helper here).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import typer
from typer.testing import CliRunner, Result

from mucalo.data import build_dataset, export_lumin, open_dataset
from mucalo.features import add_shard_features
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


@dataclass(frozen=True)
class TinyRun:
    """Paths of a tiny run and its data."""

    run: Path  # 2 HL-only models, trained on the 120-muon uniform sample (4 folds of 30; fold 0 hold-out)
    dataset: Path  # that dataset
    lumin: Path  # the same dataset as a LUMIN fold file
    test_dataset: Path  # the 40 fixed-energy muons (100/1000/4000/8000 GeV) as a one-fold dataset
    test_shards: Path  # their shard, with features
    raw_shards: Path  # their shard, without features


def build_tiny_run(root: Path, *, uniform: Path, fixed: Path) -> TinyRun:
    """Features, datasets and a ~3 s training of two HL models (enough for a rising response)."""
    shards, test_shards, raw_shards = root / "shards", root / "test_shards", root / "raw_shards"
    for directory, source in ((shards, uniform), (test_shards, fixed), (raw_shards, fixed)):
        directory.mkdir(parents=True)
        shutil.copyfile(source, directory / source.name)
    add_shard_features(shards / uniform.name)
    add_shard_features(test_shards / fixed.name)
    dataset = build_dataset(shards, root / "dataset", n_folds=4, seed=0)
    test_dataset = build_dataset(test_shards, root / "test_dataset", n_folds=1, holdout_fold=None)
    data = open_dataset(dataset)
    lumin = export_lumin(data, root / "dataset.hdf5")
    # 20 short epochs at a high LR: two epochs leave a flat response whose bias fit fails.
    config = load_train_config(
        "quick",
        overrides={"batch_size": 8, "schedule.lr": 0.1, "schedule.max_epochs": 20, "folds.n_models": 2},
    )
    run = root / "run"
    train_run(data, run, config=config, model_config=model_config_for(data, kind="hl"), progress=False)
    return TinyRun(
        run=run,
        dataset=dataset,
        lumin=lumin,
        test_dataset=test_dataset,
        test_shards=test_shards,
        raw_shards=raw_shards,
    )


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
