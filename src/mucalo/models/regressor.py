"""The regressor: conv head on the grid, high-level features alongside, a fully connected body, GeV out.

Wiring (reference-code-notes §4.1): body input = [features | head output], where the head output is
[per-channel max | per-channel mean] of the last feature map (98 values nominally), its flattened map
(no pooling) or the flattened raw grid (no CNN). Inputs go in as they come: grid energies in GeV,
unnormalised; features already standardised upstream. The output is the energy in GeV, no scaling.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from mucalo.models.blocks import DownBlock, InitialBlock, ResBlock
from mucalo.models.config import ModelConfig
from mucalo.models.layers import MaxMeanPool3d, SqueezeExcite, is_tracing

__all__ = ["ConvHead", "FullyConnectedBody", "MuonRegressor"]


def _downsampled(size: int) -> int:
    """Spatial size after a stride-2 stage (kernel 4 / padding 2 and kernel 2 / padding 1 agree)."""
    return size // 2 + 1


class ConvHead(nn.Module):
    """Residual 3D conv head (``Stride2PreActMuonConvTensorHead``; reference-code-notes §4.5).

    ``n_levels`` resolution levels of ``blocks_per_level`` blocks each: the initial block or a
    :class:`DownBlock`, then :class:`ResBlock` s. Nominally 50×32×32 → 26×17×17 → 14×9×9 → 8×5×5 →
    5×3×3 with 9, 17, 29 and 47 channels after each downsampling and 49 at the end.

    Args:
        config: Architecture.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        # Every block adds one channel (the carried energy, or its replacement without the E-pass).
        blocks: list[nn.Module] = [InitialBlock(config.first_channels, config=config)]
        channels = config.first_channels + 1
        blocks += self._make_stage(channels, config)
        channels += config.blocks_per_level - 1
        for _ in range(config.n_levels - 1):
            widened = int(channels * config.channel_growth)
            blocks.append(DownBlock(channels, widened, config=config))
            channels = widened + 1
            blocks += self._make_stage(channels, config)
            channels += config.blocks_per_level - 1
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = channels
        spatial = list(config.grid_shape)
        for _ in range(config.n_levels):
            spatial = [_downsampled(n) for n in spatial]
        self.out_spatial = tuple(spatial)
        self.pool: nn.Module = MaxMeanPool3d() if config.pooling else nn.Flatten()
        self.out_features = 2 * channels if config.pooling else channels * math.prod(spatial)

    @staticmethod
    def _make_stage(channels: int, config: ModelConfig) -> list[nn.Module]:
        """The ResBlocks after a downsampling; each adds one channel."""
        return [ResBlock(channels + i, config=config) for i in range(config.blocks_per_level - 1)]

    def forward(self, grid: Tensor) -> Tensor:
        """Map the (B, 1, z, x, y) GeV grid to (B, out_features)."""
        pooled: Tensor = self.pool(self.blocks(grid))
        return pooled


class FullyConnectedBody(nn.Module):
    """``depth`` × (Linear → Swish) of equal width, no BN, no dropout (LUMIN ``FullyConnected``)."""

    def __init__(self, in_features: int, *, depth: int, width: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Linear(in_features if i == 0 else width, width), nn.SiLU()]
        self.layers = nn.Sequential(*layers)
        self.out_features = width if depth > 0 else in_features

    def forward(self, x: Tensor) -> Tensor:
        """Map (B, in_features) to (B, out_features)."""
        out: Tensor = self.layers(x)
        return out


class MuonRegressor(nn.Module):
    """Energy regressor of the paper (§3.1) in its hybrid, grid-only and feature-only forms.

    Call it as ``model(grid, features)``:

    - ``grid``: (B, 1, z, x, y) float tensor of cell energies in GeV, order (layer, x, y), unnormalised;
      ``None`` for ``kind="hl"``.
    - ``features``: (B, n_features) float tensor of standardised high-level features in SYSTEM.md order;
      ``None`` for ``kind="cnn"``.
    - returns (B,) predicted muon energies in GeV.

    Args:
        config: Architecture; see :class:`ModelConfig`.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        in_features = config.n_features if config.uses_features else 0
        self.head: nn.Module | None = None
        if config.uses_grid:
            if config.cnn:
                self.head = ConvHead(config)
                in_features += self.head.out_features
            else:
                self.head = nn.Flatten()
                in_features += math.prod(config.grid_shape)
        self.body = FullyConnectedBody(in_features, depth=config.body_depth, width=config.body_width)
        self.out = nn.Linear(self.body.out_features, 1)
        self._init_weights()

    def _init_weights(self) -> None:
        """Kaiming-normal (fan-in, ReLU gain) convs and hidden linears, zero biases; Xavier-normal
        SE excitation and output (reference-code-notes §4.6). The initial shortcut's bias keeps the
        PyTorch default, as in the authors' code."""
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            elif isinstance(module, SqueezeExcite):
                nn.init.kaiming_normal_(module.squeeze.weight, mode="fan_in", nonlinearity="relu")
                nn.init.zeros_(module.squeeze.bias)
                nn.init.xavier_normal_(module.excite.weight)
                nn.init.zeros_(module.excite.bias)
        for module in self.body.modules():
            if isinstance(module, nn.Linear):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
                nn.init.zeros_(module.bias)
        nn.init.xavier_normal_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def _check_inputs(self, grid: Tensor | None, features: Tensor | None) -> None:
        config = self.config
        if config.uses_features and (
            features is None or features.dim() != 2 or features.shape[1] != config.n_features
        ):
            found = None if features is None else tuple(features.shape)
            msg = f"{config.kind} model: expected features (B, {config.n_features}), got {found}"
            raise ValueError(msg)
        expected = (1, *config.grid_shape)
        if config.uses_grid and (grid is None or grid.dim() != 5 or tuple(grid.shape[1:]) != expected):
            found = None if grid is None else tuple(grid.shape)
            msg = f"{config.kind} model: expected grid (B, {', '.join(map(str, expected))}), got {found}"
            raise ValueError(msg)

    def forward(self, grid: Tensor | None, features: Tensor | None) -> Tensor:
        """Predict energies.

        Args:
            grid: (B, 1, z, x, y) GeV, or None when the model does not read the grid.
            features: (B, n_features) standardised, or None when the model does not read features.

        Returns:
            (B,) energies in GeV.

        Raises:
            ValueError: A needed input is missing or has the wrong shape.
        """
        if not is_tracing():  # traced shapes are tensors; exporters pass checked examples
            self._check_inputs(grid, features)
        parts: list[Tensor] = []
        if self.config.uses_features:
            assert features is not None
            parts.append(features)
        if self.head is not None:
            assert grid is not None
            parts.append(self.head(grid))
        body_input = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        hidden = self.body(body_input)
        if torch.is_autocast_enabled(hidden.device.type):
            # the output energy (up to ~10⁴ GeV) in float32: bf16's 8-bit mantissa would round it to
            # steps of up to 0.4 % (16 GeV at 4 TeV)
            with torch.autocast(device_type=hidden.device.type, enabled=False):
                energy: Tensor = self.out(hidden.float())
        else:
            energy = self.out(hidden)
        return energy.squeeze(1)
