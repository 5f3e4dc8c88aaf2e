"""A tiny ``inputs`` study end to end: four trained runs, the table, reruns, resume, parallel locks."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from mucalo.errors import ConfigError
from mucalo.studies import StudyScale, StudySummary, run_lock, run_path, run_study
from mucalo.studies import runs as runs_module


def _table_rows(markdown: str) -> list[list[str]]:
    lines = [line for line in markdown.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[1:]]


def _forbid_training(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        msg = "a finished run was trained again"
        raise AssertionError(msg)

    monkeypatch.setattr(runs_module, "train_run", fail)
    monkeypatch.setattr(runs_module, "resume_run", fail)


def test_tiny_inputs_study_writes_the_table_with_four_finite_rows(inputs_study: StudySummary) -> None:
    out = inputs_study.out
    assert sorted(o.key for o in inputs_study.outcomes) == [
        "inputs/energy-sums",
        "inputs/hl-only",
        "inputs/raw-only",
        "nominal",
    ]
    assert {o.status for o in inputs_study.outcomes} == {"trained"}
    for outcome in inputs_study.outcomes:  # every run directory is complete on its own
        assert (outcome.path / "ensemble.json").is_file()
        assert (outcome.path / "config.json").is_file()
        assert (outcome.path / "model_1" / "best.pt").is_file()
        assert (outcome.path / "train.log").is_file()
    rows = _table_rows((out / "inputs.md").read_text())
    assert [r[0] for r in rows] == [
        "Raw inputs + HL feats.",
        "Raw inputs only",
        "HL-feats. only",
        "Energy-sum only",
    ]
    assert [r[4] for r in rows] == ["20.30 ± 0.08", "19.53 ± 0.06", "17.60 ± 0.08", "14.98 ± 0.05"]
    assert rows[0][2] == "N/A"

    result = json.loads((out / "inputs.json").read_text())
    assert [r["variant"] for r in result["rows"]] == ["nominal", "raw-only", "hl-only", "energy-sums"]
    for row in result["rows"]:
        assert row["status"] == "done"
        assert math.isfinite(row["mi"]), row
        assert row["n_models"] == 2
        assert row["epochs"] == (5.0 if row["variant"] in ("hl-only", "energy-sums") else 1.0)
    # Five optimiser steps teach a CNN little: a model whose response does not grow with energy cannot
    # be bias-corrected and counts as MI 0. The changes exist whenever the nominal MI is not 0.
    reference = result["rows"][0]["mi"]
    for row in result["rows"][1:]:
        if reference > 0:
            assert row["change"] == pytest.approx(100 * (row["mi"] / reference - 1))
        else:
            assert row["change"] is None
    nominal = result["runs"]["nominal"]["metrics"]
    assert len(nominal["holdout_mi"]) == 2
    assert nominal["holdout_muons"] == 20
    assert result["scale"]["name"] == "test"
    assert any("120 muons in 6 folds" in note for note in result["notes"])
    assert (out / "figures" / "inputs.png").is_file()
    assert (out / "figures" / "inputs_resolution.png").is_file()


def test_a_rerun_skips_finished_runs_and_gives_the_same_table(
    inputs_study: StudySummary, study_dataset: Path, tiny_scale: StudyScale, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (inputs_study.out / "inputs.md").read_text()
    _forbid_training(monkeypatch)
    again = run_study("inputs", study_dataset, inputs_study.out, scale=tiny_scale, n_models=2, figures=False)
    assert {o.status for o in again.outcomes} == {"finished"}
    assert (inputs_study.out / "inputs.md").read_text() == before


def test_importance_reuses_the_hl_only_run(
    inputs_study: StudySummary, study_dataset: Path, tiny_scale: StudyScale, monkeypatch: pytest.MonkeyPatch
) -> None:
    _forbid_training(monkeypatch)
    summary = run_study("importance", study_dataset, inputs_study.out, scale=tiny_scale, n_models=2)
    assert [(o.key, o.status) for o in summary.outcomes] == [("inputs/hl-only", "finished")]
    result = json.loads((inputs_study.out / "importance.json").read_text())
    importance = result["importance"]
    assert len(importance["feature_names"]) == 28
    assert len(importance["per_bin"][0]) == len(importance["edges_gev"]) - 1 == 8
    assert importance["n_models"] == 2
    assert any(v is not None and v != 0.0 for v in importance["overall"])
    markdown = (inputs_study.out / "importance.md").read_text()
    assert "| V[0] eabove |" in markdown
    assert (inputs_study.out / "figures" / "importance.png").is_file()


def test_a_different_configuration_in_the_same_directory_is_refused(
    inputs_study: StudySummary, study_dataset: Path, tiny_scale: StudyScale, monkeypatch: pytest.MonkeyPatch
) -> None:
    _forbid_training(monkeypatch)
    with pytest.raises(ConfigError, match=r"runs/nominal/config.json: train config differs.*n_models"):
        run_study("inputs", study_dataset, inputs_study.out, scale=tiny_scale, n_models=3, report=False)


def test_only_pending_unfinished_resume_and_locks(
    inputs_study: StudySummary, study_dataset: Path, tiny_scale: StudyScale, tmp_path: Path
) -> None:
    out = tmp_path / "study"
    summary = run_study(
        "inputs", study_dataset, out, scale=tiny_scale, n_models=2, only=["hl-only"], figures=False
    )
    assert [(o.key, o.status) for o in summary.outcomes] == [("inputs/hl-only", "trained")]
    (report,) = summary.reports
    assert report.pending == ("nominal", "inputs/raw-only", "inputs/energy-sums")
    rows = _table_rows((out / "inputs.md").read_text())
    assert [r[1] for r in rows] == ["pending", "pending", rows[2][1], "pending"]
    assert rows[2][1] != "pending"

    # an interrupted run (no ensemble.json) needs --resume; resuming it finishes it
    run = run_path(out, "inputs/hl-only")
    (run / "ensemble.json").unlink()
    with pytest.raises(ConfigError, match=r"unfinished training run; continue it with --resume"):
        run_study("inputs", study_dataset, out, scale=tiny_scale, n_models=2, only=["hl-only"], report=False)
    resumed = run_study(
        "inputs",
        study_dataset,
        out,
        scale=tiny_scale,
        n_models=2,
        only=["hl-only"],
        resume=True,
        report=False,
    )
    assert [o.status for o in resumed.outcomes] == ["resumed"]
    assert (run / "ensemble.json").is_file()

    # a run locked by another process is left to it
    shutil.rmtree(run)
    with run_lock(run) as held:
        assert held
        with run_lock(run) as again:
            assert not again
        busy = run_study(
            "inputs", study_dataset, out, scale=tiny_scale, n_models=2, only=["hl-only"], report=False
        )
    assert [o.status for o in busy.outcomes] == ["busy"]
    assert not run.exists()
