"""``mucalo model``: describe the regressors (block table, parameter counts)."""

from __future__ import annotations

from typing import Annotated

import typer

from mucalo.cli.common import emit_json, handle_errors
from mucalo.config import config_to_dict
from mucalo.models import ABLATIONS, build_named, expected_parameters, model_names, summarize

__all__ = ["app", "summary"]

app = typer.Typer(help="Describe the regressors.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Describe the regressors (a group, so that ``summary`` stays a sub-command on its own)."""


@app.command("summary")
@handle_errors
def summary(
    model: Annotated[str, typer.Option("--model", help=f"Model: {' | '.join(model_names())}.")] = "hybrid",
    ablation: Annotated[
        str | None, typer.Option("--ablation", help=f"Table 4 ablation: {' | '.join(ABLATIONS)}.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Blocks with output shapes and trainable parameters, and the total."""
    regressor = build_named(model, ablation)
    result = summarize(regressor)
    expected = expected_parameters(model, ablation)
    if json_output:
        emit_json(
            {
                "model": model,
                "ablation": ablation,
                "config": config_to_dict(regressor.config),
                **result.to_dict(),
                "expected_parameters": expected,
            }
        )
        return
    typer.echo(result.format_table())
    if expected is not None:
        verdict = "matches" if expected == result.trainable_parameters else "DIFFERS from"
        typer.echo(f"{verdict} the expected {expected:,}")
