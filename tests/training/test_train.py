"""Short real trainings on the 120-muon fixture: run directory, ensembles, resume, determinism."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from mucalo.data import MuonDataset, build_dataset, open_dataset
from mucalo.errors import CheckpointError, ConfigError
from mucalo.models import build_model
from mucalo.training import (
    HISTORY_COLUMNS,
    ModelFolds,
    TrainConfig,
    fit,
    load_checkpoint,
    load_run,
    load_train_config,
    model_config_for,
    resume_run,
    train_run,
)
from mucalo.training import loop as loop_module


def _config(**overrides: Any) -> TrainConfig:
    """The quick preset shrunk further: batches of 8 (10 steps per epoch on 80 training muons).

    The networks regress GeV directly from a near-zero start (as the authors'), so a few steps need a
    high LR to move the output to the scale of the targets.
    """
    # fp32: the exact-equality checks below are defined without bf16 autocast (which the preset enables)
    values = {"batch_size": 8, "schedule.lr": 5e-2, "schedule.max_epochs": 5, "bf16": False, **overrides}
    return load_train_config("quick", overrides=values)


def _hl(dataset: MuonDataset) -> Any:
    return model_config_for(dataset, kind="hl")


def _history(run: Path) -> list[dict[str, str]]:
    with (run / "history.csv").open() as f:
        return list(csv.DictReader(f))


def test_short_training_reduces_the_loss_and_writes_a_complete_run(
    small_dataset: MuonDataset, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    summary = train_run(small_dataset, run, config=_config(), model_config=_hl(small_dataset), progress=False)
    for name in ("config.json", "config.yaml", "dataset.json", "folds.json", "versions.json", "history.csv"):
        assert (run / name).is_file(), name
    assert (run / "model_0" / "checkpoint.pt").is_file()
    assert (run / "model_0" / "best.pt").is_file()
    rows = _history(run)
    assert tuple(rows[0]) == HISTORY_COLUMNS
    assert [int(r["epoch"]) for r in rows] == list(range(1, summary.fits[0].epochs + 1))
    val = [float(r["val_loss"]) for r in rows]
    assert min(val) < 0.5 * val[0]  # the monitoring loss goes down
    assert summary.fits[0].best_loss == min(val)
    ensemble = json.loads((run / "ensemble.json").read_text())
    assert ensemble["weights"] == [1.0]
    assert ensemble["monitor_fold"] == [1]
    dataset_ref = json.loads((run / "dataset.json").read_text())
    assert dataset_ref["feature_names"] == list(small_dataset.feature_names)
    assert dataset_ref["standardisation"]["mean"] == pytest.approx(
        small_dataset.standardisation.mean.tolist()
    )
    checkpoint = load_checkpoint(run / "model_0" / "checkpoint.pt", kind="checkpoint")
    assert checkpoint["state"]["finished"] is True
    assert checkpoint["state"]["steps_per_epoch"] == 10  # 80 training muons, batches of 8
    assert checkpoint["loss"]["thresholds"].shape == (5,)
    assert checkpoint["history"][-1]["epoch"] == summary.fits[0].epochs

    trained = load_run(run)
    prediction = trained.predict(small_dataset, [trained.holdout_fold or 0])
    assert prediction.per_model.shape == (1, 20)
    np.testing.assert_array_equal(prediction.ensemble, prediction.per_model[0])
    assert np.all(prediction.fold == 0)
    np.testing.assert_allclose(prediction.true_energy, small_dataset.targets(0), rtol=1e-6)
    # the loaded model is the best state: its monitoring loss is the recorded best
    monitor = trained.predict(small_dataset, [1])
    loss = loop_module.BinnedHuberLoss(trained.config.loss)
    # thresholds go on adapting after the best epoch: the best state carries those of its epoch
    loss.load_state_dict(load_checkpoint(run / "model_0" / "best.pt", kind="best")["loss"])
    loss.eval()
    value = loss(torch.from_numpy(monitor.ensemble).float(), torch.from_numpy(monitor.true_energy).float())
    assert value.item() == pytest.approx(summary.fits[0].best_loss, rel=1e-5)


def test_two_model_ensemble_weights_sum_to_one(small_dataset: MuonDataset, tmp_path: Path) -> None:
    config = _config(**{"folds.n_models": 2, "folds.strategy": "unique-fold", "schedule.max_epochs": 2})
    summary = train_run(
        small_dataset, tmp_path / "run", config=config, model_config=_hl(small_dataset), progress=False
    )
    assert sum(summary.weights) == pytest.approx(1.0)
    losses = np.array([f.best_loss for f in summary.fits])
    np.testing.assert_allclose(summary.weights, (1 / losses) / (1 / losses).sum())
    rows = _history(tmp_path / "run")
    assert [(r["model"], r["epoch"]) for r in rows] == [("0", "1"), ("0", "2"), ("1", "1"), ("1", "2")]
    trained = load_run(tmp_path / "run")
    assert [f.train for f in trained.folds] == [(2, 3), (1, 4)]
    prediction = trained.predict(small_dataset, [0])
    np.testing.assert_allclose(prediction.ensemble, trained.weights @ prediction.per_model)
    assert not np.allclose(prediction.per_model[0], prediction.per_model[1])


class _Killed(Exception):
    """Stands in for SIGKILL right after a checkpoint was written."""


def _state_of(run: Path) -> dict[str, Any]:
    return load_checkpoint(run / "model_0" / "checkpoint.pt", kind="checkpoint")


def test_resume_after_a_kill_gives_identical_weights(
    small_dataset: MuonDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1cycle of 2 epochs, then step decay with reloads: the resumed part crosses a phase change
    config = _config(**{"schedule.warmup_epochs": 1, "schedule.decay_epochs": 1, "schedule.max_epochs": 3})
    model_config = _hl(small_dataset)
    train_run(small_dataset, tmp_path / "whole", config=config, model_config=model_config, progress=False)

    real_save = loop_module.save_checkpoint
    saved: list[str] = []

    def save_then_die(path: Path, payload: dict[str, Any], *, kind: str) -> Path:
        result = real_save(path, payload, kind=kind)
        saved.append(kind)
        if saved.count("checkpoint") == 2:
            raise _Killed
        return result

    monkeypatch.setattr(loop_module, "save_checkpoint", save_then_die)
    with pytest.raises(_Killed):
        train_run(
            small_dataset, tmp_path / "killed", config=config, model_config=model_config, progress=False
        )
    monkeypatch.setattr(loop_module, "save_checkpoint", real_save)
    assert _state_of(tmp_path / "killed")["state"]["epoch"] == 2
    assert not (tmp_path / "killed" / "ensemble.json").exists()
    with pytest.raises(CheckpointError, match="not finished; continue it with --resume"):
        load_run(tmp_path / "killed")

    torch.manual_seed(12345)  # the resumed run must not depend on the process's RNG state
    resume_run(tmp_path / "killed", progress=False)
    whole, resumed = _state_of(tmp_path / "whole"), _state_of(tmp_path / "killed")
    assert whole["state"] == resumed["state"]
    for key, tensor in whole["model"].items():
        assert torch.equal(tensor, resumed["model"][key]), key
    assert torch.equal(whole["loss"]["thresholds"], resumed["loss"]["thresholds"])
    for a, b in zip(
        whole["optimizer"]["state"].values(), resumed["optimizer"]["state"].values(), strict=True
    ):
        assert torch.equal(a["exp_avg"], b["exp_avg"])
        assert torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])
    timing = {"seconds", "muons_per_s"}
    strip = [{k: v for k, v in r.items() if k not in timing} for r in whole["history"]]
    assert repr(strip) == repr([{k: v for k, v in r.items() if k not in timing} for r in resumed["history"]])
    assert json.loads((tmp_path / "killed" / "ensemble.json").read_text())["weights"] == [1.0]


def test_seed_decides_the_result(small_dataset: MuonDataset, tmp_path: Path) -> None:
    results = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        run = tmp_path / name
        config = _config(**{"schedule.max_epochs": 2, "seed": seed})
        train_run(small_dataset, run, config=config, model_config=_hl(small_dataset), progress=False)
        results[name] = load_checkpoint(run / "model_0" / "best.pt", kind="best")["model"]
    assert all(torch.equal(results["a"][k], results["b"][k]) for k in results["a"])
    assert not all(torch.equal(results["a"][k], results["c"][k]) for k in results["a"])


def test_existing_run_and_foreign_dataset_are_refused(
    small_dataset: MuonDataset, small_dataset_path: Path, tmp_path: Path
) -> None:
    config = _config(**{"schedule.max_epochs": 1})
    run = tmp_path / "run"
    train_run(small_dataset, run, config=config, model_config=_hl(small_dataset), progress=False)
    with pytest.raises(ConfigError, match="exists; pass --overwrite"):
        train_run(small_dataset, run, config=config, model_config=_hl(small_dataset), progress=False)
    train_run(
        small_dataset, run, config=config, model_config=_hl(small_dataset), progress=False, overwrite=True
    )
    shards = Path(small_dataset_path).parent / "shards"
    other = open_dataset(build_dataset(shards, tmp_path / "other", n_folds=4))
    with pytest.raises(CheckpointError, match="fold sizes or feature names differ"):
        resume_run(run, dataset=other, progress=False)


def test_model_must_fit_the_dataset(small_dataset: MuonDataset, tmp_path: Path) -> None:
    wrong = model_config_for(small_dataset, kind="hl", feature_columns=["e_sum"])
    with pytest.raises(ConfigError, match=r"model\.n_features: 1, but the model reads 4"):
        train_run(small_dataset, tmp_path / "run", config=_config(), model_config=wrong, progress=False)
    config = _config(batch_size=128)
    with pytest.raises(ConfigError, match="leaves no complete training batch"):
        train_run(
            small_dataset, tmp_path / "run2", config=config, model_config=_hl(small_dataset), progress=False
        )


def test_feature_subset_training(small_dataset: MuonDataset, tmp_path: Path) -> None:
    """Table 1's "energy sums only" style: the model reads a subset of the columns."""
    config = _config(**{"schedule.max_epochs": 1, "feature_columns": ["e_sum", "e_above"]})
    model_config = model_config_for(small_dataset, kind="hl", feature_columns=["e_sum", "e_above"])
    summary = train_run(
        small_dataset, tmp_path / "run", config=config, model_config=model_config, progress=False
    )
    trained = load_run(summary.path)
    assert trained.feature_columns == ("e_sum", "e_above")
    assert trained.standardisation.feature_names == ("e_sum", "e_above")
    assert trained.predict(small_dataset, [0]).per_model.shape == (1, 20)


def _fit_hybrid(dataset: MuonDataset, model_dir: Path, *, resume: bool = False) -> Any:
    model_config = model_config_for(dataset, kind="hybrid")
    config = _config(
        **{
            "batch_size": 10,
            "schedule.max_epochs": 2,
            "schedule.warmup_epochs": 1,
            "schedule.decay_epochs": 1,
            "monitor_metrics": False,
        }
    )
    torch.manual_seed(0)
    model = build_model(model_config)
    result = fit(
        model,
        dataset=dataset,
        folds=ModelFolds(model=0, train=(2,), monitor=1),
        config=config,
        model_config=model_config,
        model_dir=model_dir,
        metadata={"standardisation": {}, "feature_columns": list(dataset.feature_names)},
        progress=False,
        resume=resume,
    )
    return model, result


def test_hybrid_model_trains_and_resumes_bit_identically(
    small_dataset: MuonDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CNN path (grids per batch, running batch-norm) on 20 muons: 2 epochs of 2 steps, and the
    same 2 epochs interrupted after the first and resumed."""
    torch.manual_seed(0)
    before = build_model(model_config_for(small_dataset, kind="hybrid")).state_dict()
    model, result = _fit_hybrid(small_dataset, tmp_path / "whole")
    assert result.epochs == 2
    assert all(np.isfinite(r.val_loss) for r in result.history)
    after = model.state_dict()
    weight, sums = "head.blocks.0.conv1.conv.weight", "head.blocks.0.conv1.norm.sums"
    assert not torch.equal(after[weight], before[weight])  # the conv head was trained
    assert not torch.equal(after[sums], before[sums])  # running batch-norm statistics were tracked
    assert load_checkpoint(tmp_path / "whole" / "best.pt", kind="best")["epoch"] == result.best_epoch

    real_save = loop_module.save_checkpoint

    def save_then_die(path: Path, payload: dict[str, Any], *, kind: str) -> Path:
        real_save(path, payload, kind=kind)
        if kind == "checkpoint":
            raise _Killed
        return path

    monkeypatch.setattr(loop_module, "save_checkpoint", save_then_die)
    with pytest.raises(_Killed):
        _fit_hybrid(small_dataset, tmp_path / "killed")
    monkeypatch.setattr(loop_module, "save_checkpoint", real_save)
    resumed, _ = _fit_hybrid(small_dataset, tmp_path / "killed", resume=True)
    for key, tensor in model.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[key]), key
