"""Build errors name the file and the field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mucalo.data import build_dataset
from mucalo.detector import Detector
from mucalo.errors import ConfigError, DataFormatError, MissingDataError
from mucalo.io.shards import Shard, add_features, write_shard


def test_shards_with_different_detectors(shards_dir: Path, tmp_path: Path) -> None:
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copyfile(shards_dir / "a_fixed.h5", mixed / "a.h5")
    source = Shard(shards_dir / "a_fixed.h5")
    offsets, cell, energy = source.hits()
    write_shard(
        mixed / "b.h5",
        truth=source.truth(),
        offsets=offsets,
        cell=cell,
        energy=energy,
        detector=Detector(field_t=0.0),
        simulation={"test": "no field"},
    )
    add_features(mixed / "b.h5", source.features(), source.feature_names or [], meta={})
    with pytest.raises(DataFormatError, match=r"b\.h5: detector .* differs"):
        build_dataset(mixed, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_shards_without_features(g4ref_small_path: Path, tmp_path: Path) -> None:
    with pytest.raises(MissingDataError, match=r"g4ref_small\.h5: dataset 'features/values' missing"):
        build_dataset(g4ref_small_path, tmp_path / "out")


def test_existing_output_needs_overwrite(shards_dir: Path, tmp_path: Path) -> None:
    out = build_dataset(shards_dir / "a_fixed.h5", tmp_path / "ds", n_folds=2)
    with pytest.raises(ConfigError, match="exists already"):
        build_dataset(shards_dir / "a_fixed.h5", out, n_folds=2)
    assert build_dataset(shards_dir / "a_fixed.h5", out, n_folds=4, overwrite=True) == out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left
