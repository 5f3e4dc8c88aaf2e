"""The dataset stage: folds, standardisation, torch batches, and the published LUMIN fold files.

``build_dataset`` turns shards (with features) into a dataset directory; ``open_dataset`` opens one, or
a LUMIN fold file, as a :class:`MuonDataset`; ``make_loader`` yields torch batches with dense grids built
per batch; ``export_lumin`` writes a dataset in the LUMIN layout.
"""

from __future__ import annotations

from mucalo.data.base import Hits, MuonDataset, ShuffleScope
from mucalo.data.build import build_dataset
from mucalo.data.config import DatasetConfig
from mucalo.data.folds import assign_folds
from mucalo.data.grid import batch_grid, densify, densify_torch
from mucalo.data.loader import MuonLoader, make_loader, plan_batches
from mucalo.data.lumin import LuminDataset
from mucalo.data.lumin_export import export_lumin
from mucalo.data.lumin_import import import_lumin
from mucalo.data.reader import open_dataset
from mucalo.data.standardisation import Standardisation
from mucalo.data.store import MucaloDataset

__all__ = (
    "DatasetConfig",
    "Hits",
    "LuminDataset",
    "MucaloDataset",
    "MuonDataset",
    "MuonLoader",
    "ShuffleScope",
    "Standardisation",
    "assign_folds",
    "batch_grid",
    "build_dataset",
    "densify",
    "densify_torch",
    "export_lumin",
    "import_lumin",
    "make_loader",
    "open_dataset",
    "plan_batches",
)
