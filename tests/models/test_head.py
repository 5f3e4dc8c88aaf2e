"""Shapes through the conv head and energy conservation of the E-sum pass-through."""

from __future__ import annotations

import pytest
import torch

from mucalo.models import ConvHead, ESumPassThrough, ModelConfig, build_model, summarize


def test_head_shapes() -> None:
    rows = {row.name: row.output_shape for row in summarize(build_model()).rows}
    assert rows["head.blocks.0"] == (9, 26, 17, 17)
    assert rows["head.blocks.2"] == (11, 26, 17, 17)
    assert rows["head.blocks.3"] == (17, 14, 9, 9)
    assert rows["head.blocks.6"] == (29, 8, 5, 5)
    assert rows["head.blocks.9"] == (47, 5, 3, 3)
    assert rows["head.blocks.11"] == (49, 5, 3, 3)
    assert rows["head.pool"] == (98,)
    assert rows["out"] == (1,)


def test_head_without_pooling_flattens() -> None:
    head = ConvHead(ModelConfig(pooling=False))
    assert head.out_spatial == (5, 3, 3)
    assert head.out_features == 49 * 5 * 3 * 3


def test_summary_rows_add_up() -> None:
    summary = summarize(build_model())
    assert sum(row.parameters for row in summary.rows) == summary.trainable_parameters == 636_570
    assert "trainable parameters: 636,570" in summary.format_table()
    assert summary.to_dict()["trainable_parameters"] == 636_570


@pytest.mark.parametrize("shape", [(50, 32, 32), (26, 17, 17), (5, 3, 3), (7, 4, 1)])
def test_esum_conserves_energy(shape: tuple[int, int, int]) -> None:
    energy = torch.rand(3, 1, *shape, dtype=torch.float64).float()
    summed = ESumPassThrough(downsample=True)(energy)
    assert summed.shape[2:] == tuple(n // 2 + 1 for n in shape)
    torch.testing.assert_close(summed.sum(dim=(1, 2, 3, 4)), energy.sum(dim=(1, 2, 3, 4)), rtol=1e-5, atol=0)


def test_energy_channel_is_conserved_at_every_stage(real_muons: tuple[torch.Tensor, torch.Tensor]) -> None:
    grid, _ = real_muons
    model = build_model().eval()
    assert model.head is not None
    energy_channels: list[torch.Tensor] = []
    handles = [
        block.register_forward_hook(lambda _m, _i, out: energy_channels.append(out[:, 0].detach()))
        for block in model.head.blocks
    ]
    with torch.no_grad():
        model(grid, torch.zeros(len(grid), 28))
    for handle in handles:
        handle.remove()
    total = grid.double().sum(dim=(1, 2, 3, 4))
    assert len(energy_channels) == 12
    assert bool((total > 1.0).all())
    for stage in energy_channels:
        torch.testing.assert_close(stage.double().sum(dim=(1, 2, 3)), total, rtol=1e-5, atol=1e-6)


def test_energy_is_kept_to_bf16_precision_under_autocast(
    real_muons: tuple[torch.Tensor, torch.Tensor],
) -> None:
    grid, _ = real_muons
    head = ConvHead(ModelConfig()).eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        last = head.blocks(grid)
    assert last.dtype == torch.bfloat16
    # Each E-sum adds in float32 and rounds once to bf16 (relative 2⁻⁹), four stages in all.
    torch.testing.assert_close(
        last[:, 0].double().sum(dim=(1, 2, 3)), grid.double().sum(dim=(1, 2, 3, 4)), rtol=5e-3, atol=1e-3
    )


def test_no_epass_keeps_widths_without_energy_channel(real_muons: tuple[torch.Tensor, torch.Tensor]) -> None:
    grid, _ = real_muons
    head = ConvHead(ModelConfig(energy_pass=False)).eval()
    with torch.no_grad():
        out = head.blocks(grid[:2])
    assert out.shape == (2, 49, 5, 3, 3)
    assert not any(isinstance(m, ESumPassThrough) for m in head.modules())


def test_forward_checks_inputs() -> None:
    model = build_model().eval()
    with pytest.raises(ValueError, match=r"expected features \(B, 28\), got None"):
        model(torch.zeros(1, 1, 50, 32, 32), None)
    with pytest.raises(ValueError, match=r"expected grid \(B, 1, 50, 32, 32\), got \(1, 50, 32, 32\)"):
        model(torch.zeros(1, 50, 32, 32), torch.zeros(1, 28))
    hl = build_model(ModelConfig(kind="hl")).eval()
    assert hl(None, torch.zeros(3, 28)).shape == (3,)


def test_no_identity_blocks_are_post_activation() -> None:
    model = build_model(ModelConfig(identity=False))
    assert model.head is not None
    for block in model.head.blocks:
        assert block.shortcut is None
        assert list(block.conv1._modules) == ["conv", "act", "norm"]
    nominal = build_model()
    assert nominal.head is not None
    assert list(nominal.head.blocks[3].conv1._modules) == ["norm", "act", "conv"]
    assert list(nominal.head.blocks[0].conv1._modules) == ["conv", "act", "norm"]
