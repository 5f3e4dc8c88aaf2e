"""The per-block machinery of the inference-only head (:mod:`mucalo.models.fast_inference`).

:class:`InferenceBlock` is one trained head block in eval mode on its level buffer: batch-norms folded
into the convolutions where possible, channels-last feature maps, per-channel operations on a
:func:`wide_view`, residual blocks updated in place; :class:`SqueezeGate` is its squeeze-excitation
gate in float32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mucalo.models.batchnorm import RunningBatchNorm, channel_affine
from mucalo.models.blocks import DownBlock, InitialBlock, ResBlock, Shortcut
from mucalo.models.layers import SqueezeExcite

__all__ = ["InferenceBlock", "SqueezeGate", "as_triple", "wide_view"]

_CHANNELS_LAST = torch.channels_last_3d
_WIDE_ROW = 384  # target elements per row of a wide view


def as_triple(value: int | tuple[int, ...]) -> tuple[int, int, int]:
    """A 3D convolution or pool size argument (an int or three ints) as three ints."""
    if isinstance(value, int):
        return (value, value, value)
    assert len(value) == 3
    return (int(value[0]), int(value[1]), int(value[2]))


def wide_view(x: Tensor) -> Tensor:
    """Channels-last (B, C, z, x, y) as (B, S/k, k·C): column j is channel j mod C, a view."""
    batch, channels = x.shape[:2]
    spatial = x.shape[2] * x.shape[3] * x.shape[4]
    k = _row_voxels(spatial, channels)
    return x.permute(0, 2, 3, 4, 1).reshape(batch, spatial // k, k * channels)


def _row_voxels(spatial: int, channels: int) -> int:
    """The largest divisor k of ``spatial`` with k·channels ≤ the wide row (at least 1)."""
    best = 1
    for k in range(1, spatial + 1):
        if k * channels > _WIDE_ROW:
            break
        if spatial % k == 0:
            best = k
    return best


class SqueezeGate(nn.Module):
    """Squeeze-excitation gate from the channel sums, float32, in the storage channel order.

    Args:
        se: The trained squeeze-excitation layer.
        slots: Buffer slot of each of its channels (original order).
        width: Channels of the buffer (slots outside ``slots`` get weight zero).
        count: Voxels per channel (the mean's divisor).
        dtype: Computing dtype of the gate.
    """

    squeeze_weight: Tensor
    squeeze_bias: Tensor
    excite_weight: Tensor
    excite_bias: Tensor

    def __init__(
        self, se: SqueezeExcite, slots: list[int], width: int, count: int, dtype: torch.dtype
    ) -> None:
        super().__init__()
        squeeze = torch.zeros(se.squeeze.out_features, width, dtype=torch.float64)
        squeeze[:, slots] = se.squeeze.weight.detach().double().cpu() / count  # the mean's 1/count
        excite = torch.zeros(width, se.excite.in_features, dtype=torch.float64)
        excite[slots] = se.excite.weight.detach().double().cpu()
        excite_bias = torch.zeros(width, dtype=torch.float64)
        excite_bias[slots] = se.excite.bias.detach().double().cpu()
        self.register_buffer("squeeze_weight", squeeze.to(dtype))
        self.register_buffer("squeeze_bias", _double(se.squeeze.bias).to(dtype))
        self.register_buffer("excite_weight", excite.to(dtype))
        self.register_buffer("excite_bias", excite_bias.to(dtype))

    def forward(self, y: Tensor) -> Tensor:
        """(B, W) gate in ``y``'s dtype from (B, W, z, x, y) channels-last ``y``."""
        wide = wide_view(y)
        batch, _, columns = wide.shape
        width = y.shape[1]
        sums = wide.sum(1).view(batch, columns // width, width).to(self.squeeze_weight.dtype).sum(1)
        hidden = F.silu(F.linear(sums, self.squeeze_weight, self.squeeze_bias))
        return torch.sigmoid(F.linear(hidden, self.excite_weight, self.excite_bias)).to(y.dtype)


class InferenceBlock(nn.Module):
    """One head block on the level buffer (see :mod:`mucalo.models.fast_inference`).

    Args:
        block: The trained block.
        slots: Buffer slot of each of the block's input channels (original order).
        in_width: Channels of the input buffer.
        out_width: Channels of the output buffer (the width of the block's level).
        in_spatial: (z, x, y) of the input.
        dtype: Computing dtype of the feature maps.
    """

    conv1_weight: Tensor
    conv1_bias: Tensor | None
    conv2_weight: Tensor
    norm1_factor: Tensor | None
    norm1_offset: Tensor | None
    norm2_factor: Tensor | None
    norm2_offset: Tensor | None
    shortcut_weight: Tensor | None
    shortcut_offset: Tensor
    shortcut_base: Tensor
    shortcut_scale: Tensor
    ones: Tensor

    def __init__(
        self,
        block: InitialBlock | DownBlock | ResBlock,
        slots: list[int],
        *,
        in_width: int,
        out_width: int,
        in_spatial: tuple[int, int, int],
        dtype: torch.dtype,
    ) -> None:
        super().__init__()
        conv1, conv2 = block.conv1.conv, block.conv2.conv
        assert isinstance(conv1, nn.Conv3d)
        assert isinstance(conv2, nn.Conv3d)
        assert block.e_sum is not None
        self.initial = isinstance(block, InitialBlock)
        self.residual = isinstance(block, ResBlock)
        self.dtype = dtype
        # Per-channel vectors, gates and the grid's convolution: float32 at least.
        wide_dtype = torch.promote_types(dtype, torch.float32)
        self.wide_dtype = wide_dtype
        self.register_buffer("ones", _double(block.e_sum.kernel).to(wide_dtype))
        self.conv1_args = _stride_padding(conv1)
        self.conv2_args = _stride_padding(conv2)
        hidden, real_out = conv1.out_channels, conv2.out_channels
        self.real_out = real_out
        # Buffer slots of the conv path's channels: the input's own (in place) or the first ones.
        self.out_slots = list(slots) if self.residual else list(range(real_out))
        # Buffer slots of the output's original channels: the energy first, then the conv path.
        energy_slot = len(slots) if self.residual else real_out
        self.next_slots = [energy_slot, *self.out_slots]
        self.out_spatial = _conv_output_spatial(conv1, in_spatial)
        w1, w2 = _double(conv1.weight), _double(conv2.weight)
        norm1, norm2 = block.conv1._modules.get("norm"), block.conv2._modules.get("norm")
        weight2 = torch.zeros(out_width, hidden, *w2.shape[2:], dtype=torch.float64)
        weight2[self.out_slots] = w2
        self.register_buffer("conv2_weight", _cl(weight2, dtype))
        if self.initial:
            # Post-activation (conv → Swish → norm, twice); the grid's one-channel conv stays float32.
            self.register_buffer("conv1_weight", _cl(w1, wide_dtype))
            self.register_buffer("conv1_bias", None)
            self._register_affine("norm1", norm1, hidden, list(range(hidden)), hidden)
            self._register_affine("norm2", norm2, real_out, self.out_slots, out_width)
        else:
            # Pre-activation (norm → Swish → conv, twice): the second norm folds into conv1.
            self._register_affine("norm1", norm1, len(slots), slots, in_width)
            self.register_buffer("norm2_factor", None)
            self.register_buffer("norm2_offset", None)
            weight1 = torch.zeros(hidden, in_width, *w1.shape[2:], dtype=torch.float64)
            weight1[:, slots] = w1
            factor2, offset2 = _eval_affine(norm2, hidden)
            self.register_buffer("conv1_weight", _cl(weight1 * factor2.view(-1, 1, 1, 1, 1), dtype))
            self.register_buffer("conv1_bias", None if norm2 is None else offset2.to(dtype))
        count = self.out_spatial[0] * self.out_spatial[1] * self.out_spatial[2]
        se = block.se
        self.gate = (
            SqueezeGate(se, self.out_slots, out_width, count, wide_dtype)
            if isinstance(se, SqueezeExcite)
            else None
        )
        self.register_buffer("shortcut_weight", None)
        if self.initial:
            # shortcut + energy copies = base + scale·(window sums of the grid), per slot.
            shortcut = block.shortcut
            assert isinstance(shortcut, Shortcut)
            conv = shortcut.conv
            assert isinstance(conv, nn.Conv3d)
            pool = shortcut.pool
            assert isinstance(pool, nn.AvgPool3d)
            base = torch.zeros(out_width, dtype=torch.float64)
            scale = torch.ones(out_width, dtype=torch.float64)
            if conv.bias is not None:
                base[:real_out] = _double(conv.bias)
            scale[:real_out] = _double(conv.weight).view(-1) / _window(pool)
            self.register_buffer("shortcut_base", base.to(wide_dtype))
            self.register_buffer("shortcut_scale", scale.to(wide_dtype))
        elif not self.residual:
            # Swish → norm → average pool → 1×1×1 conv = one stride-2 conv of Swish(x) with the norm's
            # factor folded in, plus a constant map from its offset (the pool's zero padding sees none).
            shortcut = block.shortcut
            assert isinstance(shortcut, Shortcut)
            conv, pool, norm = shortcut.conv, shortcut.pool, shortcut.norm
            assert isinstance(conv, nn.Conv3d)
            assert isinstance(pool, nn.AvgPool3d)
            assert isinstance(norm, nn.Module)
            factor, offset = _eval_affine(norm, len(slots))
            projection = _double(conv.weight).flatten(1)  # (real_out, C_in)
            kernel = as_triple(pool.kernel_size)
            weight = torch.zeros(out_width, in_width, *kernel, dtype=torch.float64)
            weight[:real_out, slots] = (projection * factor / _window(pool)).view(real_out, -1, 1, 1, 1)
            self.register_buffer("shortcut_weight", _cl(weight, dtype))
            self.shortcut_args = (as_triple(pool.stride), as_triple(pool.padding))
            constant = offset.view(1, -1, 1, 1, 1).expand(1, len(slots), *in_spatial)
            offset_map = torch.zeros(1, out_width, *self.out_spatial, dtype=torch.float64)
            offset_map[:, :real_out] = F.conv3d(pool(constant), projection.view(real_out, -1, 1, 1, 1))
            self.register_buffer("shortcut_offset", _cl(offset_map, dtype))
        self.out_width = out_width

    def _register_affine(
        self, name: str, norm: nn.Module | None, channels: int, slots: list[int], width: int
    ) -> None:
        if norm is None:
            self.register_buffer(f"{name}_factor", None)
            self.register_buffer(f"{name}_offset", None)
            return
        factor, offset = _eval_affine(norm, channels)
        wide_factor = torch.zeros(width, dtype=torch.float64)
        wide_offset = torch.zeros(width, dtype=torch.float64)
        wide_factor[slots], wide_offset[slots] = factor, offset
        self.register_buffer(f"{name}_factor", wide_factor.to(self.wide_dtype))
        self.register_buffer(f"{name}_offset", wide_offset.to(self.wide_dtype))

    def forward(self, x: Tensor, energy: Tensor) -> tuple[Tensor, Tensor]:
        """Map the (B, in_width, …) buffer and the (B, 1, …) float32 energy to the next pair.

        A residual block updates ``x`` in place and returns it.
        """
        if self.residual:
            return self._add_conv_path(x, x), energy
        summed = F.conv3d(energy, self.ones, stride=2, padding=1)
        if self.initial:
            out = _empty_cl(x, self.out_width, self.out_spatial, self.dtype)
            flat = out.permute(0, 2, 3, 4, 1).view(-1, self.out_width)
            torch.addcmul(self.shortcut_base, summed.view(-1, 1), self.shortcut_scale, out=flat)
            return self._add_conv_path(out, x), summed
        stride, padding = self.shortcut_args
        assert self.shortcut_weight is not None
        out = F.conv3d(F.silu(x), self.shortcut_weight, None, stride, padding)
        out = out.contiguous(memory_format=_CHANNELS_LAST)  # a no-op where oneDNN ran
        out.add_(self.shortcut_offset)
        out[:, self.real_out :] = summed.to(self.dtype)
        return self._add_conv_path(out, x), summed

    def _add_conv_path(self, out: Tensor, x: Tensor) -> Tensor:
        y = self._conv_path(x)
        return _gated_residual_(out, y, None if self.gate is None else self.gate(y))

    def _conv_path(self, x: Tensor) -> Tensor:
        """The conv path (B, out_width, …), zero outside its slots, before the gate."""
        if self.initial:
            h = F.conv3d(x, self.conv1_weight, None, *self.conv1_args)
            h = h.to(self.dtype, memory_format=_CHANNELS_LAST)
            F.silu(h, inplace=True)
            h = _channel_affine(h, self.norm1_factor, self.norm1_offset)
            y = F.conv3d(h, self.conv2_weight, None, *self.conv2_args)
            F.silu(y, inplace=True)
            return _channel_affine(y, self.norm2_factor, self.norm2_offset)
        h = _channel_affine(x, self.norm1_factor, self.norm1_offset)
        h = F.silu(h, inplace=h is not x)
        h = F.conv3d(h, self.conv1_weight, self.conv1_bias, *self.conv1_args)
        F.silu(h, inplace=True)
        return F.conv3d(h, self.conv2_weight, None, *self.conv2_args)


def _gated_residual_(x: Tensor, y: Tensor, gate: Tensor | None) -> Tensor:
    """``x += y·gate`` per channel, in place on channels-last ``x``; returns ``x``."""
    if gate is None:
        x.add_(y)
        return x
    wide_x, wide_y = wide_view(x), wide_view(y)
    assert wide_x.data_ptr() == x.data_ptr(), "not a view: the in-place update would be lost"
    repeat = wide_x.shape[2] // x.shape[1]
    wide_x.addcmul_(wide_y, gate.repeat(1, repeat).unsqueeze(1))
    return x


def _eval_affine(norm: nn.Module | None, channels: int) -> tuple[Tensor, Tensor]:
    """Eval-mode ``(factor, offset)`` of a batch-norm in float64 (identity without one)."""
    if norm is None:
        return torch.ones(channels, dtype=torch.float64), torch.zeros(channels, dtype=torch.float64)
    if isinstance(norm, RunningBatchNorm):
        factor, offset = norm.eval_affine()
        return factor.double().cpu(), offset.double().cpu()
    assert isinstance(norm, nn.BatchNorm3d)
    assert norm.running_mean is not None
    assert norm.running_var is not None
    weight = norm.weight.double() if norm.weight is not None else torch.ones(channels, dtype=torch.float64)
    bias = norm.bias.double() if norm.bias is not None else torch.zeros(channels, dtype=torch.float64)
    factor = weight / torch.sqrt(norm.running_var.double() + norm.eps)
    return factor.detach().cpu(), (bias - norm.running_mean.double() * factor).detach().cpu()


def _channel_affine(x: Tensor, factor: Tensor | None, offset: Tensor | None) -> Tensor:
    if factor is None or offset is None:
        return x
    return channel_affine(x, factor, offset)


def _stride_padding(conv: nn.Conv3d) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """``(stride, padding)`` of ``conv`` as int triples (the head pads explicitly, never by name)."""
    assert not isinstance(conv.padding, str), "named padding ('same'/'valid') is not supported"
    return as_triple(conv.stride), as_triple(conv.padding)


def _conv_output_spatial(conv: nn.Conv3d, spatial: tuple[int, int, int]) -> tuple[int, int, int]:
    """(z, x, y) of ``conv``'s output for an input of (z, x, y) ``spatial``."""
    stride, padding = _stride_padding(conv)
    kernel = as_triple(conv.kernel_size)
    z, x, y = ((n + 2 * p - k) // s + 1 for n, p, k, s in zip(spatial, padding, kernel, stride, strict=True))
    return (z, x, y)


def _double(t: Tensor) -> Tensor:
    return t.detach().double().cpu()


def _cl(t: Tensor, dtype: torch.dtype) -> Tensor:
    return t.to(dtype).contiguous(memory_format=_CHANNELS_LAST)


def _window(pool: nn.AvgPool3d) -> int:
    kernel = as_triple(pool.kernel_size)
    return kernel[0] * kernel[1] * kernel[2]


def _empty_cl(x: Tensor, channels: int, spatial: tuple[int, ...], dtype: torch.dtype) -> Tensor:
    shape = (x.shape[0], channels, *spatial)
    return torch.empty(shape, dtype=dtype, device=x.device, memory_format=_CHANNELS_LAST)
