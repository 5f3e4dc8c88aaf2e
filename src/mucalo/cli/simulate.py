"""``mucalo simulate`` and ``mucalo info``: make shards, and describe a shard set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from mucalo.cli.common import emit_json, handle_errors, load_section
from mucalo.io.shards import ShardSet
from mucalo.simulation import SimulationConfig, simulate
from mucalo.simulation.scaleout import dask_executor

__all__ = ["info", "simulate_command"]


@handle_errors
def simulate_command(
    out: Annotated[Path, typer.Option("--out", help="Directory of the shards.")],
    n_muons: Annotated[int | None, typer.Option("--n-muons", help="Muons to simulate.")] = None,
    energy: Annotated[
        str | None, typer.Option("--energy", help="Spectrum: 'uniform:LO:HI' or 'fixed:E1,E2,...' GeV.")
    ] = None,
    backend: Annotated[str | None, typer.Option(help="fast | geant4 | auto.")] = None,
    workers: Annotated[int | None, typer.Option(help="Local worker processes.")] = None,
    seed: Annotated[int | None, typer.Option(help="Run seed.")] = None,
    muons_per_shard: Annotated[int | None, typer.Option("--muons-per-shard")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML file (simulation: section).")] = None,
    preset: Annotated[str | None, typer.Option(help="Shipped preset name or YAML path.")] = None,
    sets: Annotated[list[str] | None, typer.Option("--set", help="Override: key.path=value.")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address ('local' starts a local cluster).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Simulate muons into HDF5 shards (one per job; a rerun skips complete shards)."""
    cli_values: dict[str, Any] = {
        "n_muons": n_muons,
        "backend": backend,
        "workers": workers,
        "seed": seed,
        "muons_per_shard": muons_per_shard,
        "gun.spectrum": energy,
    }
    cfg = load_section(
        SimulationConfig,
        "simulation",
        preset=preset,
        config_file=config,
        sets=sets or (),
        cli_values=cli_values,
    )
    if scheduler is not None:
        with dask_executor(scheduler, n_workers=cfg.workers) as executor:
            result = simulate(cfg, out, progress=not json_output, executor=executor)
    else:
        result = simulate(cfg, out, progress=not json_output)
    summary = {
        "out": str(result.out_dir),
        "shards": [str(p) for p in result.shards],
        "simulated": result.simulated,
        "skipped": result.skipped,
        "n_muons": cfg.n_muons,
        "seconds": round(result.seconds, 3),
    }
    if json_output:
        emit_json(summary)
    else:
        typer.echo(
            f"{cfg.n_muons} muons in {len(result.shards)} shards in {result.out_dir} "
            f"({result.simulated} simulated, {result.skipped} already complete, {result.seconds:.1f} s)"
        )


def shard_summary(shards: ShardSet) -> dict[str, Any]:
    """Muon count, energy range, hits per muon, features and detector of a shard set."""
    truth = shards.truth()
    energy = truth["true_energy"].astype(np.float64)
    counts = np.concatenate([np.diff(s.offsets) for s in shards.shards])
    return {
        "files": [str(p) for p in shards.files],
        "n_muons": shards.n_muons,
        "energy_min_gev": float(energy.min()) if energy.size else None,
        "energy_max_gev": float(energy.max()) if energy.size else None,
        "distinct_energies": int(np.unique(energy).size),
        "mean_hits_per_muon": float(counts.mean()) if counts.size else 0.0,
        "mu_plus_fraction": float(np.mean(truth["charge"] > 0)) if energy.size else None,
        "has_features": shards.has_features,
        "detector": shards.detector.to_dict(),
        "backend": shards.shards[0].simulation.get("backend", shards.shards[0].simulation.get("code")),
    }


@handle_errors
def info(
    shards: Annotated[Path, typer.Argument(help="A shard file or a directory of shards.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Print the muon count, energy range, mean hits per muon and detector of a shard set."""
    summary = shard_summary(ShardSet(shards))
    if json_output:
        emit_json(summary)
        return
    det = summary["detector"]
    typer.echo(f"{len(summary['files'])} shard(s), {summary['n_muons']} muons ({summary['backend']})")
    typer.echo(
        f"true energy {summary['energy_min_gev']:.1f}–{summary['energy_max_gev']:.1f} GeV "
        f"({summary['distinct_energies']} distinct), μ+ fraction {summary['mu_plus_fraction']:.3f}"
    )
    typer.echo(f"mean hits per muon {summary['mean_hits_per_muon']:.1f}; features: {summary['has_features']}")
    typer.echo(
        f"detector: {det['n_layers']}×{det['n_cells_x']}×{det['n_cells_y']} cells, layers "
        f"{det['layer_depth_mm']} mm, cells {det['cell_size_mm']} mm, {det['material']}, "
        f"B = {det['field_t']} T"
    )
