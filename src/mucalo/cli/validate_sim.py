"""``mucalo validate-sim``: compare simulated shards with a reference (Geant4) shard set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mucalo.cli.common import emit_json, handle_errors

__all__ = ["validate_sim"]


@handle_errors
def validate_sim(
    shards: Annotated[Path, typer.Argument(help="Shard file or directory to validate.")],
    reference: Annotated[
        Path, typer.Option("--reference", help="Reference shards (e.g. ../g4ref/fixed.h5).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Directory for validation.md, .json and plots.")],
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the figures.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Compare SHARDS with the reference at matching energies; write a table, JSON and plots."""
    from mucalo.simulation.validate import compare

    report = compare(shards, reference, out, plots=not no_plots)
    if json_output:
        emit_json(
            {
                "out": str(out),
                "passed": report["passed"],
                "groups": [
                    {"label": g["label"], "ratio": g["ratio"], "within_target": g["within_target"]}
                    for g in report["groups"]
                ],
            }
        )
    else:
        typer.echo(report["markdown"])
