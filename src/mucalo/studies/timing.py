"""Inference time per batch of 256 muons (paper Table 3), excluding the disk-to-RAM time.

A few hold-out batches are read first (sparse hits to dense grids included, as the paper's RAM-to-device
time is), then each model's forward pass is timed on them after one warm-up pass.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import torch

from mucalo.data import MuonDataset, make_loader
from mucalo.io.atomic import write_json_atomic
from mucalo.training import TrainedRun

__all__ = ["PAPER_BATCH", "inference_seconds"]

logger = logging.getLogger(__name__)

#: The batch size the paper's inference times refer to.
PAPER_BATCH = 256

CACHE_FILE = "study_timing.json"


@torch.no_grad()
def inference_seconds(
    run: TrainedRun,
    dataset: MuonDataset,
    *,
    fingerprint: str,
    device: str = "cpu",
    n_batches: int = 2,
) -> list[float]:
    """Seconds per batch of 256 muons of each model (sum them for the ensemble), cached in the run.

    Args:
        run: a finished run.
        dataset: its data.
        fingerprint: the run's fingerprint (a retrained run is timed again).
        device: where the models run (recorded with the cache: another device is timed again).
        n_batches: batches timed per model (fewer when the hold-out fold is smaller).

    Returns:
        (M,) seconds per 256 muons; batches smaller than 256 are scaled by muon count.
    """
    cache = run.path / CACHE_FILE
    if cache.is_file():
        saved = json.loads(cache.read_text(encoding="utf-8"))
        if saved.get("fingerprint") == fingerprint and saved.get("device") == device:
            return [float(v) for v in saved["seconds_per_batch"]]
    target = torch.device(device)
    fold = run.holdout_fold if run.holdout_fold is not None else run.folds[0].monitor
    loader = make_loader(
        dataset,
        [fold],
        batch_size=PAPER_BATCH,
        shuffle=False,
        seed=0,
        feature_columns=list(run.feature_columns),
        with_grid=run.model_config.uses_grid,
    )
    batches: list[dict[str, Any]] = []
    for i, batch in enumerate(loader):
        if i >= n_batches:
            break
        batches.append(batch)
    n_muons = sum(int(b["target"].numel()) for b in batches)
    seconds = []
    for model in run.models:
        model.to(target)
        _forward(model, batches[0], run, target)  # warm-up (allocations, kernel selection)
        _synchronise(target)
        start = time.perf_counter()
        for batch in batches:
            _forward(model, batch, run, target)
        _synchronise(target)
        seconds.append((time.perf_counter() - start) * PAPER_BATCH / max(n_muons, 1))
        model.to("cpu")
    write_json_atomic(cache, {"fingerprint": fingerprint, "device": device, "seconds_per_batch": seconds})
    logger.info(
        "run %s: %.3g s per batch of %d muons per model", run.path, sum(seconds) / len(seconds), PAPER_BATCH
    )
    return seconds


def _forward(model: torch.nn.Module, batch: dict[str, Any], run: TrainedRun, device: torch.device) -> None:
    grid = batch["grid"].to(device) if run.model_config.uses_grid else None
    features = batch["features"].to(device) if run.model_config.uses_features else None
    model(grid, features)


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
