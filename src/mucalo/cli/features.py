"""``mucalo features DIR``: add the 28 high-level features to every shard of a directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mucalo.features.storage import compute_directory

__all__ = ["features"]


def features(
    directory: Annotated[Path, typer.Argument(help="Directory of shards (*.h5), or one shard file.")],
    workers: Annotated[
        int, typer.Option("--workers", "-j", min=1, help="Shards computed at once, one process each.")
    ] = 1,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Recompute shards that already have features.")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (shards, muons, seconds) on stdout.")
    ] = False,
) -> None:
    """Add /features/values (28 high-level features per muon) to each shard; shards done are skipped."""
    summary = compute_directory(directory, workers=workers, overwrite=overwrite, progress=not json_output)
    if json_output:
        typer.echo(json.dumps(summary.to_dict()))
        return
    typer.echo(
        f"features: {len(summary.computed)} shard(s) computed ({summary.n_muons} muons, "
        f"{summary.seconds:.1f} s), {len(summary.skipped)} already done",
        err=True,
    )
