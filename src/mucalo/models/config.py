"""Model configuration: the nominal hybrid regressor of the paper and the switches of its Table 4 ablations.

Defaults are SYSTEM.md "Model" (= reference-code-notes §4.8, the authors' nominal ``train`` run).
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, get_args

from mucalo.errors import ConfigError

__all__ = [
    "ABLATIONS",
    "BatchNormKind",
    "ModelConfig",
    "ModelKind",
    "ablation_config",
]

ModelKind = Literal["hybrid", "cnn", "hl"]
BatchNormKind = Literal["running", "standard"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelConfig:
    """Architecture of the energy regressor (paper §3.1, Figs. 3–5; reference-code-notes §4).

    ``kind`` picks the inputs: ``"hybrid"`` (nominal) sends the grid through the conv head and the
    high-level features straight to the body, ``"cnn"`` uses the grid only, ``"hl"`` the features only.
    The remaining switches are the Table 4 ablations; "off" is ``None`` or ``False``.
    """

    kind: ModelKind = "hybrid"  # which inputs the model reads
    n_features: int = 28  # high-level features per muon (SYSTEM.md order), used by hybrid and hl
    grid_shape: tuple[int, int, int] = (50, 32, 32)  # (layers z, cells x, cells y) of the input grid
    first_channels: int = 8  # conv-path channels of the initial block (the energy channel comes on top)
    channel_growth: float = 1.5  # width factor at each downsampling: n_out = int(n_in · growth)
    n_levels: int = 4  # resolution levels = number of stride-2 stages (initial block + 3 DownBlocks)
    blocks_per_level: int = 3  # blocks per level: one downsampling block + (n − 1) ResBlocks
    se: bool = True  # squeeze-excitation on every block's conv path
    se_ratio: int = 4  # SE bottleneck width = max(2, channels // se_ratio)
    batch_norm: BatchNormKind | None = "running"  # conv-path normalisation; None removes it
    bn_momentum: float = 0.1  # nominal momentum of the running batch-norm (see RunningBatchNorm)
    bn_eps: float = 1e-5  # added to the variance before the square root
    bn_warmup: int = 20  # samples before which the running variance is clamped to ≥ 0.01
    identity: bool = True  # residual shortcuts; False = plain post-activation blocks ("no identity")
    energy_pass: bool = True  # carry the summed energy as channel 0 of every block ("E-pass"); False = learnt
    pooling: bool = True  # max + mean per channel after the head; False flattens the last feature map
    cnn: bool = True  # False = no conv head: the raw grid is flattened into the body ("no CNN")
    body_depth: int = 3  # fully connected layers in the body
    body_width: int = 80  # units per body layer

    def __post_init__(self) -> None:
        if self.kind not in get_args(ModelKind):
            msg = f"model.kind: expected one of {get_args(ModelKind)}, got {self.kind!r}"
            raise ConfigError(msg)
        if self.batch_norm is not None and self.batch_norm not in get_args(BatchNormKind):
            expected = get_args(BatchNormKind)
            msg = f"model.batch_norm: expected one of {expected} or None, got {self.batch_norm!r}"
            raise ConfigError(msg)
        positive_ints = ("n_features", "first_channels", "n_levels", "blocks_per_level", "se_ratio")
        for name in (*positive_ints, "body_depth", "body_width", "bn_warmup"):
            value = getattr(self, name)
            minimum = 1 if name in positive_ints or name == "body_width" else 0
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                msg = f"model.{name}: expected an integer ≥ {minimum}, got {value!r}"
                raise ConfigError(msg)
        if len(self.grid_shape) != 3 or any(not isinstance(n, int) or n < 1 for n in self.grid_shape):
            msg = f"model.grid_shape: expected three positive integers (z, x, y), got {self.grid_shape!r}"
            raise ConfigError(msg)
        if not self.channel_growth >= 1.0:
            msg = f"model.channel_growth: expected a number ≥ 1, got {self.channel_growth!r}"
            raise ConfigError(msg)
        if not 0.0 < self.bn_momentum < 1.0:
            msg = f"model.bn_momentum: expected a number in (0, 1), got {self.bn_momentum!r}"
            raise ConfigError(msg)
        if not self.bn_eps > 0.0:
            msg = f"model.bn_eps: expected a positive number, got {self.bn_eps!r}"
            raise ConfigError(msg)

    @property
    def uses_grid(self) -> bool:
        """Whether the model reads the (B, 1, z, x, y) energy grid."""
        return self.kind in ("hybrid", "cnn")

    @property
    def uses_features(self) -> bool:
        """Whether the model reads the (B, n_features) high-level features."""
        return self.kind in ("hybrid", "hl")


#: Table 4 ablations as switches on top of a base config (paper §5, reference-code-notes §4.9).
ABLATIONS: MappingProxyType[str, MappingProxyType[str, Any]] = MappingProxyType(
    {
        "no-se": MappingProxyType({"se": False}),
        "no-bn": MappingProxyType({"batch_norm": None}),
        "standard-bn": MappingProxyType({"batch_norm": "standard"}),
        "no-identity": MappingProxyType({"identity": False}),
        # Widths are kept: the conv paths make the channel the energy filled (671,018 parameters
        # against the paper's 671,076; see models.builders.hybrid).
        "no-epass": MappingProxyType({"energy_pass": False}),
        "no-pooling": MappingProxyType({"pooling": False}),
        "no-cnn": MappingProxyType({"cnn": False}),
    }
)


def ablation_config(name: str, base: ModelConfig | None = None) -> ModelConfig:
    """The config of a named Table 4 ablation.

    Args:
        name: One of :data:`ABLATIONS` (``no-se``, ``no-bn``, ``standard-bn``, ``no-identity``,
            ``no-epass``, ``no-pooling``, ``no-cnn``).
        base: Config the switches are applied to; default the nominal hybrid ``ModelConfig()``.

    Returns:
        A new frozen config.

    Raises:
        ConfigError: ``name`` is not a known ablation.
    """
    if name not in ABLATIONS:
        near = difflib.get_close_matches(name, sorted(ABLATIONS), n=3)
        hint = f"; did you mean {', '.join(map(repr, near))}?" if near else ""
        msg = f"model ablation: unknown name {name!r}, expected one of {sorted(ABLATIONS)}{hint}"
        raise ConfigError(msg)
    return dataclasses.replace(base or ModelConfig(), **ABLATIONS[name])
