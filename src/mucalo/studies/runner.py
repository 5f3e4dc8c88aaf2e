"""Run a study (or all of them): train every run that is not finished, then write the tables.

Output directory layout::

    OUT/runs/<key>/          one training run per distinct configuration (mucalo.training.run layout)
                             + study_predictions.npz, study_timing.json (caches of the report)
    OUT/runs/<key>.lock      held (flock) while a process trains the run
    OUT/<study>.json         rows, per-run metrics, scale, paper values
    OUT/<study>.md           the table in the paper's layout, ours beside the paper's, with notes
    OUT/figures/             <study>.png (ours vs paper), inputs_resolution.*, importance.*
    OUT/all.md, OUT/all.json written by ``all``: every table in one page, and an index

Runs shared between studies (the nominal configuration) are trained once.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mucalo.data import MuonDataset, open_dataset
from mucalo.errors import ConfigError
from mucalo.models import ModelConfig
from mucalo.studies.registry import RunSpec, resolve_studies
from mucalo.studies.report import LoadedRuns, StudyReport, write_all, write_report
from mucalo.studies.runs import RunOutcome, ensure_run
from mucalo.studies.scale import StudyScale, get_scale, run_configs
from mucalo.training import TrainConfig, plan_folds

__all__ = ["StudySummary", "run_study", "study_runs"]

logger = logging.getLogger(__name__)

Configs = dict[str, tuple[TrainConfig, ModelConfig]]


@dataclass(frozen=True, kw_only=True, slots=True)
class StudySummary:
    """What :func:`run_study` did."""

    name: str
    out: Path
    outcomes: tuple[RunOutcome, ...]
    reports: tuple[StudyReport, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (``mucalo study --json``)."""
        return {
            "study": self.name,
            "out": str(self.out),
            "runs": [o.to_dict() for o in self.outcomes],
            "reports": {
                r.study: {
                    "json": str(r.json_path),
                    "markdown": str(r.markdown_path),
                    "figures": [str(p) for p in r.figures],
                    "pending": list(r.pending),
                }
                for r in self.reports
            },
        }


def study_runs(name: str, *, only: Sequence[str] = ()) -> tuple[RunSpec, ...]:
    """The distinct runs of a study (``all``: of every study), optionally only some of them.

    Args:
        name: a study name or ``all``.
        only: run keys (``loss/single-bin``), variant names (``single-bin``) or ``study/variant``
            (``loss/default``); empty for every run.

    Raises:
        ConfigError: unknown study, or an ``only`` item that names no run of it.
    """
    studies = resolve_studies(name)
    specs: dict[str, RunSpec] = {}
    for study in studies:
        for spec in study.runs:
            specs.setdefault(spec.key, spec)
    if not only:
        return tuple(specs.values())
    selected: dict[str, RunSpec] = {}
    for item in only:
        matches = [specs[item]] if item in specs else []
        matches += [
            v.run for study in studies for v in study.variants if item in (v.name, f"{study.name}/{v.name}")
        ]
        if not matches:
            msg = f"--only: {item!r} names no run of study {name!r}; its runs are {sorted(specs)}"
            raise ConfigError(msg)
        for spec in matches:
            selected.setdefault(spec.key, spec)
    return tuple(selected.values())


def run_study(
    name: str,
    dataset: MuonDataset | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    scale: str | StudyScale = "quick",
    n_models: int = 5,
    resume: bool = False,
    device: str = "cpu",
    only: Sequence[str] = (),
    train: bool = True,
    report: bool = True,
    jobs: int = 1,
    progress: bool = False,
    figures: bool = True,
) -> StudySummary:
    """Train the runs of a study that are not finished, then write its tables and figures.

    Args:
        name: ``inputs``, ``loss``, ``ensemble``, ``schedule``, ``architecture``, ``bias-correction``,
            ``importance`` or ``all``.
        dataset: the training data (needs a hold-out fold and enough folds for ``n_models`` models with
            unique-fold training: at least 2·n_models + 1 besides the hold-out is comfortable).
        out: the study directory (created; a rerun continues in it).
        scale: ``quick``, ``paper`` or a :class:`StudyScale`.
        n_models: models per run (the paper: 5).
        resume: continue unfinished runs (without it an unfinished run is an error, unless another
            process holds its lock).
        device: ``cpu``, ``cuda`` or ``cuda:N`` (training, prediction and timing).
        only: train just these runs (see :func:`study_runs`); the tables show the others as pending.
        train: False = make the tables from the finished runs only.
        report: False = train only (e.g. a cluster job per run).
        jobs: runs trained at once in separate processes (each with cpu_count/jobs threads; with
            ``cuda`` and several GPUs, spread round-robin over them).
        progress: tqdm bars of the trainings.
        figures: write the figures.

    Raises:
        ConfigError: unknown study or scale, bad ``only``, too few folds, a run directory of another
            configuration, an unfinished run without ``resume``.
    """
    if isinstance(n_models, bool) or not isinstance(n_models, int) or n_models < 1:
        msg = f"--n-models: expected an integer ≥ 1, got {n_models!r}"
        raise ConfigError(msg)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        msg = f"--jobs: expected an integer ≥ 1, got {jobs!r}"
        raise ConfigError(msg)
    studies = resolve_studies(name)
    chosen = get_scale(scale)
    data = dataset if isinstance(dataset, MuonDataset) else open_dataset(dataset)
    root = Path(out)
    configs: Configs = {}
    for spec in study_runs(name):
        configs[spec.key] = run_configs(spec, data, chosen, n_models=n_models)
        plan_folds(data.n_folds, configs[spec.key][0].folds)  # too few folds: fail before any training
    outcomes: list[RunOutcome] = []
    if train:
        todo = study_runs(name, only=only)
        outcomes = _train(
            todo, data, root, configs, resume=resume, device=device, jobs=jobs, progress=progress
        )
    reports: list[StudyReport] = []
    if report:
        loaded: LoadedRuns = {}
        for study in studies:
            reports.append(
                write_report(
                    study,
                    data,
                    root,
                    chosen,
                    configs,
                    loaded,
                    n_models=n_models,
                    device=device,
                    figures=figures,
                )
            )
        if name == "all":
            write_all(root, reports)
    return StudySummary(name=name, out=root, outcomes=tuple(outcomes), reports=tuple(reports))


# --- training -------------------------------------------------------------------------------------


def _train(
    specs: Sequence[RunSpec],
    data: MuonDataset,
    out: Path,
    configs: Configs,
    *,
    resume: bool,
    device: str,
    jobs: int,
    progress: bool,
) -> list[RunOutcome]:
    # the expensive grid models first, so that parallel workers finish together
    order = sorted(specs, key=lambda s: s.feature_only)
    if jobs == 1:
        return [
            ensure_run(
                s,
                data,
                out,
                config=configs[s.key][0],
                model_config=configs[s.key][1],
                resume=resume,
                device=device,
                progress=progress,
            )
            for s in order
        ]
    devices = _devices(device)
    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")  # no forked torch/OpenMP state
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=_init_worker, initargs=(threads,)
    ) as pool:
        futures = [
            pool.submit(
                _train_worker, s, str(data.path), out, configs[s.key], resume, devices[i % len(devices)]
            )
            for i, s in enumerate(order)
        ]
        return [f.result() for f in futures]


def _devices(device: str) -> list[str]:
    if device == "cuda" and torch.cuda.is_available() and torch.cuda.device_count() > 1:
        return [f"cuda:{k}" for k in range(torch.cuda.device_count())]
    return [device]


def _init_worker(threads: int) -> None:
    """Set up a worker process: its share of the cores, and INFO logs for the runs' ``train.log``."""
    torch.set_num_threads(threads)
    logging.getLogger("mucalo").setLevel(logging.INFO)


def _train_worker(
    spec: RunSpec,
    dataset: str,
    out: Path,
    configs: tuple[TrainConfig, ModelConfig],
    resume: bool,
    device: str,
) -> RunOutcome:
    config, model_config = configs
    return ensure_run(
        spec,
        open_dataset(dataset),
        out,
        config=config,
        model_config=model_config,
        resume=resume,
        device=device,
    )
