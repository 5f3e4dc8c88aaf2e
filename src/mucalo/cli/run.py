"""``mucalo run``: the whole study (simulate → features → dataset → train → evaluate) in one command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mucalo.cli.common import emit_json, handle_errors
from mucalo.config import apply_overrides, from_dict, list_presets, load_preset
from mucalo.pipeline import PipelineConfig, run_pipeline

__all__ = ["load_pipeline_config", "run"]


@handle_errors
def run(
    out: Annotated[Path, typer.Option("--out", help="Output directory (a rerun continues in it).")],
    preset: Annotated[
        str, typer.Option(help=f"Shipped preset ({', '.join(list_presets())}) or a YAML path.")
    ] = "quick",
    sets: Annotated[list[str] | None, typer.Option("--set", help="Override: section.key=value.")] = None,
    device: Annotated[str | None, typer.Option(help="Training device: cpu, cuda, cuda:N.")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler for simulation/features ('local' or an address).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run the whole study with a preset; stages already done are skipped on a rerun."""
    config = load_pipeline_config(preset, sets or [], device=device)
    summary = run_pipeline(config, out, progress=not json_output, scheduler=scheduler)
    if json_output:
        emit_json(summary)
    else:
        typer.echo(f"report: {summary['report']}")
        typer.echo(f"metrics: {summary['metrics']}")


def load_pipeline_config(preset: str, sets: list[str], *, device: str | None = None) -> PipelineConfig:
    """A preset with ``--set section.key=value`` overrides (and the device) applied, validated."""
    data, source = load_preset(preset)
    data = apply_overrides(data, sets)
    if device is not None:
        data["device"] = device
    return from_dict(PipelineConfig, data, where=source)
