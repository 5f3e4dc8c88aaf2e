"""How big a study is: the training preset, evaluation settings and the paper's own scale.

``quick`` compresses the schedule so that a few thousand muons train on a laptop CPU (``inputs`` in under
an hour on two cores, see the package docstring); ``paper`` is the published recipe. Both keep the
paper's evaluation binning (20 resolution bins, 39 bias-fit bins over 100–4000 GeV), so the Mean
Improvement means the same thing at every scale.
"""

from __future__ import annotations

import dataclasses
import itertools
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mucalo.data import MuonDataset
from mucalo.errors import ConfigError
from mucalo.evaluation import EvaluationConfig
from mucalo.models import ModelConfig
from mucalo.studies.registry import RunSpec
from mucalo.training import TrainConfig, load_train_config, loss_ablation, model_config_for

__all__ = ["PAPER_SCALE_NOTE", "SCALES", "StudyScale", "get_scale", "run_configs"]

#: The scale of the paper's own studies (§3.2, §8), for the note under every table.
PAPER_SCALE_NOTE = (
    "Paper: Geant4 (FTFP_BERT), 886,716 muons in 36 folds of 24,631; unique-fold training gives each of "
    "five models 7 folds (172,417 muons), all-fold training 34 folds; batch 256; 1cycle (2 + 18 epochs) "
    "then step decay, up to 50 epochs."
)


def _frozen(values: Mapping[str, Any]) -> types.MappingProxyType[str, Any]:
    return types.MappingProxyType(dict(values))


@dataclass(frozen=True, kw_only=True, slots=True)
class StudyScale:
    """Training and evaluation settings shared by every run of a study.

    Attributes:
        name: ``quick``, ``paper`` or a custom name (recorded in the results).
        preset: training preset for :func:`mucalo.training.load_train_config` (``quick``, ``paper`` or a
            YAML path).
        overrides: dotted training overrides for every run (``{"schedule.max_epochs": 8}``).
        feature_only_overrides: further overrides for models without the grid (they are ~1000× cheaper
            per muon, so they can afford the longer schedule they need to converge).
        evaluation: bias-fit and resolution binning of the Mean Improvement.
        eval_batch_size: muons per forward pass when predicting the hold-out and monitoring folds.
        timing_batches: batches of 256 muons timed for the inference time of Table 3.
        importance_repeats: shuffles per feature and model in the permutation importance.
        importance_edges_gev: true-energy bin edges of the per-bin importance (Fig. 13), GeV.
    """

    name: str
    preset: str
    overrides: Mapping[str, Any] = field(default_factory=lambda: _frozen({}))
    feature_only_overrides: Mapping[str, Any] = field(default_factory=lambda: _frozen({}))
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    eval_batch_size: int = 256
    timing_batches: int = 4
    importance_repeats: int = 3
    importance_edges_gev: tuple[float, ...] = (
        0.0,
        1000.0,
        2000.0,
        3000.0,
        4000.0,
        5000.0,
        6000.0,
        7000.0,
        8000.0,
    )

    def __post_init__(self) -> None:
        for name in ("eval_batch_size", "timing_batches", "importance_repeats"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                msg = f"study scale {self.name!r}: {name}: expected an integer ≥ 1, got {value!r}"
                raise ConfigError(msg)
        edges = self.importance_edges_gev
        if len(edges) < 2 or any(b <= a for a, b in itertools.pairwise(edges)):
            msg = (
                f"study scale {self.name!r}: importance_edges_gev: expected ≥ 2 increasing edges, "
                f"got {edges!r}"
            )
            raise ConfigError(msg)
        object.__setattr__(self, "overrides", _frozen(self.overrides))
        object.__setattr__(self, "feature_only_overrides", _frozen(self.feature_only_overrides))

    def replace(self, **changes: Any) -> StudyScale:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (for the results file)."""
        return {
            "name": self.name,
            "preset": self.preset,
            "overrides": dict(self.overrides),
            "feature_only_overrides": dict(self.feature_only_overrides),
            "evaluation": dataclasses.asdict(self.evaluation),
            "eval_batch_size": self.eval_batch_size,
            "timing_batches": self.timing_batches,
            "importance_repeats": self.importance_repeats,
            "importance_edges_gev": list(self.importance_edges_gev),
        }


#: The shipped scales.
SCALES: types.MappingProxyType[str, StudyScale] = types.MappingProxyType(
    {
        # configs/train_quick.yaml: batch 64, 1cycle 1 + 4 epochs, patience 3, at most 8 epochs. The
        # feature-only models get the longer schedule of the quick pipeline (mucalo run --preset quick).
        "quick": StudyScale(
            name="quick",
            preset="quick",
            feature_only_overrides={"schedule.decay_epochs": 12, "schedule.max_epochs": 20},
            # the standard error of each bin mean instead of 10 000 bootstrap resamples: same fit values
            evaluation=EvaluationConfig(fit_bootstrap=0, metric_bootstrap=0),
            timing_batches=2,
            importance_repeats=3,
        ),
        "paper": StudyScale(
            name="paper",
            preset="paper",
            evaluation=EvaluationConfig(metric_bootstrap=0),
            timing_batches=8,
            importance_repeats=5,
        ),
    }
)


def get_scale(scale: str | StudyScale) -> StudyScale:
    """A shipped scale by name, or ``scale`` itself.

    Raises:
        ConfigError: unknown name.
    """
    if isinstance(scale, StudyScale):
        return scale
    if scale not in SCALES:
        msg = f"--scale: unknown scale {scale!r}, expected one of {list(SCALES)}"
        raise ConfigError(msg)
    return SCALES[scale]


def run_configs(
    spec: RunSpec, dataset: MuonDataset, scale: StudyScale, *, n_models: int
) -> tuple[TrainConfig, ModelConfig]:
    """The training and model configs of one run of a study.

    Args:
        spec: what the run changes from the nominal recipe.
        dataset: the training data (grid shape and feature names).
        scale: preset and overrides.
        n_models: models per run (paper: 5).

    Raises:
        ConfigError: a bad override, an unknown ablation or feature name.
    """
    overrides: dict[str, Any] = dict(scale.overrides)
    if spec.feature_only:
        overrides |= dict(scale.feature_only_overrides)
    overrides |= {"folds.n_models": n_models, "folds.strategy": spec.strategy}
    if spec.feature_columns is not None:
        overrides["feature_columns"] = list(spec.feature_columns)
    if spec.constant_lr is not None:
        overrides |= {"schedule.kind": "constant", "schedule.lr": spec.constant_lr}
    config = load_train_config(scale.preset, overrides=overrides)
    if spec.loss_ablation is not None:
        config = dataclasses.replace(config, loss=loss_ablation(spec.loss_ablation, config.loss))
    model_config = model_config_for(
        dataset, kind=spec.kind, ablation=spec.model_ablation, feature_columns=spec.feature_columns
    )
    return config, model_config
