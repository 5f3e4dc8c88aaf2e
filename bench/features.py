"""Throughput of the 28-feature computation on real Geant4 muons, one core; prints one JSON object.

Usage: ``python bench/features.py [SHARD] [--seconds S]``. SHARD defaults to ../shared/g4ref/fixed.h5
(200 muons each at 100, 1000, 4000, 8000 GeV) when present, else tests/data/g4ref_small.h5. Each
energy point is timed by repeating its muons until at least S seconds (default 1) have run; the goal of
issue 4 is ≥ 5,000 muons/s at 1 TeV (~2,600 hit cells).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from mucalo.features import FeatureConfig, compute_features_batch
from mucalo.io.shards import ShardSet

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = (ROOT.parent / "shared" / "g4ref" / "fixed.h5", ROOT / "tests" / "data" / "g4ref_small.h5")


def _time_point(
    shards: ShardSet, index: np.ndarray, seconds: float, config: FeatureConfig | None = None
) -> dict[str, float]:
    """Speed on the muons ``index`` (contiguous), repeated for at least ``seconds``.

    Rates use the process CPU time of each repeat (median over repeats), which other jobs on a shared
    machine disturb far less than wall time; the wall-clock rate is reported beside it.
    """
    start, stop = int(index[0]), int(index[-1]) + 1
    offsets, cell, energy = shards.hits(start, stop)
    truth = shards.truth()
    x0, y0 = truth["x0"][start:stop], truth["y0"][start:stop]
    args = (offsets, cell, energy, x0, y0, shards.detector)
    compute_features_batch(*args, config=config)  # warm-up (compilation, caches)
    cpu: list[float] = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds or len(cpu) < 3:
        c0 = time.process_time()
        compute_features_batch(*args, config=config)
        cpu.append(time.process_time() - c0)
    wall = time.perf_counter() - t0
    n = stop - start
    hits = np.diff(offsets)
    return {
        "muons": n,
        "median_hit_cells": float(np.median(hits)),
        "mean_hit_cells": float(np.mean(hits)),
        "muons_per_s": n / float(np.median(cpu)),
        "us_per_muon": 1e6 * float(np.median(cpu)) / n,
        "wall_muons_per_s": n * len(cpu) / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shard", nargs="?", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum timing per energy point")
    args = parser.parse_args()
    path = args.shard or next(p for p in CANDIDATES if p.exists())
    shards = ShardSet(path)
    true_energy = shards.truth()["true_energy"]
    t0 = time.perf_counter()
    compute_features_batch(*shards.hits(0, 1), true_energy[:1] * 0, true_energy[:1] * 0, shards.detector)
    first_call_s = time.perf_counter() - t0
    points = {}
    for value in np.unique(true_energy):
        index = np.flatnonzero(true_energy == value)
        if index.size and np.all(np.diff(index) == 1):
            points[f"{value:g}"] = _time_point(shards, index, args.seconds)
    if not points:  # a spectrum, not fixed points: time everything at once
        points["all"] = _time_point(shards, np.arange(shards.n_muons), args.seconds)
    # the same muons without the box scan (a box larger than the grid): what V[15], V[25] cost
    reference = "1000" if "1000" in points else next(iter(points))
    index = np.flatnonzero(true_energy == float(reference)) if reference != "all" else np.arange(len(shards))
    no_boxes = _time_point(shards, index, args.seconds, FeatureConfig(box_size=10**6))
    report = {
        "benchmark": "features",
        "shard": str(path),
        "cpu": platform.processor() or platform.machine(),
        "first_call_s": first_call_s,
        "goal_muons_per_s_at_1TeV": 5000,
        "by_true_energy_gev": points,
        "variants": {
            "full": {"energy_gev": reference, "us_per_muon": points[reference]["us_per_muon"]},
            "without_box_scan": {"energy_gev": reference, "us_per_muon": no_boxes["us_per_muon"]},
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
