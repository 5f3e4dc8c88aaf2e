"""The table arithmetic: mean ± standard error over models, and the change in % against a reference."""

from __future__ import annotations

import math

import pytest

from mucalo.studies import Estimate, mean_with_error, relative_change


def test_mean_with_error_is_the_mean_and_the_standard_error_of_the_mean() -> None:
    result = mean_with_error([18.0, 19.0, 20.0, 21.0, 22.0])
    assert result.value == pytest.approx(20.0)
    assert result.error == pytest.approx(math.sqrt(2.5 / 5))  # sample variance 2.5 (ddof 1), over n = 5
    assert result.n == 5


def test_mean_with_error_leaves_out_missing_values() -> None:
    result = mean_with_error([10.0, None, math.nan, 14.0])
    assert result.value == pytest.approx(12.0)
    assert result.n == 2
    assert result.error == pytest.approx(2.0)  # std √8 / √2


def test_mean_with_error_of_one_or_no_value_has_no_error() -> None:
    assert mean_with_error([7.5]) == Estimate(7.5, None, 1)
    empty = mean_with_error([None, math.nan])
    assert math.isnan(empty.value)
    assert (empty.error, empty.n, empty.finite) == (None, 0, False)


def test_relative_change_reproduces_the_papers_table_2() -> None:
    default = Estimate(19.42, 0.08, 5)
    expected = {  # Table 2: MI ± error, change ± error as printed
        (19.14, 0.08): (-1.5, 0.6),
        (19.25, 0.04): (-0.9, 0.5),
        (18.43, 0.06): (-5.1, 0.5),
    }
    for (mi, mi_err), (change, change_err) in expected.items():
        result = relative_change(Estimate(mi, mi_err, 5), default)
        # the paper divided unrounded MIs: its changes agree to the last printed digit ± 1
        assert result.value == pytest.approx(change, abs=0.11)
        assert result.error is not None
        assert round(result.error, 1) == change_err


def test_relative_change_on_known_inputs() -> None:
    result = relative_change(Estimate(15.0, 0.3, 5), Estimate(20.0, 0.4, 5))
    assert result.value == pytest.approx(-25.0)
    assert result.error == pytest.approx(100.0 * math.hypot(0.3 / 20.0, 15.0 * 0.4 / 400.0))
    assert result.n == 5
    without_errors = relative_change(Estimate(22.0, None, 1), Estimate(20.0, None, 1))
    assert without_errors.value == pytest.approx(10.0)
    assert without_errors.error is None
    one_error = relative_change(Estimate(22.0, None, 1), Estimate(20.0, 1.0, 5))
    assert one_error.error == pytest.approx(100.0 * 22.0 * 1.0 / 400.0)


def test_relative_change_without_a_value_or_reference_is_nan() -> None:
    assert math.isnan(relative_change(Estimate(math.nan, None, 0), Estimate(20.0, 0.1, 5)).value)
    assert math.isnan(relative_change(Estimate(20.0, 0.1, 5), Estimate(0.0, 0.1, 5)).value)
