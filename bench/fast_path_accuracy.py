"""Accuracy of the fast inference paths on a trained run, against plain fp32; prints one JSON object.

Usage::

    python bench/fast_path_accuracy.py RUN [--folds 0] [--threads 1]

``RUN`` is a training run directory (e.g. ``runs/quick/runs/hybrid`` of ``mucalo run --preset quick``).
Its ensemble predicts the muons of ``--folds`` (default: the run's hold-out fold) four ways: plain fp32,
the derived inference head in float32 (``FastPathConfig.exact()``, what evaluation uses), the derived
head in bf16 (``FastPathConfig()``), and bf16 autocast of the model itself. For each: the relative
difference to plain fp32 per muon (median, rms, max), the mean of (prediction − true)/true and the
spread std(prediction − true) in GeV — what the bias correction and the resolution see — and the time.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from mucalo.models import FastPathConfig
from mucalo.training.run import load_run

PATHS = {
    "plain_fp32": FastPathConfig.off(),
    "exact_head_fp32": FastPathConfig.exact(),
    "head_bf16": FastPathConfig(),
    "autocast_bf16": FastPathConfig(inference_head=False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="training run directory")
    parser.add_argument("--folds", type=int, nargs="*", default=None, help="default: the hold-out fold")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    run = load_run(args.run)
    data = run.open_training_dataset()
    folds = args.folds if args.folds else [run.holdout_fold]
    results: dict[str, Any] = {}
    reference: np.ndarray | None = None
    for name, config in PATHS.items():
        start = time.perf_counter()
        prediction = run.predict(data, folds, fast=config)
        seconds = time.perf_counter() - start
        energy, true = prediction.ensemble, prediction.true_energy
        if reference is None:
            reference = energy
        relative = np.abs(energy - reference) / np.abs(reference)
        results[name] = {
            "seconds": seconds,
            "muons_per_s": energy.size / seconds,
            "vs_plain_median_rel": float(np.median(relative)),
            "vs_plain_rms_rel": float(np.sqrt(np.mean(relative**2))),
            "vs_plain_max_rel": float(relative.max()),
            "mean_rel_to_true": float(np.mean((energy - true) / true)),
            "spread_gev": float(np.std(energy - true)),
        }
    summary = {
        "run": str(args.run),
        "folds": folds,
        "muons": int(reference.size) if reference is not None else 0,
    }
    print(json.dumps(summary | {"paths": results}, indent=2))


if __name__ == "__main__":
    main()
