"""The paper's studies (Tables 1–4, §7.3, §7.5, Fig. 13): their variants, runs and published values.

A :class:`Study` is a table: one :class:`Variant` per row. Each variant names the :class:`RunSpec` it is
evaluated on (what to train) and how its Mean Improvement is read off that run (single models averaged,
or the ensemble; with or without the bias correction). Variants that train the same thing share one run:
the nominal configuration is :data:`NOMINAL` in every study, so it is trained once.
"""

from __future__ import annotations

import difflib
import types
from dataclasses import dataclass, field
from typing import Literal, get_args

from mucalo.errors import ConfigError
from mucalo.features import ENERGY_SUM_FEATURES
from mucalo.models import ModelKind
from mucalo.training import FoldStrategy

__all__ = [
    "COLUMNS",
    "HL_ONLY",
    "NOMINAL",
    "PAPER_FIG13_FEATURES",
    "STUDIES",
    "Aggregate",
    "Column",
    "PaperRow",
    "RunSpec",
    "Study",
    "Variant",
    "get_study",
    "resolve_studies",
    "study_names",
]

#: How a row reads its run: the mean ± standard error over the single models, or the ensemble.
Aggregate = Literal["singles", "ensemble"]
#: Columns a study table can show (see :mod:`mucalo.studies.tables`).
Column = Literal[
    "mi",
    "change",
    "validation_mi",
    "paper_mi",
    "paper_change",
    "parameters",
    "paper_parameters",
    "dataset_size",
    "paper_dataset_size",
    "training_hours",
    "paper_training_hours",
    "inference_s",
    "paper_inference_s",
    "epochs",
]
COLUMNS: tuple[str, ...] = get_args(Column)

#: The seven features of the paper's Fig. 13 (column numbers V[i] in the published order).
PAPER_FIG13_FEATURES: tuple[int, ...] = (0, 1, 3, 11, 15, 22, 26)


@dataclass(frozen=True, kw_only=True, slots=True)
class RunSpec:
    """One training run: the nominal recipe with at most a few switches changed.

    Attributes:
        key: run directory below ``OUT/runs/`` (``nominal``, ``loss/single-bin``, …).
        kind: model inputs, ``hybrid`` (nominal), ``cnn`` (raw only) or ``hl`` (features only).
        strategy: ``unique-fold`` (each model its own folds, paper §3.2.4) or ``all-fold``.
        model_ablation: a Table 4 switch (:data:`mucalo.models.ABLATIONS`), or None.
        loss_ablation: a Table 2 switch (:data:`mucalo.training.LOSS_ABLATIONS`), or None.
        constant_lr: §7.3: LR and β1 held constant at this LR instead of 1cycle + step decay; None = nominal.
        feature_columns: the features the model reads (None: all of the dataset's).
    """

    key: str
    kind: ModelKind = "hybrid"
    strategy: FoldStrategy = "unique-fold"
    model_ablation: str | None = None
    loss_ablation: str | None = None
    constant_lr: float | None = None
    feature_columns: tuple[str, ...] | None = None

    @property
    def feature_only(self) -> bool:
        """True for models without the grid (cheap to train)."""
        return self.kind == "hl"


@dataclass(frozen=True, kw_only=True, slots=True)
class PaperRow:
    """The paper's numbers for one row (None where the paper gives none). MI and changes in %."""

    mi: float | None = None
    mi_err: float | None = None
    change: float | None = None
    change_err: float | None = None
    parameters: int | None = None  # trainable parameters (Table 4)
    dataset_size: int | None = None  # muons in the training + monitoring folds (Table 3)
    training_hours: float | None = None  # V100S hours (Table 3)
    inference_s: float | None = None  # seconds per batch of 256 muons (Table 3)


@dataclass(frozen=True, kw_only=True, slots=True)
class Variant:
    """One row of a study table.

    Attributes:
        name: short name (``--only`` accepts it), e.g. ``single-bin``.
        label: the row label as the paper prints it.
        run: what it is evaluated on.
        paper: the paper's values.
        aggregate: ``singles`` (mean ± standard error over the models) or ``ensemble``.
        bias_correction: apply the bias correction fitted on the validation predictions (§4.1).
        reference: name of the row the change in MI is relative to; None = the study's first row; its
            own name makes the row a reference itself (no change shown).
    """

    name: str
    label: str
    run: RunSpec
    paper: PaperRow = field(default_factory=PaperRow)
    aggregate: Aggregate = "singles"
    bias_correction: bool = True
    reference: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Study:
    """A table of the paper and the runs behind it.

    Attributes:
        name: CLI name (``inputs``, ``loss``, …).
        title: heading of the table.
        source: where the paper shows it (``Table 1``, ``§7.3``, …).
        paper_note: how the paper computed its values (printed under the table).
        columns: the table's columns after the row label.
        variants: the rows, nominal first.
        row_header: heading of the label column.
    """

    name: str
    title: str
    source: str
    paper_note: str
    columns: tuple[Column, ...]
    variants: tuple[Variant, ...]
    row_header: str = "Ablation"

    def variant(self, name: str) -> Variant:
        """The row called ``name``.

        Raises:
            ConfigError: no such row (near matches are suggested).
        """
        for variant in self.variants:
            if variant.name == name:
                return variant
        names = [v.name for v in self.variants]
        msg = f"study {self.name!r}: unknown variant {name!r}, expected one of {names}{_near(name, names)}"
        raise ConfigError(msg)

    @property
    def runs(self) -> tuple[RunSpec, ...]:
        """The distinct runs of the study, in row order."""
        seen: dict[str, RunSpec] = {}
        for variant in self.variants:
            seen.setdefault(variant.run.key, variant.run)
        return tuple(seen.values())


#: The nominal configuration (hybrid model, paper loss and schedule, unique-fold): shared by all studies.
NOMINAL = RunSpec(key="nominal")
#: The high-level-features-only model: a row of Table 1 and the model of Fig. 13.
HL_ONLY = RunSpec(key="inputs/hl-only", kind="hl")

_MI_COLUMNS: tuple[Column, ...] = ("mi", "change", "validation_mi", "paper_mi", "paper_change", "epochs")
_MONITOR_NOTE = (
    "The paper's MI is computed on the monitoring-validation folds and averaged over five models trained "
    "with unique-fold training."
)


def _loss(name: str, label: str, mi: float, mi_err: float, change: float, change_err: float) -> Variant:
    return Variant(
        name=name,
        label=label,
        run=RunSpec(key=f"loss/{name}", loss_ablation=name),
        paper=PaperRow(mi=mi, mi_err=mi_err, change=change, change_err=change_err),
    )


def _architecture(
    name: str, label: str, mi: float, mi_err: float, change: float, change_err: float, parameters: int
) -> Variant:
    paper = PaperRow(mi=mi, mi_err=mi_err, change=change, change_err=change_err, parameters=parameters)
    return Variant(
        name=name, label=label, run=RunSpec(key=f"architecture/{name}", model_ablation=name), paper=paper
    )


_FULL_FOLD = RunSpec(key="ensemble/full-fold", strategy="all-fold")

_STUDY_LIST: tuple[Study, ...] = (
    Study(
        name="inputs",
        title="Input comparison: raw hits and high-level features",
        source="Table 1",
        paper_note=_MONITOR_NOTE + " Energy-sum features: V[0], V[26], V[27].",
        columns=_MI_COLUMNS,
        row_header="Inputs",
        variants=(
            Variant(
                name="nominal",
                label="Raw inputs + HL feats.",
                run=NOMINAL,
                paper=PaperRow(mi=20.30, mi_err=0.08),
            ),
            Variant(
                name="raw-only",
                label="Raw inputs only",
                run=RunSpec(key="inputs/raw-only", kind="cnn"),
                paper=PaperRow(mi=19.53, mi_err=0.06, change=-3.8, change_err=0.4),
            ),
            Variant(
                name="hl-only",
                label="HL-feats. only",
                run=HL_ONLY,
                paper=PaperRow(mi=17.60, mi_err=0.08, change=-13.3, change_err=0.6),
            ),
            Variant(
                name="energy-sums",
                label="Energy-sum only",
                run=RunSpec(key="inputs/energy-sums", kind="hl", feature_columns=ENERGY_SUM_FEATURES),
                paper=PaperRow(mi=14.98, mi_err=0.05, change=-26.2, change_err=0.5),
            ),
        ),
    ),
    Study(
        name="loss",
        title="Ablation study of the loss",
        source="Table 2",
        paper_note=_MONITOR_NOTE
        + " “MSE loss” keeps the down-weighting; “No down-weighting” keeps the adaptive Huberised loss.",
        columns=_MI_COLUMNS,
        variants=(
            Variant(name="default", label="Default", run=NOMINAL, paper=PaperRow(mi=19.42, mi_err=0.08)),
            _loss("single-bin", "Single bin", 19.14, 0.08, -1.5, 0.6),
            _loss("batch-thresholds", "Batchwise thresholds", 19.25, 0.04, -0.9, 0.5),
            _loss("no-huber", "Non-Huberised loss", 19.36, 0.06, -0.4, 0.5),
            _loss("fixed-thresholds", "Fixed thresholds", 19.39, 0.05, -0.2, 0.5),
            _loss("mse", "MSE loss", 18.43, 0.06, -5.1, 0.5),
            _loss("no-down-weighting", "No down-weighting", 16.5, 0.2, -15.12, 1.03),
        ),
    ),
    Study(
        name="ensemble",
        title="Ablation study of the ensembling and dataset size",
        source="Table 3",
        paper_note=(
            "The paper's MI is on the hold-out fold. Dataset size counts the training + monitoring folds; "
            "inference time is per batch of 256 muons, excluding disk-to-RAM time (paper: V100S GPU). "
            "The paper prints the unique singles' inference time as “0.0.091”."
        ),
        columns=(
            "dataset_size",
            "paper_dataset_size",
            "training_hours",
            "paper_training_hours",
            "inference_s",
            "paper_inference_s",
            "mi",
            "paper_mi",
        ),
        variants=(
            Variant(
                name="full-ensemble",
                label="Full ensemble",
                run=_FULL_FOLD,
                aggregate="ensemble",
                paper=PaperRow(mi=20.72, dataset_size=862_085, training_hours=113.4, inference_s=0.47),
            ),
            Variant(
                name="full-singles",
                label="Full singles",
                run=_FULL_FOLD,
                paper=PaperRow(
                    mi=20.29, mi_err=0.04, dataset_size=862_085, training_hours=22.7, inference_s=0.091
                ),
            ),
            Variant(
                name="unique-ensemble",
                label="Unique ensemble",
                run=NOMINAL,
                aggregate="ensemble",
                paper=PaperRow(mi=19.83, dataset_size=862_085, training_hours=23.3, inference_s=0.47),
            ),
            Variant(
                name="unique-singles",
                label="Unique singles",
                run=NOMINAL,
                paper=PaperRow(
                    mi=19.37, mi_err=0.08, dataset_size=197_048, training_hours=4.7, inference_s=0.091
                ),
            ),
        ),
    ),
    Study(
        name="schedule",
        title="Training schedule: 1cycle + step decay against a constant learning rate",
        source="§7.3",
        paper_note=(
            "The paper quotes only the change: a 5.2(6) % decrease in MI with LR 1e-4 and β1 held "
            "constant, with the same epochs and early stopping, and a longer training."
        ),
        columns=("mi", "change", "validation_mi", "paper_change", "epochs", "training_hours"),
        row_header="Schedule",
        variants=(
            Variant(name="nominal", label="1cycle + step decay (nominal)", run=NOMINAL),
            Variant(
                name="constant-lr",
                label="Constant LR 1e-4, constant β1",
                run=RunSpec(key="schedule/constant-lr", constant_lr=1e-4),
                paper=PaperRow(change=-5.2, change_err=0.6),
            ),
        ),
    ),
    Study(
        name="architecture",
        title="Ablation study of the architecture",
        source="Table 4",
        paper_note=_MONITOR_NOTE + " “Nominal BN” is standard (non-running) batch normalisation.",
        columns=(*_MI_COLUMNS, "parameters", "paper_parameters"),
        variants=(
            Variant(
                name="default",
                label="Default",
                run=NOMINAL,
                paper=PaperRow(mi=19.42, mi_err=0.08, parameters=636_570),
            ),
            _architecture("no-bn", "No BN", 18.5, 0.3, -5.0, 1.0, 635_404),
            _architecture("no-identity", "No identity path", 18.72, 0.08, -3.6, 0.6, 634_356),
            _architecture("standard-bn", "Nominal BN", 19.2, 0.2, -1.1, 0.9, 636_570),
            _architecture("no-epass", "No E-pass", 19.30, 0.05, -0.6, 0.5, 671_076),
            _architecture("no-se", "No SE", 19.33, 0.09, -0.5, 0.6, 631_259),
            _architecture("no-pooling", "No pooling", 19.4, 0.1, -0.4, 0.7, 805_130),
            _architecture("no-cnn", "No CNN", 17.45, 0.09, -10.2, 0.6, 4_111_361),
        ),
    ),
    Study(
        name="bias-correction",
        title="Bias correction: with and without",
        source="§7.5",
        paper_note=(
            "The paper quotes only the change: −2.1 % MI without the correction, on the hold-out fold with "
            "the nominal all-fold ensemble (ours: the unique-fold ensemble and its single models)."
        ),
        columns=("mi", "change", "paper_change"),
        row_header="Evaluation",
        variants=(
            Variant(name="singles", label="Single models, bias-corrected", run=NOMINAL),
            Variant(
                name="singles-uncorrected",
                label="Single models, no correction",
                run=NOMINAL,
                bias_correction=False,
                reference="singles",
            ),
            Variant(
                name="ensemble",
                label="Ensemble, bias-corrected",
                run=NOMINAL,
                aggregate="ensemble",
                reference="ensemble",  # a second reference row: the two pairs are compared separately
            ),
            Variant(
                name="ensemble-uncorrected",
                label="Ensemble, no correction",
                run=NOMINAL,
                aggregate="ensemble",
                bias_correction=False,
                reference="ensemble",
                paper=PaperRow(change=-2.1),
            ),
        ),
    ),
    Study(
        name="importance",
        title="Permutation importance of the high-level features (HL-feats.-only model)",
        source="Fig. 13",
        paper_note=(
            "The paper shows the importance per true-energy bin of its seven most important features: "
            "V[0], V[1], V[3], V[11], V[15], V[22], V[26] (no numbers are printed)."
        ),
        columns=("mi", "validation_mi", "epochs"),
        row_header="Model",
        variants=(Variant(name="hl-only", label="HL-feats. only", run=HL_ONLY),),
    ),
)

#: Every study by name, in the order ``all`` runs them.
STUDIES: types.MappingProxyType[str, Study] = types.MappingProxyType({s.name: s for s in _STUDY_LIST})


def study_names() -> tuple[str, ...]:
    """The study names, in the order ``all`` runs them."""
    return tuple(STUDIES)


def get_study(name: str) -> Study:
    """The study called ``name``.

    Raises:
        ConfigError: unknown name (near matches are suggested).
    """
    if name not in STUDIES:
        known = [*STUDIES, "all"]
        msg = f"study: unknown name {name!r}, expected one of {known}{_near(name, known)}"
        raise ConfigError(msg)
    return STUDIES[name]


def resolve_studies(name: str) -> tuple[Study, ...]:
    """The studies ``name`` stands for: one, or all of them for ``all``."""
    return tuple(STUDIES.values()) if name == "all" else (get_study(name),)


def _near(name: str, known: list[str]) -> str:
    near = difflib.get_close_matches(name, known, n=3)
    return f"; did you mean {', '.join(map(repr, near))}?" if near else ""
