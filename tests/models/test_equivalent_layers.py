"""The fast layer implementations compute the same function and gradients as the plain expressions."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from mucalo.models import ModelConfig, ablation_config, build_model
from mucalo.models import batchnorm as batchnorm_module
from mucalo.models.batchnorm import RunningBatchNorm, channel_affine, channel_moments
from mucalo.models.blocks import Shortcut
from mucalo.models.fast_inference import inference_model, supports


def _plain_moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    dims = [0, *range(2, x.dim())]
    dtype = torch.promote_types(x.dtype, torch.float32)
    return x.sum(dims, dtype=dtype), (x * x).sum(dims, dtype=dtype)


def test_channel_moments_gradcheck() -> None:
    grid = torch.randn(3, 4, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    vectors = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(channel_moments, (grid,))
    assert torch.autograd.gradcheck(channel_moments, (vectors,))


def test_channel_moments_bf16_sums_in_float32() -> None:
    x = (torch.randn(8, 4, 5, 5, 5) * 2 + 1).bfloat16().requires_grad_()
    sums, sqrs = channel_moments(x)
    exact = x.detach().double()
    assert sums.dtype == sqrs.dtype == torch.float32
    # Accumulated in float32 from the exact bf16 values (not from bf16-rounded squares).
    torch.testing.assert_close(sums.double(), exact.sum((0, 2, 3, 4)), rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(sqrs.double(), (exact * exact).sum((0, 2, 3, 4)), rtol=1e-5, atol=1e-3)
    (sums.sum() + sqrs.sum()).backward()  # type: ignore[no-untyped-call]
    assert x.grad is not None and x.grad.dtype == torch.bfloat16


def _as_plain(model: nn.Module, monkeypatch: pytest.MonkeyPatch) -> nn.Module:
    """A copy of ``model`` using the plain expressions: sequential pool → conv, autograd through sums."""
    assert any(getattr(module, "_shortcut_from_energy", False) for module in model.modules())
    plain = copy.deepcopy(model)
    for module in plain.modules():
        if isinstance(module, Shortcut):
            module.__class__ = nn.Sequential  # type: ignore[assignment]
        if hasattr(module, "_shortcut_from_energy"):
            module._shortcut_from_energy = False  # type: ignore[assignment]  # pool the grid again
    monkeypatch.setattr(batchnorm_module, "channel_moments", _plain_moments)
    return plain


def _two_training_steps(net: torch.nn.Module, grid: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """Output of the second of two forward/backward passes (the running statistics take part in it)."""
    for _ in range(2):
        net.zero_grad()
        out: torch.Tensor = net(grid, features)
        out.square().sum().backward()  # type: ignore[no-untyped-call]
    return out


@pytest.mark.parametrize("ablation", [None, "no-bn", "standard-bn"])
def test_model_matches_plain_layers(ablation: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    base = ModelConfig(grid_shape=(10, 8, 8))
    config = base if ablation is None else ablation_config(ablation, base)
    model = build_model(config).double().train()
    plain = _as_plain(model, monkeypatch)
    grid = torch.rand(6, 1, 10, 8, 8, dtype=torch.float64) ** 4 * 5
    features = torch.randn(6, 28, dtype=torch.float64)
    outputs = [_two_training_steps(net, grid, features) for net in (model, plain)]
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-10, atol=1e-10)
    plain_parameters = dict(plain.named_parameters())
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(
            parameter.grad, plain_parameters[name].grad, rtol=1e-8, atol=1e-10, msg=name
        )
    torch.testing.assert_close(dict(model.named_buffers()), dict(plain.named_buffers()), rtol=1e-10, atol=0)


def test_channel_affine_channels_last_matches_contiguous() -> None:
    x = torch.randn(4, 6, 5, 4, 3, dtype=torch.float64)
    factor, offset = torch.randn(6, dtype=torch.float64), torch.randn(6, dtype=torch.float64)
    expected = x * factor[:, None, None, None] + offset[:, None, None, None]
    wide = channel_affine(x.contiguous(memory_format=torch.channels_last_3d), factor, offset)
    assert wide.is_contiguous(memory_format=torch.channels_last_3d)
    torch.testing.assert_close(wide, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(channel_affine(x, factor, offset), expected, rtol=1e-12, atol=1e-12)


def test_channels_last_training_matches_contiguous(monkeypatch: pytest.MonkeyPatch) -> None:
    wide_views = []
    original = batchnorm_module._wide_view

    def counted(x: torch.Tensor) -> tuple[torch.Tensor, int] | None:
        view = original(x)
        wide_views.append(view is not None)
        return view

    monkeypatch.setattr(batchnorm_module, "_wide_view", counted)
    config = ModelConfig(grid_shape=(10, 8, 8))
    model = build_model(config).train()  # float32: oneDNN keeps channels-last there
    last = copy.deepcopy(model).to(memory_format=torch.channels_last_3d)  # type: ignore[call-overload]
    grid = torch.rand(6, 1, 10, 8, 8) ** 4 * 5
    features = torch.randn(6, 28)
    outputs = [
        _two_training_steps(model, grid, features),
        _two_training_steps(last, grid.contiguous(memory_format=torch.channels_last_3d), features),
    ]
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-5, atol=1e-5)
    last_parameters = dict(last.named_parameters())
    for name, parameter in model.named_parameters():
        # float32 summation order differs between memory formats: compare whole gradients by norm.
        grad, last_grad = parameter.grad, last_parameters[name].grad
        assert grad is not None
        assert last_grad is not None
        assert float((grad - last_grad).norm() / grad.norm()) < 1e-4, name
    assert any(wide_views)  # the channels-last batch-norm path ran


def _perturbed_eval_model(config: ModelConfig) -> nn.Module:
    """A float64 model with real running statistics and non-trivial affine norm parameters, in eval."""
    model = build_model(config).double().train()
    with torch.no_grad():
        model(
            torch.rand(6, 1, 10, 8, 8, dtype=torch.float64) ** 4 * 5, torch.randn(6, 28, dtype=torch.float64)
        )
        for module in model.modules():
            if isinstance(module, RunningBatchNorm | nn.BatchNorm3d):
                module.weight.mul_(1 + 0.3 * torch.randn_like(module.weight))
                module.bias.add_(0.2 * torch.randn_like(module.bias))
    return model.eval()


@pytest.mark.parametrize("ablation", [None, "no-bn", "standard-bn", "no-se"])
def test_inference_head_matches_model(ablation: str | None) -> None:
    base = ModelConfig(grid_shape=(10, 8, 8))
    config = base if ablation is None else ablation_config(ablation, base)
    model = _perturbed_eval_model(config)
    before = copy.deepcopy(model.state_dict())
    grid = torch.rand(5, 1, 10, 8, 8, dtype=torch.float64) ** 4 * 5
    features = torch.randn(5, 28, dtype=torch.float64)
    assert supports(model)
    derived = inference_model(model, torch.float64)
    assert derived is not model
    with torch.no_grad():
        expected = model(grid, features)
        torch.testing.assert_close(derived(grid, features), expected, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(derived.head(grid), model.head(grid), rtol=1e-10, atol=1e-10)  # type: ignore[operator]
    torch.testing.assert_close(model.state_dict(), before, rtol=0, atol=0)  # the trained model is untouched


@pytest.mark.parametrize("ablation", ["no-identity", "no-epass", "no-pooling", "no-cnn"])
def test_inference_model_falls_back_to_the_model(ablation: str) -> None:
    model = build_model(ablation_config(ablation, ModelConfig(grid_shape=(10, 8, 8)))).eval()
    assert not supports(model)
    assert inference_model(model) is model
