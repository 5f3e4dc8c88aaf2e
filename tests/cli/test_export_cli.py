"""``mucalo export``: ONNX and TorchScript files that agree with torch on real muons (issue 6)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
import typer
from cli_runs import invoke

from mucalo.cli.common import setup_logging
from mucalo.cli.export import export
from mucalo.data import make_loader, open_dataset
from mucalo.training import load_run
from run_fixtures import TinyRun

app = typer.Typer()


@app.callback()
def _root() -> None:
    setup_logging(0)  # as mucalo.cli.main does


app.command("export")(export)


def _export(*args: str) -> dict[str, object]:
    result = invoke(app, ["export", *args, "--json"])
    assert result.exit_code == 0, result.output
    summary: dict[str, object] = json.loads(result.stdout)
    return summary


@pytest.mark.parametrize(("fmt", "name"), [("onnx", "hl.onnx"), ("torchscript", "hl.pt")])
def test_hl_ensemble_export_agrees_with_torch(tiny: TinyRun, tmp_path: Path, fmt: str, name: str) -> None:
    out = tmp_path / name
    summary = _export(str(tiny.run), "--format", fmt, "--out", str(out))
    parity = summary["parity"]
    assert isinstance(parity, dict)
    assert parity["ok"] is True
    assert parity["max_rel_diff"] < 1e-4
    assert summary["model"] == "ensemble"
    assert summary["n_muons"] == 30  # the hold-out fold of the run's dataset
    metadata = json.loads((tmp_path / f"{name}.json").read_text())
    assert metadata["inputs"][0]["name"] == "features"
    assert metadata["inputs"][0]["columns"] == list(load_run(tiny.run).feature_columns)
    assert metadata["parity"]["data"] == str(tiny.dataset)


def test_onnx_file_reproduces_run_predict(tiny: TinyRun, tmp_path: Path) -> None:
    """The ONNX ensemble on standardised features gives what TrainedRun.predict gives."""
    out = tmp_path / "m.onnx"
    _export(str(tiny.run), "--out", str(out), "--data", str(tiny.lumin))
    run = load_run(tiny.run)
    data = open_dataset(tiny.dataset)
    batch = next(iter(make_loader(data, [0], batch_size=30, shuffle=False, seed=0, with_grid=False)))
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (energy,) = session.run(["energy"], {"features": batch["features"].numpy()})
    np.testing.assert_allclose(energy, run.predict(data, [0]).ensemble, rtol=1e-5)


def test_one_model_of_the_ensemble(tiny: TinyRun, tmp_path: Path) -> None:
    out = tmp_path / "m1.pt"
    summary = _export(str(tiny.run), "--format", "torchscript", "--model", "1", "--out", str(out))
    assert summary["model"] == "model_1"
    run = load_run(tiny.run)
    data = open_dataset(tiny.dataset)
    batch = next(iter(make_loader(data, [0], batch_size=30, shuffle=False, seed=0, with_grid=False)))
    with torch.no_grad():
        loaded = torch.jit.load(str(out))  # type: ignore[no-untyped-call]
        np.testing.assert_allclose(
            loaded(batch["features"]).numpy(), run.predict(data, [0]).per_model[1], rtol=1e-5
        )


def test_hybrid_onnx_export_on_real_grids(hybrid_run: Path, tiny: TinyRun, tmp_path: Path) -> None:
    summary = _export(
        str(hybrid_run),
        "--out",
        str(tmp_path / "hybrid.onnx"),
        "--data",
        str(tiny.raw_shards),
        "--n-muons",
        "8",
    )
    parity = summary["parity"]
    assert isinstance(parity, dict)
    assert parity["ok"] is True
    assert parity["max_rel_diff"] < 1e-4
    assert summary["n_muons"] == 8
    metadata = json.loads((tmp_path / "hybrid.onnx.json").read_text())
    assert [i["name"] for i in metadata["inputs"]] == ["grid", "features"]
    assert metadata["inputs"][0]["shape"] == ["batch", 1, 50, 32, 32]


def test_export_errors(tiny: TinyRun, tmp_path: Path) -> None:
    bad_model = invoke(app, ["export", str(tiny.run), "--model", "7", "--out", str(tmp_path / "x.onnx")])
    assert bad_model.exit_code == 2
    assert "7 is not a model of" in bad_model.stderr
    assert "model_0" in bad_model.stderr
    bad_format = invoke(app, ["export", str(tiny.run), "--format", "tflite", "--out", str(tmp_path / "x")])
    assert bad_format.exit_code == 2
    assert "expected one of ['onnx', 'torchscript'], got 'tflite'" in bad_format.stderr
    (tmp_path / "taken.onnx").write_text("")
    taken = invoke(app, ["export", str(tiny.run), "--out", str(tmp_path / "taken.onnx")])
    assert taken.exit_code == 2
    assert "pass --overwrite" in taken.stderr
