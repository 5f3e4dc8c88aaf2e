"""The paper's studies as one command (Tables 1–4, §7.3, §7.5, Fig. 13): ``mucalo study NAME``.

A study trains the nominal configuration and every variant of its table with unique-fold training (each
of N models on its own folds, paper §3.2.4), evaluates each model on the hold-out fold with the bias
correction fitted on its monitoring fold, and writes the table with the paper's values beside ours.
Every distinct configuration is one ordinary training run under ``OUT/runs/<key>/``; finished runs are
skipped on a rerun, and runs can be trained by several processes at once (see :mod:`.runs`).

Farming the runs out, e.g. one SLURM array task per run::

    mucalo study all DATA --out OUT --scale paper --list > runs.txt
    # task i (1-based), one GPU each:
    mucalo study all DATA --out OUT --scale paper --device cuda --resume --train-only \\
        --only "$(sed -n "${SLURM_ARRAY_TASK_ID}p" runs.txt)"
    # afterwards, anywhere:
    mucalo study all DATA --out OUT --scale paper --report-only

Locally, ``--jobs N`` trains N runs at once in separate processes; starting the same command in several
shells works too (each run is locked by the process training it).
"""

from __future__ import annotations

from mucalo.studies.importance import ImportanceSummary, mean_and_error_over_models, run_importance
from mucalo.studies.metrics import RunMetrics, run_metrics
from mucalo.studies.predictions import RunPredictions, predict_run
from mucalo.studies.registry import (
    HL_ONLY,
    NOMINAL,
    PAPER_FIG13_FEATURES,
    STUDIES,
    PaperRow,
    RunSpec,
    Study,
    Variant,
    get_study,
    resolve_studies,
    study_names,
)
from mucalo.studies.report import StudyReport
from mucalo.studies.runner import StudySummary, run_study, study_runs
from mucalo.studies.runs import RunOutcome, ensure_run, is_finished, run_lock, run_path
from mucalo.studies.scale import SCALES, StudyScale, get_scale, run_configs
from mucalo.studies.stats import Estimate, mean_with_error, relative_change
from mucalo.studies.tables import RowResult, RunResult, build_rows, study_markdown

__all__ = (
    "HL_ONLY",
    "NOMINAL",
    "PAPER_FIG13_FEATURES",
    "SCALES",
    "STUDIES",
    "Estimate",
    "ImportanceSummary",
    "PaperRow",
    "RowResult",
    "RunMetrics",
    "RunOutcome",
    "RunPredictions",
    "RunResult",
    "RunSpec",
    "Study",
    "StudyReport",
    "StudyScale",
    "StudySummary",
    "Variant",
    "build_rows",
    "ensure_run",
    "get_scale",
    "get_study",
    "is_finished",
    "mean_and_error_over_models",
    "mean_with_error",
    "predict_run",
    "relative_change",
    "resolve_studies",
    "run_configs",
    "run_importance",
    "run_lock",
    "run_metrics",
    "run_path",
    "run_study",
    "study_markdown",
    "study_names",
    "study_runs",
)
