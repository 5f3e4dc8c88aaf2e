"""The three residual blocks of the conv head (paper Fig. 4; reference-code-notes §4.2).

Every block maps (B, C_in, z, x, y) to (B, C_out + 1, z', x', y'): a conv path (two conv "sandwiches"
and squeeze-excitation) plus a shortcut, with the energy channel, channel 0 of the input, carried in
front by :class:`ESumPassThrough`. Without the energy pass the conv path makes all C_out + 1 channels.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mucalo.models.batchnorm import make_batch_norm
from mucalo.models.config import ModelConfig
from mucalo.models.layers import ESumPassThrough, SqueezeExcite

__all__ = ["Conv3d", "DownBlock", "InitialBlock", "ResBlock", "Shortcut"]

_POOL_KERNEL = 2  # the shortcut's average pool: kernel = stride = 2
_POOL_PADDING = 1


def _prepend_channel(channel: Tensor, x: Tensor) -> Tensor:
    """``torch.cat([channel, x], dim=1)`` in ``x``'s memory format.

    ``cat`` takes the format of its first input, and a single channel is laid out alike in both, so a
    channels-last ``x`` would come back contiguous and every following convolution would reorder it.
    """
    if x.is_contiguous() or not x.is_contiguous(memory_format=torch.channels_last_3d):
        return torch.cat([channel, x], dim=1)
    shape = (x.shape[0], x.shape[1] + 1, *x.shape[2:])
    out = torch.empty(shape, dtype=x.dtype, device=x.device, memory_format=torch.channels_last_3d)
    out[:, :1] = channel
    out[:, 1:] = x
    return out


class Conv3d(nn.Conv3d):
    """``nn.Conv3d`` that computes in float32 under CPU autocast when it has a single input channel.

    oneDNN's bf16 kernels are about 3× slower than its float32 ones for one input channel (the
    grid-reading convolutions of the initial block), so autocast's bf16 cast would cost time and
    precision; the output is then rounded to the autocast dtype like any autocast convolution's.
    Otherwise (and without autocast) it is ``nn.Conv3d``.
    """

    def forward(self, x: Tensor) -> Tensor:
        """Convolve (B, C_in, z, x, y)."""
        if self.in_channels == 1 and x.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            with torch.autocast(device_type="cpu", enabled=False):
                out: Tensor = super().forward(x.float())
            return out.to(torch.get_autocast_dtype("cpu"))
        return super().forward(x)


def _conv(in_channels: int, out_channels: int, *, downsample: bool) -> nn.Conv3d:
    """Kernel 4 / stride 2 / padding 2 when downsampling, else kernel 3 / stride 1 / padding 1; no bias."""
    if downsample:
        return Conv3d(in_channels, out_channels, kernel_size=4, stride=2, padding=2, bias=False)
    return Conv3d(in_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False)


def _norm(config: ModelConfig, channels: int, kind: str | None) -> nn.Module | None:
    if kind is None:
        return None
    return make_batch_norm(
        kind, channels, momentum=config.bn_momentum, eps=config.bn_eps, warmup=config.bn_warmup
    )


def _sandwich(conv: nn.Conv3d, config: ModelConfig, *, pre_activation: bool) -> nn.Sequential:
    """BN → Swish → conv (pre-activation) or conv → Swish → BN (post-activation); BN may be absent."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    if pre_activation:
        norm = _norm(config, conv.in_channels, config.batch_norm)
        if norm is not None:
            layers["norm"] = norm
        layers["act"] = nn.SiLU()  # Swish-1 = x·sigmoid(x)
        layers["conv"] = conv
    else:
        layers["conv"] = conv
        layers["act"] = nn.SiLU()
        norm = _norm(config, conv.out_channels, config.batch_norm)
        if norm is not None:
            layers["norm"] = norm
    return nn.Sequential(layers)


class Shortcut(nn.Sequential):
    """Projection shortcut: [Swish → BN →] [2×2×2 average pool →] 1×1×1 conv (reference-code-notes §4.2).

    The average pool (kernel 2, stride 2, padding 1, padded zeros counted) followed by the 1×1×1 conv
    is one linear map, evaluated as a single kernel-2 stride-2 convolution whose weight is the 1×1×1
    weight spread over the 2×2×2 window and divided by 8: the same arithmetic up to summation order,
    without a separate pooling pass (which has no bf16 CPU kernel, so autocast ran it in float32)
    and its backward. The modules and parameters stay those of the plain sequence.
    """

    def forward(self, x: Tensor) -> Tensor:
        """Map (B, C_in, z, x, y) to (B, C_out, z', x', y')."""
        if "pool" not in self._modules:
            out: Tensor = super().forward(x)  # type: ignore[no-untyped-call]
            return out
        for name, module in self._modules.items():
            if name == "pool":
                break
            assert module is not None
            x = module(x)
        conv = self.conv
        pool = self.pool
        assert isinstance(conv, nn.Conv3d)
        assert isinstance(pool, nn.AvgPool3d)
        window = tuple(conv.weight.shape[:2]) + (_POOL_KERNEL,) * 3
        weight = conv.weight.expand(window) * (1.0 / _POOL_KERNEL**3)
        if conv.in_channels == 1 and x.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            with torch.autocast(device_type="cpu", enabled=False):  # as in Conv3d: bf16 is slow for 1 channel
                out = F.conv3d(x.float(), weight, conv.bias, stride=_POOL_KERNEL, padding=_POOL_PADDING)
            return out.to(torch.get_autocast_dtype("cpu"))
        return F.conv3d(x, weight, conv.bias, stride=_POOL_KERNEL, padding=_POOL_PADDING)

    @property
    def takes_window_sums(self) -> bool:
        """Whether :meth:`from_window_sums` applies: a bare pool → conv on a single input channel."""
        conv = self._modules.get("conv")
        return (
            list(self._modules) == ["pool", "conv"] and isinstance(conv, nn.Conv3d) and conv.in_channels == 1
        )

    def from_window_sums(self, window_sums: Tensor) -> Tensor:
        """The shortcut of a single-channel input from its 2×2×2 window sums (the E-sum, B, 1, z', x', y').

        The average pool is the window sum divided by 8, so the initial block reuses the E-sum instead
        of pooling the grid again: one broadcast multiply-add, in the sums' dtype (float32). Under
        autocast the result is rounded to the autocast dtype, as a convolution's would be.
        """
        conv = self.conv
        assert isinstance(conv, nn.Conv3d)
        shape = (1, conv.out_channels, 1, 1, 1)
        weight = conv.weight.reshape(shape).to(window_sums.dtype) * (1.0 / _POOL_KERNEL**3)
        bias = (
            conv.bias.reshape(shape).to(window_sums.dtype)
            if conv.bias is not None
            else window_sums.new_zeros(shape)
        )
        out = torch.addcmul(bias, window_sums, weight)
        if window_sums.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            return out.to(torch.get_autocast_dtype("cpu"))
        return out


class _HeadBlock(nn.Module):
    """Shared structure of the three blocks; subclasses fix the options."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        config: ModelConfig,
        downsample: bool,
        initial: bool,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels + 1
        if not config.energy_pass:
            # "No E-pass": the conv path fills the energy channel's slot itself, so every feature map
            # keeps its width (paper §7.4: more channels added to keep the size; 671,018 parameters).
            out_channels += 1
        # Without the identity path every block is post-activation like the initial one, which moves the
        # first BN behind conv1 (reference-code-notes §4.9: this reproduces 634,356 parameters).
        pre_activation = config.identity and not initial
        self.conv1 = _sandwich(
            _conv(in_channels, out_channels, downsample=downsample), config, pre_activation=pre_activation
        )
        self.conv2 = _sandwich(
            _conv(out_channels, out_channels, downsample=False), config, pre_activation=pre_activation
        )
        self.se: nn.Module = (
            SqueezeExcite(out_channels, ratio=config.se_ratio) if config.se else nn.Identity()
        )
        self.shortcut = self._make_shortcut(
            in_channels, out_channels, config, downsample=downsample, initial=initial
        )
        self.e_sum = ESumPassThrough(downsample=downsample) if config.energy_pass else None
        # The E-sum and a bare pooled shortcut of the single-channel grid pool the same windows.
        self._shortcut_from_energy = (
            downsample and isinstance(self.shortcut, Shortcut) and self.shortcut.takes_window_sums
        )

    @staticmethod
    def _make_shortcut(
        in_channels: int, out_channels: int, config: ModelConfig, *, downsample: bool, initial: bool
    ) -> nn.Module | None:
        if not config.identity:
            return None
        if not downsample and in_channels == out_channels:
            return nn.Identity()
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        if not initial:
            layers["act"] = nn.SiLU()
            # As in the authors' code the shortcut keeps a BN even when the conv path has none, which is
            # why "no BN" still has 122 BN parameters (635,404); it stays a running BN then.
            norm = _norm(config, in_channels, config.batch_norm or "running")
            assert norm is not None
            layers["norm"] = norm
        if downsample:
            # Kernel 2, stride 2, padding 1 (the paper says kernel 3), padded zeros counted in the mean.
            layers["pool"] = nn.AvgPool3d(
                kernel_size=_POOL_KERNEL, stride=_POOL_KERNEL, padding=_POOL_PADDING
            )
        # The initial block's projection has a bias (the paper says "no biases"; the code has 8).
        layers["conv"] = nn.Conv3d(in_channels, out_channels, kernel_size=1, bias=initial)
        return Shortcut(layers)

    def forward(self, x: Tensor) -> Tensor:
        """Map (B, C_in, z, x, y) to (B, C_out + 1, z', x', y'); channel 0 is the energy with the E-pass."""
        out: Tensor = self.se(self.conv2(self.conv1(x)))
        # The carried energy is a function of the input grid alone (no parameter upstream), so
        # detaching it leaves every parameter gradient unchanged and saves a full-size backward.
        # Under bf16 autocast it is carried in bf16 like the rest (each E-sum adds in float32 and
        # rounds once); every consumer of it computes in bf16 anyway.
        energy = None if self.e_sum is None else self.e_sum(x[:, :1].detach())
        if self.shortcut is not None:
            if (
                energy is not None
                and self._shortcut_from_energy
                and isinstance(self.shortcut, Shortcut)
                and not x.requires_grad
            ):
                out = out + self.shortcut.from_window_sums(energy)  # the initial block: pool once
            else:
                out = out + self.shortcut(x)
        if energy is not None:
            out = _prepend_channel(energy.to(out.dtype), out)
        return out


class InitialBlock(_HeadBlock):
    """First block: post-activation (conv → Swish → BN), stride 2, 1 input channel (the energy).

    Args:
        out_channels: Conv-path channels (8 nominal); the output has one more (the energy).
        config: Switches (SE, BN kind, identity, energy pass).
    """

    def __init__(self, out_channels: int, *, config: ModelConfig) -> None:
        super().__init__(1, out_channels, config=config, downsample=True, initial=True)


class DownBlock(_HeadBlock):
    """Pre-activation block that halves the resolution (kernel 4, stride 2, padding 2) and widens.

    Args:
        in_channels: Input channels, energy included.
        out_channels: Conv-path channels; the output has one more (the energy).
        config: Switches.
    """

    def __init__(self, in_channels: int, out_channels: int, *, config: ModelConfig) -> None:
        super().__init__(in_channels, out_channels, config=config, downsample=True, initial=False)


class ResBlock(_HeadBlock):
    """Pre-activation block at constant resolution and width with an identity shortcut.

    Args:
        channels: Input and conv-path channels; the output has one more (the energy).
        config: Switches.
    """

    def __init__(self, channels: int, *, config: ModelConfig) -> None:
        super().__init__(channels, channels, config=config, downsample=False, initial=False)
