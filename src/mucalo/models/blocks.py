"""The three residual blocks of the conv head (paper Fig. 4; reference-code-notes §4.2).

Every block maps (B, C_in, z, x, y) to (B, C_out + 1, z', x', y'): a conv path (two conv "sandwiches"
and squeeze-excitation) plus a shortcut, with the energy channel, channel 0 of the input, carried in
front by :class:`ESumPassThrough`. Without the energy pass the conv path makes all C_out + 1 channels.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn

from mucalo.models.batchnorm import make_batch_norm
from mucalo.models.config import ModelConfig
from mucalo.models.layers import ESumPassThrough, SqueezeExcite

__all__ = ["DownBlock", "InitialBlock", "ResBlock"]


def _conv(in_channels: int, out_channels: int, *, downsample: bool) -> nn.Conv3d:
    """Kernel 4 / stride 2 / padding 2 when downsampling, else kernel 3 / stride 1 / padding 1; no bias."""
    if downsample:
        return nn.Conv3d(in_channels, out_channels, kernel_size=4, stride=2, padding=2, bias=False)
    return nn.Conv3d(in_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False)


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
            layers["pool"] = nn.AvgPool3d(kernel_size=2, stride=2, padding=1)
        # The initial block's projection has a bias (the paper says "no biases"; the code has 8).
        layers["conv"] = nn.Conv3d(in_channels, out_channels, kernel_size=1, bias=initial)
        return nn.Sequential(layers)

    def forward(self, x: Tensor) -> Tensor:
        """Map (B, C_in, z, x, y) to (B, C_out + 1, z', x', y'); channel 0 is the energy with the E-pass."""
        out: Tensor = self.se(self.conv2(self.conv1(x)))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        if self.e_sum is not None:
            # The carried energy is a function of the input grid alone (no parameter upstream), so
            # detaching it leaves every parameter gradient unchanged and saves a full-size backward.
            # Under bf16 autocast it is carried in bf16 like the rest (each E-sum adds in float32 and
            # rounds once); every consumer of it computes in bf16 anyway.
            energy = self.e_sum(x[:, :1].detach())
            out = torch.cat([energy.to(out.dtype), out], dim=1)
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
