"""``mucalo evaluate`` through typer (wired here as the lead wires it in main)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import typer
from cli_runs import invoke

from mucalo.cli.common import setup_logging
from mucalo.cli.evaluate import evaluate
from mucalo.evaluation.run_importance import run_importance
from mucalo.training import load_run
from run_fixtures import TinyRun

app = typer.Typer()


@app.callback()
def _root() -> None:
    setup_logging(0)  # as mucalo.cli.main does


app.command("evaluate")(evaluate)

#: Settings for 30 validation muons, and no bootstrap, importance or event display: a quick evaluation.
QUICK = ["--set", "fit_bins=6", "--set", "resolution_bins=4", "--set", "fit_bootstrap=20", "--bootstrap", "0"]
LIGHT = [*QUICK, "--no-importance", "--event-displays", "0"]
#: One 100 GeV fit bin: every bias fit fails, so almost nothing is drawn (the cheapest evaluation).
FAILING = [
    "--set",
    "fit_range_gev=[100, 200]",
    "--set",
    "fit_bins=1",
    "--bootstrap",
    "0",
    "--no-importance",
    "--event-displays",
    "0",
]


def test_evaluate_writes_metrics_report_and_the_runs_bias_correction(tiny: TinyRun, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny.run, run)  # the evaluation writes into the run
    out = tmp_path / "eval"
    args = [
        "evaluate",
        str(run),
        "--data",
        str(tiny.dataset),
        "--test",
        str(tiny.test_dataset),
        "--out",
        str(out),
    ]
    result = invoke(app, [*args, *LIGHT])
    assert result.exit_code == 0, result.output
    assert "validation (ensemble): mean_improvement" in result.stdout
    assert "test (ensemble): mean_improvement" in result.stdout
    assert str(out / "report.html") in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    for where in ("validation", "test"):
        assert set(metrics[where]) == {"model_0", "model_1", "ensemble"}
        ensemble = metrics[where]["ensemble"]
        assert math.isfinite(ensemble["mean_improvement"]), ensemble
        assert ensemble["mean_improvement_err"] is None  # --bootstrap 0
    assert metrics["evaluation_config"]["fit_bins"] == 6  # --set reached the config
    stored = json.loads((run / "bias_correction.json").read_text())
    assert (
        stored["corrections"]["ensemble"]["slope"] == metrics["validation"]["ensemble"]["bias_fit"]["slope"]
    )

    again = invoke(app, [*args, *LIGHT])
    assert again.exit_code == 2
    assert "pass --overwrite" in again.stderr


def test_evaluate_json_is_one_object_and_reports_failed_fits(tiny: TinyRun, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny.run, run)
    out = tmp_path / "eval"
    args = ["evaluate", str(run), "--data", str(tiny.dataset), "--out", str(out), *FAILING, "--json"]
    result = invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["validation_set"]["folds"] == [0]
    assert "at least 3 bins" in summary["validation"]["ensemble"]["error"]
    assert summary["validation"]["ensemble"]["mean_improvement"] is None
    assert "test" not in summary
    for key in ("metrics", "report", "provenance", "bias_correction"):
        assert Path(summary["files"][key]).is_file(), key
    assert invoke(app, [*args, "--overwrite"]).exit_code == 0


def test_evaluate_errors_are_one_line_with_the_exit_code(tiny: TinyRun, tmp_path: Path) -> None:
    missing = invoke(
        app,
        ["evaluate", str(tmp_path / "nothing"), "--data", str(tiny.dataset), "--out", str(tmp_path / "e")],
    )
    assert missing.exit_code == 1
    assert "nothing/config.json: not found" in missing.stderr
    args = ["evaluate", str(tiny.run), "--data", str(tiny.dataset), "--out", str(tmp_path / "e")]
    bad_set = invoke(app, [*args, "--set", "fit_bins=0"])
    assert bad_set.exit_code == 2
    assert "fit_bins" in bad_set.stderr


def test_importance_of_a_hybrid_run_reuses_its_conv_head_exactly(hybrid_run: Path) -> None:
    """The conv head runs once; each shuffle re-runs only the body, and the result equals predict's."""
    run = load_run(hybrid_run)
    data = run.open_training_dataset()
    folds = [run.holdout_fold or 0]
    importance, nominal = run_importance(run, data, folds, max_events=1000, batch_size=4)
    np.testing.assert_allclose(nominal, run.predict(data, folds).ensemble, rtol=1e-5)
    assert np.isfinite(importance.overall).all()
    assert len(importance.feature_names) == 28
