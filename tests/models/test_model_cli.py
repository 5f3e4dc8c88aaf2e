"""``mucalo model summary`` through typer's runner."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mucalo.cli.model import app

runner = CliRunner()


def test_summary_json() -> None:
    result = runner.invoke(app, ["summary", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["trainable_parameters"] == 636_570
    assert data["expected_parameters"] == 636_570
    assert data["rows"][0]["output_shape"] == [9, 26, 17, 17]
    assert data["config"]["kind"] == "hybrid"


def test_summary_ablation_table() -> None:
    result = runner.invoke(app, ["summary", "--ablation", "no-se"])
    assert result.exit_code == 0, result.output
    assert "trainable parameters: 631,259" in result.stdout
    assert "matches the expected 631,259" in result.stdout


def test_summary_hl_model() -> None:
    result = runner.invoke(app, ["summary", "--model", "hl", "--json"])
    assert json.loads(result.stdout)["trainable_parameters"] == 15_361


def test_unknown_ablation_exits_2() -> None:
    result = runner.invoke(app, ["summary", "--ablation", "no-sx"])
    assert result.exit_code == 2
    assert "unknown name 'no-sx'" in result.stderr
