"""Open any dataset mucalo can train on: its own dataset directories and LUMIN fold files."""

from __future__ import annotations

import os
from pathlib import Path

from mucalo.data.base import MuonDataset
from mucalo.data.lumin import LuminDataset, is_lumin_file
from mucalo.data.store import MucaloDataset, is_dataset_dir
from mucalo.errors import DataFormatError, MissingDataError

__all__ = ["open_dataset"]


def open_dataset(path: str | os.PathLike[str]) -> MuonDataset:
    """Open a dataset directory (``mucalo dataset build``) or a LUMIN fold file.

    Raises:
        MissingDataError: nothing at ``path``.
        DataFormatError: ``path`` is neither format (a LUMIN file without ``meta_data`` is named so).
    """
    where = Path(path)
    if is_dataset_dir(where):
        return MucaloDataset(where)
    if where.is_file():
        if is_lumin_file(where):
            return LuminDataset(where)
        msg = f"{where}: neither a mucalo dataset directory nor a LUMIN fold file (no group 'fold_0')"
        raise DataFormatError(msg)
    if where.is_dir():
        msg = f"{where}: no dataset.json (not a mucalo dataset directory)"
        raise DataFormatError(msg)
    msg = f"{where}: no such dataset"
    raise MissingDataError(msg)
