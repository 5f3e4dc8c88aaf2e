"""Study rows and Markdown from known per-model numbers (no training)."""

from __future__ import annotations

import math

import pytest

from mucalo.studies import RunMetrics, RunResult, build_rows, get_study, study_markdown
from mucalo.studies.metrics import FitStatus


def _metrics(mi: list[float], *, ensemble: float = 21.0, seconds: float = 36.0) -> RunMetrics:
    n = len(mi)
    ok: FitStatus = "ok"
    status = (ok,) * n
    return RunMetrics(
        holdout_mi=tuple(mi),
        holdout_mi_uncorrected=tuple(v - 1.0 for v in mi),
        validation_mi=tuple(v + 0.5 for v in mi),
        ensemble_mi=ensemble,
        ensemble_mi_uncorrected=ensemble - 2.0,
        corrections=(None,) * n,
        fit_status=status,
        ensemble_correction=None,
        ensemble_curve=None,
        epochs=(8,) * n,
        training_seconds=(seconds,) * n,
        dataset_size=(100,) * n,
        ensemble_dataset_size=350,
        holdout_muons=50,
    )


def test_inputs_rows_mean_error_and_change() -> None:
    study = get_study("inputs")
    runs = {
        "nominal": RunResult(key="nominal", metrics=_metrics([19.0, 20.0, 21.0])),
        "inputs/raw-only": RunResult(key="inputs/raw-only", metrics=_metrics([18.0, 19.0, 20.0])),
        "inputs/hl-only": RunResult(key="inputs/hl-only", metrics=_metrics([16.0, 17.0, math.nan])),
        "inputs/energy-sums": RunResult(key="inputs/energy-sums", metrics=None),
    }
    rows = build_rows(study, runs)
    assert [r.status for r in rows] == ["done", "done", "done", "pending"]
    nominal, raw, hl, _ = rows
    assert nominal.mi.value == pytest.approx(20.0)
    assert nominal.mi.error == pytest.approx(1 / math.sqrt(3))
    assert nominal.change is None
    assert nominal.validation_mi is not None
    assert nominal.validation_mi.value == pytest.approx(20.5)
    assert raw.change is not None
    assert raw.change.value == pytest.approx(-5.0)
    sigma = 1 / math.sqrt(3)
    assert raw.change.error == pytest.approx(100 * math.hypot(sigma / 20.0, 19.0 * sigma / 400.0))
    assert hl.mi.value == pytest.approx(16.5)
    assert (hl.mi.n, hl.n_models) == (2, 3)
    assert nominal.epochs == pytest.approx(8.0)
    assert nominal.training_hours == pytest.approx(0.01)

    markdown = study_markdown(study, rows, notes=["a note"])
    table = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert len(table) == 5  # header + four rows
    assert table[1].startswith(
        "| Raw inputs + HL feats. | 20.00 ± 0.58 | N/A | 20.50 ± 0.58 | 20.30 ± 0.08 | N/A |"
    )
    assert "| Raw inputs only | 19.00 ± 0.58 | -5.0 ± 4.0 |" in table[2]
    assert "| 19.53 ± 0.06 | -3.8 ± 0.4 |" in table[2]
    assert "16.50 ± 0.50 (n=2)" in table[3]
    assert table[4].startswith("| Energy-sum only | pending | — |")
    assert markdown.rstrip().endswith("- a note")


def test_ensemble_rows_sum_times_and_count_the_union_of_folds() -> None:
    study = get_study("ensemble")
    runs = {
        "ensemble/full-fold": RunResult(
            key="ensemble/full-fold", metrics=_metrics([20.0, 21.0], seconds=3600.0), inference_s=(0.1, 0.3)
        ),
        "nominal": RunResult(
            key="nominal", metrics=_metrics([19.0, 20.0], ensemble=20.5), inference_s=(0.2, 0.2)
        ),
    }
    full_ensemble, full_singles, unique_ensemble, unique_singles = build_rows(study, runs)
    assert full_ensemble.mi.value == 21.0
    assert full_ensemble.mi.error is None
    assert full_ensemble.training_hours == pytest.approx(2.0)
    assert full_singles.training_hours == pytest.approx(1.0)
    assert full_ensemble.inference_s == pytest.approx(0.4)
    assert full_singles.inference_s == pytest.approx(0.2)
    assert (full_ensemble.dataset_size, full_singles.dataset_size) == (350, 100)
    assert unique_ensemble.mi.value == 20.5
    assert unique_singles.mi.value == pytest.approx(19.5)
    markdown = study_markdown(study, [full_ensemble, full_singles, unique_ensemble, unique_singles], notes=[])
    assert "| Full ensemble | 350 | 862,085 | 2 | 113.4 | 0.4 | 0.47 | 21.00 | 20.72 |" in markdown


def test_bias_correction_rows_compare_with_their_own_reference() -> None:
    study = get_study("bias-correction")
    rows = build_rows(
        study, {"nominal": RunResult(key="nominal", metrics=_metrics([20.0, 22.0], ensemble=25.0))}
    )
    singles, singles_off, ensemble, ensemble_off = rows
    assert singles_off.mi.value == pytest.approx(20.0)  # uncorrected: 1 below
    assert singles_off.change is not None
    assert singles_off.change.value == pytest.approx(-100 / 21)
    assert ensemble_off.change is not None
    assert ensemble_off.change.value == pytest.approx(-8.0)  # 23 against 25
    assert ensemble_off.variant.paper.change == -2.1
    assert singles.change is None
    assert ensemble.change is None
