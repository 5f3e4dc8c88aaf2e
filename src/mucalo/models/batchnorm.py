"""Running batch-norm as it produced the paper's numbers (LUMIN 0.8.0, fastai course-v3 lesson 10).

Unlike ``nn.BatchNorm``, training normalises with *running* statistics that are updated first, and
evaluation applies the very same stored statistics, so train and eval agree after the last update.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mucalo.errors import ConfigError
from mucalo.models.layers import is_tracing

__all__ = [
    "RunningBatchNorm",
    "RunningBatchNorm1d",
    "RunningBatchNorm3d",
    "channel_affine",
    "channel_moments",
    "make_batch_norm",
]


_WIDE_ROW = 64  # elements per row of the wide view of a channels-last tensor (see _wide_view)


def _wide_view(x: Tensor) -> tuple[Tensor, int] | None:
    """A channels-last 3D ``x`` as a (M/k, k·C) matrix whose column j holds channel j mod C, or None.

    Per-channel kernels on channels-last tensors with few channels run a vector loop of C elements
    per voxel; seen as k voxels per row they run over k·C ≥ 64 elements instead. None when ``x`` is not
    (only) channels-last, where the plain kernels are fast.
    """
    if x.dim() != 5 or x.is_contiguous() or not x.is_contiguous(memory_format=torch.channels_last_3d):
        return None
    channels = x.shape[1]
    rows = x.numel() // channels
    k = 1
    while k * channels < _WIDE_ROW and rows % (2 * k) == 0:
        k *= 2
    return x.permute(0, 2, 3, 4, 1).reshape(rows // k, k * channels), k


def channel_affine(x: Tensor, factor: Tensor, offset: Tensor) -> Tensor:
    """``x·factor + offset`` per channel (dim 1) of (B, C, *spatial) ``x``, in ``x``'s dtype, differentiable.

    Uses the fused batch-norm kernel (zero mean, unit variance, eps 0): one pass forward and backward,
    while the gradient still reaches ``factor`` and ``offset``. Channels-last 3D input keeps its
    memory format and goes through :func:`_wide_view`.
    """
    wide = _wide_view(x)
    if wide is None:
        zeros = torch.zeros(x.shape[1], dtype=factor.dtype, device=x.device)
        ones = torch.ones(x.shape[1], dtype=factor.dtype, device=x.device)
        return F.batch_norm(x, zeros, ones, weight=factor, bias=offset, training=False, eps=0.0)
    matrix, k = wide
    zeros = torch.zeros(matrix.shape[1], dtype=factor.dtype, device=x.device)
    ones = torch.ones(matrix.shape[1], dtype=factor.dtype, device=x.device)
    out = F.batch_norm(
        matrix, zeros, ones, weight=factor.repeat(k), bias=offset.repeat(k), training=False, eps=0.0
    )
    batch, channels, depth, height, width = x.shape
    return out.view(batch, depth, height, width, channels).permute(0, 4, 1, 2, 3)


class _ChannelMoments(torch.autograd.Function):
    """Per-channel ``(Σx, Σx²)`` in float32 with a one-pass forward and a one-pass backward.

    The same sums as ``x.sum(dims)`` and ``(x * x).sum(dims)``, but the forward reads ``x`` once with
    the batch-norm statistics kernel (mean and biased variance, float32 even for bf16 input) and the
    backward writes ``∂L/∂x = g_s + 2·g_ss·x`` in one fused pass, where autograd through the two sums
    took about eight full-size passes (broadcasts, casts, products and accumulations).
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> tuple[Tensor, Tensor]:
        channels = x.shape[1]
        wide = _wide_view(x)
        columns = x if wide is None else wide[0]
        dtype = torch.promote_types(x.dtype, torch.float32)  # float32 for bf16/fp16/fp32 input
        scratch_mean = torch.zeros(columns.shape[1], dtype=dtype, device=x.device)
        scratch_var = torch.ones(columns.shape[1], dtype=dtype, device=x.device)
        mean, var = torch.batch_norm_update_stats(columns, scratch_mean, scratch_var, 0.0)
        per_column = columns.numel() // columns.shape[1]
        sums, sqrs = mean * per_column, (var + mean * mean) * per_column
        ctx.save_for_backward(x)
        if wide is not None:  # column j of the wide view is channel j mod C
            sums, sqrs = sums.view(-1, channels).sum(0), sqrs.view(-1, channels).sum(0)
        return sums, sqrs

    @staticmethod
    def backward(ctx: Any, grad_sums: Tensor, grad_sqrs: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        # x·(2·g_ss) + g_s per channel, evaluated by the fused affine batch-norm kernel in x's dtype.
        return channel_affine(x, 2.0 * grad_sqrs, grad_sums)


def channel_moments(x: Tensor) -> tuple[Tensor, Tensor]:
    """Per-channel sum and squared sum of (B, C, *spatial) ``x`` over all but dim 1, in float32.

    Mathematically ``(x.sum(dims), (x * x).sum(dims))`` and differentiable, computed in one pass each
    way (see :class:`_ChannelMoments`); under tracing it falls back to the plain expressions.

    Returns:
        (C,) sums and (C,) squared sums, float32.
    """
    if is_tracing() or x.dim() < 2:
        dims = [0, *range(2, x.dim())]
        dtype = torch.promote_types(x.dtype, torch.float32)
        return x.sum(dims, dtype=dtype), (x * x).sum(dims, dtype=dtype)
    sums, sqrs = _ChannelMoments.apply(x)  # type: ignore[no-untyped-call]
    return sums, sqrs


class RunningBatchNorm(nn.Module):
    """Batch-norm with linearly interpolated running sums (reference-code-notes §4.3).

    In training, per channel, the batch sum ``s = Σx``, squared sum ``ss = Σx²`` and count
    ``c = numel / C`` are blended into the buffers with the batch weight
    ``w = 1 − (1 − momentum) / √(bs − 1)`` (0.9436 at bs = 256): ``sums ← sums + w·(s − sums)`` and
    the same for ``sqrs`` and ``count``. The output is ``(x − mean)/√(var + eps)·weight + bias`` with
    ``mean = sums/count`` and the biased ``var = sqrs/count − mean²`` of the *updated* buffers; the
    gradient flows through the current batch's share, not through the older sums. Evaluation uses the
    buffers unchanged. Until ``warmup`` samples have been seen the variance is clamped to ≥ 0.01.

    .. note:: The paper describes θ ← 0.9θ + 0.1θ_batch; what ran weights the current batch by
       ``w`` above (reference-code-notes §0 item 4). This is that behaviour.
    .. note:: LUMIN stores the folded factor/offset of the last training forward and reuses it in
       eval, so its eval transform lags one optimiser step behind the affine weights. Here eval
       recomputes it from the same statistics and the current weights.
    .. note:: Before any update LUMIN divides by a zero count (NaN); here the count is clamped to a
       tiny positive value, so an untrained model in eval sees mean 0 and variance 0.01 instead.

    Args:
        num_features: Channels C.
        spatial_dims: Number of dimensions after (batch, channel): 3 for grids, 0 for vectors.
        momentum: Nominal momentum (default 0.1).
        eps: Added to the variance (default 1e-5).
        warmup: Samples before which the variance is clamped (default 20).
    """

    sums: Tensor
    sqrs: Tensor
    count: Tensor
    samples_seen: Tensor

    def __init__(
        self,
        num_features: int,
        *,
        spatial_dims: int,
        momentum: float = 0.1,
        eps: float = 1e-5,
        warmup: int = 20,
    ) -> None:
        super().__init__()
        self.num_features = num_features
        self.spatial_dims = spatial_dims
        self.momentum = momentum
        self.eps = eps
        self.warmup = warmup
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("sums", torch.zeros(num_features))
        self.register_buffer("sqrs", torch.zeros(num_features))
        self.register_buffer("count", torch.zeros(()))
        self.register_buffer("samples_seen", torch.zeros((), dtype=torch.int64))

    def batch_weight(self, batch_size: int) -> float:
        """Weight of the current batch in the update, ``1 − (1 − momentum)/√(bs − 1)``."""
        return 1.0 - (1.0 - self.momentum) / math.sqrt(batch_size - 1)

    def forward(self, x: Tensor) -> Tensor:
        """Normalise ``x`` of shape (B, C, *spatial); statistics are kept in float32 even under autocast."""
        if not is_tracing() and (x.dim() != 2 + self.spatial_dims or x.shape[1] != self.num_features):
            msg = (
                f"{type(self).__name__}: expected input (B, {self.num_features}"
                f"{', …' * self.spatial_dims}), got {tuple(x.shape)}"
            )
            raise ValueError(msg)
        sums, sqrs, count = self.sums, self.sqrs, self.count
        if self.training:
            batch_size = x.shape[0]
            if batch_size < 2:
                msg = f"{type(self).__name__}: training needs a batch of ≥ 2, got {batch_size}"
                raise ValueError(msg)
            per_channel = x.numel() // self.num_features
            batch_sums, batch_sqrs = channel_moments(x)
            weight = self.batch_weight(batch_size)
            # Older sums are constants; the current batch's share keeps its gradient (as in LUMIN).
            sums = torch.lerp(sums, batch_sums, weight)
            sqrs = torch.lerp(sqrs, batch_sqrs, weight)
            count = torch.lerp(count, count.new_tensor(float(per_channel)), weight)
            with torch.no_grad():
                self.sums.copy_(sums)
                self.sqrs.copy_(sqrs)
                self.count.copy_(count)
                self.samples_seen.add_(batch_size)
        factor, offset = self._factor_offset(sums, sqrs, count)
        # One fused pass forward and backward, in the input's dtype; the gradient reaches the statistics.
        return channel_affine(x, factor, offset)

    def _factor_offset(self, sums: Tensor, sqrs: Tensor, count: Tensor) -> tuple[Tensor, Tensor]:
        """Per-channel ``(factor, offset)`` of the normalisation from sums, squared sums and count."""
        count = count.clamp_min(torch.finfo(torch.float32).tiny)
        mean = sums / count
        var = sqrs / count - mean * mean
        var = torch.where(self.samples_seen < self.warmup, var.clamp_min(0.01), var)
        factor = self.weight.float() / torch.sqrt(var + self.eps)
        offset = self.bias.float() - mean * factor
        return factor, offset

    def eval_affine(self) -> tuple[Tensor, Tensor]:
        """The eval-mode transform as ``x·factor + offset`` per channel: (C,) ``factor``, (C,) ``offset``.

        Exactly what :meth:`forward` applies in eval mode (float32, or the buffers' dtype if wider),
        without gradients; inference code folds it into neighbouring convolutions.
        """
        with torch.no_grad():
            return self._factor_offset(self.sums, self.sqrs, self.count)

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}, warmup={self.warmup}"


class RunningBatchNorm3d(RunningBatchNorm):
    """:class:`RunningBatchNorm` for (B, C, z, x, y) feature maps."""

    def __init__(
        self, num_features: int, *, momentum: float = 0.1, eps: float = 1e-5, warmup: int = 20
    ) -> None:
        super().__init__(num_features, spatial_dims=3, momentum=momentum, eps=eps, warmup=warmup)


class RunningBatchNorm1d(RunningBatchNorm):
    """:class:`RunningBatchNorm` for (B, C) vectors."""

    def __init__(
        self, num_features: int, *, momentum: float = 0.1, eps: float = 1e-5, warmup: int = 20
    ) -> None:
        super().__init__(num_features, spatial_dims=0, momentum=momentum, eps=eps, warmup=warmup)


def make_batch_norm(
    kind: str, num_features: int, *, momentum: float = 0.1, eps: float = 1e-5, warmup: int = 20
) -> nn.Module:
    """A 3D batch-norm of the given kind.

    Args:
        kind: ``"running"`` (:class:`RunningBatchNorm3d`, nominal) or ``"standard"`` (``nn.BatchNorm3d``
            with the same momentum and eps; ``warmup`` is unused).
        num_features: Channels.
        momentum: Nominal momentum.
        eps: Variance offset.
        warmup: Running-BN warm-up in samples.

    Raises:
        ConfigError: Unknown ``kind``.
    """
    if kind == "running":
        return RunningBatchNorm3d(num_features, momentum=momentum, eps=eps, warmup=warmup)
    if kind == "standard":
        return nn.BatchNorm3d(num_features, eps=eps, momentum=momentum)
    msg = f"model.batch_norm: expected 'running' or 'standard', got {kind!r}"
    raise ConfigError(msg)
