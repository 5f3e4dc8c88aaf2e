"""The notes under a study table: how our numbers were made, how the paper's were, and both scales."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from mucalo.data import MuonDataset
from mucalo.models import ModelConfig
from mucalo.studies.registry import Study
from mucalo.studies.scale import PAPER_SCALE_NOTE, StudyScale
from mucalo.studies.tables import RunResult
from mucalo.training import TrainConfig, plan_folds

__all__ = ["scale_note", "study_notes"]


def scale_note(
    data: MuonDataset,
    scale: StudyScale,
    configs: Mapping[str, tuple[TrainConfig, ModelConfig]],
    *,
    n_models: int,
) -> str:
    """One sentence on our scale: muons, folds, training muons per model, batch, schedule, epochs."""
    nominal = configs["nominal"][0] if "nominal" in configs else next(iter(configs.values()))[0]
    feature_only = [c for c, m in configs.values() if not m.uses_grid]
    plan = plan_folds(data.n_folds, nominal.folds)
    sizes = data.fold_sizes
    per_model = sum(sum(sizes[k] for k in p.train) for p in plan) / len(plan)
    holdout = nominal.folds.holdout_fold
    holdout_text = f", hold-out fold {holdout} ({sizes[holdout]:,} muons)" if holdout is not None else ""
    schedule = nominal.schedule
    epochs = f"at most {schedule.max_epochs} epochs"
    if feature_only and feature_only[0].schedule.max_epochs != schedule.max_epochs:
        epochs += f" (feature-only models {feature_only[0].schedule.max_epochs})"
    return (
        f"Ours ({scale.name} scale): {data.n_muons:,} muons in {data.n_folds} folds{holdout_text}; "
        f"{nominal.folds.strategy} training of {n_models} models, {per_model:,.0f} training muons each; "
        f"batch {nominal.batch_size}; 1cycle {schedule.warmup_epochs} + {schedule.decay_epochs} epochs "
        f"(peak LR {schedule.lr:g}) then step decay, {epochs}, early stop after {schedule.patience}."
    )


def study_notes(
    study: Study,
    data: MuonDataset,
    scale: StudyScale,
    configs: Mapping[str, tuple[TrainConfig, ModelConfig]],
    results: Mapping[str, RunResult],
    *,
    n_models: int,
    pending: Sequence[str],
) -> list[str]:
    """The notes printed under the table (definitions, the paper's method, scales, pending runs)."""
    evaluation = scale.evaluation
    low, high = evaluation.resolution_range_gev
    finished = [r.metrics for r in results.values() if r.metrics is not None]
    holdout = f" ({finished[0].holdout_muons:,} muons)" if finished else ""
    notes = [
        f"MI: Mean Improvement of the combined measurement over the tracker alone, in %, on the hold-out "
        f"fold{holdout}, {evaluation.resolution_bins} bins over {low:g}–{high:g} GeV; each model is "
        "bias-corrected with the linear fit to its own monitoring fold. Single-model rows: mean ± standard "
        f"error over the {n_models} models ((n=k): only k monitoring folds had enough muons for the fit; "
        "a model whose fit fails, a response that does not grow with energy, counts as MI 0, as in the "
        "authors' code). Ensemble rows: the weighted ensemble, corrected with the weighted mean of the "
        "models' fits.",
    ]
    failed = sum(s == "failed" for m in finished for s in m.fit_status)
    if failed:
        notes.append(f"{failed} model(s) of this table had a failed bias fit (MI 0); see the JSON.")
    if "validation_mi" in study.columns:
        notes.append(
            "MI, monitoring folds: fit and MI on each model's monitoring fold, the paper's definition for "
            "Tables 1, 2 and 4."
        )
    if "change" in study.columns:
        notes.append(
            "Change in MI: 100·(MI − MI_ref)/MI_ref against the first row (or the row's own reference), "
            "errors of both propagated as independent."
        )
    if "training_hours" in study.columns or "inference_s" in study.columns:
        notes.append(
            "Times: training = sum of the epochs' wall times (per model for singles, all models for "
            "ensembles); inference = forward passes per batch of 256 muons after one warm-up, grids in "
            "memory; both on this study's device, and slowed by whatever else ran at the same time."
        )
    notes.append(f"Paper: {study.paper_note}")
    notes.append(scale_note(data, scale, configs, n_models=n_models))
    notes.append(PAPER_SCALE_NOTE)
    if scale.name != "paper":
        notes.append(
            "At this scale the absolute MI is not comparable with the paper's (under-trained models, a "
            "few muons per resolution bin, another simulation); compare the changes relative to nominal, "
            "within their larger errors."
        )
    mean_epochs = [e for m in finished for e in m.epochs]
    if mean_epochs and "epochs" not in study.columns:
        notes.append(f"Epochs trained: {math.fsum(mean_epochs) / len(mean_epochs):.1f} per model on average.")
    if pending:
        notes.append(
            f"Pending (not finished): {', '.join(pending)}. Rerun the command (with --resume for "
            "interrupted runs) to complete the table."
        )
    return notes
