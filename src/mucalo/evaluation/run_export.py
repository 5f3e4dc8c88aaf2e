"""Export a trained run's model (or its whole ensemble) to ONNX or TorchScript, parity checked (issue 6).

``mucalo export RUN --format onnx|torchscript [--model M] --out FILE``. The exported graph takes the inputs
the models read, named ``grid`` ((B, 1, z, x, y) float32 GeV) and ``features`` ((B, F) float32,
standardised with the run's statistics), and returns ``energy`` ((B,) GeV, raw: before the bias
correction). Beside ``FILE`` a ``FILE.json`` records what a user needs to feed it: the feature columns and
their standardisation, the bias correction (when the run has been evaluated), and the parity check:
the exported file against torch on real muons of the run's dataset (or of any dataset or shards given).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import torch
from torch import Tensor, nn

from mucalo import __version__
from mucalo.data import MuonDataset, make_loader, open_dataset
from mucalo.data.lumin import is_lumin_file
from mucalo.data.store import is_dataset_dir
from mucalo.errors import ConfigError, MissingDataError
from mucalo.evaluation.predict import ShardDataset, shard_features
from mucalo.evaluation.run_inputs import ENSEMBLE, input_standardisation, load_bias_correction, model_labels
from mucalo.io.atomic import atomic_path, write_json_atomic
from mucalo.io.shards import Shard, list_shard_files
from mucalo.models import (
    ModelConfig,
    MuonRegressor,
    ParityReport,
    check_onnx_parity,
    check_torchscript_parity,
    export_onnx,
    export_torchscript,
)
from mucalo.training import TrainedRun, load_run

__all__ = ["EXPORT_FORMATS", "EnsembleRegressor", "export_run"]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
ExportFormat = Literal["onnx", "torchscript"]
#: Formats of :func:`export_run`.
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("onnx", "torchscript")


class EnsembleRegressor(nn.Module):
    """The weighted mean of a run's models as one module, called like each of them.

    Args:
        models: the members (same architecture).
        weights: (M,) ensemble weights, sum 1.
    """

    def __init__(self, models: Sequence[MuonRegressor], weights: Sequence[float]) -> None:
        super().__init__()
        self.members = nn.ModuleList(models)
        self.config: ModelConfig = models[0].config
        self.register_buffer("weights", torch.as_tensor(np.asarray(weights), dtype=torch.float32))

    def forward(self, grid: Tensor | None, features: Tensor | None) -> Tensor:
        """(B,) weighted mean of the members' predictions, GeV."""
        predictions = torch.stack([member(grid, features) for member in self.members], dim=1)
        weights = cast(Tensor, self.weights)
        return predictions @ weights


def _parity_data(run: TrainedRun, data: MuonDataset | PathLike | None) -> MuonDataset:
    """The dataset the example muons come from: ``data`` (dataset, LUMIN file or shards) or the run's."""
    if isinstance(data, MuonDataset):
        return data
    if data is None:
        try:
            return run.open_training_dataset()
        except (MissingDataError, FileNotFoundError) as err:
            msg = f"export: the run's dataset cannot be opened ({err}); pass --data DATASET or shards"
            raise MissingDataError(msg) from err
    source = Path(data)
    if is_dataset_dir(source) or is_lumin_file(source):
        return open_dataset(source)
    shard = Shard(list_shard_files(source)[0])
    features, _ = shard_features(run, shard)
    return ShardDataset(
        shard, features=features, standardisation=run.standardisation, with_hits=run.model_config.uses_grid
    )


def _example(run: TrainedRun, data: MuonDataset, n_muons: int) -> tuple[Tensor | None, Tensor | None]:
    """(grid, features) of the first ``n_muons`` muons of the hold-out fold (else fold 0)."""
    holdout = run.holdout_fold
    fold = holdout if holdout is not None and holdout < data.n_folds else 0
    loader = make_loader(
        data,
        [fold],
        batch_size=n_muons,
        shuffle=False,
        seed=0,
        feature_columns=list(run.feature_columns),
        with_grid=run.model_config.uses_grid,
        standardisation=input_standardisation(run, data),
    )
    batch = next(iter(loader))
    grid = batch["grid"] if run.model_config.uses_grid else None
    features = batch["features"] if run.model_config.uses_features else None
    return grid, features


def _chosen(run: TrainedRun, model: int | None) -> tuple[MuonRegressor, str]:
    members = [m for m in run.models if isinstance(m, MuonRegressor)]
    if len(members) != len(run.models):
        msg = f"export: expected MuonRegressor models in {run.path}"
        raise ConfigError(msg)
    labels = model_labels(run)
    if model is None:
        # The export helpers need only .config, the module interface and the call; the ensemble has them.
        return cast(MuonRegressor, EnsembleRegressor(members, run.weights.tolist())), ENSEMBLE
    label = f"model_{model}"
    if label not in labels:
        msg = f"export --model: {model} is not a model of {run.path}; its models are {labels}"
        raise ConfigError(msg)
    return members[labels.index(label)], label


def export_run(
    run: TrainedRun | PathLike,
    *,
    out: PathLike,
    export_format: ExportFormat = "onnx",
    model: int | None = None,
    data: MuonDataset | PathLike | None = None,
    n_muons: int = 32,
    rtol: float = 1e-4,
    atol_gev: float = 1e-5,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Export one model of a run, or its ensemble, and check the file against torch on real muons.

    Args:
        run: a run directory (or a loaded :class:`TrainedRun`).
        out: the file to write (``.onnx`` or ``.pt`` by convention); ``out`` + ``.json`` is written beside.
        export_format: ``onnx`` (opset 17, dynamic batch) or ``torchscript`` (traced).
        model: the model number ``m`` of ``model_{m}``; None exports the weighted ensemble as one graph.
        data: where the parity muons come from: a dataset, LUMIN file, or shard file/directory (default:
            the run's training dataset).
        n_muons: muons of the parity batch.
        rtol: relative tolerance of the parity check (1e-4: issue 6).
        atol_gev: absolute tolerance for predictions near 0, GeV.
        overwrite: replace an existing ``out``.

    Returns:
        ``out``, ``metadata`` (the JSON file), ``format``, ``model``, ``parity`` (max differences, ``ok``),
        ``n_muons``, ``parity_data``. A failed parity check is reported (``parity.ok`` false), not raised.

    Raises:
        ConfigError: unknown format or model, or ``out`` exists.
        MissingDataError: no parity data can be opened.
    """
    if export_format not in EXPORT_FORMATS:
        msg = f"export --format: expected one of {list(EXPORT_FORMATS)}, got {export_format!r}"
        raise ConfigError(msg)
    if n_muons < 1:
        msg = f"export: n_muons must be ≥ 1, got {n_muons}"
        raise ConfigError(msg)
    target = Path(out)
    if target.exists() and not overwrite:
        msg = f"{target}: exists; pass --overwrite to replace it"
        raise ConfigError(msg)
    trained = run if isinstance(run, TrainedRun) else load_run(run)
    regressor, label = _chosen(trained, model)
    parity_data = _parity_data(trained, data)
    example = _example(trained, parity_data, n_muons)
    # Trace on two muons and check on the whole batch: the batch axis must stay dynamic.
    trace_example = tuple(None if t is None else t[:2] for t in example)
    report: ParityReport
    with atomic_path(target) as tmp:
        if export_format == "onnx":
            export_onnx(regressor, tmp, (trace_example[0], trace_example[1]))
            report = check_onnx_parity(regressor, tmp, example, rtol=rtol, atol_gev=atol_gev)
        else:
            export_torchscript(regressor, tmp, (trace_example[0], trace_example[1]))
            report = check_torchscript_parity(regressor, tmp, example, rtol=rtol, atol_gev=atol_gev)
    if not report.ok:
        logger.warning("%s: parity check FAILED: %s", target, report.to_dict())
    stored = load_bias_correction(trained.path)
    correction = None if stored is None else stored.get(label)
    n_example = int(next(t for t in example if t is not None).shape[0])
    metadata = {
        "mucalo_version": __version__,
        "run": str(trained.path),
        "model": label,
        "format": export_format,
        "inputs": _input_description(trained),
        "output": {
            "name": "energy",
            "shape": ["batch"],
            "unit": "GeV",
            "note": "raw prediction; corrected = (energy - offset) / slope with bias_correction",
        },
        "bias_correction": None if correction is None else correction.to_dict(),
        "parity": {**report.to_dict(), "n_muons": n_example, "data": str(parity_data.path)},
    }
    metadata_path = target.with_name(target.name + ".json")
    write_json_atomic(metadata_path, metadata)
    logger.info("%s: %s exported (%s); parity %s", target, label, export_format, report.to_dict())
    return {
        "out": str(target),
        "metadata": str(metadata_path),
        "format": export_format,
        "model": label,
        "parity": report.to_dict(),
        "n_muons": n_example,
        "parity_data": str(parity_data.path),
    }


def _input_description(run: TrainedRun) -> list[dict[str, Any]]:
    inputs: list[dict[str, Any]] = []
    config = run.model_config
    if config.uses_grid:
        inputs.append(
            {
                "name": "grid",
                "shape": ["batch", 1, *config.grid_shape],
                "unit": "GeV",
                "note": "cell energies, order (layer, x, y), unnormalised",
            }
        )
    if config.uses_features:
        inputs.append(
            {
                "name": "features",
                "shape": ["batch", len(run.feature_columns)],
                "columns": list(run.feature_columns),
                "standardisation": run.standardisation.to_dict(),
                "note": "standardised: (raw - mean) / std per column",
            }
        )
    return inputs
