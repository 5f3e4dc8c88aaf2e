"""Scale-out: the simulation on a local Dask cluster with 2 workers writes the same shards as a plain run."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from mucalo.detector import Gun
from mucalo.simulation import SimulationConfig, simulate
from mucalo.simulation.scaleout import dask_executor


@pytest.mark.distributed
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::UserWarning:distributed.*")
def test_dask_local_cluster_gives_identical_shards(tmp_path: Path) -> None:
    config = SimulationConfig(
        n_muons=6, muons_per_shard=2, seed=5, backend="fast", gun=Gun(spectrum="fixed:100,200")
    )
    plain = simulate(config, tmp_path / "plain", progress=False)
    with dask_executor("local", n_workers=2) as executor:
        on_dask = simulate(config, tmp_path / "dask", progress=False, executor=executor)
    assert on_dask.simulated == 3
    for a, b in zip(plain.shards, on_dask.shards, strict=True):
        with h5py.File(a) as fa, h5py.File(b) as fb:
            for key in (
                "truth/true_energy",
                "truth/seed",
                "truth/energy_loss",
                "hits/offsets",
                "hits/cell",
                "hits/energy",
            ):
                assert np.array_equal(fa[key][:], fb[key][:]), key
