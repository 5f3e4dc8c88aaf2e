"""``mucalo run``: the whole study in one command, each stage skipped when its output is complete.

Layout of the output directory::

    OUT/run.json                 resolved config, seed, versions (rewritten at every start)
    OUT/shards/train/, test/     simulated shards (with /features/values once the features stage ran)
    OUT/datasets/train/, test/   folds + standardisation (train), one fold (fixed-energy test)
    OUT/runs/<model>/            one training run per model (checkpoints, history, ensemble)
    OUT/report/                  metrics.json, figures and report.html of the main model vs the others

A killed job is rerun with the same command: complete shards, features, datasets and finished trainings
are kept, an unfinished training resumes from its last checkpoint.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from mucalo.config import config_to_dict
from mucalo.data import build_dataset, open_dataset
from mucalo.evaluation.runs import evaluate_run
from mucalo.features import compute_directory
from mucalo.pipeline.config import PipelineConfig
from mucalo.provenance import write_provenance
from mucalo.simulation import simulate
from mucalo.simulation.scaleout import dask_executor
from mucalo.training import resume_run, train_run
from mucalo.training.runner import model_config_for

__all__ = ["run_pipeline"]

log = logging.getLogger(__name__)

_DATASET_FILE = "dataset.json"
_RUN_CONFIG = "config.json"
_RUN_DONE = "ensemble.json"
_REPORT_DONE = "metrics.json"


def run_pipeline(
    config: PipelineConfig,
    out: str | os.PathLike[str],
    *,
    progress: bool = True,
    scheduler: str | None = None,
) -> dict[str, Any]:
    """Run simulate → features → dataset → train → evaluate into ``out``; returns a summary.

    Args:
        config: the job (see :class:`PipelineConfig`).
        out: output directory (created; reruns continue in it).
        progress: progress bars on stderr.
        scheduler: None runs shard jobs in local processes; ``'local'`` or a Dask scheduler address
            runs the simulation and feature jobs on Dask.
    """
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    write_provenance(root / "run.json", config_to_dict(config), seed=config.simulation.seed, command="run")
    timings: dict[str, float] = {}
    shards = {"train": root / "shards" / "train", "test": root / "shards" / "test"}
    with _stage("simulate", timings), _executor(scheduler, config) as executor:
        for name, sim in (("train", config.simulation), ("test", config.test_simulation)):
            simulate(sim, shards[name], progress=progress, executor=executor)
    with _stage("features", timings):
        for path in shards.values():
            compute_directory(path, workers=config.features.workers, progress=progress)
    datasets = {"train": root / "datasets" / "train", "test": root / "datasets" / "test"}
    with _stage("dataset", timings):
        _build_once(shards["train"], datasets["train"], config.dataset.n_folds, config)
        _build_once(shards["test"], datasets["test"], 1, config)
    runs = {}
    with _stage("train", timings):
        for entry in config.models:
            runs[entry.name] = _train_once(config, entry.name, datasets["train"], root / "runs", progress)
    report = root / "report"
    with _stage("evaluate", timings):
        main = config.main_model.name
        if (report / _REPORT_DONE).is_file():
            log.info("%s: evaluation complete, skipped", report)
        else:
            evaluate_run(
                runs[main],
                datasets["train"],
                test=datasets["test"],
                compare=[runs[m.name] for m in config.models if m.name != main],
                out=report,
                config=config.evaluate.metrics,
                n_bootstrap=config.evaluate.bootstrap,
                device=config.device,
                overwrite=True,  # a killed evaluation left a partial directory
                importance=config.evaluate.importance,
                progress=progress,
            )
    return {
        "out": str(root),
        "report": str(report / "report.html"),
        "metrics": str(report / _REPORT_DONE),
        "runs": {name: str(path) for name, path in runs.items()},
        "datasets": {name: str(path) for name, path in datasets.items()},
        "seconds": timings,
    }


@contextlib.contextmanager
def _stage(name: str, timings: dict[str, float]) -> Iterator[None]:
    log.info("stage %s: start", name)
    t0 = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - t0, 2)
    log.info("stage %s: done in %.1f s", name, timings[name])


@contextlib.contextmanager
def _executor(scheduler: str | None, config: PipelineConfig) -> Iterator[Executor | None]:
    if scheduler is None:
        yield None
        return
    with dask_executor(scheduler, n_workers=config.simulation.workers) as executor:
        yield executor


def _build_once(shards: Path, out: Path, n_folds: int, config: PipelineConfig) -> None:
    if (out / _DATASET_FILE).is_file():
        log.info("%s: dataset complete, skipped", out)
        return
    build_dataset(
        shards,
        out,
        n_folds=n_folds,
        seed=config.dataset.seed,
        holdout_fold=config.dataset.holdout_fold if n_folds > 1 else None,
    )


def _train_once(config: PipelineConfig, name: str, dataset: Path, runs: Path, progress: bool) -> Path:
    entry = next(m for m in config.models if m.name == name)
    run = runs / name
    if (run / _RUN_DONE).is_file():
        log.info("%s: training complete, skipped", run)
    elif (run / _RUN_CONFIG).is_file():
        log.info("%s: resuming an unfinished training", run)
        resume_run(run, device=config.device, progress=progress)
    else:
        train_config = config.train_config(entry)
        data = open_dataset(dataset)
        model_config = model_config_for(
            data, kind=entry.kind, ablation=entry.ablation, feature_columns=train_config.feature_columns
        )
        train_run(
            data,
            run,
            config=train_config,
            model_config=model_config,
            device=config.device,
            overwrite=True,
            progress=progress,
        )
    return run
