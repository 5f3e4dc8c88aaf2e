"""Make the small Geant4 fixtures of tests/data from ../shared/g4ref (run once; the outputs are committed).

g4ref_small.h5: the first 10 muons of each energy (100, 1000, 4000, 8000 GeV) of fixed.h5.
g4ref_uniform_small.h5: the first 120 muons of uniform.h5.
g4ref_fixed_headline.json: the headline numbers of all of fixed.h5 (200 muons per energy) with their
bootstrap standard deviations, as ``mucalo validate-sim`` computes them: the yardstick of the fast
simulation's small-sample test (10 muons cannot pin down an 84 % quantile at 8 TeV).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from mucalo.io.shards import Shard, write_shard
from mucalo.simulation.validate import compare


def subset(source: Path, index: np.ndarray, out: Path) -> None:
    shard = Shard(source)
    truth = {k: v[index] for k, v in shard.truth().items()}
    offsets, cells, energies = [0], [], []
    for i in index:
        _, cell, energy = shard.hits(int(i), int(i) + 1)
        cells.append(cell)
        energies.append(energy)
        offsets.append(offsets[-1] + cell.size)
    simulation = dict(shard.simulation)
    simulation["subset_of"] = {"file": source.name, "muons": [int(i) for i in index]}
    write_shard(
        out,
        truth=truth,
        offsets=np.asarray(offsets),
        cell=np.concatenate(cells),
        energy=np.concatenate(energies),
        detector=shard.detector,
        simulation=json.loads(json.dumps(simulation)),
    )


def main(g4ref: Path) -> None:
    here = Path(__file__).parent
    fixed_index = np.concatenate([np.arange(10) + 200 * k for k in range(4)])
    subset(g4ref / "fixed.h5", fixed_index, here / "g4ref_small.h5")
    subset(g4ref / "uniform.h5", np.arange(120), here / "g4ref_uniform_small.h5")
    headline(g4ref / "fixed.h5", here / "g4ref_fixed_headline.json")


def headline(source: Path, out: Path) -> None:
    report = compare(source, source, plots=False)
    groups = {
        g["label"]: {"reference": g["reference"], "sigma_reference": g["sigma_reference"]}
        for g in report["groups"]
    }
    out.write_text(json.dumps({"source": source.name, "groups": groups}, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[3] / "shared" / "g4ref")
