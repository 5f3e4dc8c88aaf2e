"""The paper's loss (§3.2.2, Eqs. 1–3) and its Table 2 variants."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mucalo.errors import ConfigError
from mucalo.training import BinnedHuberLoss, LossConfig, energy_weight, huberise, loss_ablation, nearest_rank

EDGES = np.linspace(50.0, 8000.0, 6)


def _batch(seed: int, n: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    target = 50.0 + 7950.0 * torch.rand(n, generator=generator, dtype=torch.float64)
    noise = torch.randn(n, generator=generator, dtype=torch.float64) * (0.3 * target)
    tails = torch.rand(n, generator=generator, dtype=torch.float64) < 0.1  # a few outliers to Huberise
    return (target + noise + tails * 3000.0).float(), target.float()


def _reference_percentiles(prediction: torch.Tensor, target: torch.Tensor) -> np.ndarray:
    """Nearest-rank 68th percentile of the squared errors per bin, by hand with numpy."""
    squared = (prediction.double() - target.double()).numpy() ** 2
    bins = np.digitize(target.double().numpy(), EDGES) - 1
    out = np.full(5, np.nan)
    for j in range(5):
        values = np.sort(squared[bins == j])
        if values.size:
            out[j] = values[round(0.68 * (values.size - 1))]
    return out


def _weight(target: torch.Tensor) -> torch.Tensor:
    return energy_weight(target.double()).float()


def test_energy_weight_values_of_the_paper() -> None:
    w = energy_weight(torch.tensor([4000.0, 5000.0, 6000.0, 8000.0, 100.0], dtype=torch.float64))
    assert w[0].item() == pytest.approx(0.966, abs=5e-4)
    assert w[1].item() == 0.5
    assert w[2].item() == pytest.approx(0.159, abs=5e-4)
    assert w[3].item() == pytest.approx(0.0067, abs=5e-5)
    assert w[4].item() == pytest.approx(1.0, abs=1e-6)
    # the two sides use different scales: 300 GeV below, 600 GeV above
    assert energy_weight(torch.tensor([4700.0]))[0].item() == pytest.approx(
        1 - 1 / (1 + math.exp(1)), rel=1e-6
    )
    assert energy_weight(torch.tensor([5600.0]))[0].item() == pytest.approx(
        1 - 1 / (1 + math.exp(-1)), rel=1e-6
    )


def test_nearest_rank_percentile() -> None:
    values = torch.arange(1.0, 11.0)  # 1..10: k = 1 + round(0.68 · 9) = 7
    assert nearest_rank(values.flip(0), 0.68).item() == 7.0
    assert nearest_rank(torch.tensor([5.0]), 0.68).item() == 5.0


def test_huberise_is_continuous_with_continuous_slope_at_the_threshold() -> None:
    threshold = torch.tensor(4.0, dtype=torch.float64)  # √t = 2
    delta = torch.tensor([1.0, 2.0 - 1e-9, 2.0, 2.0 + 1e-9, 5.0], dtype=torch.float64, requires_grad=True)
    loss = huberise(delta.square(), delta.abs(), threshold.expand(5))
    assert loss[1].item() == pytest.approx(4.0, abs=1e-8)
    assert loss[3].item() == pytest.approx(4.0, abs=1e-8)
    assert loss[4].item() == pytest.approx(4.0 + 2 * 2 * (5.0 - 2.0))  # linear above: t + 2√t(|Δ| − √t)
    loss.sum().backward()
    assert delta.grad is not None
    assert delta.grad[1].item() == pytest.approx(4.0, abs=1e-6)  # 2Δ below
    assert delta.grad[3].item() == pytest.approx(4.0, abs=1e-6)  # 2√t above
    assert delta.grad[4].item() == pytest.approx(4.0)


def test_first_batch_initialises_then_the_thresholds_follow_the_running_average() -> None:
    loss = BinnedHuberLoss()
    assert torch.all(loss.thresholds == -1)
    p1, t1 = _batch(1)
    loss(p1, t1)
    first = _reference_percentiles(p1, t1)
    np.testing.assert_allclose(loss.thresholds.numpy(), first, rtol=1e-6)
    p2, t2 = _batch(2)
    loss(p2, t2)
    expected = 0.9 * first + 0.1 * _reference_percentiles(p2, t2)
    np.testing.assert_allclose(loss.thresholds.numpy(), expected, rtol=1e-6)


def test_thresholds_adapt_only_while_training() -> None:
    loss = BinnedHuberLoss()
    p1, t1 = _batch(1)
    loss(p1, t1)
    before = loss.thresholds.clone()
    loss.eval()
    loss(*_batch(2))
    assert torch.equal(loss.thresholds, before)
    loss.train()
    loss(*_batch(2))
    assert not torch.equal(loss.thresholds, before)


def test_default_loss_matches_its_definition_element_by_element() -> None:
    loss = BinnedHuberLoss()
    prediction, target = _batch(3)
    value = loss(prediction, target).item()
    t = _reference_percentiles(prediction, target)
    error = (prediction.double() - target.double()).numpy()
    bins = np.digitize(target.double().numpy(), EDGES) - 1
    threshold = t[bins]
    squared = error**2
    element = np.where(
        squared > threshold,
        threshold + 2 * np.sqrt(threshold) * (np.abs(error) - np.sqrt(threshold)),
        squared,
    )
    expected = np.mean(element / target.double().numpy() * _weight(target).double().numpy())
    assert value == pytest.approx(expected, rel=1e-5)
    assert (squared > threshold).mean() == pytest.approx(0.32, abs=0.03)  # ~32 % above the 68th percentile


def test_targets_outside_the_bins_are_not_huberised() -> None:
    loss = BinnedHuberLoss(LossConfig(down_weight=False))
    target = torch.tensor([100.0, 100.0, 100.0, 8000.0])  # 8000 is outside the half-open last bin
    prediction = torch.tensor([110.0, 120.0, 130.0, 9000.0])
    value = loss(prediction, target).item()
    # bin 0 squared errors {100, 400, 900}: k = 1 + round(0.68·2) = 2, t = 400, √t = 20; 900 becomes
    # 400 + 2·20·(30 − 20) = 800; the 8000 GeV muon keeps its squared error 10⁶
    expected = (100.0 / 100 + 400.0 / 100 + 800.0 / 100 + 1000.0**2 / 8000.0) / 4
    assert value == pytest.approx(expected, rel=1e-6)
    assert loss.thresholds[0].item() == 400.0
    assert torch.all(loss.thresholds[1:] == -1)  # empty bins stay unset


@pytest.mark.parametrize(
    ("name", "switch"),
    [
        ("single-bin", {"n_bins": 1}),
        ("batch-thresholds", {"thresholds": "batch"}),
        ("fixed-thresholds", {"thresholds": "fixed"}),
        ("no-huber", {"kind": "mfse"}),
        ("mse", {"kind": "mse"}),
        ("no-down-weighting", {"down_weight": False}),
    ],
)
def test_each_ablation_is_one_switch(name: str, switch: dict[str, object]) -> None:
    assert loss_ablation(name) == LossConfig(**switch)  # type: ignore[arg-type]


def test_unknown_ablation_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown name 'singl-bin'.*did you mean 'single-bin'"):
        loss_ablation("singl-bin")


def test_mse_and_mfse_variants_reduce_to_their_definitions() -> None:
    prediction, target = _batch(4)
    diff2 = (prediction.double() - target.double()).square()
    w = energy_weight(target.double())
    mse = BinnedHuberLoss(loss_ablation("mse"))(prediction, target).item()
    assert mse == pytest.approx(torch.mean(w * diff2).item(), rel=1e-5)
    mfse = BinnedHuberLoss(loss_ablation("no-huber"))(prediction, target).item()
    assert mfse == pytest.approx(torch.mean(w * diff2 / target.double()).item(), rel=1e-5)
    flat = BinnedHuberLoss(LossConfig(kind="mfse", down_weight=False))(prediction, target).item()
    assert flat == pytest.approx(torch.mean(diff2 / target.double()).item(), rel=1e-5)


def test_no_down_weighting_drops_only_the_weight() -> None:
    prediction, target = _batch(5)
    weighted = BinnedHuberLoss()
    unweighted = BinnedHuberLoss(loss_ablation("no-down-weighting"))
    weighted(prediction, target)
    unweighted(prediction, target)
    assert torch.equal(weighted.thresholds, unweighted.thresholds)
    # with all targets far below 5 TeV the weight is ~1 and both agree
    low = target * 0.4
    assert weighted(prediction * 0.4, low).item() == pytest.approx(
        unweighted(prediction * 0.4, low).item(), rel=2e-3
    )


def test_single_bin_uses_one_threshold_over_the_whole_range() -> None:
    loss = BinnedHuberLoss(loss_ablation("single-bin"))
    prediction, target = _batch(6)
    loss(prediction, target)
    squared = (prediction.double() - target.double()).square()
    assert loss.thresholds.shape == (1,)
    assert loss.thresholds[0].item() == pytest.approx(nearest_rank(squared, 0.68).item(), rel=1e-6)


def test_batch_thresholds_are_this_batch_only_and_fixed_thresholds_never_move() -> None:
    p1, t1 = _batch(7)
    p2, t2 = _batch(8)
    batch = BinnedHuberLoss(loss_ablation("batch-thresholds"))
    fixed = BinnedHuberLoss(loss_ablation("fixed-thresholds"))
    for loss in (batch, fixed):
        loss(p1, t1)
        loss(p2, t2)
    np.testing.assert_allclose(batch.thresholds.numpy(), _reference_percentiles(p2, t2), rtol=1e-6)
    np.testing.assert_allclose(fixed.thresholds.numpy(), _reference_percentiles(p1, t1), rtol=1e-6)
    # batch mode Huberises evaluation batches with their own percentile, without storing it
    batch.eval()
    value = batch(p1, t1).item()
    fresh = BinnedHuberLoss(loss_ablation("batch-thresholds"))
    assert value == pytest.approx(fresh(p1, t1).item(), rel=1e-6)
    np.testing.assert_allclose(batch.thresholds.numpy(), _reference_percentiles(p2, t2), rtol=1e-6)


def test_gathered_global_batch_sets_the_thresholds() -> None:
    """Under DDP the percentile is taken over all ranks' muons: same thresholds as one process."""
    prediction, target = _batch(9)
    whole = BinnedHuberLoss()
    whole(prediction, target)
    first_half = BinnedHuberLoss()
    half = slice(0, 128)
    rest = slice(128, 256)
    error2 = (prediction - target).square()

    def gather(local: torch.Tensor) -> torch.Tensor:
        # what all_gather_cat returns on rank 0: its own half, then rank 1's
        other = error2[rest] if torch.equal(local, error2[half]) else target[rest]
        return torch.cat([local, other])

    first_half(prediction[half], target[half], gather=gather)
    np.testing.assert_allclose(first_half.thresholds.numpy(), whole.thresholds.numpy(), rtol=1e-6)


def test_thresholds_travel_in_the_state_dict() -> None:
    loss = BinnedHuberLoss()
    loss(*_batch(10))
    again = BinnedHuberLoss()
    again.load_state_dict(loss.state_dict())
    assert torch.equal(again.thresholds, loss.thresholds)


@pytest.mark.parametrize(
    ("field", "value", "pattern"),
    [
        ("kind", "huberr", r"loss.kind: expected one of"),
        ("thresholds", "ema", r"loss.thresholds: expected one of"),
        ("n_bins", 0, r"loss.n_bins: expected an integer ≥ 1"),
        ("percentile", 1.5, r"loss.percentile"),
        ("momentum", 0.0, r"loss.momentum"),
        ("energy_range_gev", (8000.0, 50.0), r"loss.energy_range_gev"),
    ],
)
def test_invalid_loss_config(field: str, value: object, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        LossConfig(**{field: value})  # type: ignore[arg-type]
