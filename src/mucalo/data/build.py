"""``mucalo dataset build``: shards with features → a dataset directory (folds, statistics, hits).

The hits are copied into fold order in one pass over the shards: every muon's destination is known
from the shard offsets before any hit is read, so each shard is inflated once and its hits are written
straight to their place through a memory map of the preallocated, uncompressed output.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt

from mucalo.data.config import DatasetConfig
from mucalo.data.folds import assign_folds, fold_order
from mucalo.data.standardisation import Standardisation, compute_standardisation
from mucalo.data.store import DATA_FILE, DATASET_FORMAT, FORMAT_VERSION, METADATA_FILE
from mucalo.data.writer import atomic_dir, check_new, hit_maps, write_arrays
from mucalo.errors import DataFormatError, MissingDataError
from mucalo.io.atomic import write_json_atomic
from mucalo.io.shards import Shard, ShardSet
from mucalo.provenance import versions

__all__ = ["build_dataset"]

log = logging.getLogger(__name__)

#: hits copied per step (bounds the memory of the copy: ~20 bytes per hit in flight)
_BLOCK_HITS = 4_000_000


def build_dataset(
    shards_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    n_folds: int = 36,
    seed: int = 0,
    holdout_fold: int | None = 0,
    overwrite: bool = False,
) -> Path:
    """Split the muons of a shard set into folds and write a dataset directory atomically.

    Args:
        shards_dir: a shard file or a directory of ``*.h5`` shards, all with ``/features/values``
            (run ``mucalo features`` first) and one detector.
        out: the dataset directory to create.
        n_folds: number of folds (36 for training, 1 for a fixed-energy test sample).
        seed: seed of the fold assignment.
        holdout_fold: fold left out of the standardisation statistics (the hold-out set); None: none.
        overwrite: replace an existing ``out``.

    Returns:
        The dataset directory.

    Raises:
        ConfigError: bad n_folds/seed/holdout_fold, fewer muons than folds, or ``out`` exists.
        MissingDataError: no shards, or shards without features.
        DataFormatError: shards of different detectors or feature names, non-finite features, hits
            outside the grid.
    """
    config = DatasetConfig(n_folds=n_folds, seed=seed, holdout_fold=holdout_fold)
    out = Path(out)
    check_new(out, overwrite=overwrite)
    shard_set = ShardSet(shards_dir)  # refuses shards with different detectors, naming the file
    feature_names = _feature_names(shard_set)
    features = _features(shard_set)
    truth = shard_set.truth()
    n_muons = shard_set.n_muons

    fold_of = assign_folds(n_muons, config.n_folds, config.seed)
    order, fold_offsets = fold_order(fold_of, config.n_folds)
    hits_per_muon = np.concatenate([np.diff(s.offsets) for s in shard_set.shards])
    hit_offsets = np.zeros(n_muons + 1, dtype=np.int64)
    np.cumsum(hits_per_muon[order], out=hit_offsets[1:])

    stats_folds = config.statistics_folds
    in_stats = np.isin(fold_of[order], stats_folds)
    standardisation = compute_standardisation(features[order][in_stats], feature_names, folds=stats_folds)
    log.info(
        "%d muons in %d folds, %d hits; statistics from %d folds",
        n_muons,
        n_folds,
        hit_offsets[-1],
        len(stats_folds),
    )

    with atomic_dir(out, overwrite=overwrite) as tmp:
        arrays = {
            "folds/offsets": fold_offsets,
            "muons/true_energy": truth["true_energy"][order].astype(np.float32),
            "muons/features": features[order],
            "muons/source_file": np.repeat(
                np.arange(len(shard_set.shards), dtype=np.int32), np.diff(shard_set.starts)
            )[order],
            "muons/source_index": (
                np.arange(n_muons, dtype=np.int64)
                - np.repeat(shard_set.starts[:-1], np.diff(shard_set.starts))
            )[order],
            "hits/offsets": hit_offsets,
        }
        arrays |= {f"muons/truth/{k}": v[order] for k, v in truth.items() if k != "true_energy"}
        write_arrays(tmp / DATA_FILE, arrays, n_hits=int(hit_offsets[-1]))
        _copy_hits(tmp / DATA_FILE, shard_set, order=order, hit_offsets=hit_offsets)
        write_json_atomic(
            tmp / METADATA_FILE,
            _metadata(config, shard_set, out, fold_offsets, feature_names, standardisation),
        )
    return out


def _feature_names(shard_set: ShardSet) -> list[str]:
    missing = [s.path for s in shard_set.shards if not s.has_features]
    if missing:
        msg = f"{missing[0]}: dataset 'features/values' missing (run `mucalo features` on the shards first)"
        raise MissingDataError(msg)
    names = list(shard_set.shards[0].feature_names or [])
    for shard in shard_set.shards[1:]:
        if list(shard.feature_names or []) != names:
            msg = (
                f"{shard.path}: features/values attribute 'names' is {shard.feature_names}, "
                f"but {shard_set.files[0]} has {names}; all shards need the same features"
            )
            raise DataFormatError(msg)
    return names


def _features(shard_set: ShardSet) -> npt.NDArray[np.float32]:
    parts = []
    for shard in shard_set.shards:
        values = shard.features()
        assert values is not None  # checked by _feature_names
        bad = ~np.isfinite(values)
        if bad.any():
            row, col = (int(v[0]) for v in np.nonzero(bad))
            msg = (
                f"{shard.path}: features/values has {int(bad.sum())} non-finite values "
                f"(first: muon {row}, column {col})"
            )
            raise DataFormatError(msg)
        parts.append(values.astype(np.float32))
    return np.concatenate(parts)


def _copy_hits(
    path: Path, shard_set: ShardSet, *, order: npt.NDArray[np.int64], hit_offsets: npt.NDArray[np.int64]
) -> None:
    row_of = np.empty_like(order)
    row_of[order] = np.arange(order.size)
    n_cells = shard_set.detector.n_cells
    with hit_maps(path) as (out_cell, out_energy):
        for k, shard in enumerate(shard_set.shards):
            first = int(shard_set.starts[k])
            for start, stop in _blocks(shard):
                offsets, cell, energy = shard.hits(start, stop)
                if cell.size and (cell.min() < 0 or cell.max() >= n_cells):
                    msg = (
                        f"{shard.path}: hits/cell has values in [{cell.min()}, {cell.max()}], "
                        f"expected [0, {n_cells})"
                    )
                    raise DataFormatError(msg)
                rows = row_of[first + start : first + stop]
                destination = np.repeat(hit_offsets[rows] - offsets[:-1], np.diff(offsets)) + np.arange(
                    cell.size
                )
                out_cell[destination] = cell
                out_energy[destination] = energy


def _blocks(shard: Shard) -> Iterator[tuple[int, int]]:
    """Muon ranges of a shard holding about _BLOCK_HITS hits each (at least one muon)."""
    start = 0
    while start < shard.n_muons:
        limit = shard.offsets[start] + _BLOCK_HITS
        stop = max(start + 1, int(np.searchsorted(shard.offsets, limit, side="right")) - 1)
        stop = min(stop, shard.n_muons)
        yield start, stop
        start = stop


def _metadata(
    config: DatasetConfig,
    shard_set: ShardSet,
    out: Path,
    fold_offsets: npt.NDArray[np.int64],
    feature_names: list[str],
    standardisation: Standardisation,
) -> dict[str, Any]:
    sources = []
    for shard in shard_set.shards:
        try:
            where = os.path.relpath(shard.path.resolve(), out.resolve())
        except ValueError:  # another drive: no relative path exists
            where = str(shard.path.resolve())
        with h5py.File(shard.path, "r") as f:
            features_meta = _json_or_text(f["features/values"].attrs.get("meta", "{}"))
        sources.append(
            {
                "path": where,
                "n_muons": shard.n_muons,
                "n_hits": shard.n_hits,
                "simulation": shard.simulation,
                "features": features_meta,
            }
        )
    return {
        "format": DATASET_FORMAT,
        "format_version": FORMAT_VERSION,
        "config": config.to_dict(),
        "n_muons": int(fold_offsets[-1]),
        "n_folds": config.n_folds,
        "fold_sizes": [int(v) for v in np.diff(fold_offsets)],
        "target": "true_energy",
        "feature_names": feature_names,
        "standardisation": standardisation.to_dict(),
        "detector": shard_set.detector.to_dict(),
        "sources": sources,
        "versions": versions(),
    }


def _json_or_text(value: Any) -> Any:
    try:
        return json.loads(str(value))
    except json.JSONDecodeError:
        return str(value)
