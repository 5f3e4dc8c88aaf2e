"""Loader throughput: muons per second delivered by ``make_loader`` at batch 256 (goal ≥ 1,500 per core).

Builds a small dataset from one shard (default: the Geant4 uniform sample, 1,500 real muons with ~5,500
hits each; features are random placeholders, which cost the loader the same), then times a few loader
variants one after the other and prints one JSON object.

    OMP_NUM_THREADS=1 python bench/loader.py [--shards FILE] [--batches 24] [--out result.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mucalo.data import build_dataset, export_lumin, import_lumin, make_loader, open_dataset
from mucalo.data.base import MuonDataset
from mucalo.io.shards import ShardSet, add_features

_DEFAULT_SHARDS = Path("/work/shared/g4ref/uniform.h5")
_FALLBACK_SHARDS = Path(__file__).resolve().parents[1] / "tests" / "data" / "g4ref_uniform_small.h5"
#: (name, make_loader keyword arguments)
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("workers0", {"workers": 0}),
    ("workers1", {"workers": 1}),
    ("workers2", {"workers": 2}),
    ("workers0_channels_last", {"workers": 0, "channels_last": True}),
    ("workers0_features_only", {"workers": 0, "with_grid": False}),
    ("workers0_sparse_hits", {"workers": 0, "sparse_grid": True}),
]
#: the same dataset exported to a LUMIN fold file (LZF, folds decoded one at a time, fold-scoped order)
LUMIN_VARIANTS: list[tuple[str, dict[str, Any]]] = [("lumin_file_workers0", {"workers": 0})]


def _dataset(shards: Path, work: Path, copies: int) -> MuonDataset:
    """The shard copied ``copies`` times (epochs long enough that worker start-up does not dominate)."""
    folder = work / "shards"
    folder.mkdir(parents=True)
    first = folder / f"copy0_{shards.name}"
    shutil.copyfile(shards, first)
    n_muons = ShardSet(first).n_muons
    values = np.random.default_rng(0).normal(size=(n_muons, 28)).astype(np.float32)
    add_features(first, values, [f"feature_{i}" for i in range(28)], meta={"bench": "random placeholders"})
    for k in range(1, copies):
        shutil.copyfile(first, folder / f"copy{k}_{shards.name}")
    return open_dataset(build_dataset(folder, work / "dataset", n_folds=6, seed=0))


def _time(dataset: MuonDataset, batches: int, batch_size: int, options: dict[str, Any]) -> dict[str, Any]:
    """Time ``batches`` batches after the first (worker start-up and warm-up are reported apart)."""
    folds = list(range(1, dataset.n_folds))
    delivered, epoch, first_s = 0, 0, None
    start = time.perf_counter()
    timed_start = start
    done = 0
    while done <= batches:
        loader = make_loader(
            dataset,
            folds,
            batch_size=batch_size,
            shuffle=True,
            seed=0,
            epoch=epoch,
            drop_last=True,
            **options,
        )
        for batch in loader:
            if first_s is None:
                first_s = time.perf_counter() - start
                timed_start = time.perf_counter()
            else:
                delivered += int(batch["target"].shape[0])
            done += 1
            if done > batches:
                break
        epoch += 1
    elapsed = time.perf_counter() - timed_start
    return {
        "options": options,
        "batches_timed": batches,
        "muons": delivered,
        "seconds": round(elapsed, 3),
        "muons_per_s": round(delivered / elapsed, 1),
        "ms_per_batch": round(1e3 * elapsed / batches, 2),
        "first_batch_s": round(first_s or 0.0, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shards", type=Path, default=_DEFAULT_SHARDS if _DEFAULT_SHARDS.exists() else _FALLBACK_SHARDS
    )
    parser.add_argument("--batches", type=int, default=24, help="timed batches per variant")
    parser.add_argument("--copies", type=int, default=4, help="copies of the shard in the dataset")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="mucalo-bench-loader-") as tmp:
        start = time.perf_counter()
        dataset = _dataset(args.shards, Path(tmp), args.copies)
        build_s = time.perf_counter() - start
        n_hits = sum(dataset.fold_hit_sums(k)[0] for k in range(dataset.n_folds))
        results = {
            name: _time(dataset, args.batches, args.batch_size, options)
            for name, options in VARIANTS
            if not args.only or name in args.only
        }
        wanted = [(n, o) for n, o in LUMIN_VARIANTS if not args.only or n in args.only]
        if wanted:
            lumin = open_dataset(export_lumin(dataset, Path(tmp) / "dataset.hdf5"))
            results |= {
                name: _time(lumin, args.batches, args.batch_size, options) for name, options in wanted
            }
            start = time.perf_counter()
            import_lumin(lumin.path, Path(tmp) / "imported")
            import_s = time.perf_counter() - start
            results["import_lumin"] = {
                "seconds": round(import_s, 3),
                "muons_per_s": round(dataset.n_muons / import_s, 1),
            }
    report = {
        "bench": "loader",
        "shards": str(args.shards),
        "n_muons": dataset.n_muons,
        "hits_per_muon": round(n_hits / dataset.n_muons, 1),
        "batch_size": args.batch_size,
        "build_dataset_s": round(build_s, 3),
        "goal_muons_per_s_per_core": 1500,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "variants": results,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
