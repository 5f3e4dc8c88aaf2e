"""The run directories of a study: train, resume or skip each one, safely from several processes.

Every run is an ordinary training run directory (:mod:`mucalo.training.run`) at ``OUT/runs/<key>/``,
complete on its own. A run is *finished* when its ``ensemble.json`` exists; finished runs are never
retrained. While a process trains a run it holds an exclusive ``flock`` on ``OUT/runs/<key>.lock``;
another process that finds the lock taken moves on to the next run, so several ``mucalo study``
processes (or cluster jobs on a file system with working ``flock``) share the work without
coordination. The lock is released by the kernel when a process dies, so a crash leaves no stale lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mucalo.config import config_to_dict
from mucalo.data import MuonDataset
from mucalo.errors import CheckpointError, ConfigError
from mucalo.models import ModelConfig
from mucalo.studies.registry import RunSpec
from mucalo.training import TrainConfig, resume_run, train_run

__all__ = ["RunOutcome", "RunStatus", "ensure_run", "is_finished", "run_lock", "run_path"]

logger = logging.getLogger(__name__)

#: What :func:`ensure_run` did: skipped a finished run, trained a new one, resumed an unfinished one,
#: or left it to the process that holds its lock.
RunStatus = Literal["finished", "trained", "resumed", "busy"]

_FINISHED_FILE = "ensemble.json"
_CONFIG_FILE = "config.json"
_DATASET_FILE = "dataset.json"
_LOG_FILE = "train.log"


@dataclass(frozen=True, kw_only=True, slots=True)
class RunOutcome:
    """One run's fate in this process."""

    key: str  # run key, e.g. "loss/single-bin"
    path: Path  # the run directory
    status: RunStatus
    seconds: float  # wall time spent on it here

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"key": self.key, "path": str(self.path), "status": self.status, "seconds": self.seconds}


def run_path(out: Path, key: str) -> Path:
    """``OUT/runs/<key>``."""
    return Path(out) / "runs" / key


def is_finished(path: Path) -> bool:
    """Whether the run at ``path`` finished training (its ``ensemble.json`` exists)."""
    return (path / _FINISHED_FILE).is_file()


@contextlib.contextmanager
def run_lock(path: Path) -> Iterator[bool]:
    """Hold the exclusive lock of the run at ``path`` for the block; yields False if another process has it.

    The lock file ``<run>.lock`` sits beside the run directory (a training refuses a non-empty new
    directory) and records the host and process that hold it.
    """
    lock = path.with_name(path.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{socket.gethostname()} {os.getpid()} {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
            handle.flush()
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def ensure_run(
    spec: RunSpec,
    dataset: MuonDataset,
    out: Path,
    *,
    config: TrainConfig,
    model_config: ModelConfig,
    resume: bool = False,
    device: str = "cpu",
    progress: bool = False,
) -> RunOutcome:
    """Make sure the run of ``spec`` is trained: skip it when finished, else train (or resume) it.

    Args:
        spec: the run.
        dataset: the training data.
        out: the study's output directory (the run goes to ``out/runs/<key>``).
        config: its training config (from :func:`mucalo.studies.scale.run_configs`).
        model_config: its architecture.
        resume: continue an unfinished run from its last checkpoint.
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        progress: tqdm bars of the training.

    Returns:
        What was done; ``busy`` when another process holds the run's lock.

    Raises:
        ConfigError: the run directory holds a run of another configuration (other scale, number of
            models, …), or an unfinished run without ``resume``.
        CheckpointError: the run was trained on another dataset.
    """
    path = run_path(out, spec.key)
    start = time.perf_counter()
    with run_lock(path) as locked:
        if not locked:
            logger.info("run %s: being trained by another process, skipped", spec.key)
            return RunOutcome(key=spec.key, path=path, status="busy", seconds=0.0)
        exists = (path / _CONFIG_FILE).is_file()
        if exists:
            check_run_matches(path, dataset, config=config, model_config=model_config)
        if is_finished(path):
            logger.info("run %s: finished, skipped", spec.key)
            return RunOutcome(key=spec.key, path=path, status="finished", seconds=0.0)
        if exists and not resume:
            msg = f"{path}: an unfinished training run; continue it with --resume (or delete the directory)"
            raise ConfigError(msg)
        with _run_log(path):
            if exists:
                logger.info("run %s: resuming", spec.key)
                resume_run(path, dataset=dataset, device=device, progress=progress)
                status: RunStatus = "resumed"
            else:
                logger.info("run %s: training %d model(s)", spec.key, config.folds.n_models)
                train_run(
                    dataset, path, config=config, model_config=model_config, device=device, progress=progress
                )
                status = "trained"
    seconds = time.perf_counter() - start
    logger.info("run %s: %s in %.0f s", spec.key, status, seconds)
    return RunOutcome(key=spec.key, path=path, status=status, seconds=seconds)


def check_run_matches(
    path: Path, dataset: MuonDataset, *, config: TrainConfig, model_config: ModelConfig
) -> None:
    """Refuse to reuse a run directory that was trained differently or on other data.

    Raises:
        ConfigError: its training config, architecture or feature columns differ.
        CheckpointError: its dataset has other folds or features.
    """
    saved = json.loads((path / _CONFIG_FILE).read_text(encoding="utf-8"))
    # through JSON, as the run stored them (tuples become lists)
    expected = json.loads(json.dumps({"train": config.to_dict(), "model": config_to_dict(model_config)}))
    for section, value in expected.items():
        if saved.get(section) != value:
            differing = _differing_keys(saved.get(section) or {}, value)
            msg = (
                f"{path / _CONFIG_FILE}: {section} config differs from this study's "
                f"({', '.join(differing)}); was the study run with another --scale or --n-models? "
                "Use another --out"
            )
            raise ConfigError(msg)
    reference_path = path / _DATASET_FILE
    if reference_path.is_file():
        reference = json.loads(reference_path.read_text(encoding="utf-8"))
        if reference.get("fold_sizes") != dataset.fold_sizes or reference.get("feature_names") != list(
            dataset.feature_names
        ):
            msg = (
                f"{reference_path}: the run was trained on {reference.get('path')}, whose folds or features "
                f"differ from {dataset.path}; use another --out"
            )
            raise CheckpointError(msg)


def _differing_keys(saved: dict[str, Any], expected: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key in sorted(set(saved) | set(expected)):
        a, b = saved.get(key), expected.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys.extend(_differing_keys(a, b, f"{prefix}{key}."))
        elif a != b:
            keys.append(f"{prefix}{key}: {a!r} ≠ {b!r}")
    return keys


@contextlib.contextmanager
def _run_log(path: Path) -> Iterator[None]:
    """Append the training's log to ``<run>/train.log``, like ``mucalo train`` does."""
    path.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path / _LOG_FILE, mode="a")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("mucalo")
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
