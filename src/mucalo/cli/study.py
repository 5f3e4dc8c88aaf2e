"""``mucalo study``: the paper's studies (Tables 1–4, §7.3, §7.5, Fig. 13) at a chosen scale.

Each study trains the nominal configuration and every variant of its table (unique-fold training, N
models each) into ``OUT/runs/<key>/``, skipping finished runs, then writes ``OUT/<study>.md`` (the
table, ours beside the paper's), ``OUT/<study>.json`` and figures in ``OUT/figures/``. ``--list`` prints
the run keys, one per line, to farm them out (one cluster job per ``--only KEY --train-only``; then
``--report-only``). Several processes may work on the same OUT at once: each run is locked while
trained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mucalo.cli.common import emit_json, handle_errors
from mucalo.errors import ConfigError
from mucalo.studies import SCALES, run_study, study_names, study_runs

__all__ = ["study"]


@handle_errors
def study(
    name: Annotated[str, typer.Argument(help=f"{' | '.join(study_names())} | all.")],
    dataset: Annotated[
        Path, typer.Argument(help="Dataset directory or LUMIN fold file (with a hold-out fold).")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="Study directory (a rerun continues in it).")
    ] = None,
    scale: Annotated[str, typer.Option("--scale", help=f"{' | '.join(SCALES)}.")] = "quick",
    n_models: Annotated[int, typer.Option("--n-models", help="Models per run (unique-fold).")] = 5,
    resume: Annotated[bool, typer.Option("--resume", help="Continue unfinished runs.")] = False,
    device: Annotated[str, typer.Option("--device", help="cpu | cuda | cuda:N.")] = "cpu",
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Train only this run key or variant (repeatable); see --list."),
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", help="Runs trained at once in separate processes.")] = 1,
    train_only: Annotated[bool, typer.Option("--train-only", help="Train, write no tables.")] = False,
    report_only: Annotated[
        bool, typer.Option("--report-only", help="Write the tables from finished runs; train nothing.")
    ] = False,
    no_figures: Annotated[bool, typer.Option("--no-figures", help="Skip the figures.")] = False,
    list_runs: Annotated[bool, typer.Option("--list", help="Print the study's run keys and exit.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run a study of the paper: train its runs that are not finished, then write its table."""
    if list_runs:
        for spec in study_runs(name, only=only or ()):
            typer.echo(spec.key)
        return
    if out is None:
        msg = "study: --out DIR is required"
        raise ConfigError(msg)
    if train_only and report_only:
        msg = "study: --train-only and --report-only exclude each other"
        raise ConfigError(msg)
    summary = run_study(
        name,
        dataset,
        out,
        scale=scale,
        n_models=n_models,
        resume=resume,
        device=device,
        only=only or (),
        train=not report_only,
        report=not train_only,
        jobs=jobs,
        progress=not json_output,
        figures=not no_figures,
    )
    if json_output:
        emit_json(summary.to_dict())
        return
    for outcome in summary.outcomes:
        typer.echo(f"{outcome.key}: {outcome.status} ({outcome.seconds:.0f} s)")
    for report in summary.reports:
        pending = f", pending: {', '.join(report.pending)}" if report.pending else ""
        typer.echo(f"{report.study}: {report.markdown_path}{pending}")
