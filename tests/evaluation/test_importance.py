"""Permutation importance with a model-agnostic callable."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from mucalo.evaluation import EvaluationError, permutation_importance


@pytest.fixture(scope="module")
def data() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Features: [energy sum ∝ E, a weak energy proxy, pure noise]; 3000 muons in 50–8000 GeV."""
    rng = np.random.default_rng(7)
    true = rng.uniform(50.0, 8000.0, 3000)
    features = np.column_stack(
        [
            true / 100.0 + rng.normal(0, 3, true.size),
            rng.normal(true / 1000.0, 3.0),
            rng.normal(size=true.size),
        ]
    )
    return features, true


def linear_model(features: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Reads columns 0 and 1 only."""
    return 95.0 * features[:, 0] + 50.0 * features[:, 1]


def test_unused_feature_has_zero_importance(
    data: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
) -> None:
    features, true = data
    result = permutation_importance(
        linear_model, features, true, feature_names=["esum", "proxy", "noise"], n_repeats=3
    )
    assert result.overall[2] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(result.per_bin[2], 0.0, atol=1e-12)
    assert result.overall[0] > result.overall[1] > 0.0
    assert result.ranking() == ["esum", "proxy", "noise"]
    assert result.per_bin.shape == (3, 8)
    assert (result.overall_err[:2] > 0).all()
    # Energy bins: the energy-sum column matters in every bin.
    assert (result.per_bin[0] > 0).all()
    # The features handed to the model are restored afterwards.
    np.testing.assert_array_equal(features, data[0])


def test_score_metrics_flip_sign(data: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]) -> None:
    features, true = data

    def minus_rms(t: npt.NDArray[np.float64], p: npt.NDArray[np.float64]) -> float:
        return -float(np.sqrt(np.mean((p - t) ** 2)))

    result = permutation_importance(
        linear_model,
        features,
        true,
        metric=minus_rms,
        greater_is_better=True,
        columns=[0],
        edges_gev=[0, 4000, 8000],
    )
    assert result.overall[0] > 0.0
    assert np.isnan(result.overall[1:]).all()  # columns not permuted
    assert result.per_bin.shape == (3, 2)
    assert result.to_dict()["overall"][1] is None


def test_callable_sees_rows_in_event_order(
    data: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
) -> None:
    # A "hybrid" callable pairs row i with event i's grid (here: its true energy, by index).
    features, true = data
    grids = true.copy()

    def hybrid(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        assert matrix.shape[0] == grids.size
        return grids + 0.0 * matrix[:, 2]

    result = permutation_importance(
        hybrid, features, true, columns=[2], metric=lambda t, p: float(np.mean(np.abs(p - t))) + 1.0
    )
    assert result.overall[2] == 0.0


def test_wrong_output_shape_is_reported(
    data: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
) -> None:
    features, true = data
    calls = []

    def broken(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        calls.append(1)
        return linear_model(matrix) if len(calls) == 1 else linear_model(matrix)[:10]

    with pytest.raises(EvaluationError, match=r"predict returned shape \(10,\), expected \(3000,\)"):
        permutation_importance(broken, features, true)
    with pytest.raises(EvaluationError, match="expected 3 feature names, got 1"):
        permutation_importance(linear_model, features, true, feature_names=["a"])
