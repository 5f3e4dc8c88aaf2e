"""An inference-only copy of the regressor's conv head: batch-norms folded, channels-last, in place.

:func:`inference_model` derives from a trained :class:`MuonRegressor` (never changing it) a module that
computes the same eval-mode function with fewer passes over memory, for :class:`FastPath` predictions:

- Every feature map is channels-last 3D (oneDNN's convolutions run ~1.6× faster on it than on the
  default layout, which they reorder internally). Per-channel element-wise ops are evaluated on a
  "wide" view, k voxels × C channels per row, because broadcasting a per-channel vector over rows of
  only C ≈ 10 elements is several times slower.
- Each batch-norm is a fixed per-channel affine in eval mode. The one right behind a convolution
  (the second norm of a pre-activation block) is folded into that convolution's weights and bias;
  the shortcut's norm is folded into its pooled 1×1×1 convolution (its offset, which the zero padding
  of the average pool does not see, becomes a constant map); the others run as one fused pass.
- The carried energy channel is never concatenated: every resolution level keeps one buffer as wide
  as its last block's output, with the real channels first and copies of the energy behind them. A
  residual block then writes its output into its input in place (``x + y·gate``; the convolutions
  give zero in the copies' slots, so the copies stay and the next one becomes the new energy channel).
  Weights are permuted to this channel order once; the pooled output is permuted back.
- The energy sums stay in float32 (from the float32 energy map, not the rounded carried channel), and
  the squeeze-excitation gates are computed in float32.

The derived head supports the nominal structure (identity shortcuts, E-pass, max+mean pooling, any
batch-norm kind, with or without squeeze-excitation); :func:`supports` says whether a model has it.
This module assembles the head; the per-block machinery lives in :mod:`mucalo.models.inference_blocks`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mucalo.models.batchnorm import RunningBatchNorm
from mucalo.models.blocks import DownBlock, InitialBlock, ResBlock, Shortcut
from mucalo.models.inference_blocks import InferenceBlock, as_triple, wide_view
from mucalo.models.layers import MaxMeanPool3d, SqueezeExcite
from mucalo.models.regressor import ConvHead, MuonRegressor

__all__ = ["InferenceHead", "InferenceRegressor", "inference_model", "supports"]


def supports(model: nn.Module) -> bool:
    """Whether :func:`inference_model` can derive a head for ``model`` (else it returns ``model``)."""
    if not isinstance(model, MuonRegressor) or not isinstance(model.head, ConvHead):
        return False
    head = model.head
    if not isinstance(head.pool, MaxMeanPool3d):
        return False
    blocks = list(head.blocks)
    if not blocks or not isinstance(blocks[0], InitialBlock):
        return False
    for block in blocks:
        if not isinstance(block, InitialBlock | DownBlock | ResBlock) or block.e_sum is None:
            return False
        if block.shortcut is None or not isinstance(block.se, SqueezeExcite | nn.Identity):
            return False
        pre = not isinstance(block, InitialBlock)
        for sandwich in (block.conv1, block.conv2):
            if not _sandwich_ok(sandwich, pre_activation=pre):
                return False
        if isinstance(block, ResBlock) and not isinstance(block.shortcut, nn.Identity):
            return False
        if not isinstance(block, ResBlock) and not _shortcut_ok(block.shortcut, initial=not pre):
            return False
    return True


def _norm_ok(norm: nn.Module) -> bool:
    if isinstance(norm, RunningBatchNorm):
        return True
    return isinstance(norm, nn.BatchNorm3d) and norm.running_mean is not None


def _sandwich_ok(sandwich: nn.Module, *, pre_activation: bool) -> bool:
    names = list(sandwich._modules)
    expected = (["norm"] if pre_activation else []) + ["act", "conv"]
    if not pre_activation:
        expected = ["conv", "act", "norm"]
    if names not in (expected, [n for n in expected if n != "norm"]):
        return False
    modules = dict(sandwich.named_children())
    conv = modules["conv"]
    return (
        isinstance(conv, nn.Conv3d)
        and conv.bias is None
        and conv.groups == 1
        and isinstance(modules["act"], nn.SiLU)
        and ("norm" not in modules or _norm_ok(modules["norm"]))
    )


def _shortcut_ok(shortcut: nn.Module, *, initial: bool) -> bool:
    if not isinstance(shortcut, Shortcut):
        return False
    names = list(shortcut._modules)
    if initial:
        return shortcut.takes_window_sums
    modules = dict(shortcut.named_children())
    return (
        names == ["act", "norm", "pool", "conv"]
        and isinstance(modules["act"], nn.SiLU)
        and _norm_ok(modules["norm"])
        and _pool_ok(modules["pool"])
        and modules["conv"].bias is None
    )


def _pool_ok(pool: nn.Module) -> bool:
    """An average pool that a strided convolution reproduces: kernel = stride, zeros counted."""
    return (
        isinstance(pool, nn.AvgPool3d)
        and as_triple(pool.kernel_size) == as_triple(pool.stride)
        and pool.count_include_pad
        and not pool.ceil_mode
        and pool.divisor_override is None
    )


class InferenceHead(nn.Module):
    """The conv head in eval mode on level buffers; maps (B, 1, z, x, y) GeV to (B, 2C) [max | mean].

    Args:
        head: The trained head (unchanged).
        grid_shape: (z, x, y) of the input grid.
        dtype: Computing dtype of the feature maps (bfloat16 on the fast path; float32 or float64
            reproduce the head to rounding).
    """

    order: Tensor

    def __init__(self, head: ConvHead, grid_shape: tuple[int, int, int], dtype: torch.dtype) -> None:
        super().__init__()
        blocks: list[InitialBlock | DownBlock | ResBlock] = []
        for block in head.blocks:
            assert isinstance(block, InitialBlock | DownBlock | ResBlock), "see supports()"
            blocks.append(block)
        widths = _level_widths(blocks)
        converted: list[InferenceBlock] = []
        slots = [0]
        in_width, spatial = 1, grid_shape
        for block, width in zip(blocks, widths, strict=True):
            converted.append(
                InferenceBlock(
                    block, slots, in_width=in_width, out_width=width, in_spatial=spatial, dtype=dtype
                )
            )
            slots, in_width, spatial = converted[-1].next_slots, width, converted[-1].out_spatial
        self.blocks = nn.ModuleList(converted)
        self.register_buffer("order", torch.tensor(slots, dtype=torch.int64))
        self.dtype = dtype

    def forward(self, grid: Tensor) -> Tensor:
        """(B, 1, z, x, y) GeV → (B, 2C): per-channel max then mean of the last feature map."""
        with torch.autocast(device_type=grid.device.type, enabled=False):
            energy = grid.to(torch.promote_types(self.dtype, torch.float32))
            x = energy
            for block in self.blocks:
                x, energy = block(x, energy)
            wide = wide_view(x)
            batch, width = x.shape[:2]
            count = x.shape[2] * x.shape[3] * x.shape[4]
            maxima = wide.amax(1).view(batch, -1, width).amax(1)
            means = wide.sum(1).view(batch, -1, width).to(energy.dtype).sum(1) / count
            return torch.cat([maxima[:, self.order], means.to(x.dtype)[:, self.order]], dim=1)


def _level_widths(blocks: list[InitialBlock | DownBlock | ResBlock]) -> list[int]:
    """For each block, the output channels of the last block of its resolution level."""
    widths = [0] * len(blocks)
    end = len(blocks)
    for i in range(len(blocks) - 1, -1, -1):
        widths[i] = blocks[end - 1].out_channels
        if not isinstance(blocks[i], ResBlock):
            end = i
    return widths


class InferenceRegressor(nn.Module):
    """A :class:`MuonRegressor`'s eval-mode function with an :class:`InferenceHead`; shares the body."""

    def __init__(self, model: MuonRegressor, dtype: torch.dtype) -> None:
        super().__init__()
        assert isinstance(model.head, ConvHead)
        self.model = model
        device = next(model.parameters()).device
        self.head = InferenceHead(model.head, model.config.grid_shape, dtype).to(device)

    def forward(self, grid: Tensor | None, features: Tensor | None) -> Tensor:
        """As :meth:`MuonRegressor.forward` (eval mode)."""
        model = self.model
        model._check_inputs(grid, features)
        assert grid is not None
        pooled = self.head(grid)
        # The fully connected body is a negligible share of the time: it runs in float32 (at least),
        # so that the output energy is not rounded to bf16 (8 bits: ±0.2 %) as under autocast.
        dtype = torch.promote_types(pooled.dtype, torch.float32)
        parts = [pooled.to(dtype)]
        if model.config.uses_features:
            assert features is not None
            parts.insert(0, features.to(dtype))
        body_input = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        with torch.autocast(device_type=body_input.device.type, enabled=False):
            energy: Tensor = model.out(model.body(body_input))
        return energy.squeeze(1)


def inference_model(model: nn.Module, dtype: torch.dtype = torch.bfloat16) -> nn.Module:
    """An eval-mode copy of ``model`` with an :class:`InferenceHead` in ``dtype``, or ``model`` itself
    when :func:`supports` says no. The trained model is not changed (its body is shared)."""
    if not supports(model):
        return model
    assert isinstance(model, MuonRegressor)
    return InferenceRegressor(model, dtype)
