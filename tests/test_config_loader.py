from __future__ import annotations

from pathlib import Path

import pytest

from mucalo.config import apply_overrides, config_to_dict, from_dict, load_preset
from mucalo.detector import Detector
from mucalo.errors import ConfigError
from mucalo.simulation import SimulationConfig


def test_nested_config_from_yaml_mapping() -> None:
    cfg = from_dict(
        SimulationConfig,
        {"n_muons": 10, "detector": {"n_layers": 20, "field_t": 0}, "gun": {"spectrum": "fixed:100"}},
        where="simulation",
    )
    assert cfg.detector == Detector(n_layers=20, field_t=0.0)
    assert cfg.gun.parsed_spectrum.kind == "fixed"
    again = from_dict(SimulationConfig, config_to_dict(cfg), where="simulation")
    assert again == cfg


def test_unknown_key_suggests_the_nearest() -> None:
    with pytest.raises(ConfigError, match=r"simulation.n_muon: unknown key; did you mean 'n_muons'\?"):
        from_dict(SimulationConfig, {"n_muon": 3}, where="simulation")
    with pytest.raises(ConfigError, match=r"simulation.detector.cell_size: unknown key"):
        from_dict(SimulationConfig, {"detector": {"cell_size": 3}}, where="simulation")


def test_wrong_types_and_values_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"simulation.n_muons: expected an integer, got '5x'"):
        from_dict(SimulationConfig, {"n_muons": "5x"}, where="simulation")
    with pytest.raises(ConfigError, match=r"simulation.backend: expected one of"):
        from_dict(SimulationConfig, {"backend": "g4"}, where="simulation")
    with pytest.raises(ConfigError, match=r"detector.n_layers: expected a positive integer"):
        from_dict(SimulationConfig, {"detector": {"n_layers": 0}}, where="simulation")


def test_overrides() -> None:
    data = apply_overrides({"a": {"b": 1}}, ["a.b=2", "a.c=fixed:100,200", "d.e=true"])
    assert data == {"a": {"b": 2, "c": "fixed:100,200"}, "d": {"e": True}}
    with pytest.raises(ConfigError, match="expected key.path=value"):
        apply_overrides({}, ["nonsense"])


def test_unknown_preset(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="preset 'quik'"):
        load_preset("quik")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="bad.yaml: expected a mapping"):
        load_preset(bad)


def test_exponent_without_dot_is_a_number() -> None:
    # YAML 1.1 reads 3e-5 as a string; a float field still takes it
    from mucalo.training import TrainConfig

    data = apply_overrides({}, ["schedule.lr=3e-5"])
    assert from_dict(TrainConfig, data, where="train").schedule.lr == pytest.approx(3e-5)
    with pytest.raises(ConfigError, match="train.schedule.lr: expected a number"):
        from_dict(TrainConfig, {"schedule": {"lr": "fast"}}, where="train")
