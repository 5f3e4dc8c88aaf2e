"""Write a study's table, JSON and figures from its finished runs (unfinished ones show as pending).

Each finished run is loaded once per command, predicted once (cached in the run directory) and
evaluated by :func:`mucalo.studies.metrics.run_metrics`; the study's rows, notes and figures follow.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mucalo.data import MuonDataset
from mucalo.evaluation import ResolutionCurve, write_metrics_json
from mucalo.features import FEATURE_NAMES
from mucalo.io.atomic import write_text_atomic
from mucalo.models import ModelConfig, build_model, count_parameters
from mucalo.studies.figures import plot_importance_bins, plot_input_resolutions, plot_study_comparison
from mucalo.studies.importance import ImportanceSummary, run_importance
from mucalo.studies.metrics import RunMetrics, quiet_evaluation, run_metrics
from mucalo.studies.notes import study_notes
from mucalo.studies.predictions import predict_run, run_fingerprint
from mucalo.studies.registry import RunSpec, Study
from mucalo.studies.runs import is_finished, run_path
from mucalo.studies.scale import StudyScale
from mucalo.studies.tables import RowResult, RunResult, build_rows, importance_markdown, study_markdown
from mucalo.studies.timing import inference_seconds
from mucalo.training import TrainConfig, TrainedRun, load_run

__all__ = ["LoadedRuns", "StudyReport", "write_all", "write_report"]

logger = logging.getLogger(__name__)

#: Finished runs already loaded and evaluated in this command (None: not finished), by run key.
LoadedRuns = dict[str, tuple[TrainedRun, RunMetrics] | None]


@dataclass(frozen=True, kw_only=True, slots=True)
class StudyReport:
    """The files written for one study and its rows."""

    study: str
    json_path: Path
    markdown_path: Path
    figures: tuple[Path, ...]
    rows: tuple[RowResult, ...]
    pending: tuple[str, ...]  # keys of its runs that are not finished


def _load(
    spec: RunSpec,
    data: MuonDataset,
    out: Path,
    scale: StudyScale,
    device: str,
    loaded: LoadedRuns,
) -> tuple[TrainedRun, RunMetrics] | None:
    """The finished run of ``spec`` and its metrics (None while unfinished), evaluated once per call."""
    if spec.key not in loaded:
        path = run_path(out, spec.key)
        if not is_finished(path):
            loaded[spec.key] = None
        else:
            trained = load_run(path)
            predictions = predict_run(
                path, data, device=device, batch_size=scale.eval_batch_size, trained=trained
            )
            metrics = run_metrics(
                predictions,
                folds=trained.folds,
                fold_sizes=data.fold_sizes,
                history_csv=path / "history.csv",
                config=scale.evaluation,
            )
            loaded[spec.key] = (trained, metrics)
    return loaded[spec.key]


def write_report(
    study: Study,
    data: MuonDataset,
    out: Path,
    scale: StudyScale,
    configs: Mapping[str, tuple[TrainConfig, ModelConfig]],
    loaded: LoadedRuns,
    *,
    n_models: int,
    device: str,
    figures: bool,
) -> StudyReport:
    results: dict[str, RunResult] = {}
    curves: dict[str, ResolutionCurve] = {}
    importance: ImportanceSummary | None = None
    for spec in study.runs:
        run = _load(spec, data, out, scale, device, loaded)
        parameters = inference = None
        if run is None:
            if "parameters" in study.columns:
                parameters = count_parameters(build_model(configs[spec.key][1]))
            results[spec.key] = RunResult(key=spec.key, metrics=None, parameters=parameters)
            continue
        trained, metrics = run
        parameters = count_parameters(trained.models[0])
        if "inference_s" in study.columns:
            inference = tuple(
                inference_seconds(
                    trained,
                    data,
                    fingerprint=run_fingerprint(trained.path),
                    device=device,
                    n_batches=scale.timing_batches,
                )
            )
        results[spec.key] = RunResult(
            key=spec.key, metrics=metrics, parameters=parameters, inference_s=inference
        )
        if metrics.ensemble_curve is not None:
            curves[spec.key] = metrics.ensemble_curve
        if study.name == "importance" and trained.holdout_fold is not None:
            importance = run_importance(
                trained,
                data,
                fold=trained.holdout_fold,
                edges_gev=scale.importance_edges_gev,
                n_repeats=scale.importance_repeats,
            )
    rows = build_rows(study, results)
    pending = tuple(key for key, result in results.items() if result.metrics is None)
    notes = study_notes(study, data, scale, configs, results, n_models=n_models, pending=pending)
    markdown = study_markdown(study, rows, notes=notes)
    if importance is not None:
        published = list(FEATURE_NAMES)
        markdown += "\n### Permutation importance on the hold-out fold\n\n" + importance_markdown(
            importance.to_dict(), published
        )
    paths: list[Path] = []
    if figures:
        with quiet_evaluation():
            paths += _figures(study, rows, curves, importance, out / "figures")
    markdown_path = out / f"{study.name}.md"
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(markdown_path, markdown)
    json_path = write_metrics_json(
        out / f"{study.name}.json",
        {
            "study": study.name,
            "title": study.title,
            "source": study.source,
            "paper_note": study.paper_note,
            "notes": notes,
            "scale": scale.to_dict(),
            "n_models": n_models,
            "device": device,
            "dataset": {"path": str(data.path), "n_muons": data.n_muons, "fold_sizes": data.fold_sizes},
            "rows": [row.to_dict() for row in rows],
            "runs": {
                key: {
                    "path": str(run_path(out, key)),
                    "finished": result.metrics is not None,
                    "parameters": result.parameters,
                    "inference_s_per_batch": None if result.inference_s is None else list(result.inference_s),
                    "metrics": None if result.metrics is None else result.metrics.to_dict(),
                }
                for key, result in results.items()
            },
            "importance": None if importance is None else importance.to_dict(),
            "figures": [str(p) for p in paths],
            "pending": list(pending),
        },
    )
    logger.info("study %s: %s, %s", study.name, markdown_path, json_path)
    return StudyReport(
        study=study.name,
        json_path=json_path,
        markdown_path=markdown_path,
        figures=tuple(paths),
        rows=tuple(rows),
        pending=pending,
    )


def _figures(
    study: Study,
    rows: Sequence[RowResult],
    curves: dict[str, ResolutionCurve],
    importance: ImportanceSummary | None,
    figure_dir: Path,
) -> list[Path]:
    paths = plot_study_comparison(study, rows, out_dir=figure_dir)
    if study.name == "inputs":
        labels = {v.run.key: v.label for v in study.variants}
        paths += plot_input_resolutions({labels[k]: c for k, c in curves.items()}, out_dir=figure_dir)
    if importance is not None:
        paths += plot_importance_bins(importance, out_dir=figure_dir)
    return paths


def write_all(out: Path, reports: Sequence[StudyReport]) -> None:
    pages = [r.markdown_path.read_text(encoding="utf-8") for r in reports]
    write_text_atomic(out / "all.md", "# mucalo studies\n\n" + "\n".join(pages))
    write_metrics_json(
        out / "all.json",
        {
            r.study: {"json": str(r.json_path), "markdown": str(r.markdown_path), "pending": list(r.pending)}
            for r in reports
        },
    )
