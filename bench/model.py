"""Plain fp32 model against the fast CPU path, side by side, one thread; prints one JSON object.

Times one training step (forward, loss, backward, Adam step) and inference (eval, no grad) of the
nominal hybrid model on real Geant4 grids, for the plain fp32 model at batch 256 and for the fast path
(bf16 autocast, optionally channels-last 3D and ``torch.compile``; inference through the derived head of
:mod:`mucalo.models.fast_inference`, also timed in float32), and reports muons/s, the ratios and the
prediction difference between the two paths on the same weights. Goal (issue 6): ≥ 3× training,
≥ 2.5× inference. The fast path trains at a smaller batch (64 by default: its first-level feature
maps then stay in cache; per-muon throughput falls at 256) and infers the same 256 muons in chunks.

    OMP_NUM_THREADS=1 python bench/model.py [--shards FILE] [--train-iters 2] [--infer-iters 2]
        [--fast-batch-size 64] [--inference-batch 32] [--compile] [--no-bf16] [--channels-last]
        [--no-flush-denormal] [--no-inference-head] [--out result.json]

Features are random standard-normal placeholders (they cost the model the same). The output bias is set
to the mean true energy so that relative prediction differences are on a GeV scale. Each throughput is
from the fastest timed iteration (the machine is shared); the first, untimed one is reported too.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from mucalo.io.shards import ShardSet
from mucalo.models import FastPath, FastPathConfig, MuonRegressor, bf16_supported, build_model

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = (
    ROOT.parent / "shared" / "g4ref" / "uniform.h5",
    ROOT / "tests" / "data" / "g4ref_uniform_small.h5",
)


def _load(path: Path, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    shards = ShardSet(path)
    indices = np.arange(n) % shards.n_muons
    grid = np.stack([shards.dense(int(i)) for i in indices])[:, None]
    true_energy = shards.truth()["true_energy"][indices].astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(grid)), torch.from_numpy(true_energy)


def _time_training(
    model: MuonRegressor,
    fast: FastPath,
    batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    warmup: int,
    iters: int,
) -> dict[str, float]:
    prepared = fast.prepare_model(model.train())
    optimizer = torch.optim.Adam(prepared.parameters(), lr=1e-5)
    grid, features, target = fast.prepare_grid(batch[0]), batch[1], batch[2]
    times = []
    for _ in range(warmup + iters):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with fast.autocast():
            prediction = prepared(grid, features)
        loss = torch.mean(((prediction.float() - target) / target) ** 2)  # the loss stays in float32
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        times.append(time.perf_counter() - start)
    best = min(times[warmup:])  # the least disturbed step: the machine is shared
    return {"first_step_s": times[0], "best_step_s": best, "muons_per_s": len(target) / best}


def _predict(
    model: MuonRegressor, fast: FastPath, grid: torch.Tensor, features: torch.Tensor
) -> torch.Tensor:
    return fast.predict(model, grid, features)


def _time_inference(
    model: MuonRegressor, fast: FastPath, grid: torch.Tensor, features: torch.Tensor, warmup: int, iters: int
) -> dict[str, float]:
    prepared = fast.prepare_model(model.eval())
    times = []
    for _ in range(warmup + iters):
        start = time.perf_counter()
        _predict(prepared, fast, grid, features)  # type: ignore[arg-type]
        times.append(time.perf_counter() - start)
    best = min(times[warmup:])
    return {"first_call_s": times[0], "best_batch_s": best, "muons_per_s": len(grid) / best}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--shards", type=Path, default=next((p for p in CANDIDATES if p.exists()), CANDIDATES[-1])
    )
    parser.add_argument("--batch-size", type=int, default=256, help="plain fp32 batch (default 256)")
    parser.add_argument(
        "--fast-batch-size", type=int, default=64, help="fast-path training batch (default 64)"
    )
    parser.add_argument(
        "--train-iters", type=int, default=2, help="timed training steps per path (default 2)"
    )
    parser.add_argument(
        "--infer-iters", type=int, default=2, help="timed inference batches per path (default 2)"
    )
    parser.add_argument("--warmup", type=int, default=1, help="untimed first iterations (default 1)")
    parser.add_argument("--no-bf16", dest="bf16", action="store_false")
    parser.add_argument(
        "--no-flush-denormal", dest="flush_denormal", action="store_false", help="keep subnormal floats"
    )
    parser.add_argument(
        "--no-inference-head",
        dest="inference_head",
        action="store_false",
        help="predict with the model itself, not the derived inference head",
    )
    parser.add_argument("--channels-last", action="store_true", help="channels-last 3D (off by default)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the fast path (slow to start)")
    parser.add_argument(
        "--inference-batch", type=int, default=32, help="fast-path inference chunk (default 32)"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    n = max(args.batch_size, args.fast_batch_size)
    grid, true_energy = _load(args.shards, n)
    features = torch.randn(n, 28)
    model = build_model()
    with torch.no_grad():
        model.out.bias.fill_(float(true_energy.mean()))

    plain = FastPath(FastPathConfig.off())
    fast_config = FastPathConfig(
        bf16=args.bf16,
        channels_last=args.channels_last,
        compile=args.compile,
        inference_batch=args.inference_batch,
        flush_denormal=args.flush_denormal,
        inference_head=args.inference_head,
    )
    fast = FastPath(fast_config)
    fp32_head = FastPath(dataclasses.replace(fast_config, bf16=False, compile=False))
    b, fb = args.batch_size, args.fast_batch_size
    plain_batch = (grid[:b], features[:b], true_energy[:b])
    fast_batch = (grid[:fb], features[:fb], true_energy[:fb])

    train = {
        "plain": _time_training(copy.deepcopy(model), plain, plain_batch, args.warmup, args.train_iters),
        "fast": _time_training(copy.deepcopy(model), fast, fast_batch, args.warmup, args.train_iters),
    }
    # Inference after one training step, so that the running batch-norm statistics are real.
    trained = copy.deepcopy(model)
    _time_training(trained, plain, plain_batch, 0, 1)
    infer = {
        "plain": _time_inference(
            copy.deepcopy(trained), plain, grid[:b], features[:b], args.warmup, args.infer_iters
        ),
        # The same muons for both: the fast path splits them into chunks of --inference-batch itself.
        "fast": _time_inference(
            copy.deepcopy(trained), fast, grid[:b], features[:b], args.warmup, args.infer_iters
        ),
        # The derived inference head in float32: exact to rounding, for predictions that must not change.
        "fast_fp32": _time_inference(
            copy.deepcopy(trained), fp32_head, grid[:b], features[:b], args.warmup, args.infer_iters
        ),
    }
    reference = _predict(trained.eval(), plain, grid[:b], features[:b])
    eager = FastPath(dataclasses.replace(fast_config, compile=False))  # the same arithmetic, no recompilation
    candidate = _predict(eager.prepare_model(copy.deepcopy(trained).eval()), eager, grid[:b], features[:b])  # type: ignore[arg-type]
    diff = (candidate - reference).abs()
    rel = diff / reference.abs()

    result: dict[str, Any] = {
        "shards": str(args.shards),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "bf16_native": bf16_supported("cpu"),
        "batch_size": {"plain": b, "fast": fb},
        "fast_path": {
            "bf16": args.bf16,
            "channels_last": args.channels_last,
            "compile": args.compile,
            "inference_batch": args.inference_batch,
            "flush_denormal": args.flush_denormal,
            "inference_head": args.inference_head,
        },
        "iterations": {"warmup": args.warmup, "train": args.train_iters, "infer": args.infer_iters},
        "train": train,
        "infer": infer,
        "ratio": {
            "train": train["fast"]["muons_per_s"] / train["plain"]["muons_per_s"],
            "infer": infer["fast"]["muons_per_s"] / infer["plain"]["muons_per_s"],
            "infer_fp32": infer["fast_fp32"]["muons_per_s"] / infer["plain"]["muons_per_s"],
        },
        "prediction_difference": {
            "muons": b,
            "mean_prediction_gev": float(reference.mean()),
            "max_abs_gev": float(diff.max()),
            "median_rel": float(rel.median()),
            "max_rel": float(rel.max()),
            "rms_rel": float(torch.sqrt(torch.mean(diff**2)) / torch.sqrt(torch.mean(reference**2))),
        },
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
