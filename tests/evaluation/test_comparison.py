"""Comparison of runs (paper Table 1 style)."""

from __future__ import annotations

import pytest

from mucalo.evaluation import EvaluationError, compare_runs, comparison_markdown, mean_over_models


def _metrics(mi: float, err: float | None = 0.1) -> dict[str, object]:
    return {"mean_improvement": mi, "mean_improvement_err": err, "worst_combined_resolution": 30.0}


def test_change_in_mi_relative_to_reference() -> None:
    rows = compare_runs({"nominal": _metrics(20.0), "hl_only": _metrics(17.0)})
    assert rows[0]["name"] == "nominal"
    assert rows[0]["mi_change"] is None
    assert rows[1]["mi_change"] == pytest.approx(-15.0)
    # 100·sqrt((0.1/20)² + (17·0.1/20²)²)
    assert rows[1]["mi_change_err"] == pytest.approx(100 * ((0.1 / 20) ** 2 + (17 * 0.1 / 400) ** 2) ** 0.5)
    text = comparison_markdown(rows)
    assert "| hl_only | 17.00 ± 0.10 | -15.0 ± 0.7 | 30.0 |" in text


def test_explicit_reference_and_unknown_reference() -> None:
    rows = compare_runs({"a": _metrics(10.0, None), "b": _metrics(20.0, None)}, reference="b")
    assert rows[0]["mi_change"] == pytest.approx(-50.0)
    assert rows[0]["mi_change_err"] is None
    with pytest.raises(EvaluationError, match=r"reference 'c' is not among the runs \['a', 'b'\]"):
        compare_runs({"a": _metrics(10.0), "b": _metrics(20.0)}, reference="c")


def test_mean_over_models_uses_the_standard_error() -> None:
    averaged = mean_over_models([_metrics(19.0), _metrics(20.0), _metrics(21.0)])
    assert averaged["n_models"] == 3
    assert averaged["mean_improvement"] == pytest.approx(20.0)
    assert averaged["mean_improvement_err"] == pytest.approx(1.0 / 3**0.5)
    assert mean_over_models([_metrics(19.0)])["mean_improvement_err"] is None
    with pytest.raises(EvaluationError, match="at least one"):
        mean_over_models([])
