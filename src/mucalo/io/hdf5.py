"""Opening HDF5 files for reading with errors that name the file and say what it should have been."""

from __future__ import annotations

import os
from pathlib import Path

import h5py

from mucalo.errors import DataFormatError, MissingDataError

__all__ = ["open_for_reading"]


def open_for_reading(path: str | os.PathLike[str], *, kind: str, hint: str = "") -> h5py.File:
    """Open ``path`` read-only.

    Args:
        path: the file.
        kind: what the file should be, for the messages ("shard file", "fold file").
        hint: appended to the message when the file is not readable HDF5 (e.g. a likely cause).

    Raises:
        MissingDataError: there is no such file.
        DataFormatError: the file is not readable HDF5 (truncated, corrupt or another format).
    """
    file = Path(path)
    if not file.is_file():
        msg = f"{file}: no such {kind}"
        raise MissingDataError(msg)
    try:
        return h5py.File(file, "r")
    except OSError as err:
        detail = f" ({hint})" if hint else ""
        msg = f"{file}: not a readable HDF5 file{detail}: {err}"
        raise DataFormatError(msg) from err
