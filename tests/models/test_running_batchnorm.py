"""Running batch-norm as it ran (LUMIN 0.8.0) and the standard alternative."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mucalo.models import RunningBatchNorm1d, RunningBatchNorm3d, make_batch_norm


def test_batch_weight_at_256_is_about_094() -> None:
    norm = RunningBatchNorm3d(4)
    assert norm.batch_weight(256) == pytest.approx(1 - 0.9 / math.sqrt(255))
    assert norm.batch_weight(256) == pytest.approx(0.9436, abs=1e-4)


def test_update_rule_and_transform() -> None:
    norm = RunningBatchNorm3d(3, warmup=0)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
        norm.bias.copy_(torch.tensor([0.0, 1.0, -1.0]))
    first = torch.randn(6, 3, 2, 3, 4, dtype=torch.float64).float() * 3 + 1
    second = torch.randn(6, 3, 2, 3, 4, dtype=torch.float64).float() - 2
    weight = 1 - 0.9 / math.sqrt(5)
    per_channel = 6 * 2 * 3 * 4
    sums = torch.zeros(3, dtype=torch.float64)
    sqrs = torch.zeros(3, dtype=torch.float64)
    count = 0.0
    for x in (first, second):
        out = norm.train()(x)
        x64 = x.double()
        sums = sums + weight * (x64.sum(dim=(0, 2, 3, 4)) - sums)
        sqrs = sqrs + weight * ((x64 * x64).sum(dim=(0, 2, 3, 4)) - sqrs)
        count = count + weight * (per_channel - count)
        mean = sums / count
        var = sqrs / count - mean**2
        expected = (x64 - mean.view(1, 3, 1, 1, 1)) / torch.sqrt(var.view(1, 3, 1, 1, 1) + 1e-5)
        expected = expected * norm.weight.detach().double().view(1, 3, 1, 1, 1)
        expected = expected + norm.bias.detach().double().view(1, 3, 1, 1, 1)
        torch.testing.assert_close(out.double(), expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(norm.sums.double(), sums, rtol=1e-5, atol=1e-4)
    assert int(norm.samples_seen) == 12


def test_same_transform_in_train_and_eval_after_last_update() -> None:
    norm = RunningBatchNorm3d(5)
    for _ in range(3):
        norm.train()(torch.randn(32, 5, 2, 2, 2) * 4 + 3)
    last = torch.randn(32, 5, 2, 2, 2) * 2 - 1
    train_out = norm.train()(last)
    buffers = [b.clone() for b in norm.buffers()]
    eval_out = norm.eval()(last)
    torch.testing.assert_close(eval_out, train_out, rtol=0, atol=0)
    for before, after in zip(buffers, norm.buffers(), strict=True):
        assert torch.equal(before, after)  # eval does not update


def test_gradient_flows_through_current_batch_only() -> None:
    norm = RunningBatchNorm1d(2, warmup=0)
    norm.train()(torch.randn(16, 2))
    x = torch.randn(16, 2, requires_grad=True)
    old_sums, old_sqrs, old_count = norm.sums.clone(), norm.sqrs.clone(), norm.count.clone()
    (norm(x) ** 3).sum().backward()
    assert x.grad is not None

    x_ref = x.detach().clone().requires_grad_(True)
    weight = norm.batch_weight(16)
    sums = torch.lerp(old_sums, x_ref.sum(0), weight)
    sqrs = torch.lerp(old_sqrs, (x_ref * x_ref).sum(0), weight)
    count = torch.lerp(old_count, torch.tensor(16.0), weight)
    mean = sums / count
    ref = (x_ref - mean) / torch.sqrt(sqrs / count - mean**2 + 1e-5)
    (ref**3).sum().backward()
    assert x_ref.grad is not None
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-4, atol=1e-5)


def test_warmup_clamps_variance() -> None:
    norm = RunningBatchNorm1d(1)  # warm-up 20 samples
    x = torch.full((4, 1), 2.0) + torch.tensor([[0.0], [1e-3], [-1e-3], [0.0]])
    out = norm.train()(x)
    # The variance (≈ 5e-7) is clamped to 0.01, so deviations are scaled by 10 instead of ≈ 1400.
    torch.testing.assert_close(out, (x - 2.0) * 10, rtol=1e-3, atol=1e-4)


def test_untrained_eval_is_finite() -> None:
    out = RunningBatchNorm3d(2).eval()(torch.randn(2, 2, 3, 3, 3))
    assert bool(torch.isfinite(out).all())


def test_training_batch_of_one_is_rejected() -> None:
    with pytest.raises(ValueError, match="training needs a batch of ≥ 2, got 1"):
        RunningBatchNorm3d(2).train()(torch.randn(1, 2, 3, 3, 3))


def test_wrong_input_shape_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"expected input \(B, 2, …, …, …\), got \(4, 3, 2, 2, 2\)"):
        RunningBatchNorm3d(2)(torch.randn(4, 3, 2, 2, 2))


def test_statistics_stay_float32_under_bf16() -> None:
    norm = RunningBatchNorm3d(3)
    x = torch.randn(8, 3, 4, 4, 4)
    reference = RunningBatchNorm3d(3).train()(x)
    out = norm.train()(x.bfloat16())
    assert out.dtype == torch.bfloat16
    assert norm.sums.dtype == torch.float32
    torch.testing.assert_close(out.float(), reference, rtol=2e-2, atol=2e-2)


def test_standard_bn_equals_torch_batchnorm() -> None:
    ours = make_batch_norm("standard", 4)
    torch_bn = nn.BatchNorm3d(4)
    assert isinstance(ours, nn.BatchNorm3d)
    batches = [torch.randn(8, 4, 3, 3, 3) * 2 + 1 for _ in range(3)]
    for x in batches:
        torch.testing.assert_close(ours.train()(x), torch_bn.train()(x))
    torch.testing.assert_close(ours.eval()(batches[-1]), torch_bn.eval()(batches[-1]))
    # Unlike the running BN, standard BN's eval transform differs from its last training one.
    assert not torch.allclose(ours.eval()(batches[-1]), ours.train()(batches[-1]))
