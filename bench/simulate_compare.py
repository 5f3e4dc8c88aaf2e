"""Fast-simulation speed of two checkouts, interleaved on one core (a VM's speed drifts by ±10 %).

Usage::

    git worktree add /tmp/before <commit>
    python bench/simulate_compare.py /tmp/before/src [--energies 50,100,1000] [--muons 1000] [--rounds 6]

One persistent worker per checkout (this one and the ``src`` directory given) loads its backend once;
the script then asks them in turn for ``--muons`` muons at each energy, alternating which goes first,
never both at once. Prints one JSON object: per checkout and energy the minimum and median CPU µs per
muon over the rounds and the mean deposit, and the ratios this/other of minima and medians. The
samples differ (each checkout draws its own showers), so compare rounds of ≥ 1,000 muons.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def worker() -> None:
    """Answer 'ENERGY N' lines with the CPU seconds and deposit of N fresh muons at ENERGY GeV."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import numpy as np

    from mucalo.detector import Detector
    from mucalo.simulation.fast import FastBackend, FastSimConfig

    backend = FastBackend(Detector(), FastSimConfig())
    rng = np.random.default_rng(11)

    def run(energy: float, n: int) -> tuple[float, float]:
        seeds = rng.integers(0, 2**63, n, dtype=np.uint64)
        x0, y0 = rng.uniform(-20, 20, n), rng.uniform(-20, 20, n)
        charge = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8)
        start = time.process_time()
        muons = backend.simulate(
            true_energy=np.full(n, energy), charge=charge, x0=x0, y0=y0, start_z_mm=-50.0, seed=seeds
        )
        return time.process_time() - start, float(muons.energy.astype(np.float64).sum())

    run(100.0, 5)  # load the compiled kernels
    print("ready", flush=True)
    for line in sys.stdin:
        energy, n = line.split()
        seconds, deposit = run(float(energy), int(n))
        print(json.dumps({"cpu_s": seconds, "deposit_gev": deposit}), flush=True)


def _start(src: Path | None) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    command = [sys.executable, __file__, "--worker"]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        msg = f"the worker for {src or 'this checkout'} did not start"
        raise SystemExit(msg)
    return process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other_src", type=Path, nargs="?", help="the other checkout's src directory")
    parser.add_argument("--energies", default="50,100,1000", help="comma-separated GeV")
    parser.add_argument("--muons", type=int, default=1000, help="muons per energy and round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker()
        return
    if args.other_src is None or not (args.other_src / "mucalo").is_dir():
        msg = f"other_src: expected a checkout's src directory holding mucalo/, got {args.other_src}"
        raise SystemExit(msg)
    energies = [float(e) for e in args.energies.split(",")]
    workers = {"this": _start(None), "other": _start(args.other_src.resolve())}
    times: dict[str, dict[float, list[float]]] = {k: {e: [] for e in energies} for k in workers}
    deposits: dict[str, dict[float, float]] = {k: dict.fromkeys(energies, 0.0) for k in workers}
    for round_ in range(args.rounds):
        for energy in energies:
            for name in ("this", "other") if round_ % 2 == 0 else ("other", "this"):
                process = workers[name]
                assert process.stdin is not None
                assert process.stdout is not None
                process.stdin.write(f"{energy} {args.muons}\n")
                process.stdin.flush()
                answer = json.loads(process.stdout.readline())
                times[name][energy].append(1e6 * answer["cpu_s"] / args.muons)
                deposits[name][energy] += answer["deposit_gev"] / (args.muons * args.rounds)
    for process in workers.values():
        assert process.stdin is not None
        process.stdin.close()
        process.wait()
    result: dict[str, object] = {"other_src": str(args.other_src), "muons": args.muons, "rounds": args.rounds}
    for name in workers:
        result[name] = {
            f"{e:g}": {
                "min_us_per_muon": min(times[name][e]),
                "median_us_per_muon": statistics.median(times[name][e]),
                "mean_deposit_gev": deposits[name][e],
            }
            for e in energies
        }
    result["this_over_other"] = {
        f"{e:g}": {
            "min": min(times["this"][e]) / min(times["other"][e]),
            "median": statistics.median(times["this"][e]) / statistics.median(times["other"][e]),
        }
        for e in energies
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
