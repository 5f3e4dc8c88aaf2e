"""A block-by-block table of a regressor: output shape and trainable parameters of each part."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from mucalo.models.regressor import ConvHead, MuonRegressor

__all__ = ["ModelSummary", "SummaryRow", "summarize"]


@dataclass(frozen=True, kw_only=True, slots=True)
class SummaryRow:
    """One part of the model."""

    name: str  # dotted module name, e.g. "head.blocks.3"
    kind: str  # class name, e.g. "DownBlock"
    output_shape: tuple[int, ...]  # per muon, batch axis dropped
    parameters: int  # trainable parameters of this part


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelSummary:
    """Rows in forward order; their parameters add up to ``trainable_parameters``."""

    rows: tuple[SummaryRow, ...]
    trainable_parameters: int  # with requires_grad
    total_parameters: int  # all parameters (the fixed E-sum kernels are buffers, in neither count)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "rows": [
                {
                    "name": r.name,
                    "kind": r.kind,
                    "output_shape": list(r.output_shape),
                    "parameters": r.parameters,
                }
                for r in self.rows
            ],
            "trainable_parameters": self.trainable_parameters,
            "total_parameters": self.total_parameters,
        }

    def format_table(self) -> str:
        """Fixed-width text table with a total line."""
        header = ("block", "type", "output shape", "parameters")
        lines = [(r.name, r.kind, "×".join(map(str, r.output_shape)), f"{r.parameters:,}") for r in self.rows]
        widths = [max(len(row[i]) for row in [header, *lines]) for i in range(4)]

        def fmt(row: tuple[str, str, str, str]) -> str:
            return "  ".join(
                cell.rjust(w) if i == 3 else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )

        rule = "-" * len(fmt(header))
        total = f"trainable parameters: {self.trainable_parameters:,}"
        return "\n".join([fmt(header), rule, *map(fmt, lines), rule, total])


def _parts(model: MuonRegressor) -> Iterator[tuple[str, nn.Module]]:
    """The modules that make rows: each head block and the pooling, each body layer, the output."""
    if isinstance(model.head, ConvHead):
        for i, block in enumerate(model.head.blocks):
            yield f"head.blocks.{i}", block
        yield "head.pool", model.head.pool
    elif model.head is not None:
        yield "head", model.head
    for i, layer in enumerate(model.body.layers):
        if isinstance(layer, nn.Linear):
            yield f"body.layers.{i}", layer
    yield "out", model.out


def _trainable(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def summarize(
    model: MuonRegressor,
    *,
    grid_shape: tuple[int, ...] | None = None,
    features_shape: tuple[int, ...] | None = None,
) -> ModelSummary:
    """Run one zero batch (of 1 muon, eval mode, no gradients) and record each part's output.

    The model's state is left untouched (eval mode does not update running statistics; the training
    flag is restored).

    Args:
        model: A regressor from :func:`mucalo.models.build_model`.
        grid_shape: Grid shape per muon, (1, z, x, y); default from ``model.config``.
        features_shape: Features per muon, (n_features,); default from ``model.config``.

    Returns:
        The rows in forward order and the totals.
    """
    config = model.config
    grid_shape = grid_shape or (1, *config.grid_shape)
    features_shape = features_shape or (config.n_features,)
    parameter = next(model.parameters())
    grid = torch.zeros(1, *grid_shape, device=parameter.device) if config.uses_grid else None
    features = torch.zeros(1, *features_shape, device=parameter.device) if config.uses_features else None

    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    parts = list(_parts(model))
    for name, module in parts:

        def hook(_module: nn.Module, _inputs: Any, output: Tensor, name: str = name) -> None:
            shapes[name] = tuple(output.shape[1:])

        handles.append(module.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(grid, features)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    rows = tuple(
        SummaryRow(
            name=name, kind=type(module).__name__, output_shape=shapes[name], parameters=_trainable(module)
        )
        for name, module in parts
    )
    return ModelSummary(
        rows=rows,
        trainable_parameters=_trainable(model),
        total_parameters=sum(p.numel() for p in model.parameters()),
    )
