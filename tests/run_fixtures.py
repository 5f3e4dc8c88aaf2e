"""A tiny trained run on real Geant4 muons, for the end-to-end tests of evaluate, predict and export.

Shared by tests/evaluation and tests/cli (tests/ is on the import path through tests/conftest.py).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from mucalo.data import build_dataset, export_lumin, open_dataset
from mucalo.features import add_shard_features
from mucalo.training import load_train_config, model_config_for, train_run


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
