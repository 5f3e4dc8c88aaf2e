"""``mucalo train`` and ``mucalo lr-find``: train an ensemble into a run directory, or probe the LR.

Config precedence: code defaults ← ``--preset`` (``quick``, ``paper`` or a YAML file with a ``train:``
section) ← the options below ← ``--set key.path=value``. ``--ablation NAME`` applies one named switch
from the paper's ablation tables: a model ablation (Table 4, e.g. ``no-se``), a loss ablation (Table 2,
e.g. ``single-bin``) or ``constant-lr`` (§7.3: LR 1e-4 and β1 fixed). Data-parallel: run the same
command under ``torchrun --nproc-per-node N -m mucalo.cli.main train ...``.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path
from typing import Annotated, Any

import torch
import typer

from mucalo.cli.common import emit_json, handle_errors
from mucalo.data import open_dataset
from mucalo.errors import ConfigError
from mucalo.models import ABLATIONS, ModelConfig, build_model
from mucalo.training import (
    LOSS_ABLATIONS,
    DistInfo,
    TrainConfig,
    close_distributed,
    load_train_config,
    loss_ablation,
    lr_range_test,
    model_config_for,
    plan_folds,
    resume_run,
    train_run,
)

__all__ = ["TRAINING_ABLATIONS", "lr_find", "train"]

log = logging.getLogger("mucalo")

#: Training-schedule ablations (paper §7.3): name → overrides of the train config.
TRAINING_ABLATIONS: dict[str, dict[str, Any]] = {
    "constant-lr": {"schedule.kind": "constant", "schedule.lr": 1e-4},
}


@handle_errors
def train(
    dataset: Annotated[
        Path | None, typer.Argument(help="Dataset directory or LUMIN fold file (optional with --resume).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Run directory to create.")] = None,
    model: Annotated[str, typer.Option("--model", help="hybrid | cnn | hl.")] = "hybrid",
    ablation: Annotated[
        str | None,
        typer.Option("--ablation", help="Model (Table 4), loss (Table 2) or 'constant-lr' ablation."),
    ] = None,
    n_models: Annotated[int | None, typer.Option("--n-models", help="Models in the ensemble.")] = None,
    strategy: Annotated[str | None, typer.Option("--strategy", help="all-fold | unique-fold.")] = None,
    preset: Annotated[str, typer.Option("--preset", help="quick | paper | a YAML file.")] = "quick",
    epochs: Annotated[
        int | None, typer.Option("--epochs", help="Maximum epochs (schedule.max_epochs).")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Muons per step (all ranks).")
    ] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Peak LR (authors 5e-3; paper text 3e-5).")] = None,
    features: Annotated[
        str | None, typer.Option("--features", help="Comma-separated feature columns (default: all).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Base seed (model m uses seed + m).")] = None,
    device: Annotated[str, typer.Option("--device", help="cpu | cuda | cuda:N.")] = "cpu",
    bf16: Annotated[bool | None, typer.Option("--bf16/--no-bf16", help="bfloat16 autocast.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Data-loader processes.")] = None,
    sets: Annotated[list[str] | None, typer.Option("--set", help="Override: key.path=value.")] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue this run directory.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Train N models with the paper's loss and schedule on DATASET into --out (or continue --resume)."""
    dist = DistInfo.from_env()
    if not dist.is_main:
        logging.getLogger("mucalo").setLevel(logging.WARNING)
    handler: logging.Handler | None = None
    try:
        if resume is not None:
            handler = _log_to(resume / "train.log", dist)
            summary = resume_run(resume, dataset=dataset, device=device, progress=not json_output)
        else:
            if dataset is None or out is None:
                msg = "train: give DATASET and --out, or --resume RUN"
                raise ConfigError(msg)
            overrides: dict[str, Any] = {
                "folds.n_models": n_models,
                "folds.strategy": strategy,
                "schedule.max_epochs": epochs,
                "batch_size": batch_size,
                "schedule.lr": lr,
                "seed": seed,
                "bf16": bf16,
                "workers": workers,
                "feature_columns": None if features is None else [f.strip() for f in features.split(",")],
            }
            overrides = {k: v for k, v in overrides.items() if v is not None}
            config = load_train_config(preset, overrides=overrides, sets=sets or ())
            data = open_dataset(dataset)
            config, model_config = _apply_ablation(config, model, ablation, data)
            if dist.is_main:
                _prepare_out(out, overwrite=overwrite)
            handler = _log_to(out / "train.log", dist)
            summary = train_run(
                data, out, config=config, model_config=model_config, device=device, progress=not json_output
            )
    finally:
        if handler is not None:
            logging.getLogger("mucalo").removeHandler(handler)
            handler.close()
        close_distributed()
    if not dist.is_main:
        return
    result = summary.to_dict()
    if json_output:
        emit_json(result)
        return
    for fit in result["models"]:
        mean_improvement = fit["mean_improvement"]
        mi = "n/a" if mean_improvement is None else f"{mean_improvement:.2f} %"
        typer.echo(
            f"model {fit['model']}: best monitoring loss {fit['best_val_loss']:.5g} at epoch "
            f"{fit['best_epoch']} of {fit['epochs']} ({fit['stop_reason']}), MI {mi}"
        )
    typer.echo(f"ensemble weights {[round(w, 4) for w in result['weights']]}; run in {result['run']}")


@handle_errors
def lr_find(
    dataset: Annotated[Path, typer.Argument(help="Dataset directory or LUMIN fold file.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Directory for the curve (JSON, CSV, PNG).")
    ] = None,
    model: Annotated[str, typer.Option("--model", help="hybrid | cnn | hl.")] = "hybrid",
    ablation: Annotated[str | None, typer.Option("--ablation", help="As for train.")] = None,
    preset: Annotated[str, typer.Option("--preset", help="quick | paper | a YAML file.")] = "quick",
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Muons per step.")] = None,
    lr_min: Annotated[float, typer.Option("--lr-min", help="First LR.")] = 1e-7,
    lr_max: Annotated[float, typer.Option("--lr-max", help="Last LR.")] = 10.0,
    n_steps: Annotated[int, typer.Option("--steps", help="Optimiser steps.")] = 100,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed.")] = None,
    device: Annotated[str, typer.Option("--device", help="cpu | cuda | cuda:N.")] = "cpu",
    sets: Annotated[list[str] | None, typer.Option("--set", help="Override: key.path=value.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """LR range test: the loss while the LR grows exponentially, on model 0's training folds."""
    overrides = {k: v for k, v in {"batch_size": batch_size, "seed": seed}.items() if v is not None}
    config = load_train_config(preset, overrides=overrides, sets=sets or ())
    data = open_dataset(dataset)
    config, model_config = _apply_ablation(config, model, ablation, data)
    folds = plan_folds(data.n_folds, config.folds)[0].train
    torch.manual_seed(config.seed)
    result = lr_range_test(
        build_model(model_config),
        data,
        folds=folds,
        config=config,
        model_config=model_config,
        lr_min=lr_min,
        lr_max=lr_max,
        n_steps=n_steps,
        device=device,
        progress=not json_output,
    )
    summary: dict[str, Any] = {
        "lr_at_minimum": result.lr_at_minimum,
        "suggested_lr": result.suggested_lr,
        "steps": int(result.lr.size),
        "stopped_early": result.stopped_early,
    }
    if out is not None:
        summary["files"] = _write_curve(out, result.to_dict())
    if json_output:
        emit_json(summary)
        return
    typer.echo(
        f"lowest smoothed loss at LR {result.lr_at_minimum:.3g}; suggested peak LR {result.suggested_lr:.3g} "
        f"(--lr); {summary['steps']} steps" + (f"; curve in {out}" if out is not None else "")
    )


def _prepare_out(out: Path, *, overwrite: bool) -> None:
    """Refuse an existing run directory, or empty it with ``--overwrite`` (before the log opens in it)."""
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            msg = f"{out}: exists; pass --overwrite to replace it or --resume {out} to continue it"
            raise ConfigError(msg)
        if not (out / "config.json").is_file():
            msg = f"{out}: not a mucalo run directory (no config.json); refusing to delete it"
            raise ConfigError(msg)
        shutil.rmtree(out)


def _apply_ablation(
    config: TrainConfig, kind: str, ablation: str | None, data: Any
) -> tuple[TrainConfig, ModelConfig]:
    """Resolve ``--ablation`` among the model, loss and training ablations."""
    columns = None if config.feature_columns is None else list(config.feature_columns)
    if ablation is None or ablation in ABLATIONS:
        return config, model_config_for(data, kind=kind, ablation=ablation, feature_columns=columns)
    model_config = model_config_for(data, kind=kind, feature_columns=columns)
    if ablation in LOSS_ABLATIONS:
        return dataclasses.replace(config, loss=loss_ablation(ablation, config.loss)), model_config
    if ablation in TRAINING_ABLATIONS:
        changes = TRAINING_ABLATIONS[ablation]
        schedule = dataclasses.replace(
            config.schedule, **{k.removeprefix("schedule."): v for k, v in changes.items()}
        )
        return dataclasses.replace(config, schedule=schedule), model_config
    known = sorted([*ABLATIONS, *LOSS_ABLATIONS, *TRAINING_ABLATIONS])
    msg = f"--ablation: unknown name {ablation!r}; known: {known}"
    raise ConfigError(msg)


def _log_to(path: Path, dist: DistInfo) -> logging.Handler | None:
    """Also log to the run's ``train.log`` (main rank only; appended to on resume)."""
    if not dist.is_main:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="a")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("mucalo").addHandler(handler)
    return handler


def _write_curve(out: Path, curve: dict[str, Any]) -> list[str]:
    """``lr_range_test.json``, ``.csv`` and ``.png`` in ``out``."""
    from mucalo.io.atomic import write_json_atomic, write_text_atomic

    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "lr_range_test.json", curve)
    rows = ["lr,loss,smoothed"] + [
        f"{a!r},{b!r},{c!r}" for a, b, c in zip(curve["lr"], curve["loss"], curve["smoothed"], strict=True)
    ]
    write_text_atomic(out / "lr_range_test.csv", "\n".join(rows) + "\n")
    files = [str(out / "lr_range_test.json"), str(out / "lr_range_test.csv")]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return files
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(curve["lr"], curve["loss"], alpha=0.3, label="batch loss")
    ax.plot(curve["lr"], curve["smoothed"], label="smoothed")
    ax.axvline(curve["suggested_lr"], linestyle="--", color="grey", label="suggested peak LR")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "lr_range_test.png", dpi=120)
    plt.close(fig)
    files.append(str(out / "lr_range_test.png"))
    return files
