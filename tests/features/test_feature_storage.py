"""``/features/values`` in shards: added atomically, reruns skip, bad shards give named errors; the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from mucalo.cli.features import features
from mucalo.errors import ConfigError, DataFormatError, MissingDataError
from mucalo.features import FEATURE_NAMES, add_shard_features, compute_directory, compute_features_batch
from mucalo.features import storage as storage_module
from mucalo.io.shards import Shard, ShardSet


@pytest.fixture
def shard_dir(tmp_path: Path, g4ref_small_path: Path, g4ref_uniform_path: Path) -> Path:
    directory = tmp_path / "shards"
    directory.mkdir()
    shutil.copyfile(g4ref_small_path, directory / "a.h5")
    shutil.copyfile(g4ref_uniform_path, directory / "b.h5")
    return directory


def expected_features(path: Path) -> np.ndarray:
    shards = ShardSet(path)
    truth = shards.truth()
    return compute_features_batch(*shards.hits(), truth["x0"], truth["y0"], shards.detector)


def test_directory_gets_features_then_a_rerun_skips(shard_dir: Path) -> None:
    summary = compute_directory(shard_dir, progress=False)
    assert [p.name for p in summary.computed] == ["a.h5", "b.h5"]
    assert summary.skipped == ()
    assert summary.n_muons == 40 + 120
    for name in ("a.h5", "b.h5"):
        shard = Shard(shard_dir / name)
        assert shard.feature_names == list(FEATURE_NAMES)
        np.testing.assert_array_equal(shard.features(), expected_features(shard_dir / name))
        with h5py.File(shard_dir / name, "r") as f:
            meta = json.loads(f["features/values"].attrs["meta"])
        assert meta["detector"]["threshold_gev"] == 0.1
        assert meta["config"]["box_size"] == 3
    assert ShardSet(shard_dir).features().shape == (160, 28)

    mtimes = {p: p.stat().st_mtime_ns for p in shard_dir.iterdir()}
    again = compute_directory(shard_dir, progress=False)
    assert again.computed == ()
    assert [p.name for p in again.skipped] == ["a.h5", "b.h5"]
    assert {p: p.stat().st_mtime_ns for p in shard_dir.iterdir()} == mtimes
    assert add_shard_features(shard_dir / "a.h5") is False

    redo = compute_directory(shard_dir, overwrite=True, progress=False)
    assert len(redo.computed) == 2
    assert sorted(p.name for p in shard_dir.iterdir()) == ["a.h5", "b.h5"]  # no temporaries left


def test_interrupted_run_leaves_shards_complete_or_untouched(
    shard_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = storage_module.compute_features_batch
    calls = []

    def dies_on_second_shard(*args: object, **kwargs: object) -> np.ndarray:
        calls.append(kwargs["where"])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(storage_module, "compute_features_batch", dies_on_second_shard)
    with pytest.raises(KeyboardInterrupt):
        compute_directory(shard_dir, progress=False)
    assert Shard(shard_dir / "a.h5").has_features
    assert not Shard(shard_dir / "b.h5").has_features
    assert sorted(p.name for p in shard_dir.iterdir()) == ["a.h5", "b.h5"]
    monkeypatch.setattr(storage_module, "compute_features_batch", real)
    summary = compute_directory(shard_dir, progress=False)  # the rerun finishes the job
    assert [p.name for p in summary.computed] == ["b.h5"]
    assert [p.name for p in summary.skipped] == ["a.h5"]


def corrupt(path: Path, dataset: str, hit: int, value: float) -> None:
    with h5py.File(path, "a") as f:
        f[dataset][hit] = value


def test_bad_cells_name_the_shard_and_the_muon(shard_dir: Path) -> None:
    offsets = Shard(shard_dir / "b.h5").offsets
    corrupt(shard_dir / "b.h5", "hits/cell", int(offsets[7]) + 2, 60_000)  # muon 7, hit 2
    with pytest.raises(DataFormatError, match=r"b\.h5: muon 7: hit 2: cell 60000 is outside"):
        compute_directory(shard_dir, progress=False)
    assert Shard(shard_dir / "a.h5").has_features  # done before b.h5 failed
    assert not Shard(shard_dir / "b.h5").has_features


def test_negative_energy_names_the_shard_and_the_muon(shard_dir: Path) -> None:
    offsets = Shard(shard_dir / "a.h5").offsets
    corrupt(shard_dir / "a.h5", "hits/energy", int(offsets[33]), -1.0)
    with pytest.raises(DataFormatError, match=r"a\.h5: muon 33: hit 0: cell \d+ has negative energy"):
        add_shard_features(shard_dir / "a.h5")


def test_missing_truth(shard_dir: Path) -> None:
    with h5py.File(shard_dir / "a.h5", "a") as f:
        del f["truth/y0"]
    with pytest.raises(DataFormatError, match=r"a\.h5: dataset truth/y0 missing"):
        add_shard_features(shard_dir / "a.h5")


def test_foreign_features_need_overwrite(shard_dir: Path) -> None:
    path = shard_dir / "a.h5"
    with h5py.File(path, "a") as f:
        f.create_dataset("features/values", data=np.zeros((40, 2), np.float32)).attrs["names"] = '["a", "b"]'
    with pytest.raises(DataFormatError, match=r"a\.h5: /features/values holds other columns"):
        add_shard_features(path)
    assert add_shard_features(path, overwrite=True) is True
    assert Shard(path).feature_names == list(FEATURE_NAMES)


def test_bad_arguments(tmp_path: Path, shard_dir: Path) -> None:
    with pytest.raises(ConfigError, match="workers"):
        compute_directory(shard_dir, workers=0, progress=False)
    with pytest.raises(MissingDataError):
        compute_directory(tmp_path / "nowhere", progress=False)


def test_worker_processes(shard_dir: Path) -> None:
    summary = compute_directory(shard_dir, workers=2, progress=False)
    assert len(summary.computed) == 2
    for name in ("a.h5", "b.h5"):
        np.testing.assert_array_equal(Shard(shard_dir / name).features(), expected_features(shard_dir / name))


def test_cli_json_output(shard_dir: Path) -> None:
    app = typer.Typer()
    app.command()(features)
    result = CliRunner().invoke(app, [str(shard_dir), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n_muons"] == 160
    assert [Path(p).name for p in report["computed"]] == ["a.h5", "b.h5"]
    again = json.loads(CliRunner().invoke(app, [str(shard_dir), "--json", "--workers", "2"]).stdout)
    assert again["computed"] == []
    assert len(again["skipped"]) == 2
