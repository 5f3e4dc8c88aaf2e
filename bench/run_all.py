"""Run every benchmark under bench/ and collect their JSON into bench/results.json.

Each benchmark prints one JSON object on stdout; this script runs them one after the other (never in
parallel: they time the same cores), with small default sizes so the whole set takes a few minutes.

    python bench/run_all.py [--only simulate features loader model] [--out bench/results.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: benchmark → extra arguments (sizes chosen for minutes, not hours)
BENCHMARKS: dict[str, list[str]] = {
    "simulate": ["--muons", "1000"],
    "features": ["--seconds", "1"],
    "loader": ["--batches", "12"],
    # the baseline: plain fp32 at batch 256 against the fast path at its own batch (64)
    "model": ["--train-iters", "2", "--infer-iters", "4", "--batch-size", "256", "--fast-batch-size", "64"],
}


def run(name: str, args: list[str]) -> dict[str, object]:
    """Run one benchmark and return its JSON (or the error it died with)."""
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(HERE / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    seconds = round(time.perf_counter() - start, 1)
    if result.returncode != 0:
        return {"error": result.stderr[-2000:], "returncode": result.returncode, "seconds": seconds}
    return {"result": json.loads(result.stdout), "seconds": seconds, "args": args}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), help="benchmarks to run")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    options = parser.parse_args()
    names = options.only or list(BENCHMARKS)
    results: dict[str, object] = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    for name in names:
        print(f"running bench/{name}.py ...", file=sys.stderr)
        entry = run(name, BENCHMARKS[name])
        entry["created"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        results[name] = entry
    if options.only and options.out.exists():  # a partial run updates its entries, keeps the others
        earlier = json.loads(options.out.read_text(encoding="utf-8"))
        results = {**earlier, **results}
    options.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
