"""Fixtures of the training tests: a tiny dataset built from the 120-muon Geant4 fixture.

The features are four simple energy sums computed here (fast, no JIT compilation), so the tests depend
only on the shard and dataset formats, not on the feature stage.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from mucalo.data import MuonDataset, build_dataset, open_dataset
from mucalo.io.shards import ShardSet, add_features

SIMPLE_FEATURES = ("e_sum", "e_above", "log_n_hits", "e_max")


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    """The machine is shared: one intra-op thread keeps the tests fast and reproducible."""
    torch.set_num_threads(1)


def _simple_features(shards: ShardSet) -> np.ndarray:
    offsets, _, energy = shards.hits(0, shards.n_muons)
    values = np.zeros((shards.n_muons, len(SIMPLE_FEATURES)), dtype=np.float32)
    for i in range(shards.n_muons):
        e = energy[offsets[i] : offsets[i + 1]].astype(np.float64)
        values[i] = (e.sum(), e[e > 0.1].sum(), np.log1p(e.size), e.max(initial=0.0))
    return values


@pytest.fixture(scope="session")
def small_dataset_path(g4ref_uniform_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 real muons, uniform in 50–8000 GeV, in 6 folds of 20 (fold 0 = hold-out), 4 features."""
    root = tmp_path_factory.mktemp("training-data")
    shard = root / "shards" / "uniform.h5"
    shard.parent.mkdir()
    shutil.copyfile(g4ref_uniform_path, shard)
    add_features(shard, _simple_features(ShardSet(shard)), SIMPLE_FEATURES, meta={"source": "tests"})
    return build_dataset(shard.parent, root / "dataset", n_folds=6, seed=0)


@pytest.fixture
def small_dataset(small_dataset_path: Path) -> MuonDataset:
    """The small dataset, opened."""
    return open_dataset(small_dataset_path)
