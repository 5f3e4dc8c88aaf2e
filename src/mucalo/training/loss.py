"""The regression loss: Huberised fractional squared error with running per-bin thresholds (paper §3.2.2).

Per batch (reference-code-notes §5, with SYSTEM.md's decisions):

1. squared errors L = (ŷ − y)²;
2. per equal-width true-energy bin (half-open [lo, hi); targets outside every bin are never Huberised)
   the batch threshold t_b is the nearest-rank percentile of L in that bin (the k-th smallest with
   k = 1 + round(p·(n − 1))); the bin's threshold starts at the first batch's t_b and then follows
   t ← t + momentum·(t_b − t) (= 0.9 t + 0.1 t_b by default);
3. elements with L > t become t + 2√t(|ŷ − y| − √t), the tangent continuation of L at |ŷ − y| = √t;
4. divide by y (fractional), multiply by w(y) (Eq. 3) and take the plain batch mean.

.. note::
    SYSTEM.md: the thresholds adapt while training only (``loss.train()``); the authors' loss also
    updated them during validation passes. Under DDP the batch percentile is taken over the whole
    global batch (all ranks), so the thresholds equal the single-process ones.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from mucalo.training.config import LossConfig

__all__ = ["BinnedHuberLoss", "energy_weight", "huberise", "nearest_rank"]


def energy_weight(
    true_energy: Tensor,
    *,
    centre_gev: float = 5000.0,
    scale_below_gev: float = 300.0,
    scale_above_gev: float = 600.0,
) -> Tensor:
    """Down-weighting of high-energy muons, paper Eq. 3.

    w = 1 − sigmoid((E − 5000)/300) for E ≤ 5000 GeV, 1 − sigmoid((E − 5000)/600) above:
    w(4000) ≈ 0.966, w(5000) = 0.5, w(6000) ≈ 0.159, w(8000) ≈ 0.0067.

    Args:
        true_energy: (B,) true muon energies, GeV.

    Returns:
        (B,) weights in (0, 1), same dtype.
    """
    offset = true_energy - centre_gev
    scale = torch.where(offset <= 0, scale_below_gev, scale_above_gev)
    return 1.0 - torch.sigmoid(offset / scale)


def nearest_rank(values: Tensor, percentile: float) -> Tensor:
    """Nearest-rank percentile of a 1-D tensor: the k-th smallest value, k = 1 + round(p·(n − 1))."""
    k = 1 + round(percentile * (values.numel() - 1))
    return torch.kthvalue(values, k).values


def huberise(squared_error: Tensor, abs_error: Tensor, threshold: Tensor) -> Tensor:
    """Continue the squared error linearly above ``threshold`` (paper Eq. 2).

    Args:
        squared_error: (B,) (ŷ − y)², GeV².
        abs_error: (B,) |ŷ − y|, GeV.
        threshold: (B,) threshold per element, GeV² (``inf`` = never Huberised).

    Returns:
        (B,) L where L ≤ t, else t + 2√t(|ŷ − y| − √t); continuous with continuous slope at L = t.
    """
    finite = torch.where(torch.isfinite(threshold), threshold, torch.zeros_like(threshold))
    root = finite.sqrt()
    linear = finite + 2.0 * root * (abs_error - root)
    return torch.where(squared_error > threshold, linear, squared_error)


Gather = Callable[[Tensor], Tensor]


class BinnedHuberLoss(nn.Module):
    """The paper's loss and its Table 2 variants, selected by :class:`LossConfig`.

    The per-bin thresholds are a buffer (``thresholds``, GeV², −1 = not yet set) and travel with
    ``state_dict()``, so a resumed training continues with the same thresholds.

    Modes (``config.thresholds``): ``running`` (default), ``batch`` (this batch's percentile, also in eval
    mode), ``fixed`` (the first training batch's percentile, never updated). ``config.kind``: ``huber``
    (default), ``mfse`` (Eq. 1, no Huberisation), ``mse`` (plain squared error, no 1/y, no Huberisation).
    ``config.down_weight`` multiplies by :func:`energy_weight`.
    """

    thresholds: Tensor
    edges: Tensor

    def __init__(self, config: LossConfig | None = None) -> None:
        super().__init__()
        self.config = config or LossConfig()
        low, high = self.config.energy_range_gev
        self.register_buffer("thresholds", torch.full((self.config.n_bins,), -1.0, dtype=torch.float64))
        self.register_buffer(
            "edges", torch.linspace(low, high, self.config.n_bins + 1, dtype=torch.float64), persistent=False
        )

    def forward(self, prediction: Tensor, target: Tensor, *, gather: Gather | None = None) -> Tensor:
        """Batch-mean loss.

        Args:
            prediction: (B,) predicted energies, GeV (computed in float32 or float64).
            target: (B,) true energies, GeV.
            gather: under DDP, a function concatenating a (B,) tensor over all ranks; the threshold
                percentiles are then taken over the global batch. None for a single process.

        Returns:
            Scalar loss (GeV for the fractional kinds, GeV² for ``mse``).
        """
        prediction = prediction.reshape(-1).float()
        target = target.reshape(-1).to(prediction.dtype)
        error = prediction - target
        squared = error.square()
        if self.config.huberised:
            threshold = self._element_thresholds(squared.detach(), target, gather)
            element = huberise(squared, error.abs(), threshold)
        else:
            element = squared
        if self.config.kind != "mse":
            element = element / target
        if self.config.down_weight:
            element = element * energy_weight(
                target,
                centre_gev=self.config.weight_centre_gev,
                scale_below_gev=self.config.weight_scale_below_gev,
                scale_above_gev=self.config.weight_scale_above_gev,
            )
        return element.mean()

    def bin_of(self, target: Tensor) -> Tensor:
        """(B,) bin index of each true energy; −1 outside [low, high) (the last edge is excluded)."""
        edges = self.edges.to(target.dtype)
        index = torch.bucketize(target, edges, right=True) - 1
        inside = (target >= edges[0]) & (target < edges[-1])
        return torch.where(inside, index, torch.full_like(index, -1))

    def _element_thresholds(self, squared: Tensor, target: Tensor, gather: Gather | None) -> Tensor:
        """Update the per-bin thresholds as the mode says and return each element's threshold, GeV²."""
        mode = self.config.thresholds
        adapt = mode == "batch" or (self.training and mode == "running")
        adapt = adapt or (self.training and mode == "fixed")
        if adapt:
            all_squared = gather(squared) if gather is not None else squared
            all_target = gather(target) if gather is not None else target
            all_bins = self.bin_of(all_target)
            current = self.thresholds.clone()
            for j in range(self.config.n_bins):
                in_bin = all_squared[all_bins == j]
                if in_bin.numel() == 0:
                    continue
                batch_value = nearest_rank(in_bin, self.config.percentile).to(torch.float64)
                if mode == "batch" or current[j] < 0:
                    current[j] = batch_value
                elif mode == "running":
                    current[j] = current[j] + self.config.momentum * (batch_value - current[j])
            per_bin = current
            if self.training:
                self.thresholds.copy_(current)
        else:
            per_bin = self.thresholds
        # unset thresholds (−1) and targets outside the bins: no Huberisation
        usable = torch.where(per_bin >= 0, per_bin, torch.full_like(per_bin, float("inf")))
        usable = torch.cat([usable, usable.new_full((1,), float("inf"))]).to(squared.dtype)
        bins = self.bin_of(target)
        return usable[torch.where(bins >= 0, bins, torch.full_like(bins, self.config.n_bins))]

    def extra_repr(self) -> str:
        return f"kind={self.config.kind}, thresholds={self.config.thresholds}, n_bins={self.config.n_bins}"
