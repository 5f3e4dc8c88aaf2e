"""``mucalo dataset build | export-lumin | info`` through typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mucalo.cli.dataset import app

runner = CliRunner()


def test_build_export_info(shards_dir: Path, tmp_path: Path) -> None:
    built = runner.invoke(
        app,
        ["build", str(shards_dir), "--out", str(tmp_path / "ds"), "--n-folds", "4", "--seed", "2", "--json"],
    )
    assert built.exit_code == 0, built.output
    summary = json.loads(built.stdout)
    assert summary["n_muons"] == 160
    assert summary["fold_sizes"] == [40, 40, 40, 40]
    assert summary["statistics_folds"] == [1, 2, 3]

    exported = runner.invoke(app, ["export-lumin", str(tmp_path / "ds"), "--out", str(tmp_path / "ds.hdf5")])
    assert exported.exit_code == 0, exported.output

    ours = json.loads(runner.invoke(app, ["info", str(tmp_path / "ds"), "--json"]).stdout)
    theirs = json.loads(runner.invoke(app, ["info", str(tmp_path / "ds.hdf5"), "--json"]).stdout)
    assert ours["format"] == "mucalo-dataset"
    assert theirs["format"] == "lumin-fold-file"
    assert ours["fold_sizes"] == theirs["fold_sizes"] == [40, 40, 40, 40]
    assert ours["feature_names"] == theirs["feature_names"]
    assert [f["n_hits"] for f in ours["folds"]] == [f["n_hits"] for f in theirs["folds"]]
    assert [f["target_sum"] for f in ours["folds"]] == [f["target_sum"] for f in theirs["folds"]]
    assert len(ours["folds"][0]["feature_sums"]) == 28

    imported = runner.invoke(
        app, ["import-lumin", str(tmp_path / "ds.hdf5"), "--out", str(tmp_path / "back"), "--json"]
    )
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["n_muons"] == 160

    text = runner.invoke(app, ["info", str(tmp_path / "ds.hdf5")])
    assert text.exit_code == 0
    assert "lumin-fold-file, 160 muons in 4 folds" in text.stdout
    assert "standardised (by the file's writer)" in text.stdout


def test_errors_are_one_line_with_exit_codes(shards_dir: Path, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["info", str(tmp_path / "nothing")])
    assert missing.exit_code == 1
    assert "no such dataset" in missing.output
    bad = runner.invoke(app, ["build", str(shards_dir), "--out", str(tmp_path / "x"), "--n-folds", "0"])
    assert bad.exit_code == 2
    assert "dataset.n_folds" in bad.output
