"""High-level features: the 28 V[i] per muon (paper appendix 6, SYSTEM.md "High-level features")."""

from __future__ import annotations

from mucalo.features.compute import compute_features, compute_features_batch
from mucalo.features.config import FeatureConfig
from mucalo.features.registry import (
    ENERGY_SUM_FEATURES,
    FEATURE_NAMES,
    FEATURES,
    N_FEATURES,
    Feature,
    feature_index,
)
from mucalo.features.storage import FeaturesSummary, add_shard_features, compute_directory

__all__ = (
    "ENERGY_SUM_FEATURES",
    "FEATURES",
    "FEATURE_NAMES",
    "N_FEATURES",
    "Feature",
    "FeatureConfig",
    "FeaturesSummary",
    "add_shard_features",
    "compute_directory",
    "compute_features",
    "compute_features_batch",
    "feature_index",
)
