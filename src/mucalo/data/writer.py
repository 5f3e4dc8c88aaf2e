"""Writing a dataset directory: atomic creation, small arrays, and the memory-mapped hit arrays."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt

from mucalo.data.store import DATASET_FORMAT, FORMAT_VERSION
from mucalo.errors import ConfigError

__all__ = ["atomic_dir", "check_new", "hit_maps", "write_arrays"]


def check_new(out: Path, *, overwrite: bool) -> None:
    """ConfigError when ``out`` exists and may not be replaced."""
    if out.exists() and not overwrite:
        msg = f"{out}: exists already (pass overwrite=True / --overwrite to replace it)"
        raise ConfigError(msg)


def write_arrays(path: Path, arrays: dict[str, npt.NDArray[Any]], *, n_hits: int) -> None:
    """Small arrays as ordinary datasets; the hit arrays contiguous, allocated now, never filled."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)  # the file offset must exist before the memory map
    dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)  # every byte is written through hit_maps; skip a zero pass
    with h5py.File(path, "w") as f:
        f.attrs["format"] = DATASET_FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        for name, values in arrays.items():
            f.create_dataset(name, data=values)
        for name, dtype in (("hits/cell", np.uint16), ("hits/energy", np.float32)):
            if n_hits:
                f.create_dataset(name, shape=(n_hits,), dtype=dtype, dcpl=dcpl)
            else:
                f.create_dataset(name, shape=(0,), dtype=dtype)


@contextlib.contextmanager
def hit_maps(path: Path) -> Iterator[tuple[npt.NDArray[np.uint16], npt.NDArray[np.float32]]]:
    """Writable memory maps of ``hits/cell`` and ``hits/energy`` of a file from :func:`write_arrays`."""
    with h5py.File(path, "r") as f:
        n_hits = f["hits/cell"].shape[0]
        cell_at, energy_at = f["hits/cell"].id.get_offset(), f["hits/energy"].id.get_offset()
    if n_hits == 0:
        yield np.zeros(0, np.uint16), np.zeros(0, np.float32)
        return
    cell = np.memmap(path, dtype=np.uint16, mode="r+", offset=cell_at, shape=(n_hits,))
    energy = np.memmap(path, dtype=np.float32, mode="r+", offset=energy_at, shape=(n_hits,))
    yield cell, energy
    cell.flush()
    energy.flush()


@contextlib.contextmanager
def atomic_dir(final: Path, *, overwrite: bool) -> Iterator[Path]:
    """Yield a hidden temporary directory beside ``final``; rename it to ``final`` on success."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        yield tmp
        if final.exists() and overwrite:
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            final.replace(old)
            tmp.replace(final)
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink()
        else:
            tmp.replace(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
