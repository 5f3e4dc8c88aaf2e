"""``mucalo study`` through typer: listing the runs, reporting without training, errors."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from mucalo.cli.study import study
from mucalo.studies import StudySummary

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("study")(study)
    app.command("unused")(lambda: None)  # two commands: typer keeps "study" as a sub-command
    return app


def test_list_prints_one_run_key_per_line(tmp_path: Path) -> None:
    result = runner.invoke(_app(), ["study", "loss", str(tmp_path), "--list"])
    assert result.exit_code == 0, result.output
    assert result.output.split() == [
        "nominal",
        "loss/single-bin",
        "loss/batch-thresholds",
        "loss/no-huber",
        "loss/fixed-thresholds",
        "loss/mse",
        "loss/no-down-weighting",
    ]


def test_report_only_writes_pending_tables_as_json(study_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "study"
    args = [
        "study",
        "schedule",
        str(study_dataset),
        "--out",
        str(out),
        "--report-only",
        "--n-models",
        "2",
        "--no-figures",
        "--json",
    ]
    result = runner.invoke(_app(), args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["runs"] == []
    assert summary["reports"]["schedule"]["pending"] == ["nominal", "schedule/constant-lr"]
    assert (out / "schedule.md").is_file()


def test_errors_exit_with_code_2_and_one_line(study_dataset: Path, tmp_path: Path) -> None:
    unknown = runner.invoke(_app(), ["study", "losses", str(study_dataset), "--out", str(tmp_path)])
    assert unknown.exit_code == 2
    assert "unknown name 'losses'" in unknown.output
    no_out = runner.invoke(_app(), ["study", "loss", str(study_dataset)])
    assert no_out.exit_code == 2
    assert "--out DIR is required" in no_out.output
    few_folds = runner.invoke(
        _app(), ["study", "loss", str(study_dataset), "--out", str(tmp_path), "--report-only"]
    )
    assert few_folds.exit_code == 2  # 5 models need more than the 5 usable folds of 6
    assert "unique-fold training of 5 models" in few_folds.output


def test_the_summary_serialises(inputs_study: StudySummary) -> None:
    data = inputs_study.to_dict()
    assert data["study"] == "inputs"
    assert data["reports"]["inputs"]["pending"] == []
    assert len(data["runs"]) == 4
