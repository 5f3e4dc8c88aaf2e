"""The energy regressors of the paper (§3.1, Figs. 3–5, Table 4): hybrid, grid-only and feature-only.

Build with :func:`build_model` from a :class:`ModelConfig` (or :func:`build_named` with a registered
name and a Table 4 ablation). Every model is called as ``model(grid, features)`` with a
(B, 1, 50, 32, 32) grid in GeV and/or (B, 28) standardised features, and returns (B,) energies in GeV.
"""

from __future__ import annotations

from mucalo.models.batchnorm import RunningBatchNorm, RunningBatchNorm1d, RunningBatchNorm3d, make_batch_norm
from mucalo.models.blocks import DownBlock, InitialBlock, ResBlock
from mucalo.models.builders import (
    EXPECTED_PARAMETERS,
    build_model,
    build_named,
    cnn_only,
    count_parameters,
    expected_parameters,
    get_builder,
    hl_only,
    hybrid,
    model_names,
)
from mucalo.models.config import ABLATIONS, BatchNormKind, ModelConfig, ModelKind, ablation_config
from mucalo.models.export import (
    ParityReport,
    check_onnx_parity,
    check_torchscript_parity,
    export_onnx,
    export_torchscript,
)
from mucalo.models.fast import FastPath, FastPathConfig, bf16_supported, unwrap_compiled
from mucalo.models.layers import ESumPassThrough, MaxMeanPool3d, SqueezeExcite
from mucalo.models.regressor import ConvHead, FullyConnectedBody, MuonRegressor
from mucalo.models.summary import ModelSummary, SummaryRow, summarize

__all__ = [
    "ABLATIONS",
    "EXPECTED_PARAMETERS",
    "BatchNormKind",
    "ConvHead",
    "DownBlock",
    "ESumPassThrough",
    "FastPath",
    "FastPathConfig",
    "FullyConnectedBody",
    "InitialBlock",
    "MaxMeanPool3d",
    "ModelConfig",
    "ModelKind",
    "ModelSummary",
    "MuonRegressor",
    "ParityReport",
    "ResBlock",
    "RunningBatchNorm",
    "RunningBatchNorm1d",
    "RunningBatchNorm3d",
    "SqueezeExcite",
    "SummaryRow",
    "ablation_config",
    "bf16_supported",
    "build_model",
    "build_named",
    "check_onnx_parity",
    "check_torchscript_parity",
    "cnn_only",
    "count_parameters",
    "expected_parameters",
    "export_onnx",
    "export_torchscript",
    "get_builder",
    "hl_only",
    "hybrid",
    "make_batch_norm",
    "model_names",
    "summarize",
    "unwrap_compiled",
]
