"""``mucalo predict`` through typer: shards (with and without features), LUMIN fold files, datasets."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import typer
from cli_runs import invoke

from mucalo.cli.common import setup_logging
from mucalo.cli.predict import predict
from mucalo.data import open_dataset
from mucalo.errors import ConfigError
from mucalo.evaluation import BiasCorrection, EvaluationConfig
from mucalo.evaluation.predict import predict_run
from mucalo.evaluation.run_inputs import save_bias_correction
from mucalo.training import load_run
from run_fixtures import TinyRun

app = typer.Typer()


@app.callback()
def _root() -> None:
    setup_logging(0)  # as mucalo.cli.main does


app.command("predict")(predict)

CORRECTION = BiasCorrection(1.25, -100.0)


@pytest.fixture(scope="module")
def corrected_run(tiny: TinyRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny run with a known ensemble bias correction (model_1's fit 'failed')."""
    run = tmp_path_factory.mktemp("predict") / "run"
    shutil.copytree(tiny.run, run)
    save_bias_correction(
        run,
        {"model_0": BiasCorrection(1.0, 0.0), "model_1": None, "ensemble": CORRECTION},
        errors={"model_1": "test"},
        fitted_on={"data": "test"},
        config=EvaluationConfig(),
    )
    return run


def _csv(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {key: np.array([float(r[key]) for r in rows]) for key in rows[0]}


def _h5(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as f:
        return {key: f[key][:] for key in f}


def test_predict_on_a_shard_directory(corrected_run: Path, tiny: TinyRun, tmp_path: Path) -> None:
    out = tmp_path / "energies.h5"
    result = invoke(app, ["predict", str(corrected_run), str(tiny.test_shards), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["n_muons"], summary["input_kind"], summary["features"]) == (40, "shards", "stored")
    assert summary["bias_corrected"] is True
    columns = _h5(out)
    assert list(columns) == sorted(summary["columns"])
    assert summary["columns"][:2] == ["shard", "muon"]
    np.testing.assert_array_equal(columns["muon"], np.arange(40))  # the shard's order
    np.testing.assert_array_equal(columns["true_energy"], np.repeat([100.0, 1000.0, 4000.0, 8000.0], 10))
    per_model = np.stack([columns["model_0"], columns["model_1"]])
    weights = load_run(corrected_run).weights
    np.testing.assert_allclose(columns["ensemble_raw"], weights @ per_model, rtol=1e-12)
    np.testing.assert_allclose(columns["ensemble_corrected"], (columns["ensemble_raw"] + 100.0) / 1.25)
    spread = np.sqrt(weights @ (per_model - columns["ensemble_raw"]) ** 2)
    np.testing.assert_allclose(columns["ensemble_spread"], spread, rtol=1e-9)
    assert (columns["ensemble_spread"] > 0).all()
    # The same muons through the test dataset built from the shard (one fold, shard order kept).
    dataset = load_run(corrected_run).predict(open_dataset(tiny.test_dataset))
    np.testing.assert_allclose(columns["ensemble_raw"], dataset.ensemble, rtol=1e-6)
    with h5py.File(out, "r") as f:
        assert json.loads(f.attrs["shard_files"]) == [str(tiny.test_shards / "g4ref_small.h5")]
        assert f.attrs["units"] == "GeV"


def test_features_missing_from_the_shards_are_computed_in_memory(
    corrected_run: Path, tiny: TinyRun, tmp_path: Path
) -> None:
    stored = predict_run(corrected_run, tiny.test_shards, tmp_path / "stored.csv")
    computed = predict_run(corrected_run, tiny.raw_shards, tmp_path / "computed.csv")
    assert (stored["features"], computed["features"]) == ("stored", "computed")
    np.testing.assert_allclose(
        _csv(tmp_path / "computed.csv")["ensemble_raw"],
        _csv(tmp_path / "stored.csv")["ensemble_raw"],
        rtol=1e-6,
    )
    assert not (tiny.raw_shards / "g4ref_small.h5").with_suffix(".features").exists()
    with h5py.File(tiny.raw_shards / "g4ref_small.h5", "r") as f:
        assert "features" not in f  # the input is never modified


def test_predict_on_a_lumin_fold_file_matches_the_dataset(
    corrected_run: Path, tiny: TinyRun, tmp_path: Path
) -> None:
    out = tmp_path / "lumin.csv"
    result = invoke(app, ["predict", str(corrected_run), str(tiny.lumin), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["n_muons"], summary["input_kind"]) == (120, "lumin-fold-file")
    from_lumin = _csv(out)
    predict_run(corrected_run, tiny.dataset, tmp_path / "dataset.h5")
    from_dataset = _h5(tmp_path / "dataset.h5")
    np.testing.assert_array_equal(from_lumin["fold"], from_dataset["fold"])
    np.testing.assert_array_equal(from_lumin["true_energy"], from_dataset["true_energy"])  # CSV: exact
    np.testing.assert_allclose(from_lumin["ensemble_raw"], from_dataset["ensemble_raw"], rtol=1e-5)


def test_without_a_bias_correction_the_corrected_column_is_nan_with_a_note(
    tiny: TinyRun, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny.run, run)
    (run / "bias_correction.json").unlink(missing_ok=True)
    result = invoke(app, ["predict", str(run), str(tiny.test_shards), "--out", str(tmp_path / "e.csv")])
    assert result.exit_code == 0, result.output
    assert "run `mucalo evaluate` on it first" in result.stderr
    columns = _csv(tmp_path / "e.csv")
    assert np.isnan(columns["ensemble_corrected"]).all()
    assert np.isfinite(columns["ensemble_raw"]).all()


def test_predict_refuses_unknown_suffixes_and_existing_files(
    corrected_run: Path, tiny: TinyRun, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"energies\.txt: unknown output format"):
        predict_run(corrected_run, tiny.test_shards, tmp_path / "energies.txt")
    (tmp_path / "taken.csv").write_text("x\n")
    result = invoke(
        app, ["predict", str(corrected_run), str(tiny.test_shards), "--out", str(tmp_path / "taken.csv")]
    )
    assert result.exit_code == 2
    assert "taken.csv: exists; pass --overwrite" in result.stderr
    missing = invoke(
        app, ["predict", str(corrected_run), str(tmp_path / "none"), "--out", str(tmp_path / "a.h5")]
    )
    assert missing.exit_code == 1
    assert "none: no such shard file or directory" in missing.stderr
