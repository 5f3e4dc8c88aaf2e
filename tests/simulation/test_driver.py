from __future__ import annotations

import concurrent.futures as cf
from pathlib import Path

import h5py
import numpy as np
import pytest

from mucalo.detector import Gun
from mucalo.errors import ConfigError, DataFormatError
from mucalo.io.shards import ShardSet
from mucalo.simulation import SimulationConfig, simulate


def _read_all(path: Path) -> dict[str, np.ndarray]:
    shards = ShardSet(path)
    offsets, cell, energy = shards.hits()
    return {**shards.truth(), "offsets": offsets, "cell": cell, "energy": energy}


def _config(**kw: object) -> SimulationConfig:
    return SimulationConfig(n_muons=23, muons_per_shard=5, seed=11, backend="fast", **kw)  # type: ignore[arg-type]


def test_same_seed_identical_shards(tmp_path: Path, toy_backend: object) -> None:
    a = simulate(_config(), tmp_path / "a", progress=False)
    b = simulate(_config(), tmp_path / "b", progress=False)
    assert len(a.shards) == 5 and a.simulated == 5
    for pa, pb in zip(a.shards, b.shards, strict=True):
        with h5py.File(pa) as fa, h5py.File(pb) as fb:
            for key in ("truth/true_energy", "truth/seed", "truth/x0", "hits/cell", "hits/energy"):
                assert np.array_equal(fa[key][:], fb[key][:])
    other = simulate(SimulationConfig(n_muons=23, muons_per_shard=5, seed=12), tmp_path / "c", progress=False)
    assert not np.array_equal(_read_all(other.out_dir)["seed"], _read_all(a.out_dir)["seed"])
    assert (tmp_path / "a" / "simulation.json").is_file()


def test_sharding_and_executor_do_not_change_muons(tmp_path: Path, toy_backend: object) -> None:
    serial = simulate(_config(), tmp_path / "serial", progress=False)
    one_shard = SimulationConfig(n_muons=23, muons_per_shard=100, seed=11)
    with cf.ThreadPoolExecutor(2) as pool:
        pooled = simulate(one_shard, tmp_path / "pooled", progress=False, executor=pool)
    x, y = _read_all(serial.out_dir), _read_all(pooled.out_dir)
    for key in x:
        assert np.array_equal(x[key], y[key]), key


def test_killed_run_resumes_without_loss_or_duplicates(
    tmp_path: Path, toy_backend: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = _read_all(simulate(_config(), tmp_path / "ref", progress=False).out_dir)
    out = tmp_path / "run"
    # kill the job of the third shard (muon 12 has this energy) half-way through the run
    victim = float(reference["true_energy"][12])
    monkeypatch.setattr(toy_backend, "fail_on_energy", victim)
    with pytest.raises(KeyboardInterrupt):
        simulate(_config(), out, progress=False)
    assert sorted(p.name for p in out.glob("shard_*.h5")) == ["shard_00000.h5", "shard_00001.h5"]
    (out / ".shard_00002.h5.tmp-999").write_bytes(b"a hard kill leaves this")  # ignored and overwritten
    monkeypatch.setattr(toy_backend, "fail_on_energy", None)
    rerun = simulate(_config(), out, progress=False)
    assert rerun.skipped == 2 and rerun.simulated == 3
    resumed = _read_all(out)
    for key in reference:
        assert np.array_equal(resumed[key], reference[key]), key
    assert np.unique(resumed["seed"]).size == 23


def test_foreign_run_in_the_way_refused(tmp_path: Path, toy_backend: object) -> None:
    simulate(_config(), tmp_path, progress=False)
    with pytest.raises(DataFormatError, match="different run"):
        simulate(
            SimulationConfig(n_muons=23, muons_per_shard=5, seed=99, backend="fast"), tmp_path, progress=False
        )


def test_config_checks() -> None:
    with pytest.raises(ConfigError, match="simulation.n_muons"):
        SimulationConfig(n_muons=0)
    with pytest.raises(ConfigError, match="gun.xy_half_width_mm"):
        SimulationConfig(gun=Gun(xy_half_width_mm=80))
