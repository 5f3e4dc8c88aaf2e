"""The loop carries out the schedule: LR steps reload the best state, the run ends on the best state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from mucalo.data import MuonDataset
from mucalo.models import build_model
from mucalo.training import ModelFolds, fit, load_checkpoint, load_train_config, model_config_for
from mucalo.training import loop as loop_module

#: monitoring losses of epochs 1..7: best at 2; 3 and 4 fail → step + reload after 4; 5 improves; 6, 7 fail
SCRIPTED = [5.0, 4.0, 6.0, 7.0, 3.0, 3.5, 3.6]


def test_step_decay_reloads_the_best_state(
    small_dataset: MuonDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start_of_epoch: list[dict[str, torch.Tensor]] = []
    end_of_epoch: list[dict[str, torch.Tensor]] = []
    real_train = loop_module._train_epoch

    def recording_train(model: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        start_of_epoch.append({k: v.clone() for k, v in model.state_dict().items()})
        return real_train(model, *args, **kwargs)

    def scripted_validate(model: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        end_of_epoch.append({k: v.clone() for k, v in model.state_dict().items()})
        loss = SCRIPTED[len(end_of_epoch) - 1]
        return loss, np.zeros(1), np.ones(1)

    monkeypatch.setattr(loop_module, "_train_epoch", recording_train)
    monkeypatch.setattr(loop_module, "_validate", scripted_validate)
    config = load_train_config(
        "quick",
        overrides={
            "batch_size": 16,
            "monitor_metrics": False,
            "schedule.warmup_epochs": 1,
            "schedule.decay_epochs": 1,
            "schedule.max_epochs": 7,
        },
    )
    model_config = model_config_for(small_dataset, kind="hl")
    model = build_model(model_config)
    result = fit(
        model,
        dataset=small_dataset,
        folds=ModelFolds(model=0, train=(2, 3, 4, 5), monitor=1),
        config=config,
        model_config=model_config,
        model_dir=tmp_path,
        metadata={"standardisation": {}, "feature_columns": list(small_dataset.feature_names)},
        progress=False,
    )

    def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
        return all(torch.equal(a[k], b[k]) for k in a)

    lrs = [r.lr for r in result.history]
    # end of the 1cycle (epoch 2, also the best): the step phase runs at the LR of the best epoch
    assert lrs[2] == lrs[3] == pytest.approx(lrs[1])
    # epochs 3 and 4 did not improve: after epoch 4 the best state (epoch 2) is back and the LR halves
    assert same(start_of_epoch[4], end_of_epoch[1])
    assert lrs[4] == pytest.approx(lrs[3] / 2)
    assert [r.beta1 for r in result.history][4] == pytest.approx(0.95)
    # no reload without a step: epoch 4 starts where epoch 3 ended
    assert same(start_of_epoch[3], end_of_epoch[2])
    # epoch 5 is the new best; 6 and 7 fail: a second step happens after 7, but max_epochs stops first
    assert result.best_epoch == 5
    assert result.stop_reason == "max-epochs"
    assert same(model.state_dict(), end_of_epoch[4])  # finished on the best state
    state = load_checkpoint(tmp_path / "checkpoint.pt", kind="checkpoint")["state"]
    assert state["n_lr_steps"] == 1
    assert state["n_reloads"] == 2  # end of the 1cycle, the step after epoch 4
    assert state["best_loss"] == 3.0
