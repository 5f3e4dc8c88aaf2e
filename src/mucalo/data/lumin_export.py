"""``mucalo dataset export-lumin``: write a dataset in the LUMIN fold-file layout (reference-code-notes §3.2).

Per fold ``fold_i/inputs`` (N, F) standardised features, ``fold_i/targets`` (N,) GeV and
``fold_i/matrix_inputs`` (6, nnz): row 0 the hit energies, rows 1–5 the COO coordinates (event within
the fold, channel 0, z, x, y) as float32, entries in C order; all LZF. Then ``meta_data`` with the JSON
strings LUMIN's ``FoldYielder`` reads, plus ``meta_data/mucalo`` (detector, standardisation statistics),
which LUMIN ignores.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt

from mucalo import __version__
from mucalo.data.base import MuonDataset
from mucalo.data.lumin import MATRIX_ROWS
from mucalo.errors import ConfigError
from mucalo.io.atomic import atomic_path

__all__ = ["export_lumin"]

#: matrix columns written per step
_BLOCK = 4_000_000
#: float32 holds every integer up to 2**24 exactly; event indices beyond it would be rounded
_MAX_FOLD_SIZE = 2**24


def export_lumin(dataset: MuonDataset, out_file: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write ``dataset`` as a LUMIN 0.8 fold file, atomically.

    Args:
        dataset: an opened dataset (mucalo's or a LUMIN file).
        out_file: the ``.hdf5`` file to write.
        overwrite: replace an existing file.

    Returns:
        The written file.

    Raises:
        ConfigError: ``out_file`` exists, or a fold is too large for float32 event indices.
    """
    out = Path(out_file)
    if out.exists() and not overwrite:
        msg = f"{out}: exists already (pass overwrite=True / --overwrite to replace it)"
        raise ConfigError(msg)
    too_big = [k for k, n in enumerate(dataset.fold_sizes) if n > _MAX_FOLD_SIZE]
    if too_big:
        msg = (
            f"{dataset.path}: fold {too_big[0]} has more than 2**24 muons; "
            "float32 event indices would be inexact"
        )
        raise ConfigError(msg)
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        for fold in range(dataset.n_folds):
            group = f.create_group(f"fold_{fold}")
            _dataset(group, "inputs", dataset.features(fold, standardised=True).astype(np.float32))
            _dataset(group, "targets", dataset.targets(fold).astype(np.float32))
            if dataset.has_hits:
                _write_matrix(group, dataset, fold)
        meta = f.create_group("meta_data")
        for key, value in _meta_data(dataset).items():
            # LUMIN's add_meta_data: one scalar string dataset per key, Python's default JSON separators
            meta.create_dataset(key, data=json.dumps(value))
    return out


def _dataset(group: h5py.Group, name: str, values: npt.NDArray[Any]) -> h5py.Dataset:
    # h5py cannot chunk (hence compress) an empty dataset; an empty one is stored plain
    options: dict[str, Any] = {"compression": "lzf"} if values.size else {}
    return group.create_dataset(name, data=values, **options)


def _write_matrix(group: h5py.Group, dataset: MuonDataset, fold: int) -> None:
    offsets, cell, energy = dataset.hits(fold)
    nnz = int(offsets[-1])
    if nnz == 0:
        group.create_dataset("matrix_inputs", data=np.zeros((len(MATRIX_ROWS), 0), np.float32))
        return
    dset = group.create_dataset(
        "matrix_inputs", shape=(len(MATRIX_ROWS), nnz), dtype=np.float32, compression="lzf", chunks=True
    )
    detector = dataset.detector
    start_muon = 0
    n_muons = offsets.size - 1
    while start_muon < n_muons:
        # whole muons per block, so that sorting inside a block sorts the fold
        stop_muon = int(np.searchsorted(offsets, offsets[start_muon] + _BLOCK, side="right")) - 1
        stop_muon = min(max(stop_muon, start_muon + 1), n_muons)
        a, b = int(offsets[start_muon]), int(offsets[stop_muon])
        event = np.repeat(
            np.arange(start_muon, stop_muon, dtype=np.int64), np.diff(offsets[start_muon : stop_muon + 1])
        )
        block_cell = cell[a:b].astype(np.int64)
        block_energy = energy[a:b]
        key = event * detector.n_cells + block_cell
        if key.size > 1 and np.any(np.diff(key) <= 0):
            order = np.argsort(key, kind="stable")
            event, block_cell, block_energy = event[order], block_cell[order], block_energy[order]
        layer, ix, iy = detector.unflatten(block_cell)
        rows = np.stack([block_energy, event, np.zeros_like(event), layer, ix, iy]).astype(np.float32)
        dset[:, a:b] = rows
        start_muon = stop_muon


def _meta_data(dataset: MuonDataset) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "cont_feats": list(dataset.feature_names),
        "cat_feats": [],
        "targ_feats": "true_energy",
    }
    if dataset.has_hits:
        # key order as LUMIN's fold2foldfile writes it
        meta["matrix_feats"] = {
            "present_feats": ["rechit_energy"],
            "vecs": ["rechit_energy"],
            "missing": [],
            "feats_per_vec": [""],
            "row_wise": None,
            "shape": [1, *dataset.detector.shape],
            "is_sparse": True,
        }
    stats = dataset.source_standardisation if dataset.features_prestandardised else dataset.standardisation
    meta["mucalo"] = {
        "writer": f"mucalo {__version__}",
        "source": str(dataset.path),
        "source_format": dataset.format,
        "detector": dataset.detector.to_dict(),
        "standardisation": stats.to_dict() if stats is not None else None,
        "config": dataset.metadata().get("config"),
    }
    return meta
