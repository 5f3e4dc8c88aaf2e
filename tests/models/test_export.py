"""TorchScript and ONNX exports agree with torch on real grids."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mucalo.errors import ConfigError, MissingDataError
from mucalo.models import (
    ModelConfig,
    MuonRegressor,
    build_model,
    check_onnx_parity,
    check_torchscript_parity,
    export_onnx,
    export_torchscript,
)


@pytest.fixture(scope="module")
def trained_hybrid(real_muons: tuple[torch.Tensor, torch.Tensor]) -> MuonRegressor:
    """A hybrid model whose running batch-norms have seen the real muons, outputs shifted to GeV scale."""
    torch.manual_seed(1)
    grid, _ = real_muons
    model = build_model()
    with torch.no_grad():
        model.train()(grid, torch.randn(len(grid), 28))
        model.out.bias.fill_(1000.0)
    return model.eval()


def test_onnx_parity(
    trained_hybrid: MuonRegressor, real_muons: tuple[torch.Tensor, torch.Tensor], tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    grid, _ = real_muons
    features = torch.randn(len(grid), 28)
    path = export_onnx(trained_hybrid, tmp_path / "model.onnx", (grid[:2], features[:2]))
    report = check_onnx_parity(trained_hybrid, path, (grid, features), rtol=1e-4)  # another batch size
    assert report.ok, report
    assert report.max_rel_diff < 1e-4
    assert not trained_hybrid.training  # mode restored


def test_torchscript_parity(
    trained_hybrid: MuonRegressor, real_muons: tuple[torch.Tensor, torch.Tensor], tmp_path: Path
) -> None:
    grid, _ = real_muons
    features = torch.randn(len(grid), 28)
    path = export_torchscript(trained_hybrid, tmp_path / "model.pt", (grid[:2], features[:2]))
    report = check_torchscript_parity(trained_hybrid, path, (grid, features))
    assert report.ok, report
    assert report.max_rel_diff < 1e-5


def test_features_only_model_exports(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    model = build_model(ModelConfig(kind="hl"))
    features = torch.randn(5, 28)
    path = export_onnx(model, tmp_path / "hl.onnx", (None, features))
    assert check_onnx_parity(model, path, (None, features)).ok


def test_missing_example_input_is_an_error(trained_hybrid: MuonRegressor, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="example features is required"):
        export_onnx(trained_hybrid, tmp_path / "x.onnx", (torch.zeros(1, 1, 50, 32, 32), None))


def test_missing_file_is_an_error(trained_hybrid: MuonRegressor, tmp_path: Path) -> None:
    with pytest.raises(MissingDataError, match=r"nothing\.onnx: ONNX file not found"):
        check_onnx_parity(trained_hybrid, tmp_path / "nothing.onnx", (None, None))
