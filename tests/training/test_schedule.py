"""1cycle with cosine interpolation, step decay and early stopping (paper §3.2.3)."""

from __future__ import annotations

import math

import pytest
import torch

from mucalo.errors import ConfigError
from mucalo.training import EpochEnd, ScheduleConfig, TrainState, end_of_epoch, make_optimizer, one_cycle

PAPER = ScheduleConfig()


def _cosine(start: float, end: float, fraction: float) -> float:
    return start + (end - start) * (1 - math.cos(math.pi * fraction)) / 2


def test_one_cycle_follows_the_cosine_curves() -> None:
    spe = 100  # steps per epoch
    lr = PAPER.lr
    assert one_cycle(0, steps_per_epoch=spe, config=PAPER) == pytest.approx((lr / 100, 0.95))
    assert one_cycle(200, steps_per_epoch=spe, config=PAPER) == pytest.approx(
        (lr, 0.85)
    )  # peak after 2 epochs
    for step in (1, 37, 100, 150, 199):
        fraction = step / 200
        expected = (_cosine(lr / 100, lr, fraction), _cosine(0.95, 0.85, fraction))
        assert one_cycle(step, steps_per_epoch=spe, config=PAPER) == pytest.approx(expected, rel=1e-12)
    for step in (201, 900, 1999):
        fraction = (step - 200) / 1800
        expected = (_cosine(lr, lr / 10, fraction), _cosine(0.85, 0.95, fraction))
        assert one_cycle(step, steps_per_epoch=spe, config=PAPER) == pytest.approx(expected, rel=1e-12)
    assert one_cycle(2000, steps_per_epoch=spe, config=PAPER) == pytest.approx((lr / 10, 0.95))
    assert one_cycle(10**6, steps_per_epoch=spe, config=PAPER) == pytest.approx((lr / 10, 0.95))


def test_paper_learning_rate_is_one_flag_away() -> None:
    paper_text = ScheduleConfig(lr=3e-5)
    assert one_cycle(0, steps_per_epoch=10, config=paper_text)[0] == pytest.approx(3e-7)
    assert one_cycle(20, steps_per_epoch=10, config=paper_text)[0] == pytest.approx(3e-5)
    assert one_cycle(200, steps_per_epoch=10, config=paper_text)[0] == pytest.approx(3e-6)


def test_optimizer_is_adam_with_the_papers_constants() -> None:
    optimizer = make_optimizer([torch.nn.Parameter(torch.zeros(2))], PAPER)
    assert isinstance(optimizer, torch.optim.Adam)
    group = optimizer.param_groups[0]
    assert group["betas"] == (0.95, 0.999)
    assert group["eps"] == 1e-8
    assert group["lr"] == pytest.approx(PAPER.lr / 100)
    assert group["weight_decay"] == 0


def _run(improvements: list[bool], config: ScheduleConfig = PAPER) -> list[tuple[TrainState, EpochEnd]]:
    """Feed end_of_epoch a sequence of improved / not improved epochs; stop at the first stop."""
    state = TrainState(phase="cycle" if config.kind == "one-cycle" else "constant", lr=1e-3, beta1=0.9)
    out = []
    for improved in improvements:
        state = state.replace(epoch=state.epoch + 1)
        state, decision = end_of_epoch(state, improved=improved, config=config)
        out.append((state, decision))
        if decision.stop is not None:
            break
    return out


def test_cycle_end_reloads_the_best_state_and_switches_to_step_decay() -> None:
    steps = _run([True] * 20)
    for state, decision in steps[:19]:
        assert state.phase == "cycle"
        assert not decision.reload_best
    state, decision = steps[19]
    assert decision.reload_best
    assert state.phase == "step"


def test_non_improving_cycle_epochs_do_not_count_towards_early_stopping() -> None:
    steps = _run([True] + [False] * 19)
    assert steps[-1][0].epochs_without_improvement == 0
    assert steps[-1][1].stop is None


def test_step_happens_exactly_after_two_non_improving_epochs() -> None:
    history = [True] * 20 + [False, False, False, True, False, False]
    steps = _run(history)
    lr_steps = [i + 1 for i, (_, d) in enumerate(steps) if d.lr_step]
    assert lr_steps == [22, 26]  # epochs 21, 22 fail → step after 22; 23 fails, 24 improves; 25, 26 fail
    state, decision = steps[21]
    assert decision.reload_best
    assert decision.lr == pytest.approx(0.5e-3)
    assert decision.beta1 == 0.95
    assert state.lr == pytest.approx(0.5e-3)
    assert state.beta1 == 0.95
    assert state.n_lr_steps == 1
    assert steps[-1][0].lr == pytest.approx(0.25e-3)


def test_authors_code_behaviour_without_reload() -> None:
    steps = _run([True] * 20 + [False, False], ScheduleConfig(reload_on_step=False))
    assert steps[-1][1].lr_step
    assert not steps[-1][1].reload_best


def test_early_stop_after_ten_non_improving_epochs() -> None:
    steps = _run([True] * 20 + [False] * 30)
    assert len(steps) == 30
    assert steps[-1][1].stop == "early-stop"
    assert not steps[-1][1].reload_best
    assert [i + 1 for i, (_, d) in enumerate(steps) if d.lr_step] == [22, 24, 26, 28]


def test_stop_after_max_epochs() -> None:
    steps = _run([True] * 60)
    assert len(steps) == 50
    assert steps[-1][1].stop == "max-epochs"


def test_constant_schedule_counts_from_the_start_and_never_steps() -> None:
    config = ScheduleConfig(kind="constant", lr=1e-4)
    steps = _run([True] + [False] * 20, config)
    assert steps[-1][1].stop == "early-stop"
    assert len(steps) == 11
    assert not any(d.lr_step or d.reload_best for _, d in steps)
    assert make_optimizer([torch.nn.Parameter(torch.zeros(1))], config).param_groups[0]["lr"] == 1e-4


@pytest.mark.parametrize(
    ("field", "value", "pattern"),
    [
        ("lr", -1.0, r"schedule.lr: expected a positive number"),
        ("beta1_low", 1.0, r"schedule.beta1_low"),
        ("step_factor", 2.0, r"schedule.step_factor"),
        ("max_epochs", 0, r"schedule.max_epochs: expected an integer ≥ 1"),
        ("kind", "cosine", r"schedule.kind: expected one of"),
    ],
)
def test_invalid_schedule(field: str, value: object, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        ScheduleConfig(**{field: value})  # type: ignore[arg-type]
