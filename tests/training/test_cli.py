"""``mucalo train`` / ``mucalo lr-find`` through typer (wired here as the lead wires them in main)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mucalo.cli.common import setup_logging
from mucalo.cli.train import lr_find, train
from mucalo.training import load_run

app = typer.Typer()


@app.callback()
def _root() -> None:
    setup_logging(0)  # as mucalo.cli.main does


app.command("train")(train)
app.command("lr-find")(lr_find)
runner = CliRunner()

QUICK = ["--model", "hl", "--batch-size", "8", "--lr", "0.05", "--epochs", "2", "--json"]


def test_train_then_resume_a_finished_run(small_dataset_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(small_dataset_path), "--out", str(out), *QUICK])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["weights"] == [1.0]
    assert summary["models"][0]["epochs"] == 2
    assert (out / "train.log").read_text().count("model 0 epoch 2:") == 1
    trained = load_run(out)
    assert trained.config.schedule.lr == 0.05  # 5e-2 passed as a float survives the config round trip
    assert trained.model_config.kind == "hl"

    again = runner.invoke(app, ["train", str(small_dataset_path), "--out", str(out), *QUICK])
    assert again.exit_code == 2
    assert "exists; pass --overwrite" in again.output
    resumed = runner.invoke(app, ["train", "--resume", str(out), "--json"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["models"] == summary["models"]  # finished: nothing retrained


@pytest.mark.parametrize(
    ("ablation", "check"),
    [
        ("single-bin", lambda run: run.config.loss.n_bins == 1),
        (
            "constant-lr",
            lambda run: run.config.schedule.kind == "constant" and run.config.schedule.lr == 1e-4,
        ),
    ],
)
def test_ablations_resolve_to_their_switch(
    small_dataset_path: Path, tmp_path: Path, ablation: str, check: object
) -> None:
    out = tmp_path / ablation
    args = [
        "train",
        str(small_dataset_path),
        "--out",
        str(out),
        "--ablation",
        ablation,
        *QUICK[:-3],
        "--epochs",
        "1",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert check(load_run(out))  # type: ignore[operator]


def test_usage_errors_exit_2(small_dataset_path: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["train", str(small_dataset_path), "--out", str(tmp_path / "r"), "--ablation", "no-sé"]
    )
    assert result.exit_code == 2
    assert "--ablation: unknown name 'no-sé'" in result.output
    result = runner.invoke(app, ["train", "--model", "hl"])
    assert result.exit_code == 2
    assert "give DATASET and --out, or --resume RUN" in result.output
    result = runner.invoke(
        app, ["train", str(small_dataset_path), "--out", str(tmp_path / "s"), "--set", "schedul.lr=1"]
    )
    assert result.exit_code == 2
    assert "did you mean 'schedule'" in result.output


def test_lr_find_writes_the_curve(small_dataset_path: Path, tmp_path: Path) -> None:
    args = ["lr-find", str(small_dataset_path), "--model", "hl", "--batch-size", "8", "--steps", "30"]
    args += ["--lr-max", "1", "--out", str(tmp_path / "lr"), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert 1e-7 <= summary["lr_at_minimum"] <= 1.0
    assert summary["suggested_lr"] == pytest.approx(summary["lr_at_minimum"] / 10)
    curve = json.loads((tmp_path / "lr" / "lr_range_test.json").read_text())
    assert len(curve["lr"]) == summary["steps"] <= 30
    assert curve["lr"][0] == pytest.approx(1e-7)
    assert all(b > a for a, b in zip(curve["lr"][:-1], curve["lr"][1:], strict=True))
    assert (tmp_path / "lr" / "lr_range_test.png").is_file()
