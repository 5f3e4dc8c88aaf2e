"""Fold assignment: a seeded partition, and the dataset records where every muon went."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mucalo.data import DatasetConfig, MucaloDataset, assign_folds, build_dataset, open_dataset
from mucalo.errors import ConfigError
from mucalo.io.shards import ShardSet


def test_assign_folds_is_a_balanced_partition() -> None:
    folds = assign_folds(1003, 36, seed=7)
    assert folds.shape == (1003,)
    counts = np.bincount(folds, minlength=36)
    assert counts.sum() == 1003
    assert counts.max() - counts.min() == 1
    assert set(np.unique(folds)) == set(range(36))


def test_assign_folds_is_seeded() -> None:
    assert np.array_equal(assign_folds(500, 6, seed=1), assign_folds(500, 6, seed=1))
    assert not np.array_equal(assign_folds(500, 6, seed=1), assign_folds(500, 6, seed=2))


def test_too_few_muons_for_the_folds() -> None:
    with pytest.raises(ConfigError, match="3 muons cannot fill 4 folds"):
        assign_folds(3, 4, seed=0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_folds": 0}, "n_folds"),
        ({"seed": -1}, "seed"),
        ({"n_folds": 4, "holdout_fold": 4}, "holdout_fold"),
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(ConfigError, match=f"dataset.{field}"):
        DatasetConfig(**kwargs)


def _sources(dataset: MucaloDataset) -> list[tuple[int, int]]:
    files, index = dataset.source_of(np.arange(dataset.n_muons))
    return list(zip(files.tolist(), index.tolist(), strict=True))


def test_dataset_holds_every_source_muon_once(dataset: MucaloDataset, shards_dir: Path) -> None:
    shards = ShardSet(shards_dir)
    assert dataset.n_muons == shards.n_muons == 160
    assert sum(dataset.fold_sizes) == 160
    assert max(dataset.fold_sizes) - min(dataset.fold_sizes) <= 1
    expected = {(k, i) for k, s in enumerate(shards.shards) for i in range(s.n_muons)}
    sources = _sources(dataset)
    assert len(sources) == len(set(sources)) == 160
    assert set(sources) == expected
    # the recorded truth follows its muon
    files, index = dataset.source_of(np.arange(160))
    truth = shards.truth()
    assert np.array_equal(dataset.truth()["seed"], truth["seed"][shards.starts[files] + index])


def test_same_seed_same_folds_other_seed_other_folds(
    dataset: MucaloDataset, shards_dir: Path, tmp_path: Path
) -> None:
    again = open_dataset(build_dataset(shards_dir, tmp_path / "again", n_folds=6, seed=3))
    other = open_dataset(build_dataset(shards_dir, tmp_path / "other", n_folds=6, seed=4))
    assert isinstance(again, MucaloDataset)
    assert isinstance(other, MucaloDataset)
    assert _sources(again) == _sources(dataset)
    assert again.fold_sizes == dataset.fold_sizes
    assert _sources(other) != _sources(dataset)
    for fold in range(6):
        assert np.array_equal(again.targets(fold), dataset.targets(fold))
        assert all(np.array_equal(a, b) for a, b in zip(again.hits(fold), dataset.hits(fold), strict=True))


def test_metadata_records_config_and_versions(dataset: MucaloDataset) -> None:
    meta = dataset.metadata()
    assert meta["config"] == {"n_folds": 6, "seed": 3, "holdout_fold": 0}
    assert meta["fold_sizes"] == dataset.fold_sizes
    assert {"mucalo", "numpy", "h5py", "python"} <= set(meta["versions"])
    assert [s["n_muons"] for s in meta["sources"]] == [40, 120]
    assert meta["sources"][0]["path"].endswith("a_fixed.h5")
