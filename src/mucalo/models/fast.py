"""Fast path for training and inference: bf16 autocast, denormal flushing, chunked inference, options.

The fp32 model is the reference; the fast path changes arithmetic only, never the architecture or the
parameters (which stay float32: autocast casts per op and caches the casts within one context). Under
bf16 autocast the convolutions, linears and the activations between them run in bf16; the running
batch-norm statistics, each E-sum addition, the single-input-channel convolutions of the initial
block (oneDNN's bf16 kernels are slow there) and every loss computed outside the autocast block stay
in float32. The carried energy channel is rounded to bf16 between blocks (relative 2⁻⁹ per stage).

Measured on one core of the 2-core AMX development VM (bench/model.py; plain = fp32 at batch 256):

- bf16 is the main lever (AMX); without it (AVX512-BF16 only) bf16 is ~3× slower than fp32.
- Training at batch 32–64 instead of 256 gives ~2× per muon on its own (feature maps stay in cache,
  far fewer page faults); with bf16 the fast path trains ≈ 4× faster than plain fp32 at 256.
- Inference in chunks of 32 with subnormals flushed to zero (Swish of very negative inputs makes
  them; they cost tens of cycles each) was ≈ 1.6–2.5× faster than plain fp32 at 256 with the model
  itself under autocast (206–330 muons/s, run to run).
- ``inference_head`` (default on): :meth:`FastPath.predict` runs a derived eval-mode head
  (:mod:`mucalo.models.fast_inference`: batch-norms folded into the convolutions, channels-last
  feature maps, per-level buffers updated in place instead of concatenating the energy channel,
  float32 body so the output is not rounded to bf16). bench/model.py, ``--infer-iters 4``, three
  runs on the 2-core VM: 336–356 muons/s against 110–123 for plain fp32 (ratio 2.7–3.2; the old fast
  path gave 206 on the same VM). On a trained ``quick`` hybrid (bench/fast_path_accuracy.py, 500
  hold-out muons) bf16 moves single predictions by 0.5 % median, 7.5 % rms (14 % with autocast of the
  model itself), shifts the mean response by +0.9 % and leaves the spread std(prediction − true)
  unchanged; :meth:`FastPathConfig.exact` (float32 through the derived head, what evaluation uses)
  matches plain fp32 to 4e-6 rms. In float64 the derived head equals the model to 1e-10
  (tests/models/test_equivalent_layers.py).
- Channels-last 3D gains nothing overall (faster convolutions, slower element-wise ops), so it is
  off by default; ``torch.compile`` costs minutes of compilation and gained nothing; TorchScript
  freezing / ``optimize_for_inference`` was slower than eager bf16.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mucalo.errors import ConfigError
from mucalo.models.fast_inference import inference_model

__all__ = ["FastPath", "FastPathConfig", "bf16_supported", "unwrap_compiled"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class FastPathConfig:
    """Switches of the fast path; all off reproduces the plain fp32 model exactly."""

    bf16: bool = True  # autocast matmuls/convs to bfloat16 (fast with AMX on CPU, or on a bf16 GPU)
    channels_last: bool = False  # channels-last 3D memory format for the model and the grids
    compile: bool = False  # torch.compile the model (minutes of compilation before the first step)
    inference_batch: int | None = 32  # muons per forward pass in FastPath.predict (None = all at once)
    flush_denormal: bool = True  # flush subnormal floats (< 1.2e-38) to zero during forward passes (CPU)
    inference_head: bool = True  # predictions through the derived head (mucalo.models.fast_inference)

    def __post_init__(self) -> None:
        if self.inference_batch is not None and (
            not isinstance(self.inference_batch, int)
            or isinstance(self.inference_batch, bool)
            or self.inference_batch < 1
        ):
            found = self.inference_batch
            msg = f"fast_path.inference_batch: expected a positive integer or None, got {found!r}"
            raise ConfigError(msg)

    @classmethod
    def off(cls) -> FastPathConfig:
        """Plain fp32, default memory format, eager, whole batches."""
        return cls(
            bf16=False,
            channels_last=False,
            compile=False,
            inference_batch=None,
            flush_denormal=False,
            inference_head=False,
        )

    @classmethod
    def exact(cls) -> FastPathConfig:
        """float32 predictions through the derived inference head: equal to the plain model to float32
        rounding (folded batch-norms reorder a few operations), 1.5–1.7× faster on one CPU core."""
        return cls(bf16=False, channels_last=False, compile=False, inference_batch=32, flush_denormal=True)

    @classmethod
    def auto(cls, device: torch.device | str = "cpu") -> FastPathConfig:
        """bf16 where the hardware computes it natively, else fp32; eager, default memory format, chunks
        of 32 muons in :meth:`FastPath.predict`, subnormals flushed in forward passes."""
        return cls(bf16=bf16_supported(device), channels_last=False, compile=False)


def bf16_supported(device: torch.device | str = "cpu") -> bool:
    """Whether ``device`` computes bf16 natively and fast: a bf16-capable GPU, or a CPU with oneDNN bf16
    and AMX tiles. With AVX512-BF16 alone (oneDNN limited to it) this model ran ~3× slower in bf16
    than in fp32, so such CPUs count as unsupported."""
    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        mkldnn = bool(torch.backends.mkldnn.is_available())  # type: ignore[no-untyped-call]
        amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
        return (
            mkldnn and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()) and amx is not None and bool(amx())
        )
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
        self._derived: tuple[nn.Module, tuple[int, ...], nn.Module] | None = None
        if config.bf16 and not bf16_supported(self.device):
            log.warning("bf16 requested on %s without native bf16 support: expect it to be slow", self.device)

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Move ``model`` to the device and memory format (in place) and compile it if configured."""
        model.to(self.device)
        if self.config.channels_last:
            model.to(memory_format=torch.channels_last_3d)  # type: ignore[call-overload]
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
        """bf16 autocast and denormal flushing when configured, else nothing; wrap only the forward pass."""
        with (
            torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.config.bf16),
            self._flushed_denormals(),
        ):
            yield

    @contextlib.contextmanager
    def _flushed_denormals(self) -> Iterator[None]:
        """Flush subnormal floats to zero on this thread's CPU (FTZ/DAZ), then back to the default (off).

        Swish far below zero (x·sigmoid(x) for x ≲ −88) and its consumers produce subnormals, which
        the CPU computes tens of times slower than normal numbers; flushing them changes values below
        1.2e-38 only. PyTorch cannot read the previous state, so leaving restores its default, off.
        """
        active = self.config.flush_denormal and self.device.type == "cpu"
        if active:
            active = torch.set_flush_denormal(True)  # False where the CPU cannot
        try:
            yield
        finally:
            if active:
                torch.set_flush_denormal(False)

    def predict(self, model: nn.Module, grid: Tensor | None, features: Tensor | None) -> Tensor:
        """Eval-mode predictions in chunks of ``inference_batch`` muons, without gradients.

        Chunking is exact (in eval mode every muon is computed independently) and keeps the large
        first-level feature maps in cache, which is faster on CPUs.

        Args:
            model: A prepared model (see :meth:`prepare_model`), in eval mode.
            grid: (B, 1, z, x, y) GeV or None.
            features: (B, n_features) or None.

        Returns:
            (B,) float32 energies in GeV.
        """
        n = len(grid) if grid is not None else len(features) if features is not None else 0
        step = self.config.inference_batch or max(n, 1)
        outputs = []
        model = self.inference_model(model)
        # inference_mode (not just no_grad): no version counters or view tracking on the many small ops.
        with torch.inference_mode(), self.autocast():
            for start in range(0, n, step):
                grid_chunk = None if grid is None else self.prepare_grid(grid[start : start + step])
                features_chunk = None if features is None else features[start : start + step].to(self.device)
                outputs.append(model(grid_chunk, features_chunk).float())
        return torch.cat(outputs) if outputs else torch.zeros(0, device=self.device)

    def inference_model(self, model: nn.Module) -> nn.Module:
        """What :meth:`predict` runs for ``model``: with ``inference_head`` and an eval-mode model of the
        supported structure, a derived module (:func:`mucalo.models.fast_inference.inference_model`, in
        bf16 or float32 as configured), else ``model``. The derived module is cached until a parameter
        or buffer of ``model`` changes; ``model`` itself is never modified."""
        if not self.config.inference_head or model.training:
            return model
        versions = tuple(t._version for t in (*model.parameters(), *model.buffers()))
        cached = self._derived
        if cached is not None and cached[0] is model and cached[1] == versions:
            return cached[2]
        dtype = torch.bfloat16 if self.config.bf16 else torch.float32
        derived = inference_model(model, dtype)
        self._derived = (model, versions, derived)
        return derived


def unwrap_compiled(model: nn.Module) -> nn.Module:
    """The original module behind ``torch.compile`` (or ``model`` itself)."""
    original = getattr(model, "_orig_mod", None)
    return original if isinstance(original, nn.Module) else model
