"""Fast path for training and inference: bf16 autocast, channels-last 3D and optional ``torch.compile``.

The fp32 model is the reference; the fast path changes arithmetic only, never the architecture or the
parameters (which stay float32: autocast casts per op). What stays in float32 under autocast: the
E-sum pass-through (so energy is conserved), running batch-norm statistics and every loss computed
outside the autocast block.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = ["FastPath", "FastPathConfig", "bf16_supported", "unwrap_compiled"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class FastPathConfig:
    """Switches of the fast path; all off reproduces the plain fp32 model exactly."""

    bf16: bool = True  # autocast matmuls/convs to bfloat16 (needs AVX512-BF16/AMX on CPU, or a bf16 GPU)
    channels_last: bool = True  # channels-last 3D memory format for the model and the grids
    compile: bool = False  # torch.compile the model (minutes of compilation before the first step)

    @classmethod
    def off(cls) -> FastPathConfig:
        """Plain fp32, default memory format, eager."""
        return cls(bf16=False, channels_last=False, compile=False)

    @classmethod
    def auto(cls, device: torch.device | str = "cpu") -> FastPathConfig:
        """bf16 + channels-last where the hardware computes bf16 natively, else channels-last only."""
        return cls(bf16=bf16_supported(device), channels_last=True, compile=False)


def bf16_supported(device: torch.device | str = "cpu") -> bool:
    """Whether ``device`` has native bf16 arithmetic (oneDNN bf16 on CPU, or a bf16-capable GPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


class FastPath:
    """Applies a :class:`FastPathConfig` to a model, its input grids and its forward passes.

    Usage::

        fast = FastPath(FastPathConfig.auto(device), device=device)
        model = fast.prepare_model(model)
        with fast.autocast():
            prediction = model(fast.prepare_grid(grid), features)
        loss = loss_fn(prediction.float(), target)  # outside autocast, in float32

    .. note:: With ``compile`` the returned module is an ``OptimizedModule`` whose ``state_dict`` keys
       carry an ``_orig_mod.`` prefix; save :func:`unwrap_compiled` of it.

    Args:
        config: Switches.
        device: Where the model runs (autocast needs the device type).
    """

    def __init__(self, config: FastPathConfig, *, device: torch.device | str = "cpu") -> None:
        self.config = config
        self.device = torch.device(device)
        if config.bf16 and not bf16_supported(self.device):
            log.warning("bf16 requested on %s without native bf16 support: expect it to be slow", self.device)

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Move ``model`` to the device and memory format (in place) and compile it if configured."""
        model.to(self.device)
        if self.config.channels_last:
            model.to(memory_format=torch.channels_last_3d)
        if self.config.compile:
            return torch.compile(model)  # type: ignore[return-value]
        return model

    def prepare_grid(self, grid: Tensor) -> Tensor:
        """Move a (B, 1, z, x, y) grid to the device and memory format."""
        grid = grid.to(self.device, non_blocking=True)
        if self.config.channels_last:
            grid = grid.contiguous(memory_format=torch.channels_last_3d)
        return grid

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """bf16 autocast when configured, else nothing; wrap only the forward pass."""
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.config.bf16):
            yield


def unwrap_compiled(model: nn.Module) -> nn.Module:
    """The original module behind ``torch.compile`` (or ``model`` itself)."""
    original = getattr(model, "_orig_mod", None)
    return original if isinstance(original, nn.Module) else model
