"""Golden parameter counts (paper Table 4) and the registry of builders."""

from __future__ import annotations

import dataclasses

import pytest
from torch import nn

from mucalo.errors import ConfigError
from mucalo.models import (
    ABLATIONS,
    EXPECTED_PARAMETERS,
    ESumPassThrough,
    ModelConfig,
    ablation_config,
    build_model,
    build_named,
    count_parameters,
    expected_parameters,
    get_builder,
    model_names,
)
from mucalo.models.builders import _register

PAPER_TABLE_4 = {
    "hybrid": 636_570,
    "no-se": 631_259,
    "no-bn": 635_404,
    "no-identity": 634_356,
    "standard-bn": 636_570,
    "no-pooling": 805_130,
    "no-cnn": 4_111_361,
}


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMETERS))
def test_parameter_count_is_exact(name: str) -> None:
    model = build_named(name) if name in model_names() else build_named("hybrid", name)
    assert count_parameters(model) == EXPECTED_PARAMETERS[name]


@pytest.mark.parametrize(("name", "paper"), sorted(PAPER_TABLE_4.items()))
def test_expected_counts_are_the_papers(name: str, paper: int) -> None:
    assert EXPECTED_PARAMETERS[name] == paper


def test_no_epass_is_close_to_the_paper() -> None:
    count = count_parameters(build_model(ablation_config("no-epass")))
    assert count == 671_018
    assert abs(count - 671_076) / 671_076 < 1e-4


def test_every_ablation_has_an_expected_count() -> None:
    assert set(ABLATIONS) <= set(EXPECTED_PARAMETERS)
    assert {"hybrid", "cnn", "hl"} <= set(EXPECTED_PARAMETERS)


def test_per_block_counts_match_reference_notes() -> None:
    head = build_model().head
    assert head is not None
    counts = [count_parameters(block) for block in head.blocks]
    assert counts == [2330, 4457, 5492, 18576, 15831, 17734, 56307, 45972, 49177, 151107, 120566, 125820]


def test_esum_kernels_are_fixed_buffers() -> None:
    model = build_model()
    esums = [m for m in model.modules() if isinstance(m, ESumPassThrough) and m.downsample]
    assert len(esums) == 4
    for esum in esums:
        assert list(esum.parameters()) == []
        assert esum.kernel.eq(1).all()
    assert all(p.requires_grad for p in model.parameters())


def test_standard_bn_uses_torch_batchnorm() -> None:
    model = build_model(ablation_config("standard-bn"))
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm3d)]
    assert len(norms) == 2 * 12 + 3  # two per block and one per downsampling shortcut
    assert all(n.momentum == 0.1 and n.eps == 1e-5 for n in norms)


def test_ablation_applies_to_other_kinds() -> None:
    model = build_named("cnn", "no-se")
    assert model.config.kind == "cnn"
    assert not model.config.se
    assert expected_parameters("cnn", "no-se") is None


def test_unknown_names_are_rejected() -> None:
    with pytest.raises(ConfigError, match=r"unknown name 'hybird'.*did you mean 'hybrid'"):
        get_builder("hybird")
    with pytest.raises(ConfigError, match=r"ablation: unknown name 'no-sx'.*'no-se'"):
        ablation_config("no-sx")


def test_duplicate_builder_is_rejected() -> None:
    with pytest.raises(ConfigError, match="'hybrid' is already registered"):
        _register("hybrid")(get_builder("hybrid"))


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("kind", "transformer", "model.kind"),
        ("batch_norm", "layer", "model.batch_norm"),
        ("first_channels", 0, "model.first_channels"),
        ("grid_shape", (50, 32), "model.grid_shape"),
        ("bn_momentum", 1.5, "model.bn_momentum"),
        ("channel_growth", 0.5, "model.channel_growth"),
    ],
)
def test_config_validation(field: str, value: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        dataclasses.replace(ModelConfig(), **{field: value})
