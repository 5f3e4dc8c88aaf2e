"""Seeded assignment of muons to folds (SYSTEM.md "Training"; reference-code-notes §6.4).

The authors filled folds sequentially from randomly generated files and dropped the remainder
(24,631 × 36 of 886,716 muons). mucalo shuffles with a seed instead and keeps every muon: fold sizes
differ by at most one, so the split is a partition and no simulated muon is wasted.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mucalo.errors import ConfigError

__all__ = ["assign_folds", "fold_order"]


def assign_folds(n_muons: int, n_folds: int, seed: int) -> npt.NDArray[np.int64]:
    """Fold of each muon: a seeded random partition into folds whose sizes differ by at most one.

    Args:
        n_muons: number of muons N (≥ n_folds, so that no fold is empty).
        n_folds: number of folds K.
        seed: non-negative seed; the result depends only on (N, K, seed).

    Returns:
        (N,) int64 fold numbers; the first ``N mod K`` folds hold one muon more.
    """
    if n_muons < n_folds:
        msg = f"dataset: {n_muons} muons cannot fill {n_folds} folds (each fold needs at least one muon)"
        raise ConfigError(msg)
    sizes = np.full(n_folds, n_muons // n_folds, dtype=np.int64)
    sizes[: n_muons % n_folds] += 1
    slots = np.repeat(np.arange(n_folds, dtype=np.int64), sizes)
    rng = np.random.default_rng(np.random.SeedSequence([seed, n_muons, n_folds]))
    return slots[rng.permutation(n_muons)]


def fold_order(
    fold_of: npt.NDArray[np.int64], n_folds: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Dataset order of the source muons: fold by fold, source order inside a fold.

    Returns:
        (order, fold_offsets): ``order[r]`` is the source index of dataset row ``r``; fold ``k`` is rows
        ``fold_offsets[k]:fold_offsets[k+1]``.
    """
    order = np.argsort(fold_of, kind="stable").astype(np.int64)
    counts = np.bincount(fold_of, minlength=n_folds)
    return order, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
