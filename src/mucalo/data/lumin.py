"""LUMIN "fold files", the format of the authors' published data (reference-code-notes §3.2–3.3).

Reading: the file is opened read-only (LUMIN itself opens it "r+"), fold sizes come from ``targets``
(not from the last event index of the hits, so a fold whose last muons have no hits is read right),
hits stay sparse and are decoded one fold at a time into a small cache, feature names come from
``meta_data/cont_feats``. The features were standardised by the file's authors without recording the
statistics (§2.7), so the dataset's standardisation is the identity and ``features_prestandardised`` is
set. A file written by :func:`mucalo.data.export_lumin` also carries ``meta_data/mucalo`` (ignored by
LUMIN) with the detector and the statistics used.
"""

from __future__ import annotations

import collections
import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt

from mucalo.data.base import Hits, MuonDataset
from mucalo.data.standardisation import Standardisation
from mucalo.detector import Detector
from mucalo.errors import ConfigError, DataFormatError, MissingDataError
from mucalo.io.hdf5 import open_for_reading

__all__ = ["LUMIN_FORMAT", "MATRIX_ROWS", "LuminDataset", "is_lumin_file"]

LUMIN_FORMAT = "lumin-fold-file"
#: rows of ``fold_i/matrix_inputs``: the COO data, then its coordinates (event in the fold, channel, z, x, y)
MATRIX_ROWS = ("energy", "event", "channel", "layer", "x", "y")
#: columns of matrix_inputs decoded per step (bounds the memory of a decode to ~50 bytes per hit in flight)
_BLOCK = 4_000_000


def is_lumin_file(path: Path) -> bool:
    """True for an HDF5 file with a ``fold_0`` group (checked further when opened)."""
    if not path.is_file() or not h5py.is_hdf5(path):
        return False
    try:
        with h5py.File(path, "r") as f:
            return "fold_0" in f
    except OSError:  # HDF5 but unreadable: let LuminDataset report it with its own message
        return True


def _json_dataset(f: h5py.File, key: str, where: Path) -> Any:
    try:
        raw = f[key][()]
        return json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError) as err:
        msg = f"{where}: {key} is not a JSON string ({err})"
        raise DataFormatError(msg) from err


class LuminDataset(MuonDataset):
    """A LUMIN fold file read as it is, read-only.

    Args:
        path: the ``.hdf5`` fold file.
        cached_folds: decoded folds kept in memory (each ~10 bytes per hit).

    Raises:
        MissingDataError: the file does not exist.
        DataFormatError: no ``meta_data`` group, folds not numbered 0..K−1, inconsistent sizes within a
            fold, a matrix layout other than the sparse (6, nnz) one.
    """

    format = LUMIN_FORMAT
    preferred_shuffle_scope = "fold"

    def __init__(self, path: str | os.PathLike[str], *, cached_folds: int = 2) -> None:
        self.path = Path(path)
        with open_for_reading(self.path, kind="fold file") as f:
            self._meta = self._read_meta(f)
            self.feature_names = [str(n) for n in self._meta["cont_feats"]]
            sizes, self._has_hits = self._read_folds(f)
        self.fold_offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.detector = self._detector()
        self.standardisation = Standardisation.identity(self.feature_names)
        self.features_prestandardised = True
        mucalo_meta = self._meta.get("mucalo") or {}
        stats = mucalo_meta.get("standardisation")
        self._source_stats = (
            Standardisation.from_dict(stats, where=f"{self.path}: meta_data/mucalo") if stats else None
        )
        self._cached_folds = max(1, cached_folds)
        self._cache: collections.OrderedDict[int, Hits] = collections.OrderedDict()
        self._handle: tuple[int, h5py.File] | None = None

    # --- validation on opening -----------------------------------------------------------------
    def _read_meta(self, f: h5py.File) -> dict[str, Any]:
        if "meta_data" not in f:
            msg = f"{self.path}: group 'meta_data' missing (not a LUMIN fold file, or no add_meta_data)"
            raise DataFormatError(msg)
        meta = {key: _json_dataset(f, f"meta_data/{key}", self.path) for key in f["meta_data"]}
        names = meta.get("cont_feats")
        if not isinstance(names, list):
            msg = f"{self.path}: meta_data/cont_feats missing or not a JSON list of feature names"
            raise DataFormatError(msg)
        return meta

    def _read_folds(self, f: h5py.File) -> tuple[list[int], bool]:
        # LUMIN counts the root keys containing 'fold_' and opens fold_0 … fold_{K-1}
        keys = [k for k in f if "fold_" in k]
        expected = [f"fold_{i}" for i in range(len(keys))]
        if not keys or sorted(keys) != sorted(expected):
            msg = f"{self.path}: fold groups must be fold_0 … fold_{{K-1}}, found {sorted(keys)[:5]}"
            raise DataFormatError(msg)
        has_hits = "matrix_inputs" in f["fold_0"]
        n_features = len(self.feature_names)
        sizes = []
        for key in expected:
            group = f[key]
            for name in ("targets", "inputs") + (("matrix_inputs",) if has_hits else ()):
                if name not in group:
                    msg = f"{self.path}: dataset {key}/{name} missing"
                    raise DataFormatError(msg)
            targets = group["targets"].shape
            if len(targets) not in (1, 2) or (len(targets) == 2 and targets[1] != 1):
                msg = f"{self.path}: {key}/targets has shape {targets}, expected (N,) or (N, 1)"
                raise DataFormatError(msg)
            n = targets[0]
            if group["inputs"].shape != (n, n_features):
                msg = (
                    f"{self.path}: {key}/inputs has shape {group['inputs'].shape}, "
                    f"expected ({n}, {n_features}) from {key}/targets and meta_data/cont_feats"
                )
                raise DataFormatError(msg)
            if has_hits and (
                group["matrix_inputs"].ndim != 2 or group["matrix_inputs"].shape[0] != len(MATRIX_ROWS)
            ):
                msg = (
                    f"{self.path}: {key}/matrix_inputs has shape {group['matrix_inputs'].shape}, "
                    f"expected ({len(MATRIX_ROWS)}, nnz) (energy, event, channel, z, x, y)"
                )
                raise DataFormatError(msg)
            sizes.append(int(n))
        return sizes, has_hits

    def _detector(self) -> Detector:
        recorded = (self._meta.get("mucalo") or {}).get("detector")
        if recorded:
            try:
                return Detector.from_dict(recorded, where=f"{self.path}: meta_data/mucalo.detector")
            except ConfigError as err:
                raise DataFormatError(str(err)) from err
        if not self._has_hits:
            return Detector()
        matrix = self._meta.get("matrix_feats")
        if not isinstance(matrix, dict) or "shape" not in matrix:
            msg = f"{self.path}: meta_data/matrix_feats missing or without 'shape'"
            raise DataFormatError(msg)
        shape = list(matrix["shape"])
        if not matrix.get("is_sparse", False) or len(shape) != 4 or shape[0] != 1:
            msg = (
                f"{self.path}: meta_data/matrix_feats describes shape {shape}, is_sparse "
                f"{matrix.get('is_sparse')}; mucalo reads the sparse [1, layers, x, y] layout only"
            )
            raise DataFormatError(msg)
        # the file records no pitches: the grid shape is the file's, the geometry the published one
        return Detector(n_layers=int(shape[1]), n_cells_x=int(shape[2]), n_cells_y=int(shape[3]))

    # --- file handle and cache, per process ------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_handle"] = None
        state["_cache"] = collections.OrderedDict()
        return state

    def _file(self) -> h5py.File:
        if self._handle is None or self._handle[0] != os.getpid():
            self._handle = (os.getpid(), h5py.File(self.path, "r"))
        return self._handle[1]

    def close(self) -> None:
        """Close the file handle and drop the cached folds."""
        if self._handle is not None and self._handle[0] == os.getpid():
            self._handle[1].close()
        self._handle = None
        self._cache.clear()

    # --- data --------------------------------------------------------------------------------
    @property
    def has_hits(self) -> bool:
        """False for a ``--hl-only`` file (no ``matrix_inputs``)."""
        return self._has_hits

    @property
    def source_standardisation(self) -> Standardisation | None:
        """The statistics mucalo applied when it exported the file (None for the authors' files)."""
        return self._source_stats

    def targets(self, fold: int) -> npt.NDArray[np.float32]:
        """``fold_i/targets`` as (n,) float32 GeV."""
        fold = self.check_fold(fold)
        return np.asarray(self._file()[f"fold_{fold}/targets"][...], dtype=np.float32).reshape(-1)

    def stored_features(self, fold: int) -> npt.NDArray[np.float32]:
        """``fold_i/inputs`` (standardised by the authors), NaN → 0 as LUMIN's reader does."""
        fold = self.check_fold(fold)
        return np.nan_to_num(np.asarray(self._file()[f"fold_{fold}/inputs"][...], dtype=np.float32))

    def hits(self, fold: int) -> Hits:
        """Sparse hits of a fold: offsets (n+1) from 0, cell int64, energy float32 GeV."""
        offsets, cell, energy = self._fold_hits(self.check_fold(fold))
        return offsets.copy(), cell.astype(np.int64), energy.copy()

    def batch_hits(self, indices: npt.NDArray[np.int64]) -> Hits:
        """Hits of the global muons ``indices`` in that order (folds decoded and cached as needed)."""
        folds = self.fold_of(indices)
        local = indices - self.fold_offsets[folds]
        cells: list[npt.NDArray[Any]] = [np.zeros(0, np.int32)] * indices.size
        energies: list[npt.NDArray[np.float32]] = [np.zeros(0, np.float32)] * indices.size
        for fold in np.unique(folds).tolist():
            offsets, cell, energy = self._fold_hits(fold)
            for position in np.flatnonzero(folds == fold).tolist():
                a, b = int(offsets[local[position]]), int(offsets[local[position] + 1])
                cells[position], energies[position] = cell[a:b], energy[a:b]
        counts = np.array([c.size for c in cells], dtype=np.int64)
        batch_offsets = np.zeros(indices.size + 1, dtype=np.int64)
        np.cumsum(counts, out=batch_offsets[1:])
        cell_out = np.concatenate(cells) if cells else np.zeros(0, np.int32)
        energy_out = np.concatenate(energies) if energies else np.zeros(0, np.float32)
        return batch_offsets, cell_out, energy_out

    def fold_hit_sums(self, fold: int) -> tuple[int, float]:
        """(number of hits, sum of hit energies GeV) of a fold, read row 0 block by block."""
        dset = self._file()[f"fold_{self.check_fold(fold)}/matrix_inputs"]
        total = 0.0
        for start in range(0, dset.shape[1], _BLOCK):
            total += float(np.sum(dset[0, start : start + _BLOCK], dtype=np.float64))
        return int(dset.shape[1]), total

    def _fold_hits(self, fold: int) -> Hits:
        if fold in self._cache:
            self._cache.move_to_end(fold)
            return self._cache[fold]
        if not self._has_hits:
            msg = f"{self.path}: fold_{fold}/matrix_inputs missing (a features-only file has no hits)"
            raise MissingDataError(msg)
        hits = self._decode(fold)
        self._cache[fold] = hits
        while len(self._cache) > self._cached_folds:
            self._cache.popitem(last=False)
        return hits

    def _decode(self, fold: int) -> Hits:
        """(6, nnz) float32 COO rows → CSR hits of the fold, coordinates checked against the shape."""
        where = f"{self.path}: fold_{fold}/matrix_inputs"
        dset = self._file()[f"fold_{fold}/matrix_inputs"]
        n_muons = self.fold_sizes[fold]
        nnz = dset.shape[1]
        limits = (n_muons, 1, *self.detector.shape)
        event = np.empty(nnz, dtype=np.int64)
        cell = np.empty(nnz, dtype=np.int32)
        energy = np.empty(nnz, dtype=np.float32)
        for start in range(0, nnz, _BLOCK):
            block = np.asarray(dset[:, start : start + _BLOCK], dtype=np.float32)
            coords = block[1:]
            if not np.array_equal(coords, np.floor(coords)):
                msg = f"{where}: coordinate rows 1-5 must hold whole numbers"
                raise DataFormatError(msg)
            for row, limit in enumerate(limits, start=1):
                low, high = float(block[row].min()), float(block[row].max())
                if low < 0 or high >= limit:
                    msg = (
                        f"{where}: row {row} ({MATRIX_ROWS[row]}) has values in [{low:g}, {high:g}], "
                        f"outside the declared shape [0, {limit}) "
                        f"(fold size {n_muons}, grid {list(self.detector.shape)})"
                    )
                    raise DataFormatError(msg)
            stop = start + block.shape[1]
            layer, ix, iy = (block[r].astype(np.int64) for r in (3, 4, 5))
            cell[start:stop] = (layer * self.detector.n_cells_x + ix) * self.detector.n_cells_y + iy
            event[start:stop] = block[1].astype(np.int64)
            energy[start:stop] = block[0]
        if nnz and np.any(np.diff(event) < 0):
            # the published files are sorted by event; any other writer's order is accepted too
            order = np.argsort(event, kind="stable")
            event, cell, energy = event[order], cell[order], energy[order]
        offsets = np.searchsorted(event, np.arange(n_muons + 1), side="left").astype(np.int64)
        return offsets, cell, energy

    def metadata(self) -> dict[str, Any]:
        """The ``meta_data`` JSON strings, decoded, plus what mucalo assumed."""
        return {
            "meta_data": self._meta,
            "features_note": (
                "inputs were standardised by the file's writer; mucalo applies no further standardisation"
                + ("" if self._source_stats else " and the raw values cannot be recovered")
            ),
            "detector_note": (
                "from meta_data/mucalo"
                if (self._meta.get("mucalo") or {}).get("detector")
                else "grid shape from meta_data/matrix_feats; pitches and field are the published detector's"
            ),
        }
