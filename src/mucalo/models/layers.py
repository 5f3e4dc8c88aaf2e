"""Small layers of the conv head: the energy pass-through, squeeze-excitation and max+mean pooling."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ESumPassThrough", "MaxMeanPool3d", "SqueezeExcite", "is_tracing", "spatial_mean"]


def is_tracing() -> bool:
    """Whether a ``torch.jit`` trace (TorchScript or ONNX export) is running: shapes are then tensors."""
    return bool(torch.jit.is_tracing())  # type: ignore[attr-defined,no-untyped-call]


def spatial_mean(x: Tensor) -> Tensor:
    """Per-channel mean over (z, x, y) of (B, C, z, x, y), in ``x``'s dtype.

    Written as sum / count: on CPU ``mean`` of a bf16 tensor first copies it to float32, which cost
    ~13× the reduction itself; ``sum`` accumulates bf16 in float32 without the copy.
    """
    count = x.shape[2] * x.shape[3] * x.shape[4]
    return x.sum(dim=(2, 3, 4)) / count


class ESumPassThrough(nn.Module):
    """Carries the energy channel through a block (paper Fig. 4, "E-sum"; reference-code-notes §4.2).

    When downsampling it sums 2×2×2 windows with a fixed unit kernel, stride 2 and zero padding 1:
    the windows tile every input cell exactly once, so the total energy is conserved. Otherwise it is
    the identity. The kernel is a buffer, never a parameter, so it is not trainable and not counted.

    Args:
        downsample: Sum 2×2×2 windows (True) or pass the channel unchanged (False).
    """

    kernel: Tensor

    def __init__(self, *, downsample: bool) -> None:
        super().__init__()
        self.downsample = downsample
        self.register_buffer("kernel", torch.ones(1, 1, 2, 2, 2) if downsample else torch.ones(0))

    def forward(self, energy: Tensor) -> Tensor:
        """Map (B, 1, z, x, y) GeV to (B, 1, ⌊z/2⌋+1, ⌊x/2⌋+1, ⌊y/2⌋+1) GeV (or unchanged)."""
        if not self.downsample:
            return energy
        # Summed in float32 even under bf16 autocast, so that the energy stays conserved to fp32 rounding.
        dtype = torch.promote_types(energy.dtype, torch.float32)
        with torch.autocast(device_type=energy.device.type, enabled=False):
            summed: Tensor = F.conv3d(energy.to(dtype), self.kernel.to(dtype), stride=2, padding=1)
        return summed.to(energy.dtype)

    def extra_repr(self) -> str:
        return f"downsample={self.downsample}"


class SqueezeExcite(nn.Module):
    """Squeeze-excitation gate on the conv path (LUMIN 0.8.1 ``SEBlock3d``, reference-code-notes §4.4).

    Global average per channel → Linear(C → r) → Swish → Linear(r → C) → sigmoid, then the channels
    are scaled by the gate. r = max(2, C // ratio).

    Args:
        channels: C.
        ratio: Reduction ratio (default 4).
    """

    def __init__(self, channels: int, *, ratio: int = 4) -> None:
        super().__init__()
        reduced = max(2, channels // ratio)
        self.squeeze = nn.Linear(channels, reduced)
        self.act = nn.SiLU()
        self.excite = nn.Linear(reduced, channels)

    def forward(self, x: Tensor) -> Tensor:
        """Scale (B, C, z, x, y) by a per-channel gate in (0, 1)."""
        gate = spatial_mean(x)
        gate = torch.sigmoid(self.excite(self.act(self.squeeze(gate))))
        return x * gate[:, :, None, None, None]


class MaxMeanPool3d(nn.Module):
    """Per-channel max and mean over (z, x, y) as [max | mean] (LUMIN ``AdaptiveAvgMaxConcatPool3d``)."""

    def forward(self, x: Tensor) -> Tensor:
        """Map (B, C, z, x, y) to (B, 2C), max first."""
        return torch.cat([x.flatten(2).amax(dim=2), spatial_mean(x)], dim=1)
