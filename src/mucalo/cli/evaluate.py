"""``mucalo evaluate RUN --data DATASET [--test TESTSET] [--compare RUN2 ...] --out DIR`` (paper §4, §7).

Config precedence: the :class:`~mucalo.evaluation.EvaluationConfig` defaults (the paper's binning and
bootstrap) ← ``--preset`` (a YAML file with an ``evaluation:`` section) ← ``--set key=value``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from mucalo.cli.common import emit_json, handle_errors, load_section
from mucalo.evaluation import HEADLINE_KEYS, EvaluationConfig
from mucalo.evaluation.runs import evaluate_run

__all__ = ["evaluate", "headline_summary"]

_SHOWN = ("mean_improvement", "worst_combined_resolution", "resolution_at_1tev", "resolution_at_3tev")


def headline_summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of ``metrics.json`` per data set and label (no curves), for ``--json``."""
    summary: dict[str, Any] = {}
    for where in ("validation", "test"):
        block = metrics.get(where)
        if not block:
            continue
        summary[where] = {
            label: {
                **{key: values.get(key) for key in HEADLINE_KEYS},
                **{f"{key}_err": values.get(f"{key}_err") for key in HEADLINE_KEYS},
                "bias_fit": values.get("bias_fit"),
                "n_events": values.get("n_events"),
                "error": values.get("error"),
            }
            for label, values in block.items()
        }
    return summary


def _number(value: Any) -> str:
    return "—" if value is None or not math.isfinite(float(value)) else f"{float(value):.2f}"


@handle_errors
def evaluate(
    run: Annotated[Path, typer.Argument(help="Run directory written by `mucalo train`.")],
    data: Annotated[
        Path,
        typer.Option(
            "--data", help="Validation dataset or LUMIN file; the training data's hold-out fold is used."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Directory for metrics, figures and report.html.")],
    test: Annotated[
        Path | None,
        typer.Option("--test", help="Fixed-energy test dataset (bias correction applied as fitted)."),
    ] = None,
    compare: Annotated[
        list[Path] | None,
        typer.Option("--compare", help="Another run to compare on the same data (repeat for several)."),
    ] = None,
    bootstrap: Annotated[
        int | None,
        typer.Option("--bootstrap", help="Resamples for the uncertainties (default: metric_bootstrap)."),
    ] = None,
    importance: Annotated[
        bool, typer.Option("--importance/--no-importance", help="Permutation importance of the features.")
    ] = True,
    importance_events: Annotated[
        int, typer.Option("--importance-events", help="Muons (subsample) for the importance.")
    ] = 2000,
    event_displays: Annotated[
        int, typer.Option("--event-displays", help="Single-muon event displays (Fig. 2).")
    ] = 3,
    preset: Annotated[
        str | None, typer.Option("--preset", help="YAML file with an `evaluation:` section.")
    ] = None,
    sets: Annotated[
        list[str] | None, typer.Option("--set", help="Override: key=value (e.g. fit_bootstrap=1000).")
    ] = None,
    device: Annotated[str, typer.Option("--device", help="cpu | cuda | cuda:N.")] = "cpu",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Muons per forward pass.")] = 256,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an earlier evaluation.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Evaluate RUN on DATASET (and TESTSET): metrics.json, figures and report.html in --out."""
    config = load_section(EvaluationConfig, "evaluation", preset=preset, sets=sets or ())
    metrics = evaluate_run(
        run,
        data,
        out=out,
        test=test,
        compare=compare or (),
        config=config,
        n_bootstrap=bootstrap,
        importance=importance,
        importance_events=importance_events,
        event_displays=event_displays,
        batch_size=batch_size,
        device=device,
        overwrite=overwrite,
        progress=not json_output,
    )
    files = {
        key: str(out / value) if key != "bias_correction" else value
        for key, value in metrics["files"].items()
    }
    if json_output:
        emit_json(
            {
                "out": str(out),
                "files": files,
                "validation_set": metrics["validation_set"],
                **headline_summary(metrics),
                "comparison": metrics["comparison"],
            }
        )
        return
    for where in ("validation", "test"):
        block = metrics.get(where)
        if not block:
            continue
        ensemble = block["ensemble"]
        numbers = ", ".join(f"{key} {_number(ensemble.get(key))} %" for key in _SHOWN)
        typer.echo(f"{where} (ensemble): {numbers}")
    typer.echo(f"report: {files['report']}; bias correction stored in {files['bias_correction']}")
