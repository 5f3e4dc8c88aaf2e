"""The muon shard format: one HDF5 file per simulation job, hits stored sparse (CSR-like).

Layout (format_version 1, the public contract; the Geant4 reference samples use it too)::

    /truth/true_energy  float32 [N]    muon kinetic energy at the gun, GeV
    /truth/charge       int8    [N]    +1 (μ+) or −1 (μ−)
    /truth/x0, /truth/y0 float32 [N]   gun position, mm
    /truth/seed         uint64  [N]    per-muon seed (the muon is reproducible from it alone)
    /truth/energy_loss  float32 [N]    optional: E0 − muon exit energy, GeV
    /hits/offsets       int64   [N+1]  hits of muon i are entries offsets[i]:offsets[i+1]
    /hits/cell          uint16  [nnz]  flat cell index (layer·nx + ix)·ny + iy, increasing within a muon
    /hits/energy        float32 [nnz]  deposited energy, GeV, > 0
    /features/values    float32 [N, F] optional, added by ``mucalo features`` (attribute ``names``)
    attributes: format_version, mucalo_version, detector (JSON), simulation (JSON), complete = True
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt

from mucalo import __version__
from mucalo.detector import Detector
from mucalo.errors import ConfigError, DataFormatError, MissingDataError
from mucalo.io.atomic import atomic_path, is_temporary
from mucalo.io.hdf5 import open_for_reading

__all__ = [
    "FORMAT_VERSION",
    "TRUTH_FIELDS",
    "Shard",
    "ShardSet",
    "add_features",
    "write_shard",
]

FORMAT_VERSION = 1
#: Required truth datasets and their dtypes; ``energy_loss`` is optional.
TRUTH_FIELDS: dict[str, type[np.generic]] = {
    "true_energy": np.float32,
    "charge": np.int8,
    "x0": np.float32,
    "y0": np.float32,
    "seed": np.uint64,
}
_COMPRESSION: dict[str, Any] = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


def write_shard(
    path: str | os.PathLike[str],
    *,
    truth: Mapping[str, npt.ArrayLike],
    offsets: npt.ArrayLike,
    cell: npt.ArrayLike,
    energy: npt.ArrayLike,
    detector: Detector,
    simulation: Mapping[str, Any],
) -> Path:
    """Write one shard atomically (temporary name, ``complete`` set last, then renamed).

    Args:
        path: final file name.
        truth: arrays of :data:`TRUTH_FIELDS` (and optionally ``energy_loss``), length N.
        offsets: int64 [N+1] CSR offsets into ``cell``/``energy``.
        cell: flat cell indices [nnz], increasing within each muon.
        energy: deposited energies [nnz] GeV, all > 0.
        detector: geometry the hits refer to.
        simulation: JSON-able description of how the muons were made (backend, config, seeds).

    Returns:
        The final path.
    """
    final = Path(path)
    offsets_a = np.asarray(offsets, dtype=np.int64)
    cell_a = np.asarray(cell)
    energy_a = np.asarray(energy, dtype=np.float32)
    n_muons = offsets_a.size - 1
    _check_hits(final, offsets_a, cell_a, energy_a, detector.n_cells)
    with atomic_path(final) as tmp, h5py.File(tmp, "w") as f:
        for name in TRUTH_FIELDS:
            if name not in truth:
                msg = f"{final}: truth field '{name}' missing"
                raise DataFormatError(msg)
        for name, values in truth.items():
            dtype = TRUTH_FIELDS.get(name, np.float32)
            arr = np.asarray(values, dtype=dtype)
            if arr.shape != (n_muons,):
                msg = f"{final}: truth/{name} has shape {arr.shape}, expected ({n_muons},)"
                raise DataFormatError(msg)
            f.create_dataset(f"truth/{name}", data=arr, **_chunked(arr))
        f.create_dataset("hits/offsets", data=offsets_a, **_chunked(offsets_a))
        cell_u16 = cell_a.astype(np.uint16)
        f.create_dataset("hits/cell", data=cell_u16, **_chunked(cell_u16))
        f.create_dataset("hits/energy", data=energy_a, **_chunked(energy_a))
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["mucalo_version"] = __version__
        f.attrs["detector"] = detector.to_json()
        f.attrs["simulation"] = json.dumps(dict(simulation), sort_keys=True, default=str)
        f.attrs["complete"] = True
    return final


def _chunked(arr: np.ndarray) -> dict[str, Any]:
    # h5py refuses chunking of empty datasets; an empty shard is legal (zero muons or zero hits)
    return dict(_COMPRESSION) if arr.size else {}


def _check_hits(where: Path, offsets: np.ndarray, cell: np.ndarray, energy: np.ndarray, n_cells: int) -> None:
    nnz = cell.size
    if offsets.ndim != 1 or offsets.size < 1 or offsets[0] != 0 or offsets[-1] != nnz:
        msg = f"{where}: hits/offsets must start at 0 and end at nnz={nnz}"
        raise DataFormatError(msg)
    if np.any(np.diff(offsets) < 0):
        msg = f"{where}: hits/offsets must be non-decreasing"
        raise DataFormatError(msg)
    if energy.shape != cell.shape:
        msg = f"{where}: hits/energy has shape {energy.shape}, expected {cell.shape} like hits/cell"
        raise DataFormatError(msg)
    if nnz and (cell.min() < 0 or cell.max() >= n_cells):
        msg = f"{where}: hits/cell has values in [{cell.min()}, {cell.max()}], expected [0, {n_cells})"
        raise DataFormatError(msg)
    if nnz and not (np.all(np.isfinite(energy)) and energy.min() > 0):
        msg = f"{where}: hits/energy must be finite and > 0"
        raise DataFormatError(msg)


def add_features(
    path: str | os.PathLike[str], values: npt.ArrayLike, names: Sequence[str], *, meta: Mapping[str, Any]
) -> None:
    """Add ``/features/values`` to a complete shard, atomically.

    The shard is copied to a temporary name, the features written there and the copy renamed over the
    original, so a killed job leaves the shard either with complete features or untouched.
    """
    final = Path(path)
    arr = np.asarray(values, dtype=np.float32)
    shard = Shard(final)
    if arr.shape != (shard.n_muons, len(names)):
        msg = f"{final}: features have shape {arr.shape}, expected ({shard.n_muons}, {len(names)})"
        raise DataFormatError(msg)
    with atomic_path(final) as tmp:
        shutil.copyfile(final, tmp)
        with h5py.File(tmp, "a") as f:
            if "features" in f:
                del f["features"]
            dset = f.create_dataset("features/values", data=arr, **_chunked(arr))
            dset.attrs["names"] = json.dumps(list(names))
            dset.attrs["meta"] = json.dumps(dict(meta), sort_keys=True, default=str)


def detector_from_attrs(text: str, *, where: str) -> Detector:
    """The :class:`Detector` of a shard's ``detector`` attribute (mucalo's or the Geant4 samples' JSON)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        msg = f"{where}: attribute 'detector' is not JSON ({err})"
        raise DataFormatError(msg) from err
    if isinstance(data, dict) and "grid_shape_zxy" in data:
        # the Geant4 reference samples describe the same geometry with descriptive keys
        n_layers, n_x, n_y = (int(v) for v in data["grid_shape_zxy"])
        field = data.get("bfield_tesla", [0.0, 2.0, 0.0])
        data = {
            "n_layers": n_layers,
            "n_cells_x": n_x,
            "n_cells_y": n_y,
            "layer_depth_mm": float(data["layer_pitch_mm"]),
            "cell_size_mm": float(data["cell_pitch_mm"]),
            "material": str(data.get("material", "G4_PbWO4")).split()[0],
            "field_t": float(field[1]),
        }
    if not isinstance(data, dict):
        msg = f"{where}: attribute 'detector' must be a JSON object"
        raise DataFormatError(msg)
    try:
        return Detector.from_dict(data, where=f"{where}: detector")
    except ConfigError as err:
        raise DataFormatError(str(err)) from err


class Shard:
    """One complete shard file, validated on opening; data are read on demand.

    Raises:
        MissingDataError: the file does not exist.
        DataFormatError: not HDF5, truncated, incomplete, foreign, or inconsistent.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        with open_for_reading(self.path, kind="shard file", hint="truncated or not a shard") as f:
            self._validate(f)
            self.detector = detector_from_attrs(str(f.attrs["detector"]), where=str(self.path))
            self.simulation: dict[str, Any] = _json_attr(f, "simulation", self.path)
            self.offsets = f["hits/offsets"][:].astype(np.int64)
            self.has_features = "features/values" in f
            self.feature_names: list[str] | None = (
                json.loads(f["features/values"].attrs["names"]) if self.has_features else None
            )
        self.n_muons = self.offsets.size - 1
        self.n_hits = int(self.offsets[-1])

    def _validate(self, f: h5py.File) -> None:
        where = self.path
        if "format_version" not in f.attrs or "hits" not in f or "truth" not in f:
            msg = f"{where}: not a mucalo shard (needs attribute 'format_version' and groups truth/, hits/)"
            raise DataFormatError(msg)
        if int(f.attrs["format_version"]) != FORMAT_VERSION:
            msg = f"{where}: format_version {f.attrs['format_version']}, this mucalo reads {FORMAT_VERSION}"
            raise DataFormatError(msg)
        if not bool(f.attrs.get("complete", False)):
            msg = f"{where}: attribute 'complete' is not true (the job that wrote it did not finish)"
            raise DataFormatError(msg)
        for key in ("detector", "simulation"):
            if key not in f.attrs:
                msg = f"{where}: attribute '{key}' missing"
                raise DataFormatError(msg)
        for key in ("offsets", "cell", "energy"):
            if key not in f["hits"]:
                msg = f"{where}: dataset hits/{key} missing"
                raise DataFormatError(msg)
        try:
            offsets = f["hits/offsets"][:]
            n_muons = offsets.size - 1
            for name in TRUTH_FIELDS:
                if name not in f["truth"]:
                    msg = f"{where}: dataset truth/{name} missing"
                    raise DataFormatError(msg)
                if f["truth"][name].shape != (n_muons,):
                    msg = f"{where}: truth/{name} has shape {f['truth'][name].shape}, expected ({n_muons},)"
                    raise DataFormatError(msg)
            nnz = f["hits/cell"].shape[0]
            if f["hits/energy"].shape != (nnz,):
                msg = f"{where}: hits/energy has shape {f['hits/energy'].shape}, expected ({nnz},)"
                raise DataFormatError(msg)
            if offsets.size < 1 or offsets[0] != 0 or offsets[-1] != nnz or np.any(np.diff(offsets) < 0):
                msg = f"{where}: hits/offsets must be non-decreasing from 0 to nnz={nnz}"
                raise DataFormatError(msg)
            if "features/values" in f and f["features/values"].shape[0] != n_muons:
                msg = f"{where}: features/values has {f['features/values'].shape[0]} rows, expected {n_muons}"
                raise DataFormatError(msg)
        except (OSError, KeyError) as err:  # h5py raises these on truncated or corrupt datasets
            msg = f"{where}: cannot read the shard's datasets (truncated or corrupt): {err}"
            raise DataFormatError(msg) from err

    def truth(self) -> dict[str, np.ndarray]:
        """All truth arrays of the shard, by name."""
        with h5py.File(self.path, "r") as f:
            return {name: f["truth"][name][:] for name in f["truth"]}

    def hits(self, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hits of muons ``start:stop``: (offsets rebased to 0 [n+1], cell int64 [m], energy float32 [m])."""
        stop = self.n_muons if stop is None else stop
        lo, hi = int(self.offsets[start]), int(self.offsets[stop])
        with h5py.File(self.path, "r") as f:
            cell = f["hits/cell"][lo:hi].astype(np.int64)
            energy = f["hits/energy"][lo:hi]
        return self.offsets[start : stop + 1] - lo, cell, energy

    def features(self) -> np.ndarray | None:
        """``/features/values`` [N, F] float32, or None when features were not computed."""
        if not self.has_features:
            return None
        with h5py.File(self.path, "r") as f:
            return np.asarray(f["features/values"][:], dtype=np.float32)


def _json_attr(f: h5py.File, key: str, where: Path) -> dict[str, Any]:
    try:
        value = json.loads(str(f.attrs[key]))
    except json.JSONDecodeError as err:
        msg = f"{where}: attribute '{key}' is not JSON ({err})"
        raise DataFormatError(msg) from err
    return value if isinstance(value, dict) else {"value": value}


def list_shard_files(path: str | os.PathLike[str]) -> list[Path]:
    """The shard files of ``path``: the file itself, or the ``*.h5`` of a directory (temporaries skipped)."""
    root = Path(path)
    if root.is_file():
        return [root]
    if not root.is_dir():
        msg = f"{root}: no such shard file or directory"
        raise MissingDataError(msg)
    files = sorted(p for p in root.glob("*.h5") if not is_temporary(p))
    if not files:
        msg = f"{root}: directory holds no *.h5 shards"
        raise MissingDataError(msg)
    return files


class ShardSet:
    """A shard file or a directory of shards, read as one sequence of muons (files in name order).

    All shards must describe the same detector.
    """

    def __init__(self, path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> None:
        if isinstance(path, str | os.PathLike):
            files = list_shard_files(path)
        else:
            files = [f for p in path for f in list_shard_files(p)]
        self.shards = [Shard(p) for p in files]
        self.files = [s.path for s in self.shards]
        self.detector = self.shards[0].detector
        for shard in self.shards[1:]:
            if shard.detector != self.detector:
                msg = (
                    f"{shard.path}: detector {shard.detector} differs from {self.files[0]}'s "
                    f"{self.detector}; a shard set must have one detector"
                )
                raise DataFormatError(msg)
        counts = np.array([s.n_muons for s in self.shards], dtype=np.int64)
        #: first global muon index of each shard, plus the total at the end
        self.starts = np.concatenate([[0], np.cumsum(counts)])
        self.n_muons = int(self.starts[-1])

    def __len__(self) -> int:
        return self.n_muons

    @property
    def has_features(self) -> bool:
        """True when every shard carries ``/features/values``."""
        return all(s.has_features for s in self.shards)

    def truth(self) -> dict[str, np.ndarray]:
        """Truth arrays concatenated over the shards (fields present in every shard)."""
        parts = [s.truth() for s in self.shards]
        common = set.intersection(*(set(p) for p in parts))
        return {k: np.concatenate([p[k] for p in parts]) for k in sorted(common)}

    def locate(self, index: int) -> tuple[int, int]:
        """(shard number, muon number inside it) of global muon ``index``."""
        if not 0 <= index < self.n_muons:
            msg = f"muon index {index} outside [0, {self.n_muons})"
            raise IndexError(msg)
        shard = int(np.searchsorted(self.starts, index, side="right") - 1)
        return shard, index - int(self.starts[shard])

    def hits(self, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hits of global muons ``start:stop`` as (offsets from 0, cell int64, energy float32)."""
        stop = self.n_muons if stop is None else stop
        offsets, cells, energies = [np.zeros(1, np.int64)], [], []
        for k, shard in enumerate(self.shards):
            lo, hi = max(start, int(self.starts[k])), min(stop, int(self.starts[k + 1]))
            if lo >= hi:
                continue
            off, cell, energy = shard.hits(lo - int(self.starts[k]), hi - int(self.starts[k]))
            offsets.append(off[1:] + offsets[-1][-1])
            cells.append(cell)
            energies.append(energy)
        if not cells:
            return np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
        return np.concatenate(offsets), np.concatenate(cells), np.concatenate(energies)

    def muon(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(cell, energy) of one muon."""
        shard, local = self.locate(index)
        _, cell, energy = self.shards[shard].hits(local, local + 1)
        return cell, energy

    def dense(self, index: int) -> np.ndarray:
        """The dense (n_layers, n_cells_x, n_cells_y) float32 GeV grid of one muon."""
        cell, energy = self.muon(index)
        grid = np.zeros(self.detector.n_cells, dtype=np.float32)
        grid[cell] = energy
        return grid.reshape(self.detector.shape)

    def features(self) -> np.ndarray:
        """Features [N, F] of all muons; raises when a shard has none."""
        missing = [str(s.path) for s in self.shards if not s.has_features]
        if missing:
            msg = f"{missing[0]}: no /features/values (run `mucalo features` on it first)"
            raise MissingDataError(msg)
        return np.concatenate([s.features() for s in self.shards])

    @property
    def feature_names(self) -> list[str] | None:
        """Names of the feature columns, or None when features are missing."""
        return self.shards[0].feature_names if self.has_features else None
