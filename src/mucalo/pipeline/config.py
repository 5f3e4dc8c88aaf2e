"""Configuration of the end-to-end job ``mucalo run``: one section per stage, read from a preset.

A preset (``mucalo/configs/<name>.yaml``) holds the sections ``simulation`` (the training sample),
``test_simulation`` (the fixed-energy test sample), ``features``, ``dataset``, ``train`` (the settings
every model shares), ``models`` (one entry per model to train) and ``evaluate``. Every field can be
overridden on the command line with ``--set section.field=value``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from mucalo.config import from_dict, merge_mappings
from mucalo.data import DatasetConfig
from mucalo.detector import Gun
from mucalo.errors import ConfigError
from mucalo.evaluation import EvaluationConfig
from mucalo.simulation import SimulationConfig
from mucalo.training import TrainConfig

__all__ = ["EvaluateStage", "FeaturesStage", "ModelEntry", "PipelineConfig"]

#: the paper's 11 test energies, GeV
TEST_ENERGIES = "fixed:100,500,900,1300,1700,2100,2500,2900,3300,3700,4100"


@dataclass(frozen=True, kw_only=True, slots=True)
class FeaturesStage:
    """The features stage of the job."""

    workers: int = 1  # worker processes over shards

    def __post_init__(self) -> None:
        if self.workers < 1:
            msg = f"features.workers: expected a positive integer, got {self.workers}"
            raise ConfigError(msg)


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelEntry:
    """One model of the job: its architecture and what of the shared training settings differs."""

    name: str  # run directory name under runs/, and the label in reports
    kind: Literal["hybrid", "cnn", "hl"] = "hybrid"
    ablation: str | None = None  # a Table 4 switch (no-se, no-bn, ...), or None
    train: dict[str, Any] = field(default_factory=dict)  # overrides of the shared train section

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            msg = f"models: expected a plain directory name, got {self.name!r}"
            raise ConfigError(msg)


@dataclass(frozen=True, kw_only=True, slots=True)
class EvaluateStage:
    """The evaluation stage of the job."""

    bootstrap: int = 100  # bootstrap resamples for the uncertainties of the headline numbers
    metrics: EvaluationConfig = field(default_factory=EvaluationConfig)  # binning (paper: 39 fit, 20 res.)
    importance: bool = True  # permutation importance of the high-level features
    main_model: str | None = None  # the model of the report (None: the last one); others are compared


def _default_test() -> SimulationConfig:
    return SimulationConfig(n_muons=1100, muons_per_shard=550, seed=1, gun=Gun(spectrum=TEST_ENERGIES))


def _default_models() -> tuple[ModelEntry, ...]:
    return (ModelEntry(name="hl", kind="hl"), ModelEntry(name="hybrid", kind="hybrid"))


@dataclass(frozen=True, kw_only=True, slots=True)
class PipelineConfig:
    """The whole study: simulate → features → dataset → train (each model) → evaluate → report."""

    simulation: SimulationConfig = field(default_factory=SimulationConfig)
    test_simulation: SimulationConfig = field(default_factory=_default_test)
    features: FeaturesStage = field(default_factory=FeaturesStage)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    train: dict[str, Any] = field(default_factory=dict)  # a TrainConfig mapping shared by all models
    models: tuple[ModelEntry, ...] = field(default_factory=_default_models)
    evaluate: EvaluateStage = field(default_factory=EvaluateStage)
    device: str = "cpu"  # where training runs: cpu, cuda, cuda:N

    def __post_init__(self) -> None:
        if not self.models:
            msg = "models: expected at least one model"
            raise ConfigError(msg)
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            msg = f"models: names must be unique, got {names}"
            raise ConfigError(msg)
        if self.evaluate.main_model is not None and self.evaluate.main_model not in names:
            msg = f"evaluate.main_model: expected one of {names}, got {self.evaluate.main_model!r}"
            raise ConfigError(msg)
        if self.test_simulation.detector != self.simulation.detector:
            msg = "test_simulation.detector: must equal simulation.detector (one detector per study)"
            raise ConfigError(msg)
        for entry in self.models:
            self.train_config(entry)  # validate every model's settings before anything runs

    def train_config(self, entry: ModelEntry) -> TrainConfig:
        """The resolved training settings of one model: shared section ← the model's overrides."""
        merged = merge_mappings(self.train, entry.train)
        return from_dict(TrainConfig, merged, where=f"models[{entry.name}].train")

    @property
    def main_model(self) -> ModelEntry:
        """The model whose report is the job's report."""
        name = self.evaluate.main_model or self.models[-1].name
        return next(m for m in self.models if m.name == name)
