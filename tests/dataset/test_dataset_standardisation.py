"""Standardisation statistics come from the training folds only and travel as plain JSON."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mucalo.data import MucaloDataset, Standardisation, build_dataset, open_dataset
from mucalo.errors import DataFormatError


def test_statistics_from_training_folds_only(dataset: MucaloDataset) -> None:
    stats = dataset.standardisation
    assert stats.folds == (1, 2, 3, 4, 5)
    training = np.concatenate([dataset.features(k, standardised=False) for k in range(1, 6)]).astype(
        np.float64
    )
    everything = np.concatenate([training, dataset.features(0, standardised=False)])
    np.testing.assert_allclose(stats.mean, training.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.std, training.std(axis=0), rtol=1e-12)
    # the hold-out fold would have moved the numbers
    assert not np.allclose(stats.mean, everything.mean(axis=0), rtol=1e-6)


def test_features_are_standardised_with_those_statistics(dataset: MucaloDataset) -> None:
    raw = dataset.features(2, standardised=False)
    expected = ((raw - dataset.standardisation.mean) / dataset.standardisation.std).astype(np.float32)
    np.testing.assert_array_equal(dataset.features(2), expected)
    training = np.concatenate([dataset.features(k) for k in range(1, 6)])
    np.testing.assert_allclose(training.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(training.std(axis=0), 1.0, atol=1e-5)


def test_single_fold_sample_uses_its_own_fold(shards_dir: Path, tmp_path: Path) -> None:
    test_sample = open_dataset(build_dataset(shards_dir / "a_fixed.h5", tmp_path / "test", n_folds=1))
    assert test_sample.fold_sizes == [40]
    assert test_sample.standardisation.folds == (0,)


def test_constant_feature_gets_unit_std_and_round_trips() -> None:
    from mucalo.data.standardisation import compute_standardisation

    values = np.array([[1.0, 5.0], [3.0, 5.0]], dtype=np.float32)
    stats = compute_standardisation(values, ["a", "b"], folds=[1])
    assert stats.std.tolist() == [1.0, 1.0]
    np.testing.assert_array_equal(stats.apply(values), [[-1.0, 0.0], [1.0, 0.0]])
    again = Standardisation.from_dict(stats.to_dict())
    assert again.feature_names == ("a", "b")
    np.testing.assert_array_equal(again.mean, stats.mean)
    assert again.select([1]).feature_names == ("b",)


def test_bad_statistics_are_refused() -> None:
    with pytest.raises(DataFormatError, match="std finite and > 0"):
        Standardisation.from_dict({"feature_names": ["a"], "mean": [0.0], "std": [0.0]})
    with pytest.raises(DataFormatError, match="expected keys"):
        Standardisation.from_dict({"feature_names": ["a"], "mean": [0.0]}, where="model.pt")
