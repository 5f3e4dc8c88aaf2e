"""The study registry: the paper's tables, their variants and values, run sharing and ``--only``."""

from __future__ import annotations

import pytest

from mucalo.errors import ConfigError
from mucalo.features import ENERGY_SUM_FEATURES, FEATURE_NAMES
from mucalo.models import ABLATIONS, EXPECTED_PARAMETERS
from mucalo.studies import NOMINAL, PAPER_FIG13_FEATURES, STUDIES, get_study, study_names, study_runs
from mucalo.training import LOSS_ABLATIONS


def test_every_study_of_the_issue_is_registered_in_order() -> None:
    assert study_names() == (
        "inputs",
        "loss",
        "ensemble",
        "schedule",
        "architecture",
        "bias-correction",
        "importance",
    )


def test_table_1_rows_and_paper_values() -> None:
    study = get_study("inputs")
    rows = [(v.label, v.paper.mi, v.paper.change) for v in study.variants]
    assert rows == [
        ("Raw inputs + HL feats.", 20.30, None),
        ("Raw inputs only", 19.53, -3.8),
        ("HL-feats. only", 17.60, -13.3),
        ("Energy-sum only", 14.98, -26.2),
    ]
    kinds = [(v.run.kind, v.run.feature_columns) for v in study.variants]
    assert kinds == [("hybrid", None), ("cnn", None), ("hl", None), ("hl", ENERGY_SUM_FEATURES)]
    assert tuple(FEATURE_NAMES[i] for i in (0, 26, 27)) == ENERGY_SUM_FEATURES  # V[0], V[26], V[27]


def test_loss_and_architecture_tables_cover_every_switch() -> None:
    loss = get_study("loss")
    assert {v.run.loss_ablation for v in loss.variants[1:]} == set(LOSS_ABLATIONS)
    assert loss.variant("no-down-weighting").paper.mi == 16.5
    architecture = get_study("architecture")
    assert {v.run.model_ablation for v in architecture.variants[1:]} == set(ABLATIONS)
    for variant in architecture.variants[1:]:
        ours = EXPECTED_PARAMETERS[variant.name]
        paper = variant.paper.parameters
        assert paper is not None
        # every count is the paper's except no-epass, whose widening the paper does not specify
        assert ours == paper or (variant.name == "no-epass" and abs(ours - paper) < 100)


def test_every_study_starts_with_its_reference_row() -> None:
    for study in STUDIES.values():
        names = [v.name for v in study.variants]
        assert len(set(names)) == len(names), study.name
        assert study.variants[0].reference is None
        for variant in study.variants:
            assert variant.reference is None or variant.reference in names


def test_the_nominal_run_is_shared_and_trained_once() -> None:
    keys = [s.key for s in study_runs("all")]
    assert len(keys) == len(set(keys)) == 19
    assert keys[0] == "nominal"
    for name in ("inputs", "loss", "ensemble", "schedule", "architecture", "bias-correction"):
        assert NOMINAL in get_study(name).runs
    assert study_runs("importance")[0] is study_runs("inputs")[2]  # the HL-only run of Table 1
    ensemble = get_study("ensemble")
    assert {v.run.strategy for v in ensemble.variants} == {"all-fold", "unique-fold"}


def test_only_accepts_run_keys_variant_names_and_study_slash_variant() -> None:
    assert [s.key for s in study_runs("loss", only=["mse"])] == ["loss/mse"]
    assert [s.key for s in study_runs("all", only=["loss/default", "inputs/raw-only"])] == [
        "nominal",
        "inputs/raw-only",
    ]
    assert [s.key for s in study_runs("architecture", only=["architecture/no-se"])] == ["architecture/no-se"]


def test_unknown_names_are_config_errors_with_suggestions() -> None:
    with pytest.raises(ConfigError, match=r"unknown name 'inptus'.*did you mean 'inputs'"):
        get_study("inptus")
    with pytest.raises(ConfigError, match=r"--only: 'no-se' names no run of study 'loss'"):
        study_runs("loss", only=["no-se"])
    with pytest.raises(ConfigError, match=r"unknown variant 'mes'.*'mse'"):
        get_study("loss").variant("mes")


def test_fig_13_features_are_the_papers_seven() -> None:
    assert [f"V[{i}]" for i in PAPER_FIG13_FEATURES] == [
        "V[0]",
        "V[1]",
        "V[3]",
        "V[11]",
        "V[15]",
        "V[22]",
        "V[26]",
    ]
