"""The registry of the 28 features: published names, order, units, immutability."""

from __future__ import annotations

import dataclasses

import pytest

from mucalo.features import ENERGY_SUM_FEATURES, FEATURE_NAMES, FEATURES, N_FEATURES, feature_index

# reference-code-notes §2.2: the fold-file column order
PUBLISHED = [
    "eabove",
    "rmom",
    "rmom1",
    "r2m",
    "r2m1",
    "r2m2",
    "r2m3",
    "r2m4",
    "r2m5",
    "nclu",
    "ncellmax",
    "eclumax",
    "maxdepthx",
    "maxdepthy",
    "maxdepthz",
    "epercell",
    "avgcells",
    "nclu1",
    "ncellmax1",
    "eclumax1",
    "epercell1",
    "avgcells_off_trk",
    "ymom",
    "xmom",
    "emeas",
    "maxsum",
    "eb1",
    "ea1",
]


def test_names_and_order_are_the_published_ones() -> None:
    assert list(FEATURE_NAMES) == PUBLISHED
    assert N_FEATURES == 28
    assert [f.index for f in FEATURES] == list(range(28))


def test_every_feature_has_a_unit_and_a_description() -> None:
    units = {f.name: f.unit for f in FEATURES}
    assert units["eabove"] == units["emeas"] == units["maxsum"] == units["eb1"] == "GeV"
    assert units["r2m3"] == "mm²"
    assert units["maxdepthz"] == "cells"
    assert all(f.description and "\n" not in f.description for f in FEATURES)
    assert FEATURES[0].label == "V[0] eabove [GeV]"
    assert FEATURES[9].label == "V[9] nclu"


def test_registry_is_immutable() -> None:
    assert isinstance(FEATURES, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        FEATURES[0].name = "other"  # type: ignore[misc]


def test_feature_index() -> None:
    assert feature_index("emeas") == 24
    assert [feature_index(n) for n in ENERGY_SUM_FEATURES] == [0, 26, 27]
    with pytest.raises(KeyError, match="unknown feature 'emeass'"):
        feature_index("emeass")
