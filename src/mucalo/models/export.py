"""Export a trained regressor to TorchScript and ONNX, and check that the exports agree with torch.

Exported graphs take the inputs the model reads, in the order (grid, features), named ``grid``
((B, 1, z, x, y) float32 GeV) and ``features`` ((B, n_features) float32, standardised), with a dynamic
batch axis, and return ``energy`` ((B,) float32 GeV). They are traced in eval mode, so running
batch-norm statistics are frozen into them.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from mucalo.errors import ConfigError, MissingDataError
from mucalo.models.regressor import MuonRegressor

__all__ = [
    "ParityReport",
    "check_onnx_parity",
    "check_torchscript_parity",
    "export_onnx",
    "export_torchscript",
]

Example = tuple[Tensor | None, Tensor | None]


class _ExportAdapter(nn.Module):
    """Positional tensors only (exporters cannot pass None): the inputs ``model.config`` says it reads."""

    def __init__(self, model: MuonRegressor) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs: Tensor) -> Tensor:
        config = self.model.config
        grid = inputs[0] if config.uses_grid else None
        features = inputs[-1] if config.uses_features else None
        energy: Tensor = self.model(grid, features)
        return energy


@dataclass(frozen=True, kw_only=True, slots=True)
class ParityReport:
    """Agreement of an exported model with torch on one batch."""

    max_abs_diff_gev: float  # max |exported − torch| over the batch, GeV
    max_rel_diff: float  # max |exported − torch| / |torch|
    rtol: float
    atol_gev: float
    ok: bool  # every muon within atol + rtol·|torch|

    def to_dict(self) -> dict[str, float | bool]:
        """JSON-ready form."""
        return {
            "max_abs_diff_gev": self.max_abs_diff_gev,
            "max_rel_diff": self.max_rel_diff,
            "rtol": self.rtol,
            "atol_gev": self.atol_gev,
            "ok": self.ok,
        }


def _inputs(model: MuonRegressor, example: Example) -> tuple[Tensor, ...]:
    grid, features = example
    config = model.config
    inputs: list[Tensor] = []
    for name, needed, tensor in (
        ("grid", config.uses_grid, grid),
        ("features", config.uses_features, features),
    ):
        if needed and tensor is None:
            msg = f"export of a {config.kind!r} model: example {name} is required, got None"
            raise ConfigError(msg)
        if needed and tensor is not None:
            inputs.append(tensor.detach().float().cpu().contiguous())
    return tuple(inputs)


def _input_names(model: MuonRegressor) -> list[str]:
    names = ["grid"] if model.config.uses_grid else []
    return [*names, "features"] if model.config.uses_features else names


@contextlib.contextmanager
def _eval_on_cpu(model: MuonRegressor) -> Iterator[MuonRegressor]:
    """Eval mode on the CPU for tracing; the model's device and mode are restored afterwards."""
    was_training = model.training
    device = next(model.parameters()).device
    model.eval().cpu()
    try:
        yield model
    finally:
        model.to(device).train(was_training)


def _report(
    exported: npt.NDArray[np.float32], reference: npt.NDArray[np.float32], rtol: float, atol: float
) -> ParityReport:
    diff = np.abs(exported.astype(np.float64) - reference.astype(np.float64))
    scale = np.abs(reference.astype(np.float64))
    rel = diff / np.maximum(scale, np.finfo(np.float64).tiny)
    return ParityReport(
        max_abs_diff_gev=float(diff.max(initial=0.0)),
        max_rel_diff=float(rel.max(initial=0.0)),
        rtol=rtol,
        atol_gev=atol,
        ok=bool(np.all(diff <= atol + rtol * scale)),
    )


def _torch_reference(model: MuonRegressor, inputs: tuple[Tensor, ...]) -> npt.NDArray[np.float32]:
    with torch.no_grad():
        prediction: npt.NDArray[np.float32] = _ExportAdapter(model)(*inputs).numpy()
    return prediction


def export_torchscript(model: MuonRegressor, path: str | Path, example: Example) -> Path:
    """Trace ``model`` in eval mode and save it as TorchScript.

    Args:
        model: Trained regressor (left in its original mode and device).
        path: Output file (``.pt``).
        example: (grid, features) batch used for tracing; the entry the model does not read may be None.

    Returns:
        The path written. Load with ``torch.jit.load(path)`` and call with the tensors in
        (grid, features) order, leaving out those the model does not read.
    """
    path = Path(path)
    with _eval_on_cpu(model):
        inputs = _inputs(model, example)
        with warnings.catch_warnings():
            # torch.jit is deprecated in favour of torch.export but remains the portable C++ format.
            warnings.simplefilter("ignore", DeprecationWarning)
            traced = torch.jit.trace(_ExportAdapter(model), inputs)  # type: ignore[no-untyped-call]
        traced.save(str(path))
    return path


def export_onnx(model: MuonRegressor, path: str | Path, example: Example, *, opset: int = 17) -> Path:
    """Export ``model`` in eval mode to ONNX with a dynamic batch axis.

    .. note:: Uses torch's TorchScript-based exporter (``dynamo=False``): the torch.export-based one
       needs ``onnxscript``, which mucalo does not depend on.

    Args:
        model: Trained regressor (left in its original mode and device).
        path: Output file (``.onnx``).
        example: (grid, features) batch used for tracing; the entry the model does not read may be None.
        opset: ONNX opset version (default 17).

    Returns:
        The path written.
    """
    path = Path(path)
    names = _input_names(model)
    with _eval_on_cpu(model):
        inputs = _inputs(model, example)
        dynamic_axes = {name: {0: "batch"} for name in [*names, "energy"]}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter announces itself
            torch.onnx.export(
                _ExportAdapter(model),
                inputs,
                str(path),
                dynamo=False,
                input_names=names,
                output_names=["energy"],
                dynamic_axes=dynamic_axes,
                opset_version=opset,
            )
    return path


def check_onnx_parity(
    model: MuonRegressor, path: str | Path, example: Example, *, rtol: float = 1e-4, atol_gev: float = 1e-5
) -> ParityReport:
    """Compare onnxruntime (CPU) on an exported file with torch in eval mode on ``example``.

    Args:
        model: The regressor that was exported.
        path: The ``.onnx`` file.
        example: (grid, features) batch, preferably real grids.
        rtol: Relative tolerance (default 1e-4).
        atol_gev: Absolute tolerance in GeV (default 1e-5) for predictions near zero.

    Raises:
        MissingDataError: ``path`` does not exist.
    """
    import onnxruntime  # imported lazily: only export checks need it

    path = Path(path)
    if not path.is_file():
        msg = f"{path}: ONNX file not found"
        raise MissingDataError(msg)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    with _eval_on_cpu(model):
        inputs = _inputs(model, example)
        reference = _torch_reference(model, inputs)
    feeds = {name: tensor.numpy() for name, tensor in zip(_input_names(model), inputs, strict=True)}
    (exported,) = session.run(["energy"], feeds)
    return _report(np.asarray(exported), reference, rtol, atol_gev)


def check_torchscript_parity(
    model: MuonRegressor, path: str | Path, example: Example, *, rtol: float = 1e-4, atol_gev: float = 1e-5
) -> ParityReport:
    """Compare a saved TorchScript file with the eager model in eval mode on ``example``.

    Raises:
        MissingDataError: ``path`` does not exist.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"{path}: TorchScript file not found"
        raise MissingDataError(msg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
    with _eval_on_cpu(model):
        inputs = _inputs(model, example)
        reference = _torch_reference(model, inputs)
        with torch.no_grad():
            exported = loaded(*inputs).numpy()
    return _report(exported, reference, rtol, atol_gev)
