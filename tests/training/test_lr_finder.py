"""The LR range test."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mucalo.data import MuonDataset
from mucalo.errors import ConfigError
from mucalo.models import build_model
from mucalo.training import load_train_config, lr_range_test, model_config_for


def test_range_test_rises_exponentially_and_stops_when_the_loss_diverges(small_dataset: MuonDataset) -> None:
    config = load_train_config("quick", overrides={"batch_size": 8})
    model_config = model_config_for(small_dataset, kind="hl")
    torch.manual_seed(0)
    result = lr_range_test(
        build_model(model_config),
        small_dataset,
        folds=[2, 3, 4, 5],
        config=config,
        model_config=model_config,
        lr_min=1e-4,
        lr_max=1e4,
        n_steps=80,
        progress=False,
    )
    n = result.lr.size
    np.testing.assert_allclose(result.lr, 1e-4 * 1e8 ** (np.arange(n) / 79), rtol=1e-12)
    assert result.stopped_early  # an LR of 1e4 blows the loss up long before step 80
    assert n < 80
    assert result.smoothed[-1] > 4 * np.nanmin(result.smoothed) or not np.isfinite(result.smoothed[-1])
    assert result.lr[0] <= result.lr_at_minimum < result.lr[-1]
    assert result.suggested_lr == pytest.approx(result.lr_at_minimum / 10)


def test_range_test_arguments_are_checked(small_dataset: MuonDataset) -> None:
    config = load_train_config("quick")
    model_config = model_config_for(small_dataset, kind="hl")
    with pytest.raises(ConfigError, match="lr range test"):
        lr_range_test(
            build_model(model_config),
            small_dataset,
            folds=[2],
            config=config,
            model_config=model_config,
            lr_min=1.0,
            lr_max=0.1,
        )
