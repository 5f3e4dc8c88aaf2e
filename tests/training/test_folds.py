"""Fold plans (paper §3.2.1, §3.2.4; reference-code-notes §6.4) and ensemble weights."""

from __future__ import annotations

import numpy as np
import pytest

from mucalo.errors import ConfigError
from mucalo.training import FoldConfig, ensemble_weights, plan_folds


def test_all_fold_paper_layout() -> None:
    plan = plan_folds(36, FoldConfig(n_models=5))
    for m, folds in enumerate(plan):
        assert folds.monitor == m + 1
        assert len(folds.train) == 34
        assert 0 not in folds.train
        assert folds.monitor not in folds.train
        assert set(folds.train) | {folds.monitor} == set(range(1, 36))


def test_unique_fold_matches_the_authors_assignment() -> None:
    plan = plan_folds(36, FoldConfig(n_models=5, strategy="unique-fold"))
    assert plan[0].monitor == 1
    assert plan[0].train == (2, 3, 4, 5, 6, 7, 8)
    assert plan[1].monitor == 2
    assert plan[1].train == (1, 9, 10, 11, 12, 13, 14)
    assert plan[4].train == (29, 30, 31, 32, 33, 34, 35)
    used = [f for p in plan for f in p.train]
    assert len(used) == len(set(used)) == 35  # disjoint, 7 each, fold 0 never
    assert all(len(p.train) == 7 and p.monitor not in p.train for p in plan)


def test_small_datasets_wrap_the_monitoring_folds() -> None:
    plan = plan_folds(3, FoldConfig(n_models=3))
    assert [p.monitor for p in plan] == [1, 2, 1]
    assert plan[0].train == (2,)
    unique = plan_folds(6, FoldConfig(n_models=2, strategy="unique-fold"))
    assert [p.train for p in unique] == [(2, 3), (1, 4)]
    no_holdout = plan_folds(2, FoldConfig(holdout_fold=None))
    assert (no_holdout[0].monitor, no_holdout[0].train) == (0, (1,))


def test_impossible_plans_are_errors() -> None:
    with pytest.raises(ConfigError, match="at least 2 folds besides the hold-out"):
        plan_folds(2, FoldConfig())
    with pytest.raises(ConfigError, match="holdout_fold: 7 does not exist"):
        plan_folds(5, FoldConfig(holdout_fold=7))
    with pytest.raises(ConfigError, match="unique-fold training of 4 models"):
        plan_folds(4, FoldConfig(n_models=4, strategy="unique-fold"))


def test_ensemble_weights_are_normalised_reciprocal_losses() -> None:
    weights = ensemble_weights([1.0, 2.0, 4.0])
    assert weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(weights, np.array([4.0, 2.0, 1.0]) / 7.0)
    assert ensemble_weights([3.0]).tolist() == [1.0]
    with pytest.raises(ConfigError, match="positive finite best losses"):
        ensemble_weights([1.0, float("inf")])
