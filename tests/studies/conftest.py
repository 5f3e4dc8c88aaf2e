"""Fixtures of the study tests: a tiny dataset with the real 28 features, a tiny scale, a finished study.

The 120-muon Geant4 fixture in 6 folds of 20 (fold 0 held out); two models per run, each on one or two
folds of its own. The evaluation bins span the whole 50–8000 GeV training range (3 fit bins, 2
resolution bins) so that 20-muon folds can be bias-corrected at all.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from mucalo.data import build_dataset
from mucalo.evaluation import EvaluationConfig
from mucalo.features import add_shard_features
from mucalo.studies import SCALES, StudyScale, StudySummary, run_study


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    """The machine is shared: one intra-op thread keeps the tests fast and reproducible."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def study_dataset(g4ref_uniform_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 real muons with their 28 features, in 6 folds of 20."""
    root = tmp_path_factory.mktemp("study-data")
    shard = root / "shards" / "uniform.h5"
    shard.parent.mkdir()
    shutil.copyfile(g4ref_uniform_path, shard)
    add_shard_features(shard)
    return build_dataset(shard.parent, root / "dataset", n_folds=6, seed=0)


@pytest.fixture(scope="session")
def tiny_scale() -> StudyScale:
    """One epoch of batches of 8 for the grid models, five for the cheap feature-only ones."""
    return SCALES["quick"].replace(
        name="test",
        overrides={
            "batch_size": 8,
            "schedule.lr": 5e-2,
            # the single epoch falls from the peak LR: a rise from lr/100 would leave the five steps idle
            "schedule.warmup_epochs": 0,
            "schedule.decay_epochs": 1,
            "schedule.max_epochs": 1,
        },
        feature_only_overrides={"schedule.max_epochs": 5},
        evaluation=EvaluationConfig(
            fit_range_gev=(50.0, 8000.0),
            fit_bins=3,
            resolution_range_gev=(50.0, 8000.0),
            resolution_bins=2,
            fit_bootstrap=0,
            metric_bootstrap=0,
        ),
        eval_batch_size=64,
        timing_batches=1,
        importance_repeats=1,
    )


@pytest.fixture(scope="session")
def inputs_study(
    study_dataset: Path, tiny_scale: StudyScale, tmp_path_factory: pytest.TempPathFactory
) -> StudySummary:
    """The ``inputs`` study, trained and reported once for the session (2 models per run)."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("study-out")
    return run_study("inputs", study_dataset, out, scale=tiny_scale, n_models=2)
