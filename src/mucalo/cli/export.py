"""``mucalo export RUN --format onnx|torchscript [--model M] --out FILE``, parity checked (issue 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mucalo.cli.common import emit_json, handle_errors
from mucalo.errors import ConfigError
from mucalo.evaluation.run_export import EXPORT_FORMATS, export_run

__all__ = ["export"]


@handle_errors
def export(
    run: Annotated[Path, typer.Argument(help="Run directory written by `mucalo train`.")],
    out: Annotated[Path, typer.Option("--out", help="File to write (.onnx or .pt); FILE.json beside it.")],
    export_format: Annotated[str, typer.Option("--format", help=f"{' | '.join(EXPORT_FORMATS)}.")] = "onnx",
    model: Annotated[
        int | None, typer.Option("--model", help="Model number m of model_m (default: the whole ensemble).")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="Muons for the parity check: dataset, LUMIN file or shards (default: the run's)."
        ),
    ] = None,
    n_muons: Annotated[int, typer.Option("--n-muons", help="Muons in the parity check.")] = 32,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Export the ensemble (or one model) of RUN and check the file against torch on real muons."""
    if export_format not in EXPORT_FORMATS:
        msg = f"--format: expected one of {list(EXPORT_FORMATS)}, got {export_format!r}"
        raise ConfigError(msg)
    result = export_run(
        run,
        out=out,
        export_format="onnx" if export_format == "onnx" else "torchscript",
        model=model,
        data=data,
        n_muons=n_muons,
        overwrite=overwrite,
    )
    parity = result["parity"]
    if json_output:
        emit_json(result)
    else:
        typer.echo(
            f"{result['model']} → {result['out']} ({result['format']}); parity on {result['n_muons']} muons: "
            f"max relative difference {parity['max_rel_diff']:.2e} (rtol {parity['rtol']:g}), "
            f"{'ok' if parity['ok'] else 'FAILED'}"
        )
    if not parity["ok"]:
        typer.echo(f"error: {result['out']}: the exported model disagrees with torch beyond rtol", err=True)
        raise typer.Exit(1)
