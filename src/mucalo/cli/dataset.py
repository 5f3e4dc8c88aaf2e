"""``mucalo dataset``: build a dataset from shards, export it as a LUMIN fold file, describe either."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mucalo.cli.common import emit_json, handle_errors
from mucalo.data import DatasetConfig, build_dataset, export_lumin, import_lumin, open_dataset

__all__ = ["app"]

_DEFAULTS = DatasetConfig()

app = typer.Typer(
    help="Folds, standardisation statistics and LUMIN fold files (the dataset stage).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.command("build")
@handle_errors
def build(
    shards_dir: Annotated[Path, typer.Argument(help="Shard file or directory of shards, with features.")],
    out: Annotated[Path, typer.Option("--out", help="Dataset directory to create.")],
    n_folds: Annotated[int, typer.Option("--n-folds", help="Number of folds (1 for a test sample).")] = (
        _DEFAULTS.n_folds
    ),
    seed: Annotated[int, typer.Option(help="Seed of the fold assignment.")] = _DEFAULTS.seed,
    holdout_fold: Annotated[
        int | None, typer.Option("--holdout-fold", help="Fold left out of the standardisation statistics.")
    ] = _DEFAULTS.holdout_fold,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing dataset.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Assign the muons of SHARDS_DIR to folds and write a dataset directory."""
    path = build_dataset(
        shards_dir, out, n_folds=n_folds, seed=seed, holdout_fold=holdout_fold, overwrite=overwrite
    )
    dataset = open_dataset(path)
    summary = {
        "out": str(path),
        "n_muons": dataset.n_muons,
        "n_folds": dataset.n_folds,
        "fold_sizes": dataset.fold_sizes,
        "statistics_folds": list(dataset.standardisation.folds),
    }
    if json_output:
        emit_json(summary)
    else:
        typer.echo(f"{dataset.n_muons} muons in {dataset.n_folds} folds written to {path}")


@app.command("export-lumin")
@handle_errors
def export(
    dataset_path: Annotated[Path, typer.Argument(metavar="DATASET", help="Dataset directory or fold file.")],
    out: Annotated[Path, typer.Option("--out", help="LUMIN fold file (.hdf5) to write.")],
    overwrite: Annotated[bool, typer.Option(help="Replace an existing file.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Write DATASET in the LUMIN fold-file layout (standardised features, sparse hits, LZF)."""
    dataset = open_dataset(dataset_path)
    path = export_lumin(dataset, out, overwrite=overwrite)
    if json_output:
        emit_json({"out": str(path), "n_muons": dataset.n_muons, "n_folds": dataset.n_folds})
    else:
        typer.echo(f"{dataset.n_muons} muons in {dataset.n_folds} folds written to {path}")


@app.command("import-lumin")
@handle_errors
def import_command(
    fold_file: Annotated[Path, typer.Argument(metavar="FILE", help="LUMIN fold file (.hdf5).")],
    out: Annotated[Path, typer.Option("--out", help="Dataset directory to create.")],
    overwrite: Annotated[bool, typer.Option(help="Replace an existing dataset.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Copy a LUMIN fold file into a dataset directory (same folds; fast random access for training)."""
    path = import_lumin(fold_file, out, overwrite=overwrite)
    dataset = open_dataset(path)
    if json_output:
        emit_json({"out": str(path), "n_muons": dataset.n_muons, "n_folds": dataset.n_folds})
    else:
        typer.echo(f"{dataset.n_muons} muons in {dataset.n_folds} folds written to {path}")


@app.command("info")
@handle_errors
def info(
    path: Annotated[Path, typer.Argument(help="Dataset directory or LUMIN fold file.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Folds, sizes, feature names and per-fold sums (targets, features, hit energies, hits)."""
    summary = open_dataset(path).info()
    if json_output:
        emit_json(summary)
        return
    for line in _describe(summary):
        typer.echo(line)


def _describe(summary: dict[str, Any]) -> list[str]:
    lines = [
        f"{summary['path']}: {summary['format']}, {summary['n_muons']} muons in {summary['n_folds']} folds, "
        f"grid {summary['grid_shape']}",
        f"features ({len(summary['feature_names'])}): {', '.join(summary['feature_names'])}",
        "features stored "
        + ("standardised (by the file's writer)" if summary["features_prestandardised"] else "raw")
        + (
            f"; statistics from folds {summary['standardisation']['folds']}"
            if summary["standardisation"]["folds"]
            else ""
        ),
        f"{'fold':>4} {'muons':>8} {'sum target GeV':>16} {'sum features':>14} "
        f"{'sum hit E GeV':>15} {'hits':>12}",
    ]
    for fold in summary["folds"]:
        lines.append(
            f"{fold['fold']:>4} {fold['n_muons']:>8} {fold['target_sum']:>16.6g} "
            f"{sum(fold['feature_sums']):>14.6g} {fold['hit_energy_sum']:>15.6g} {fold['n_hits']:>12}"
        )
    return lines
