"""The fast CPU path changes arithmetic only: off is exact, bf16 stays close, energy stays conserved."""

from __future__ import annotations

import copy

import pytest
import torch

from mucalo.errors import ConfigError
from mucalo.models import (
    FastPath,
    FastPathConfig,
    MuonRegressor,
    bf16_supported,
    build_model,
    unwrap_compiled,
)


@pytest.fixture(scope="module")
def model(real_muons: tuple[torch.Tensor, torch.Tensor]) -> MuonRegressor:
    torch.manual_seed(2)
    grid, _ = real_muons
    regressor = build_model()
    with torch.no_grad():
        regressor.train()(grid, torch.zeros(len(grid), 28))
        regressor.out.bias.fill_(1000.0)
    return regressor.eval()


def _predict(model: MuonRegressor, config: FastPathConfig, grid: torch.Tensor) -> torch.Tensor:
    fast = FastPath(config)
    prepared = fast.prepare_model(copy.deepcopy(model))
    with torch.no_grad(), fast.autocast():
        return prepared(fast.prepare_grid(grid), torch.zeros(len(grid), 28)).float()


def _plain_and(
    config: FastPathConfig, model: MuonRegressor, grid: torch.Tensor, features: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``FastPath.predict`` of plain fp32 and of ``config`` on the same muons."""
    plain = FastPath(FastPathConfig.off()).predict(model, grid, features)
    return plain, FastPath(config).predict(model, grid, features)


def test_off_is_exact(model: MuonRegressor, real_muons: tuple[torch.Tensor, torch.Tensor]) -> None:
    grid, _ = real_muons
    with torch.no_grad():
        reference = model(grid, torch.zeros(len(grid), 28))
    torch.testing.assert_close(_predict(model, FastPathConfig.off(), grid), reference, rtol=0, atol=0)


def test_channels_last_matches_fp32(
    model: MuonRegressor, real_muons: tuple[torch.Tensor, torch.Tensor]
) -> None:
    grid, _ = real_muons
    reference = _predict(model, FastPathConfig.off(), grid)
    config = FastPathConfig(bf16=False, channels_last=True)
    torch.testing.assert_close(_predict(model, config, grid), reference, rtol=1e-4, atol=1e-3)


def test_bf16_is_close(model: MuonRegressor, real_muons: tuple[torch.Tensor, torch.Tensor]) -> None:
    grid, _ = real_muons
    reference = _predict(model, FastPathConfig.off(), grid)
    fast = _predict(model, FastPathConfig(bf16=True, channels_last=True), grid)
    # bf16 keeps 8 mantissa bits; the relative effect on predictions is at the percent level.
    assert float(((fast - reference).abs() / reference.abs()).max()) < 0.05


def test_bf16_training_step_runs(real_muons: tuple[torch.Tensor, torch.Tensor]) -> None:
    grid, true_energy = real_muons
    fast = FastPath(FastPathConfig(bf16=True, channels_last=True))
    model = fast.prepare_model(build_model().train())
    with fast.autocast():
        prediction = model(fast.prepare_grid(grid[:4]), torch.zeros(4, 28))
    loss = torch.mean((prediction.float() - true_energy[:4] / 1000) ** 2)
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and g.dtype == torch.float32 and bool(torch.isfinite(g).all()) for g in grads)


def test_output_energy_is_float32_under_autocast(real_muons: tuple[torch.Tensor, torch.Tensor]) -> None:
    """The output layer leaves autocast: energies near 4 TeV are not rounded to bf16's 16 GeV steps."""
    grid, _ = real_muons
    torch.manual_seed(5)
    model = build_model().train()
    with torch.no_grad():
        model.out.bias.fill_(3000.0)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        prediction = model(grid[:8], torch.randn(8, 28))
    assert prediction.dtype == torch.float32
    assert bool((torch.remainder(prediction.detach(), 16.0) != 0).any())
    prediction.sum().backward()  # type: ignore[no-untyped-call]
    assert model.out.weight.grad is not None and model.out.weight.grad.dtype == torch.float32


def test_auto_and_unwrap() -> None:
    assert FastPathConfig.auto("cpu").bf16 == bf16_supported("cpu")
    assert not FastPathConfig.auto("cpu").compile
    plain = build_model()
    assert unwrap_compiled(plain) is plain


def test_predict_in_chunks_is_exact(
    model: MuonRegressor, real_muons: tuple[torch.Tensor, torch.Tensor]
) -> None:
    grid, _ = real_muons
    whole, chunked = _plain_and(
        FastPathConfig(bf16=False, inference_batch=3), model, grid, torch.randn(len(grid), 28)
    )
    assert chunked.shape == (len(grid),)
    torch.testing.assert_close(chunked, whole, rtol=1e-6, atol=1e-4)


def test_inference_batch_is_validated() -> None:
    with pytest.raises(
        ConfigError, match=r"fast_path\.inference_batch: expected a positive integer or None, got 0"
    ):
        FastPathConfig(inference_batch=0)


def test_flush_denormal_only_inside_the_forward_context() -> None:
    subnormal = torch.tensor([1e-40], dtype=torch.float32)
    assert not FastPathConfig.off().flush_denormal
    fast = FastPath(FastPathConfig(bf16=False, flush_denormal=True))
    with fast.autocast():
        inside = subnormal * 1.0
    after = subnormal * 1.0
    assert float(after[0]) > 0.0  # back to the default: subnormals kept
    if torch.set_flush_denormal(False):  # the CPU supports flushing: it happened inside
        assert float(inside[0]) == 0.0
    with FastPath(FastPathConfig(bf16=False, flush_denormal=False)).autocast():
        assert float((subnormal * 1.0)[0]) > 0.0


def test_predict_uses_a_cached_inference_head(
    model: MuonRegressor, real_muons: tuple[torch.Tensor, torch.Tensor]
) -> None:
    grid, _ = real_muons
    features = torch.randn(len(grid), 28)
    trained = copy.deepcopy(model)
    reference = FastPath(FastPathConfig.off()).predict(trained, grid, features)
    fast = FastPath(FastPathConfig(bf16=False))
    derived = fast.inference_model(trained)
    assert derived is not trained
    assert fast.inference_model(trained) is derived  # cached while the parameters stay
    # Channels-last float32 with folded norms: the same function up to float32 summation order.
    torch.testing.assert_close(fast.predict(trained, grid, features), reference, rtol=1e-5, atol=1e-3)
    with torch.no_grad():
        trained.out.bias.add_(10.0)
    assert fast.inference_model(trained) is not derived  # rebuilt after a parameter changed
    torch.testing.assert_close(fast.predict(trained, grid, features), reference + 10.0, rtol=1e-5, atol=1e-3)
    assert FastPath(FastPathConfig(inference_head=False)).inference_model(trained) is trained
    assert fast.inference_model(trained.train()) is trained  # training mode: the model itself


def test_bf16_inference_head_is_close(
    model: MuonRegressor, real_muons: tuple[torch.Tensor, torch.Tensor]
) -> None:
    grid, _ = real_muons
    reference, fast = _plain_and(
        FastPathConfig(bf16=True, inference_batch=4), model, grid, torch.zeros(len(grid), 28)
    )
    assert float(((fast - reference).abs() / reference.abs()).max()) < 0.01
