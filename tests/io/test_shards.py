from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from mucalo.detector import Detector
from mucalo.errors import DataFormatError, MissingDataError
from mucalo.io.shards import Shard, ShardSet, add_features, write_shard


def test_reader_on_geant4_fixture(g4ref_small_path: Path) -> None:
    shards = ShardSet(g4ref_small_path)
    assert shards.n_muons == 40
    assert shards.detector == Detector()
    offsets, cell, energy = shards.hits()
    assert offsets[0] == 0 and offsets[-1] == cell.size == energy.size
    assert np.all(np.diff(offsets) > 0)  # every Geant4 muon has hits
    assert cell.min() >= 0 and cell.max() < 51_200
    for i in range(shards.n_muons):
        c = cell[offsets[i] : offsets[i + 1]]
        assert np.all(np.diff(c) > 0)  # strictly increasing within a muon
    truth = shards.truth()
    assert np.array_equal(np.unique(truth["true_energy"]), [100, 1000, 4000, 8000])
    # the dense grid holds exactly the hits of the muon
    for i in (0, 17, 39):
        grid = shards.dense(i)
        assert grid.shape == (50, 32, 32)
        c, e = shards.muon(i)
        assert grid.sum(dtype=np.float64) == pytest.approx(e.sum(dtype=np.float64), rel=1e-6)
        assert np.count_nonzero(grid) == c.size


def test_directory_and_ranges_across_shards(tmp_path: Path, g4ref_small_path: Path) -> None:
    shutil.copy(g4ref_small_path, tmp_path / "a.h5")
    shutil.copy(g4ref_small_path, tmp_path / "b.h5")
    (tmp_path / ".c.h5.tmp-123").write_bytes(b"half")  # a killed writer's leftover is ignored
    shards = ShardSet(tmp_path)
    assert shards.n_muons == 80
    assert shards.locate(45) == (1, 5)
    off, cell, energy = shards.hits(38, 42)
    single = ShardSet(g4ref_small_path)
    _, ref_cell, _ = single.hits(38, 40)
    _, ref_cell2, _ = single.hits(0, 2)
    assert np.array_equal(cell, np.concatenate([ref_cell, ref_cell2]))
    assert off[-1] == cell.size == energy.size


def test_truncated_file_refused(tmp_path: Path, g4ref_small_path: Path) -> None:
    data = g4ref_small_path.read_bytes()
    bad = tmp_path / "truncated.h5"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match="truncated.h5"):
        Shard(bad)


def test_incomplete_and_foreign_files_refused(tmp_path: Path, g4ref_small_path: Path) -> None:
    incomplete = tmp_path / "incomplete.h5"
    shutil.copy(g4ref_small_path, incomplete)
    with h5py.File(incomplete, "a") as f:
        del f.attrs["complete"]
    with pytest.raises(DataFormatError, match=r"incomplete.h5: attribute 'complete'"):
        Shard(incomplete)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(DataFormatError, match="foreign.h5: not a mucalo shard"):
        Shard(foreign)
    with pytest.raises(MissingDataError, match="nothing.h5"):
        Shard(tmp_path / "nothing.h5")
    missing_truth = tmp_path / "missing_truth.h5"
    shutil.copy(g4ref_small_path, missing_truth)
    with h5py.File(missing_truth, "a") as f:
        del f["truth/x0"]
    with pytest.raises(DataFormatError, match="truth/x0 missing"):
        Shard(missing_truth)


def test_mixed_detectors_refused(tmp_path: Path) -> None:
    for name, det in (("a.h5", Detector()), ("b.h5", Detector(n_layers=20))):
        _tiny_shard(tmp_path / name, det)
    with pytest.raises(DataFormatError, match="b.h5: detector"):
        ShardSet(tmp_path)


def _tiny_shard(path: Path, det: Detector) -> None:
    write_shard(
        path,
        truth={"true_energy": [100.0, 200.0], "charge": [1, -1], "x0": [0, 1], "y0": [0, 2], "seed": [1, 2]},
        offsets=[0, 2, 2],
        cell=[5, 9],
        energy=[0.5, 0.25],
        detector=det,
        simulation={"backend": "test"},
    )


def test_write_validates_and_round_trips(tmp_path: Path) -> None:
    det = Detector()
    _tiny_shard(tmp_path / "s.h5", det)
    shards = ShardSet(tmp_path / "s.h5")
    assert shards.n_muons == 2
    assert shards.muon(1)[0].size == 0  # a muon without hits is legal
    assert shards.dense(0).sum() == pytest.approx(0.75)
    assert not list(tmp_path.glob(".*tmp*"))
    with pytest.raises(DataFormatError, match=r"hits/cell has values"):
        write_shard(
            tmp_path / "bad.h5",
            truth={"true_energy": [1.0], "charge": [1], "x0": [0], "y0": [0], "seed": [1]},
            offsets=[0, 1],
            cell=[51_200],
            energy=[1.0],
            detector=det,
            simulation={},
        )
    assert not (tmp_path / "bad.h5").exists()


def test_add_features_is_atomic_and_readable(tmp_path: Path) -> None:
    _tiny_shard(tmp_path / "s.h5", Detector())
    add_features(tmp_path / "s.h5", np.ones((2, 3)), ["a", "b", "c"], meta={"v": 1})
    shards = ShardSet(tmp_path)
    assert shards.has_features
    assert shards.feature_names == ["a", "b", "c"]
    assert shards.features().shape == (2, 3)
    with pytest.raises(DataFormatError, match="expected \\(2, 2\\)"):
        add_features(tmp_path / "s.h5", np.ones((2, 3)), ["a", "b"], meta={})
    assert ShardSet(tmp_path).feature_names == ["a", "b", "c"]  # untouched by the failed call
