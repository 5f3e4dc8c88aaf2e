"""Torch batches: dense grids equal the reader's muon by muon; a seeded, resumable, rank-split order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mucalo.data import MucaloDataset, batch_grid, make_loader, plan_batches
from mucalo.errors import ConfigError
from mucalo.io.shards import ShardSet

TRAIN = [1, 2, 3, 4, 5]


def test_dense_batches_equal_the_reader_muon_by_muon(dataset: MucaloDataset, shards_dir: Path) -> None:
    shards = ShardSet(shards_dir)
    truth = shards.truth()
    loader = make_loader(dataset, TRAIN, batch_size=32, shuffle=True, seed=5)
    seen = 0
    for batch in loader:
        assert batch["grid"].shape == (batch["target"].shape[0], 1, 50, 32, 32)
        assert batch["grid"].dtype == torch.float32
        files, index = dataset.source_of(batch["index"].numpy())
        for grid, global_source in zip(batch["grid"], shards.starts[files] + index, strict=True):
            np.testing.assert_array_equal(grid[0].numpy(), shards.dense(int(global_source)))
        np.testing.assert_array_equal(
            batch["target"].numpy(), truth["true_energy"][shards.starts[files] + index]
        )
        assert torch.all(batch["weight"] == 1)
        seen += batch["target"].shape[0]
    assert seen == sum(dataset.fold_sizes[k] for k in TRAIN)


def test_features_and_targets_follow_the_index(dataset: MucaloDataset) -> None:
    batch = next(iter(make_loader(dataset, [0, 3], batch_size=16, shuffle=True, seed=1, with_grid=False)))
    assert "grid" not in batch
    index = batch["index"].numpy()
    folds = dataset.fold_of(index)
    for row, (i, fold) in enumerate(zip(index, folds, strict=True)):
        local = i - dataset.fold_offsets[fold]
        np.testing.assert_array_equal(batch["features"][row].numpy(), dataset.features(int(fold))[local])
        assert batch["target"][row] == dataset.targets(int(fold))[local]


def test_epoch_order_is_seeded_and_covers_each_muon_once(dataset: MucaloDataset) -> None:
    def order(seed: int, epoch: int) -> list[int]:
        plan = plan_batches(dataset.fold_offsets, TRAIN, batch_size=10, shuffle=True, seed=seed, epoch=epoch)
        return np.concatenate(plan).tolist()

    first = order(0, 0)
    assert sorted(first) == list(range(dataset.fold_offsets[1], dataset.n_muons))
    assert order(0, 0) == first
    assert order(0, 1) != first
    assert order(1, 0) != first
    unshuffled = plan_batches(dataset.fold_offsets, [2, 1], batch_size=1000, shuffle=False, seed=0)
    assert np.concatenate(unshuffled).tolist() == [
        *range(dataset.fold_offsets[2], dataset.fold_offsets[3]),
        *range(dataset.fold_offsets[1], dataset.fold_offsets[2]),
    ]


def test_resume_inside_an_epoch_replays_the_rest(dataset: MucaloDataset) -> None:
    full = make_loader(dataset, TRAIN, batch_size=16, shuffle=True, seed=2, epoch=3, with_grid=False)
    rest = make_loader(
        dataset, TRAIN, batch_size=16, shuffle=True, seed=2, epoch=3, with_grid=False, start_batch=3
    )
    assert [b["index"].tolist() for b in rest] == [b["index"].tolist() for b in full][3:]


@pytest.mark.parametrize("drop_last", [False, True])
def test_ranks_get_equal_disjoint_shares(dataset: MucaloDataset, drop_last: bool) -> None:
    plans = [
        plan_batches(
            dataset.fold_offsets,
            TRAIN,
            batch_size=8,
            shuffle=True,
            seed=0,
            drop_last=drop_last,
            rank=r,
            world_size=3,
        )
        for r in range(3)
    ]
    assert len({len(p) for p in plans}) == 1
    for step in zip(*plans, strict=True):
        assert len({b.size for b in step}) == 1  # same batch size on every rank at every step
    everything = np.concatenate([np.concatenate(p) for p in plans])
    n_train = dataset.n_muons - dataset.fold_sizes[0]
    if drop_last:
        assert everything.size == n_train // 24 * 24
        assert len(set(everything.tolist())) == everything.size
    else:
        assert set(everything.tolist()) == set(range(dataset.fold_offsets[1], dataset.n_muons))
        assert everything.size == n_train + (-n_train) % 3  # padding by wrap-around only


def test_fold_scope_keeps_batches_inside_folds(dataset: MucaloDataset) -> None:
    plan = plan_batches(
        dataset.fold_offsets, TRAIN, batch_size=10, shuffle=True, seed=0, drop_last=True, scope="fold"
    )
    for batch in plan:
        assert batch.size == 10
        assert len(set(dataset.fold_of(batch).tolist())) == 1
    assert len(plan) == sum(dataset.fold_sizes[k] // 10 for k in TRAIN)


def test_sparse_batches_densify_to_the_same_grid(dataset: MucaloDataset) -> None:
    dense = next(iter(make_loader(dataset, [1], batch_size=12, shuffle=True, seed=4, channels_last=True)))
    sparse = next(iter(make_loader(dataset, [1], batch_size=12, shuffle=True, seed=4, sparse_grid=True)))
    assert dense["grid"].is_contiguous(memory_format=torch.channels_last_3d)
    assert "grid" not in sparse
    assert torch.equal(sparse["index"], dense["index"])
    assert torch.equal(batch_grid(sparse, dataset.grid_shape), dense["grid"])


def test_worker_process_gives_the_same_batches(dataset: MucaloDataset) -> None:
    kwargs = {"batch_size": 24, "shuffle": True, "seed": 9, "epoch": 1}
    in_process = list(make_loader(dataset, [2, 4], **kwargs))
    in_worker = list(make_loader(dataset, [2, 4], workers=1, **kwargs))
    assert len(in_process) == len(in_worker) == 3
    for a, b in zip(in_process, in_worker, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), key


def test_columns_weights_and_external_statistics(dataset: MucaloDataset) -> None:
    stats = dataset.standardisation.select([0, 26, 27])

    def double_energy(energy: np.ndarray) -> np.ndarray:
        return 2 * energy

    loader = make_loader(
        dataset,
        [1],
        batch_size=8,
        shuffle=False,
        seed=0,
        with_grid=False,
        feature_columns=["eabove", "eb1", 27],
        weighting=double_energy,
    )
    batch = next(iter(loader))
    assert batch["features"].shape == (8, 3)
    np.testing.assert_array_equal(batch["features"].numpy(), dataset.features(1)[:8][:, [0, 26, 27]])
    assert torch.equal(batch["weight"], 2 * batch["target"])
    other = make_loader(
        dataset,
        [1],
        batch_size=8,
        shuffle=False,
        seed=0,
        with_grid=False,
        feature_columns=[0, 26, 27],
        standardisation=stats,
    )
    assert torch.equal(next(iter(other))["features"], batch["features"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"folds": [6]}, "fold 6 does not exist"),
        ({"folds": [1, 1]}, "distinct folds"),
        ({"batch_size": 0}, "batch_size"),
        ({"rank": 2, "world_size": 2}, "loader.rank"),
        ({"feature_columns": ["nope"]}, "feature 'nope' unknown"),
        ({"shuffle_scope": "muon"}, "shuffle_scope"),
    ],
)
def test_loader_argument_errors(dataset: MucaloDataset, kwargs: dict[str, object], match: str) -> None:
    options: dict[str, object] = {"folds": [1], "shuffle": True, "seed": 0} | kwargs
    with pytest.raises(ConfigError, match=match):
        make_loader(dataset, **options)  # type: ignore[arg-type]
