"""The ``mucalo`` command: one verb per pipeline stage, plus the end-to-end ``run``."""

from __future__ import annotations

from typing import Annotated

import typer

from mucalo import __version__
from mucalo.cli import dataset as dataset_cli
from mucalo.cli import evaluate as evaluate_cli
from mucalo.cli import export as export_cli
from mucalo.cli import features as features_cli
from mucalo.cli import model as model_cli
from mucalo.cli import predict as predict_cli
from mucalo.cli import run as run_cli
from mucalo.cli import simulate as simulate_cli
from mucalo.cli import study as study_cli
from mucalo.cli import train as train_cli
from mucalo.cli import validate_sim as validate_sim_cli
from mucalo.cli.common import handle_errors, setup_logging

__all__ = ["app", "main"]

app = typer.Typer(
    name="mucalo",
    help="Calorimetric measurement of multi-TeV muons via deep regression (EPJC 82:79, 2022).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mucalo {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    verbose: Annotated[int, typer.Option("-v", "--verbose", count=True, help="More logging.")] = 0,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Warnings and errors only.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    setup_logging(verbose, quiet=quiet)


app.command("simulate")(simulate_cli.simulate_command)
app.command("info")(simulate_cli.info)
app.command("features")(handle_errors(features_cli.features))
app.command("train")(train_cli.train)
app.command("lr-find")(train_cli.lr_find)
app.add_typer(model_cli.app, name="model", help="Model architecture: summary and parameter counts.")
app.command("evaluate")(evaluate_cli.evaluate)
app.command("run")(run_cli.run)
app.command("predict")(predict_cli.predict)
app.command("export")(export_cli.export)
app.command("study")(study_cli.study)
app.command("validate-sim")(validate_sim_cli.validate_sim)
app.add_typer(dataset_cli.app, name="dataset", help="Build, inspect and convert datasets (folds).")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
