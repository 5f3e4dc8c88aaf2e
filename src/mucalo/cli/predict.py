"""``mucalo predict RUN INPUT --out FILE``: energies of new muons with a trained run (issue 9)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mucalo.cli.common import emit_json, handle_errors
from mucalo.evaluation.predict import predict_run

__all__ = ["predict"]


@handle_errors
def predict(
    run: Annotated[Path, typer.Argument(help="Run directory written by `mucalo train`.")],
    input_path: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT", help="Shard file or directory, LUMIN fold file, or mucalo dataset directory."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output file: .h5 / .hdf5 or .csv.")],
    device: Annotated[str, typer.Option("--device", help="cpu | cuda | cuda:N.")] = "cpu",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Muons per forward pass.")] = 256,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Raw and bias-corrected ensemble energies, their spread and each model's, per muon of INPUT."""
    summary = predict_run(run, input_path, out, batch_size=batch_size, device=device, overwrite=overwrite)
    if json_output:
        emit_json(summary)
        return
    typer.echo(
        f"{summary['n_muons']} muons from {summary['input']} ({summary['input_kind']}) → {summary['out']}"
    )
    if not summary["bias_corrected"]:
        typer.echo(f"note: {summary['note']}", err=True)
