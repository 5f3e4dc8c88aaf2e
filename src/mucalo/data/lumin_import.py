"""``mucalo dataset import-lumin``: a LUMIN fold file → a mucalo dataset directory, folds unchanged.

A fold file can be trained on as it is, but its hits are LZF-compressed and must be decoded a fold at a
time (~0.4 ms per muon on one core), in every worker process that reads the fold. Importing decodes
every fold once into the memory-mapped layout of :mod:`mucalo.data.store`, after which batches are
drawn at full speed from any fold, by any number of workers. Folds, order, targets, the (already
standardised) features and the hits are kept exactly.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from mucalo.data.lumin import LuminDataset
from mucalo.data.store import DATA_FILE, DATASET_FORMAT, FORMAT_VERSION, METADATA_FILE
from mucalo.data.writer import atomic_dir, check_new, hit_maps, write_arrays
from mucalo.errors import MissingDataError
from mucalo.io.atomic import write_json_atomic
from mucalo.provenance import versions

__all__ = ["import_lumin"]


def import_lumin(
    fold_file: str | os.PathLike[str], out: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Copy a LUMIN fold file into a dataset directory (same folds, same muon order).

    Args:
        fold_file: the ``.hdf5`` fold file (opened read-only).
        out: the dataset directory to create.
        overwrite: replace an existing ``out``.

    Returns:
        The dataset directory; its features are flagged ``features_prestandardised``.

    Raises:
        MissingDataError: the file holds no hits (``--hl-only``); train on the file directly instead.
        DataFormatError: the file is not a valid fold file (see :class:`LuminDataset`).
    """
    source = LuminDataset(fold_file, cached_folds=1)
    out = Path(out)
    check_new(out, overwrite=overwrite)
    if not source.has_hits:
        msg = f"{source.path}: no fold_i/matrix_inputs, nothing to import (open the file directly instead)"
        raise MissingDataError(msg)
    with h5py.File(source.path, "r") as f:
        hits_per_fold = [f[f"fold_{k}/matrix_inputs"].shape[1] for k in range(source.n_folds)]
    fold_hit_start = np.concatenate([[0], np.cumsum(hits_per_fold)]).astype(np.int64)
    n_muons = source.n_muons
    with atomic_dir(out, overwrite=overwrite) as tmp:
        arrays = {
            "folds/offsets": source.fold_offsets,
            "muons/true_energy": np.concatenate([source.targets(k) for k in range(source.n_folds)]),
            "muons/features": np.concatenate([source.stored_features(k) for k in range(source.n_folds)]),
            "muons/source_file": np.zeros(n_muons, dtype=np.int32),
            "muons/source_index": np.arange(n_muons, dtype=np.int64),
            "hits/offsets": np.zeros(n_muons + 1, dtype=np.int64),  # filled once the folds are decoded
        }
        write_arrays(tmp / DATA_FILE, arrays, n_hits=int(fold_hit_start[-1]))
        hit_offsets = np.zeros(n_muons + 1, dtype=np.int64)
        with hit_maps(tmp / DATA_FILE) as (out_cell, out_energy):
            for fold in range(source.n_folds):
                offsets, cell, energy = source.hits(fold)
                lo, hi = int(fold_hit_start[fold]), int(fold_hit_start[fold + 1])
                out_cell[lo:hi] = cell
                out_energy[lo:hi] = energy
                first, last = int(source.fold_offsets[fold]), int(source.fold_offsets[fold + 1])
                hit_offsets[first + 1 : last + 1] = offsets[1:] + lo
        with h5py.File(tmp / DATA_FILE, "r+") as f:
            f["hits/offsets"][...] = hit_offsets
        source_stats = source.source_standardisation
        try:
            where = os.path.relpath(source.path.resolve(), out.resolve())
        except ValueError:  # another drive
            where = str(source.path.resolve())
        meta = {
            "format": DATASET_FORMAT,
            "format_version": FORMAT_VERSION,
            "config": {"imported_from": "lumin-fold-file", "n_folds": source.n_folds, "holdout_fold": 0},
            "n_muons": n_muons,
            "n_folds": source.n_folds,
            "fold_sizes": source.fold_sizes,
            "target": "true_energy",
            "feature_names": source.feature_names,
            "features_prestandardised": True,
            "standardisation": source.standardisation.to_dict(),
            "source_standardisation": source_stats.to_dict() if source_stats else None,
            "detector": source.detector.to_dict(),
            "sources": [
                {
                    "path": where,
                    "format": source.format,
                    "n_muons": n_muons,
                    "n_hits": int(fold_hit_start[-1]),
                    "metadata": source.metadata(),
                }
            ],
            "versions": versions(),
        }
        write_json_atomic(tmp / METADATA_FILE, meta)
    source.close()
    return out
