"""Training config: presets, overrides, strict validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from mucalo.config import from_dict
from mucalo.errors import ConfigError
from mucalo.training import TrainConfig, load_train_config


def test_paper_preset_is_the_code_defaults() -> None:
    assert load_train_config("paper") == TrainConfig()
    assert load_train_config(None) == TrainConfig()


def test_quick_preset_compresses_the_schedule() -> None:
    quick = load_train_config("quick")
    assert quick.schedule.cycle_epochs < TrainConfig().schedule.cycle_epochs
    assert quick.schedule.max_epochs <= 10
    assert quick.loss == TrainConfig().loss  # same loss as the paper


def test_overrides_and_round_trip() -> None:
    config = load_train_config(
        "quick", overrides={"schedule.lr": 3e-5, "folds.n_models": 5, "batch_size": 32}
    )
    assert config.schedule.lr == 3e-5
    assert config.folds.n_models == 5
    assert config.batch_size == 32
    assert TrainConfig.from_dict(config.to_dict()) == config


def test_yaml_file_preset(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("train:\n  loss:\n    n_bins: 1\n  feature_columns: [e_sum, e_above]\n")
    config = load_train_config(path)
    assert config.loss.n_bins == 1
    assert config.feature_columns == ("e_sum", "e_above")


def test_unknown_keys_and_bad_values_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"train_quick.yaml: train.schedule.lrr: unknown key; did you mean 'lr'"
    ):
        load_train_config("quick", overrides={"schedule.lrr": 1.0})
    with pytest.raises(ConfigError, match=r"train.batch_size: expected an integer"):
        load_train_config(None, overrides={"batch_size": "many"})
    with pytest.raises(ConfigError, match=r"folds.strategy: expected one of"):
        from_dict(TrainConfig, {"folds": {"strategy": "every-fold"}}, where="train")
    with pytest.raises(ConfigError, match=r"no such preset"):
        load_train_config("quik")
