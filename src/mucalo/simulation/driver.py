"""The simulation driver shared by all backends: jobs → shards, workers, progress, resumable reruns.

A run of N muons is cut into shards of ``muons_per_shard`` muons; shard k holds global muons
[k·M, (k+1)·M) and is written by one job, atomically. Every muon's gun parameters and seed are a pure
function of (run seed, global index), so the same seed gives bit-identical shards however many workers
run them, and a rerun skips complete shards and redoes missing or unfinished ones.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import json
import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from mucalo.config import config_to_dict, from_dict
from mucalo.errors import DataFormatError
from mucalo.io.shards import Shard, write_shard
from mucalo.provenance import write_provenance
from mucalo.simulation.backend import Backend, make_backend
from mucalo.simulation.config import SimulationConfig

__all__ = ["SimulationResult", "shard_path", "simulate", "simulate_shard"]

log = logging.getLogger(__name__)

#: muons per backend call inside a job: small enough for a live progress bar, large enough to be cheap
_CHUNK = 64


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """What a simulation run produced."""

    out_dir: Path
    shards: list[Path]
    simulated: int  # shards written by this call
    skipped: int  # complete shards found and kept
    seconds: float


def shard_path(out_dir: Path, shard: int) -> Path:
    """File name of shard number ``shard``."""
    return out_dir / f"shard_{shard:05d}.h5"


def _run_signature(config: SimulationConfig, shard: int) -> dict[str, Any]:
    """What identifies a shard's content: it is kept on a rerun only when this matches."""
    start, stop = config.shard_range(shard)
    plain = config_to_dict(config)
    return {
        "seed": config.seed,
        "n_muons": config.n_muons,
        "first_muon": start,
        "stop_muon": stop,
        "detector": plain["detector"],
        "gun": plain["gun"],
        "backend": config.backend,
        "options": plain.get(config.backend, {}) if config.backend != "auto" else {},
    }


def _is_done(path: Path, signature: dict[str, Any]) -> bool:
    if not path.exists():
        return False
    try:
        shard = Shard(path)
    except DataFormatError as err:
        log.warning("%s: redoing an unreadable shard (%s)", path, err)
        return False
    found = shard.simulation.get("run")
    if found != json.loads(json.dumps(signature)):
        msg = (
            f"{path}: a complete shard from a different run is in the way "
            f"(its run is {found}, this run is {signature}); choose another output directory"
        )
        raise DataFormatError(msg)
    return True


@functools.lru_cache(maxsize=4)
def _backend(config_json: str) -> Backend:
    # one backend per process and config: cross-section tables and Geant4 set-up are built once
    config = from_dict(SimulationConfig, json.loads(config_json), where="simulation")
    return make_backend(config.backend, config.detector, {"fast": config.fast, "geant4": config.geant4})


def simulate_shard(
    config_json: str, shard: int, path: str, progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Simulate shard number ``shard`` of the run described by ``config_json`` and write it to ``path``.

    A module-level function so that process pools and Dask workers can run it.
    """
    config = from_dict(SimulationConfig, json.loads(config_json), where="simulation")
    backend = _backend(config_json)
    start, stop = config.shard_range(shard)
    gun = config.gun.sample(config.seed, start, stop, config.n_muons)
    t0 = time.perf_counter()
    offsets, cells, energies, losses = [np.zeros(1, np.int64)], [], [], []
    for lo in range(0, stop - start, _CHUNK):
        hi = min(lo + _CHUNK, stop - start)
        result = backend.simulate(
            true_energy=gun.true_energy[lo:hi].astype(np.float64),
            charge=gun.charge[lo:hi],
            x0=gun.x0[lo:hi].astype(np.float64),
            y0=gun.y0[lo:hi].astype(np.float64),
            start_z_mm=config.gun.start_z_mm,
            seed=gun.seed[lo:hi],
        )
        offsets.append(np.asarray(result.offsets[1:], np.int64) + offsets[-1][-1])
        cells.append(np.asarray(result.cell, np.int64))
        energies.append(np.asarray(result.energy, np.float32))
        losses.append(np.asarray(result.energy_loss, np.float32))
        if progress is not None:
            progress(hi - lo)
    seconds = time.perf_counter() - t0
    simulation = {
        "backend": backend.name,
        "backend_description": backend.describe(),
        "run": _run_signature(config, shard),
        "shard": shard,
        "n_shards": config.n_shards,
        "seconds": seconds,
        "seed_scheme": "SeedSequence([run_seed, global_muon_index])",
    }
    write_shard(
        path,
        truth={
            "true_energy": gun.true_energy,
            "charge": gun.charge,
            "x0": gun.x0,
            "y0": gun.y0,
            "seed": gun.seed,
            "energy_loss": np.concatenate(losses) if losses else np.zeros(0, np.float32),
        },
        offsets=np.concatenate(offsets),
        cell=np.concatenate(cells) if cells else np.zeros(0, np.int64),
        energy=np.concatenate(energies) if energies else np.zeros(0, np.float32),
        detector=config.detector,
        simulation=simulation,
    )
    return {"shard": shard, "muons": stop - start, "seconds": seconds}


def simulate(
    config: SimulationConfig,
    out_dir: str | os.PathLike[str],
    *,
    progress: bool = True,
    executor: cf.Executor | None = None,
) -> SimulationResult:
    """Simulate a run into ``out_dir`` (one shard per job), skipping shards that are already complete.

    Args:
        config: the run.
        out_dir: directory of the shards; ``simulation.json`` (config, seed, versions) goes there too.
        progress: show a progress bar (muons/s, ETA) on stderr.
        executor: where jobs run: None = this process (``workers == 1``) or a local process pool;
            a Dask ``Client.get_executor()`` runs them on a cluster.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    plain = config_to_dict(config)
    write_provenance(out / "simulation.json", plain, seed=config.seed, command="simulate")
    config_json = json.dumps(plain, sort_keys=True)
    todo = []
    for k in range(config.n_shards):
        if not _is_done(shard_path(out, k), _run_signature(config, k)):
            todo.append(k)
    skipped = config.n_shards - len(todo)
    if skipped:
        log.info("%s: %d of %d shards already complete, skipped", out, skipped, config.n_shards)
    n_todo = sum(config.shard_range(k)[1] - config.shard_range(k)[0] for k in todo)
    log.info("simulating %d muons in %d shards into %s", n_todo, len(todo), out)
    # disable=None: tqdm switches itself off when stderr is not a terminal (logs, CI)
    bar = tqdm(
        total=n_todo, unit="muon", desc="simulate", disable=None if progress else True, dynamic_ncols=True
    )
    try:
        if executor is None and config.workers == 1:
            for k in todo:
                simulate_shard(config_json, k, str(shard_path(out, k)), progress=bar.update)
        else:
            own = executor is None
            pool = executor or cf.ProcessPoolExecutor(
                config.workers, mp_context=multiprocessing.get_context("spawn")
            )
            try:
                futures = [pool.submit(simulate_shard, config_json, k, str(shard_path(out, k))) for k in todo]
                for future in cf.as_completed(futures):
                    bar.update(future.result()["muons"])
            finally:
                if own:
                    pool.shutdown(cancel_futures=True)
    finally:
        bar.close()
    return SimulationResult(
        out_dir=out,
        shards=[shard_path(out, k) for k in range(config.n_shards)],
        simulated=len(todo),
        skipped=skipped,
        seconds=time.perf_counter() - t0,
    )
