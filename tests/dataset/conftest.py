"""Fixtures of the dataset tests: the Geant4 fixture shards with simple deterministic features."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from mucalo.data import MucaloDataset, build_dataset, open_dataset
from mucalo.features import FEATURE_NAMES as PUBLISHED_NAMES
from mucalo.io.shards import ShardSet, add_features

#: the published column names (reference-code-notes §3.2), so exported files look like the authors'
FEATURE_NAMES = list(PUBLISHED_NAMES)


def simple_features(path: Path) -> np.ndarray:
    """(N, 28) per-muon sums: column j = energy of the hits whose flat cell index is j modulo 28."""
    shards = ShardSet(path)
    offsets, cell, energy = shards.hits()
    muon = np.repeat(np.arange(shards.n_muons), np.diff(offsets))
    values = np.zeros((shards.n_muons, 28))
    np.add.at(values, (muon, cell % 28), energy)
    return values.astype(np.float32)


def with_features(source: Path, destination: Path) -> Path:
    """A copy of a shard with :func:`simple_features` added."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)
    add_features(destination, simple_features(destination), FEATURE_NAMES, meta={"test": "cell % 28 sums"})
    return destination


@pytest.fixture(scope="session")
def shards_dir(
    tmp_path_factory: pytest.TempPathFactory, g4ref_small_path: Path, g4ref_uniform_path: Path
) -> Path:
    """Two shards (40 + 120 real muons) with features, in one directory."""
    folder = tmp_path_factory.mktemp("shards")
    with_features(g4ref_small_path, folder / "a_fixed.h5")
    with_features(g4ref_uniform_path, folder / "b_uniform.h5")
    return folder


@pytest.fixture(scope="session")
def dataset_path(tmp_path_factory: pytest.TempPathFactory, shards_dir: Path) -> Path:
    """The 160 muons in 6 folds, seed 3."""
    return build_dataset(shards_dir, tmp_path_factory.mktemp("datasets") / "six", n_folds=6, seed=3)


@pytest.fixture
def dataset(dataset_path: Path) -> MucaloDataset:
    opened = open_dataset(dataset_path)
    assert isinstance(opened, MucaloDataset)
    return opened
