"""mucalo's own dataset: a directory with ``dataset.json`` (metadata) and ``data.h5`` (arrays).

Layout (format_version 1)::

    DATASET/dataset.json   format, config (n_folds, seed, holdout_fold), detector, feature names,
                           standardisation (mean/std from the training folds), fold sizes, sources,
                           versions of mucalo/numpy/h5py
    DATASET/data.h5
        /folds/offsets      int64   [K+1]  fold k = muons fold_offsets[k]:fold_offsets[k+1]
        /muons/true_energy  float32 [N]    GeV (the regression target)
        /muons/features     float32 [N,F]  raw features, in dataset order (standardised ones when
                                           imported from a LUMIN file: "features_prestandardised")
        /muons/source_file  int32   [N]    index into dataset.json "sources"
        /muons/source_index int64   [N]    muon number inside that shard
        /muons/truth/<name>                the shards' other truth fields (charge, x0, y0, seed, ...)
        /hits/offsets       int64   [N+1]  CSR offsets, muons in dataset (fold) order
        /hits/cell          uint16  [nnz]  flat cell index, contiguous and uncompressed
        /hits/energy        float32 [nnz]  GeV, contiguous and uncompressed

Why a directory with a copy of the hits, uncompressed: the loader draws 256 random muons per batch, and
a contiguous uncompressed HDF5 dataset can be memory-mapped, so a muon's hits are one slice of the
page cache (no gzip chunk to inflate per muon; the shards are gzip-compressed). The copy costs 6 bytes
per hit on disk, about what the authors' LZF fold file costs. The JSON beside it is readable by eye.
"""

from __future__ import annotations

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

__all__ = [
    "DATASET_FORMAT",
    "DATA_FILE",
    "FORMAT_VERSION",
    "METADATA_FILE",
    "MucaloDataset",
    "is_dataset_dir",
]

DATASET_FORMAT = "mucalo-dataset"
FORMAT_VERSION = 1
METADATA_FILE = "dataset.json"
DATA_FILE = "data.h5"
_REQUIRED = (
    "folds/offsets",
    "muons/true_energy",
    "muons/features",
    "hits/offsets",
    "hits/cell",
    "hits/energy",
)


def is_dataset_dir(path: Path) -> bool:
    """True for a directory holding a ``dataset.json``."""
    return path.is_dir() and (path / METADATA_FILE).is_file()


def memory_map(path: Path, dset: h5py.Dataset) -> npt.NDArray[Any]:
    """A read-only view of a 1-D HDF5 dataset: memory-mapped when contiguous and uncompressed.

    Chunked or compressed datasets (e.g. written by other tools) are read into memory instead.
    """
    if dset.size == 0:
        return np.zeros(dset.shape, dtype=dset.dtype)
    offset = dset.id.get_offset()
    if dset.chunks is not None or offset is None:
        return np.asarray(dset[...])
    return np.memmap(path, dtype=dset.dtype, mode="r", offset=offset, shape=dset.shape)


class MucaloDataset(MuonDataset):
    """A dataset written by :func:`mucalo.data.build_dataset`; hits memory-mapped on first use.

    Raises:
        MissingDataError: no ``dataset.json`` or ``data.h5`` in the directory.
        DataFormatError: the metadata or arrays are not what format_version 1 requires.
    """

    format = DATASET_FORMAT
    preferred_shuffle_scope = "dataset"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        meta_path, data_path = self.path / METADATA_FILE, self.path / DATA_FILE
        for needed in (meta_path, data_path):
            if not needed.is_file():
                msg = f"{needed}: missing (not a mucalo dataset; build one with `mucalo dataset build`)"
                raise MissingDataError(msg)
        self._meta = _read_metadata(meta_path)
        self._data_path = data_path
        try:
            self.detector = Detector.from_dict(self._meta["detector"], where=f"{meta_path}: detector")
        except ConfigError as err:
            raise DataFormatError(str(err)) from err
        self.feature_names = [str(n) for n in self._meta["feature_names"]]
        self.standardisation = Standardisation.from_dict(
            self._meta["standardisation"], where=f"{meta_path}: standardisation"
        )
        # a dataset imported from a LUMIN fold file keeps its authors' standardised features
        self.features_prestandardised = bool(self._meta.get("features_prestandardised", False))
        source = self._meta.get("source_standardisation")
        self._source_stats = (
            Standardisation.from_dict(source, where=f"{meta_path}: source_standardisation")
            if source
            else None
        )
        with h5py.File(data_path, "r") as f:
            for key in _REQUIRED:
                if key not in f:
                    msg = f"{data_path}: dataset '{key}' missing"
                    raise DataFormatError(msg)
            self.fold_offsets = f["folds/offsets"][:].astype(np.int64)
            self._targets: npt.NDArray[np.float32] = f["muons/true_energy"][:].astype(np.float32)
            self._features: npt.NDArray[np.float32] = f["muons/features"][:].astype(np.float32)
            self._hit_offsets = f["hits/offsets"][:].astype(np.int64)
            n_hits = (f["hits/cell"].shape, f["hits/energy"].shape)
        self._check(data_path, n_hits)
        self._cell: npt.NDArray[np.uint16] | None = None
        self._energy: npt.NDArray[np.float32] | None = None

    def _check(self, where: Path, hit_shapes: tuple[tuple[int, ...], tuple[int, ...]]) -> None:
        n = self._targets.shape[0]
        offsets = self.fold_offsets
        if offsets.size < 2 or offsets[0] != 0 or offsets[-1] != n or np.any(np.diff(offsets) < 0):
            msg = f"{where}: folds/offsets must be non-decreasing from 0 to the number of muons {n}"
            raise DataFormatError(msg)
        if self._features.shape != (n, len(self.feature_names)):
            msg = (
                f"{where}: muons/features has shape {self._features.shape}, "
                f"expected ({n}, {len(self.feature_names)}) from dataset.json feature_names"
            )
            raise DataFormatError(msg)
        if self.fold_sizes != list(self._meta.get("fold_sizes", self.fold_sizes)):
            msg = (
                f"{where}: folds/offsets give fold sizes {self.fold_sizes}, "
                f"dataset.json says {self._meta['fold_sizes']}"
            )
            raise DataFormatError(msg)
        hits = self._hit_offsets
        if hits.shape != (n + 1,) or hits[0] != 0 or np.any(np.diff(hits) < 0):
            msg = f"{where}: hits/offsets must have {n + 1} non-decreasing entries from 0"
            raise DataFormatError(msg)
        for name, shape in zip(("hits/cell", "hits/energy"), hit_shapes, strict=True):
            if shape != (int(hits[-1]),):
                msg = f"{where}: {name} has shape {shape}, expected ({int(hits[-1])},) from hits/offsets"
                raise DataFormatError(msg)

    # the memory maps are per process: a DataLoader worker reopens them instead of pickling copies
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cell"] = state["_energy"] = None
        return state

    def _maps(self) -> tuple[npt.NDArray[np.uint16], npt.NDArray[np.float32]]:
        if self._cell is None or self._energy is None:
            with h5py.File(self._data_path, "r") as f:
                self._cell = memory_map(self._data_path, f["hits/cell"])
                self._energy = memory_map(self._data_path, f["hits/energy"])
        return self._cell, self._energy

    @property
    def source_standardisation(self) -> Standardisation | None:
        """For imported datasets: the statistics the original writer applied, when recorded."""
        return self._source_stats

    @property
    def has_hits(self) -> bool:
        """Always True: a mucalo dataset carries its hits."""
        return True

    def _rows(self, fold: int) -> slice:
        fold = self.check_fold(fold)
        return slice(int(self.fold_offsets[fold]), int(self.fold_offsets[fold + 1]))

    def targets(self, fold: int) -> npt.NDArray[np.float32]:
        """True energies of a fold, (n,) float32 GeV."""
        return self._targets[self._rows(fold)].copy()

    def stored_features(self, fold: int) -> npt.NDArray[np.float32]:
        """Raw features of a fold, (n, F) float32."""
        return self._features[self._rows(fold)].copy()

    def hits(self, fold: int) -> Hits:
        """Sparse hits of a fold: offsets from 0, cell int64, energy float32 GeV."""
        rows = self._rows(fold)
        cell, energy = self._maps()
        lo, hi = int(self._hit_offsets[rows.start]), int(self._hit_offsets[rows.stop])
        offsets = self._hit_offsets[rows.start : rows.stop + 1] - lo
        return offsets, cell[lo:hi].astype(np.int64), np.array(energy[lo:hi], dtype=np.float32)

    def batch_hits(self, indices: npt.NDArray[np.int64]) -> Hits:
        """Hits of the global muons ``indices``, in that order (cell uint16)."""
        cell, energy = self._maps()
        lo = self._hit_offsets[indices]
        hi = self._hit_offsets[indices + 1]
        offsets = np.zeros(indices.size + 1, dtype=np.int64)
        np.cumsum(hi - lo, out=offsets[1:])
        # one slice of the memory map per muon: copying contiguous runs beats a fancy index of all hits
        cells = np.concatenate(
            [cell[a:b] for a, b in zip(lo.tolist(), hi.tolist(), strict=True)] or [cell[:0]]
        )
        energies = np.concatenate(
            [energy[a:b] for a, b in zip(lo.tolist(), hi.tolist(), strict=True)] or [energy[:0]]
        )
        return offsets, np.asarray(cells), np.asarray(energies)

    def fold_hit_sums(self, fold: int) -> tuple[int, float]:
        """(number of hits, sum of hit energies GeV) of a fold, streamed from the memory map."""
        rows = self._rows(fold)
        _, energy = self._maps()
        lo, hi = int(self._hit_offsets[rows.start]), int(self._hit_offsets[rows.stop])
        return hi - lo, float(np.sum(energy[lo:hi], dtype=np.float64))

    def source_of(self, indices: npt.ArrayLike) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]:
        """(source file number, muon number inside it) of global muon indices; files in ``metadata()``."""
        idx = np.asarray(indices, dtype=np.int64)
        with h5py.File(self._data_path, "r") as f:
            return f["muons/source_file"][:][idx], f["muons/source_index"][:][idx]

    def truth(self) -> dict[str, npt.NDArray[Any]]:
        """All truth arrays in dataset order (true_energy plus the shards' other truth fields)."""
        with h5py.File(self._data_path, "r") as f:
            result = {name: f["muons/truth"][name][:] for name in f.get("muons/truth", {})}
        result["true_energy"] = self._targets.copy()
        return result

    def metadata(self) -> dict[str, Any]:
        """The content of ``dataset.json``."""
        copy: dict[str, Any] = json.loads(json.dumps(self._meta))  # a copy the caller may change
        return copy


def _read_metadata(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        msg = f"{path}: not JSON ({err})"
        raise DataFormatError(msg) from err
    if not isinstance(meta, dict) or meta.get("format") != DATASET_FORMAT:
        msg = f"{path}: field 'format' must be '{DATASET_FORMAT}'"
        raise DataFormatError(msg)
    if meta.get("format_version") != FORMAT_VERSION:
        msg = f"{path}: format_version {meta.get('format_version')!r}, this mucalo reads {FORMAT_VERSION}"
        raise DataFormatError(msg)
    for key in ("detector", "feature_names", "standardisation", "fold_sizes"):
        if key not in meta:
            msg = f"{path}: field '{key}' missing"
            raise DataFormatError(msg)
    return meta
