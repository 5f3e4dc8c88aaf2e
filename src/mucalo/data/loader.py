"""Torch batches from a dataset: a seeded batch plan, dense grids built per batch, worker processes.

The plan (which global muon indices form which batch) is a pure function of the dataset's fold sizes,
the chosen folds, seed, epoch and (rank, world_size), so a resumed training replays exactly the order it
would have seen, and data-parallel ranks get disjoint shares of equal length (DistributedSampler's rule:
the last partial batch is padded by wrapping around when it is kept).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import DataLoader, Dataset, get_worker_info

from mucalo.data.base import MuonDataset, ShuffleScope
from mucalo.data.grid import densify
from mucalo.data.standardisation import Standardisation
from mucalo.errors import ConfigError

__all__ = ["MuonLoader", "make_loader", "plan_batches"]

log = logging.getLogger(__name__)

Batch = dict[str, torch.Tensor]
#: maps true energies (n,) float32 GeV to per-muon weights (n,) (must be picklable for worker processes)
Weighting = Callable[[npt.NDArray[np.float32]], npt.NDArray[np.floating[Any]]]


def plan_batches(
    fold_offsets: npt.NDArray[np.int64],
    folds: Sequence[int],
    *,
    batch_size: int,
    shuffle: bool,
    seed: int,
    epoch: int = 0,
    drop_last: bool = False,
    rank: int = 0,
    world_size: int = 1,
    scope: ShuffleScope = "dataset",
) -> list[npt.NDArray[np.int64]]:
    """The batches of global muon indices this rank sees in one epoch.

    Args:
        fold_offsets: (K+1,) first global index of each fold.
        folds: the folds to draw from (in this order when not shuffled).
        batch_size: muons per batch and rank.
        shuffle: permute (seeded by ``seed`` and ``epoch``); otherwise fold order, then muon order.
        seed: non-negative base seed.
        epoch: epoch number; each epoch has its own permutation.
        drop_last: drop the last incomplete batch (of the epoch, or of each fold with scope "fold").
        rank: this process's rank in [0, world_size).
        world_size: number of data-parallel processes; each global batch of batch_size·world_size
            muons is split as ``global[rank::world_size]``.
        scope: "dataset" shuffles all muons of the chosen folds together; "fold" shuffles the fold order
            and the muons inside each fold, and batches never mix folds (LUMIN's order; needed for
            compressed files whose folds are decoded one at a time).
    """
    if scope not in ("dataset", "fold"):
        msg = f"loader.shuffle_scope: expected 'dataset' or 'fold', got {scope!r}"
        raise ConfigError(msg)
    rng = np.random.default_rng(np.random.SeedSequence([seed, epoch]))
    ranges = {k: np.arange(fold_offsets[k], fold_offsets[k + 1], dtype=np.int64) for k in folds}
    if scope == "fold":
        order = [folds[i] for i in rng.permutation(len(folds))] if shuffle else list(folds)
        blocks = [rng.permutation(ranges[k]) if shuffle else ranges[k] for k in order]
    else:
        everything = np.concatenate([ranges[k] for k in folds])
        blocks = [rng.permutation(everything) if shuffle else everything]
    step = batch_size * world_size
    batches = []
    for block in blocks:
        n_full = block.size // step
        for j in range(n_full):
            batches.append(block[j * step : (j + 1) * step][rank::world_size])
        tail = block[n_full * step :]
        if tail.size and not drop_last:
            # equal shares for every rank: wrap around the block, as DistributedSampler pads
            padded = np.resize(block, n_full * step + tail.size + (-tail.size) % world_size)[n_full * step :]
            batches.append(padded[rank::world_size])
    return batches


class _BatchSource(Dataset[Batch]):
    """Batch k of the plan as a dict of tensors; features and targets of the chosen folds in memory."""

    def __init__(
        self,
        dataset: MuonDataset,
        batches: list[npt.NDArray[np.int64]],
        folds: Sequence[int],
        *,
        columns: list[int],
        standardisation: Standardisation | None,
        weighting: Weighting | None,
        with_grid: bool,
        sparse_grid: bool,
        channels_last: bool,
    ) -> None:
        self.dataset = dataset
        self.batches = batches
        self.weighting = weighting
        self.with_grid = with_grid
        self.sparse_grid = sparse_grid
        self.channels_last = channels_last
        self.start = np.full(dataset.n_folds, -1, dtype=np.int64)
        features, targets, at = [], [], 0
        for fold in folds:
            if standardisation is None:
                values = dataset.features(fold, standardised=True)[:, columns]
            else:
                values = standardisation.apply(dataset.features(fold, standardised=False)[:, columns])
            features.append(values)
            targets.append(dataset.targets(fold))
            self.start[fold] = at
            at += values.shape[0]
        self.features = np.ascontiguousarray(np.concatenate(features), dtype=np.float32)
        self.targets = np.concatenate(targets).astype(np.float32)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, k: int) -> Batch:
        indices = self.batches[k]
        folds = self.dataset.fold_of(indices)
        rows = indices - self.dataset.fold_offsets[folds] + self.start[folds]
        target = self.targets[rows]
        weight = (
            np.ones_like(target) if self.weighting is None else np.asarray(self.weighting(target), np.float32)
        )
        batch = {
            "features": torch.from_numpy(self.features[rows]),
            "target": torch.from_numpy(target),
            "weight": torch.from_numpy(weight),
            "index": torch.from_numpy(indices.astype(np.int64)),
        }
        if self.with_grid and self.sparse_grid:
            offsets, cell, energy = self.dataset.batch_hits(indices)
            batch["hit_offsets"] = torch.from_numpy(offsets)
            batch["hit_cell"] = torch.from_numpy(cell.astype(np.int32))
            batch["hit_energy"] = torch.from_numpy(energy)
        elif self.with_grid:
            batch["grid"] = self._grid(indices)
        return batch

    def _grid(self, indices: npt.NDArray[np.int64]) -> torch.Tensor:
        hits = self.dataset.batch_hits(indices)
        shape = self.dataset.grid_shape
        if get_worker_info() is None:
            grid = torch.from_numpy(densify(hits, shape, where=str(self.dataset.path)))
        else:
            # in a worker, build the grid straight in (zero-filled) shared memory: sending it to the
            # main process then costs no 50 MB copy, as torch's own collate does for its outputs
            n_values = indices.size * int(np.prod(shape))
            storage = torch.UntypedStorage._new_shared(n_values * 4)  # type: ignore[no-untyped-call]
            grid = torch.empty(0, dtype=torch.float32).set_(storage).view(indices.size, *shape)
            densify(hits, shape, out=grid.numpy(), out_is_zero=True, where=str(self.dataset.path))
        grid = grid.unsqueeze(1)
        if self.channels_last:
            grid = grid.contiguous(memory_format=torch.channels_last_3d)
        return grid


def _init_worker(_: int) -> None:
    # batch assembly is numpy work; torch threads in every worker would oversubscribe the cores
    torch.set_num_threads(1)


class MuonLoader:
    """An epoch of batches: iterate for dicts of tensors; ``len()`` is the number of batches.

    Each batch: ``grid`` (B, 1, layers, x, y) float32 GeV (absent with ``with_grid=False``; replaced
    by ``hit_offsets``/``hit_cell``/``hit_energy`` with ``sparse_grid=True``),
    ``features`` (B, F) float32 standardised, ``target`` (B,) float32 GeV, ``weight`` (B,) float32,
    ``index`` (B,) int64 global muon indices.
    """

    def __init__(self, source: _BatchSource, loader: DataLoader[Batch]) -> None:
        self._source = source
        self._loader = loader

    @property
    def batches(self) -> list[npt.NDArray[np.int64]]:
        """The plan: global muon indices of each batch, in order."""
        return self._source.batches

    @property
    def n_muons(self) -> int:
        """Muons delivered in the epoch (padding included)."""
        return int(sum(b.size for b in self._source.batches))

    def __len__(self) -> int:
        return len(self._source)

    def __iter__(self) -> Iterator[Batch]:
        return iter(self._loader)


def make_loader(
    dataset: MuonDataset,
    folds: Sequence[int],
    *,
    batch_size: int = 256,
    shuffle: bool,
    seed: int,
    epoch: int = 0,
    workers: int = 0,
    drop_last: bool = False,
    pin_memory: bool = False,
    channels_last: bool = False,
    feature_columns: Sequence[str | int] | None = None,
    rank: int = 0,
    world_size: int = 1,
    weighting: Weighting | None = None,
    with_grid: bool = True,
    sparse_grid: bool = False,
    shuffle_scope: ShuffleScope | None = None,
    start_batch: int = 0,
    standardisation: Standardisation | None = None,
) -> MuonLoader:
    """Batches of the muons of ``folds`` for one epoch.

    Args:
        dataset: from :func:`mucalo.data.open_dataset`.
        folds: folds to draw from, e.g. the 34 training folds.
        batch_size: muons per batch (per rank).
        shuffle: seeded shuffle (training); False gives fold order then muon order (evaluation).
        seed: base seed (non-negative); with ``epoch`` it fixes the order.
        epoch: epoch number.
        workers: DataLoader worker processes (0: batches built in this process).
        drop_last: drop incomplete last batches.
        pin_memory: page-locked batches for fast host→GPU copies (ignored without CUDA).
        channels_last: return ``grid`` in ``torch.channels_last_3d`` memory format.
        feature_columns: names or numbers of the feature columns to keep (None: all, in order).
        rank, world_size: data-parallel split (see :func:`plan_batches`).
        weighting: per-muon weights from true energies (None: all 1).
        with_grid: build the dense grids (False for high-level-feature-only models: much faster).
        sparse_grid: instead of ``grid``, yield the batch's sparse hits ``hit_offsets`` (B+1,) int64,
            ``hit_cell`` (nnz,) int32 and ``hit_energy`` (nnz,) float32, to be densified on the GPU
            with :func:`mucalo.data.batch_grid` (8× less host→device traffic).
        shuffle_scope: "dataset" or "fold" (see :func:`plan_batches`); None: the dataset's preference
            ("fold" for LUMIN files, whose compressed folds are decoded one at a time).
        start_batch: skip the first batches of the plan (resuming inside an epoch).
        standardisation: statistics to apply to the raw features instead of the dataset's own (e.g. a
            trained model's, on a test sample); must match the selected columns.
    """
    chosen = [dataset.check_fold(k) for k in folds]
    if not chosen or len(set(chosen)) != len(chosen):
        msg = f"loader.folds: expected distinct folds of {dataset.path}, got {list(folds)}"
        raise ConfigError(msg)
    for name, value, low in (
        ("batch_size", batch_size, 1),
        ("workers", workers, 0),
        ("world_size", world_size, 1),
        ("seed", seed, 0),
        ("epoch", epoch, 0),
        ("start_batch", start_batch, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            msg = f"loader.{name}: expected an integer ≥ {low}, got {value!r}"
            raise ConfigError(msg)
    if not 0 <= rank < world_size:
        msg = f"loader.rank: expected a rank in [0, {world_size}), got {rank!r}"
        raise ConfigError(msg)
    columns = dataset.feature_columns(feature_columns)
    if standardisation is not None:
        wanted = tuple(dataset.feature_names[c] for c in columns)
        if tuple(standardisation.feature_names) != wanted:
            msg = (
                f"loader.standardisation: statistics for {list(standardisation.feature_names)}, "
                f"features are {list(wanted)}"
            )
            raise ConfigError(msg)
    if with_grid and not dataset.has_hits:
        msg = f"{dataset.path}: no hits, so no grids (pass with_grid=False for a features-only model)"
        raise ConfigError(msg)
    scope = dataset.preferred_shuffle_scope if shuffle_scope is None else shuffle_scope
    batches = plan_batches(
        dataset.fold_offsets,
        chosen,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        epoch=epoch,
        drop_last=drop_last,
        rank=rank,
        world_size=world_size,
        scope=scope,
    )[start_batch:]
    source = _BatchSource(
        dataset,
        batches,
        chosen,
        columns=columns,
        standardisation=standardisation,
        weighting=weighting,
        with_grid=with_grid,
        sparse_grid=sparse_grid,
        channels_last=channels_last,
    )
    pin = pin_memory and torch.cuda.is_available()
    if pin_memory and not pin:
        log.debug("pin_memory ignored: no CUDA device")
    loader: DataLoader[Batch] = DataLoader(
        source,
        batch_size=None,  # the source returns whole batches
        shuffle=False,  # the order is the plan's
        num_workers=workers,
        pin_memory=pin,
        worker_init_fn=_init_worker if workers else None,
        prefetch_factor=4 if workers else None,
    )
    return MuonLoader(source, loader)
