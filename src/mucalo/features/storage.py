"""Add ``/features/values`` to shards (the ``mucalo features`` stage).

Each shard is rewritten atomically by :func:`mucalo.io.shards.add_features`, so a killed run leaves every
shard either with complete features or untouched, and a rerun skips the shards already done.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from mucalo import __version__
from mucalo.detector import Detector
from mucalo.errors import ConfigError, DataFormatError
from mucalo.features.compute import compute_features_batch
from mucalo.features.config import FeatureConfig
from mucalo.features.registry import FEATURE_NAMES, N_FEATURES
from mucalo.io.shards import Shard, add_features, list_shard_files

__all__ = ["FeaturesSummary", "add_shard_features", "compute_directory"]

logger = logging.getLogger(__name__)

#: Muons read and computed at a time, which bounds memory for large shards (~10 k hits per 8 TeV muon).
_READ_CHUNK = 5_000


@dataclass(frozen=True, kw_only=True, slots=True)
class FeaturesSummary:
    """What :func:`compute_directory` did."""

    path: Path  # the shard file or directory given
    computed: tuple[Path, ...]  # shards that received features in this run
    skipped: tuple[Path, ...]  # shards that already had them
    n_muons: int  # muons whose features were computed in this run
    seconds: float  # wall time of the run

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what ``mucalo features --json`` prints)."""
        return {
            "path": str(self.path),
            "computed": [str(p) for p in self.computed],
            "skipped": [str(p) for p in self.skipped],
            "n_muons": self.n_muons,
            "seconds": self.seconds,
        }


def _is_done(shard: Shard, overwrite: bool) -> bool:
    """True when the shard already holds mucalo's features and they are to be kept."""
    if not shard.has_features or overwrite:
        return False
    if shard.feature_names == list(FEATURE_NAMES):
        return True
    msg = (
        f"{shard.path}: /features/values holds other columns ({shard.feature_names}), not mucalo's "
        f"{N_FEATURES} features; pass overwrite=True (--overwrite) to replace them"
    )
    raise DataFormatError(msg)


def add_shard_features(
    path: str | os.PathLike[str],
    *,
    detector: Detector | None = None,
    config: FeatureConfig | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> bool:
    """Compute the 28 features of every muon of one shard and store them as ``/features/values``.

    The reference point of each muon is its truth ``x0``, ``y0``: the gun fires along +z, so the impact
    point on the front face is the gun position (bending over the 50 mm before the face is < 0.1 mm).

    Args:
        path: shard file.
        detector: detector to compute with (default: the shard's own); its grid must match the shard's.
        config: box and curvature constants (default: the paper's).
        overwrite: recompute even when the shard already has features.
        progress: show a per-muon tqdm bar on stderr.

    Returns:
        True when features were computed, False when the shard already had them (skipped).

    Raises:
        MissingDataError: no such file.
        DataFormatError: not a complete shard, truth missing, bad hits (naming the shard, the muon and
            the problem), or foreign features present without ``overwrite``.
    """
    shard = Shard(path)
    if _is_done(shard, overwrite):
        logger.info("%s: features present, skipped", shard.path)
        return False
    used = detector or shard.detector
    if used.shape != shard.detector.shape:
        msg = f"{shard.path}: detector grid {used.shape} differs from the shard's {shard.detector.shape}"
        raise ConfigError(msg)
    used_config = config or FeatureConfig()
    truth = shard.truth()
    values = np.zeros((shard.n_muons, N_FEATURES), dtype=np.float32)
    with tqdm(
        total=shard.n_muons,
        unit="muon",
        desc=shard.path.name,
        disable=None if progress else True,
        leave=False,
    ) as bar:
        for start in range(0, shard.n_muons, _READ_CHUNK):
            stop = min(start + _READ_CHUNK, shard.n_muons)
            offsets, cell, energy = shard.hits(start, stop)
            values[start:stop] = compute_features_batch(
                offsets,
                cell,
                energy,
                truth["x0"][start:stop],
                truth["y0"][start:stop],
                used,
                config=used_config,
                where=str(shard.path),
                first_muon=start,
            )
            bar.update(stop - start)
    meta = {"detector": used.to_dict(), "config": asdict(used_config), "mucalo_version": __version__}
    add_features(shard.path, values, FEATURE_NAMES, meta=meta)
    logger.info("%s: features of %d muons added", shard.path, shard.n_muons)
    return True


def compute_directory(
    path: str | os.PathLike[str],
    *,
    workers: int = 1,
    overwrite: bool = False,
    detector: Detector | None = None,
    config: FeatureConfig | None = None,
    progress: bool = True,
) -> FeaturesSummary:
    """Add features to every shard of a directory (or to one shard file), skipping those already done.

    Args:
        path: directory of ``*.h5`` shards, or one shard file.
        workers: processes working on different shards at once (1 = in this process).
        overwrite: recompute shards that already have features.
        detector: detector to compute with (default: each shard's own).
        config: box and curvature constants (default: the paper's).
        progress: tqdm bars on stderr (one over the shards; with one worker also one per shard).

    Returns:
        The shards computed and skipped, the number of muons computed and the wall time.

    Raises:
        ConfigError: ``workers`` < 1.
        MissingDataError, DataFormatError: as :func:`add_shard_features`, for the first shard failing;
            shards finished before keep their features.
    """
    if not isinstance(workers, int) or workers < 1:
        msg = f"features.workers: expected a positive integer, got {workers!r}"
        raise ConfigError(msg)
    t0 = time.perf_counter()
    files = list_shard_files(path)
    todo: list[Shard] = []
    skipped: list[Path] = []
    for file in files:
        shard = Shard(file)
        if _is_done(shard, overwrite):
            skipped.append(shard.path)
        else:
            todo.append(shard)
    if skipped:
        logger.info("%d of %d shards already have features", len(skipped), len(files))
    kwargs: dict[str, Any] = {"detector": detector, "config": config, "overwrite": overwrite}
    with tqdm(total=len(todo), unit="shard", desc="features", disable=None if progress else True) as bar:
        if workers == 1 or len(todo) <= 1:
            for shard in todo:
                add_shard_features(shard.path, progress=progress, **kwargs)
                bar.update(1)
        else:
            _run_pool(todo, min(workers, len(todo)), kwargs, bar)
    return FeaturesSummary(
        path=Path(path),
        computed=tuple(s.path for s in todo),
        skipped=tuple(skipped),
        n_muons=sum(s.n_muons for s in todo),
        seconds=time.perf_counter() - t0,
    )


def _run_pool(todo: list[Shard], workers: int, kwargs: dict[str, Any], bar: tqdm[Any]) -> None:
    """One shard per task in worker processes; the first failure cancels what has not started."""
    # spawn, not fork: forking a parent that holds numba, HDF5 and tqdm threads is not safe
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: set[Future[bool]] = {pool.submit(add_shard_features, s.path, **kwargs) for s in todo}
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    raise error
                bar.update(1)
