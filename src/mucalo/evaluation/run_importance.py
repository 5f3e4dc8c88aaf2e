"""Permutation importance of a trained run's high-level features (paper Fig. 13), affordably.

Shuffling a feature column changes only the fully connected body's input: the conv head sees the grid
alone. So the head output of every muon is computed once per model, and each shuffle re-runs only the
body, which makes the importance of a hybrid model about as cheap as that of an HL-only one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor
from tqdm import tqdm

from mucalo.data import MuonDataset, densify
from mucalo.evaluation.exceptions import EvaluationError
from mucalo.evaluation.importance import PermutationImportance, permutation_importance
from mucalo.evaluation.run_inputs import model_features
from mucalo.models import MuonRegressor
from mucalo.training import TrainedRun

__all__ = ["run_importance"]

logger = logging.getLogger(__name__)


def _subsample(
    data: MuonDataset, folds: Sequence[int], max_events: int, seed: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(rows within the folds' concatenation, global muon indices) of at most ``max_events`` muons."""
    starts = [int(data.fold_offsets[k]) for k in folds]
    sizes = [data.fold_sizes[k] for k in folds]
    global_index = np.concatenate(
        [np.arange(s, s + n, dtype=np.int64) for s, n in zip(starts, sizes, strict=True)]
    )
    rows = np.arange(global_index.size, dtype=np.int64)
    if rows.size > max_events:
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(rows, size=max_events, replace=False))
    return rows, global_index[rows]


@torch.no_grad()
def _head_outputs(
    models: Sequence[MuonRegressor],
    data: MuonDataset,
    indices: npt.NDArray[np.int64],
    *,
    batch_size: int,
    device: torch.device,
) -> list[Tensor]:
    """Per model, the (n, H) conv-head output of the muons ``indices`` (on ``device``)."""
    outputs: list[list[Tensor]] = [[] for _ in models]
    for start in range(0, indices.size, batch_size):
        batch = indices[start : start + batch_size]
        grid = densify(data.batch_hits(batch), data.grid_shape, where=str(data.path))
        tensor = torch.from_numpy(grid).unsqueeze(1).to(device)
        for m, model in enumerate(models):
            assert model.head is not None
            outputs[m].append(model.head(tensor))
    return [torch.cat(parts) for parts in outputs]


def run_importance(
    run: TrainedRun,
    data: MuonDataset,
    folds: Sequence[int],
    *,
    max_events: int = 2000,
    n_repeats: int = 1,
    edges_gev: npt.ArrayLike | None = None,
    seed: int = 0,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> tuple[PermutationImportance, npt.NDArray[np.float64]]:
    """Permutation importance of each feature the run's models read, for the ensemble prediction.

    Args:
        run: a trained run whose models read features (``hl`` or ``hybrid``).
        data: the dataset; ``folds`` of it are used (e.g. the hold-out fold).
        folds: folds to draw the muons from.
        max_events: at most this many muons (a seeded subsample) — each feature costs one pass of the
            fully connected bodies over them, plus one conv-head pass in all for grid models.
        n_repeats: shuffles per feature.
        edges_gev: true-energy bin edges of the per-bin importance, GeV (default 8 bins of 1 TeV).
        seed: seed of the subsample and the shuffles.
        batch_size: muons per conv-head pass.
        device: where the models run.
        progress: tqdm bar over the shuffles (stderr, TTY only).

    Returns:
        The importance (feature names = the run's feature columns) and the (n,) nominal ensemble
        predictions of the subsample, GeV (equal to :meth:`TrainedRun.predict` up to rounding).

    Raises:
        EvaluationError: the run's models read no features, or are not :class:`MuonRegressor` s.
    """
    if not run.model_config.uses_features:
        msg = f"importance: the {run.model_config.kind!r} models of {run.path} read no features"
        raise EvaluationError(msg)
    models = [m for m in run.models if isinstance(m, MuonRegressor)]
    if len(models) != len(run.models):
        msg = f"importance: expected MuonRegressor models in {run.path}"
        raise EvaluationError(msg)
    rows, indices = _subsample(data, folds, max_events, seed)
    features = model_features(run, data, folds)[rows]
    true = np.concatenate([data.targets(k) for k in folds]).astype(np.float64)[rows]
    chosen = torch.device(device)
    for model in models:
        model.to(chosen)
    try:
        heads = (
            _head_outputs(models, data, indices, batch_size=batch_size, device=chosen)
            if run.model_config.uses_grid
            else None
        )
        weights = torch.as_tensor(run.weights, dtype=torch.float64)
        bar = tqdm(
            total=2 + n_repeats * features.shape[1],  # our nominal pass, its nominal pass
            desc="importance",
            unit="pass",
            disable=None if progress else True,
            leave=False,
        )

        @torch.no_grad()
        def predict(matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
            inputs = torch.from_numpy(np.ascontiguousarray(matrix, dtype=np.float32)).to(chosen)
            per_model = []
            for m, model in enumerate(models):
                # The same composition as MuonRegressor.forward: body input = [features | head output].
                body_input = inputs if heads is None else torch.cat([inputs, heads[m]], dim=1)
                per_model.append(model.out(model.body(body_input)).squeeze(1).double().cpu())
            bar.update(1)
            ensemble: npt.NDArray[np.float64] = (weights @ torch.stack(per_model)).numpy()
            return ensemble

        with bar:
            nominal = predict(features)
            logger.info(
                "importance: %d features × %d repeat(s) on %d muons", features.shape[1], n_repeats, rows.size
            )
            result = permutation_importance(
                predict,
                features,
                true,
                edges_gev=edges_gev,
                feature_names=list(run.feature_columns),
                n_repeats=n_repeats,
                seed=seed,
            )
    finally:
        for model in models:
            model.to("cpu")
    return result, nominal
