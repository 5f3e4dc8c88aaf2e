"""``evaluate_run`` end to end on a tiny trained run: metrics, stored bias correction, figures, report."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from mucalo.data import open_dataset
from mucalo.errors import ConfigError
from mucalo.evaluation import HEADLINE_KEYS, EvaluationConfig
from mucalo.evaluation.run_importance import run_importance
from mucalo.evaluation.run_inputs import load_bias_correction, validation_plan
from mucalo.evaluation.runs import evaluate_run
from mucalo.training import load_run
from run_fixtures import TinyRun, build_tiny_run

#: Binning for 30 validation muons: the paper's 39 fit bins would leave most bins empty.
TINY = EvaluationConfig(fit_bins=6, resolution_bins=4, fit_bootstrap=20, metric_bootstrap=4)
LABELS = ("model_0", "model_1", "ensemble")
REQUIRED = ("mean_improvement", "worst_combined_resolution", "resolution_at_1tev", "resolution_at_3tev")


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny(
    tmp_path_factory: pytest.TempPathFactory, g4ref_uniform_path: Path, g4ref_small_path: Path
) -> TinyRun:
    torch.set_num_threads(1)
    return build_tiny_run(tmp_path_factory.mktemp("tiny"), uniform=g4ref_uniform_path, fixed=g4ref_small_path)


@pytest.fixture(scope="module")
def evaluated(tiny: TinyRun, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("evaluation") / "eval"
    metrics = evaluate_run(
        tiny.run,
        tiny.dataset,
        out=out,
        test=tiny.test_dataset,
        compare=[tiny.run],
        config=TINY,
        importance_events=1000,
        event_displays=1,
        progress=False,
    )
    return out, metrics


def test_metrics_json_has_finite_headline_numbers_for_every_model_and_the_ensemble(
    evaluated: tuple[Path, dict[str, Any]],
) -> None:
    out, returned = evaluated
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == returned
    assert metrics["labels"] == list(LABELS)
    assert metrics["validation_set"]["kind"] == "holdout"
    assert metrics["validation_set"]["folds"] == [0]
    for where, n_events, binning in (("validation", 30, "bins"), ("test", 40, "fixed")):
        for label in LABELS:
            values = metrics[where][label]
            assert values.get("error") is None, (where, label, values.get("error"))
            assert values["n_events"] == n_events
            assert values["binning"] == binning
            for key in REQUIRED:
                assert math.isfinite(values[key]), (where, label, key)
            assert values["bias_fit"]["slope"] > 0
            assert math.isfinite(values["bias_fit"]["offset"])
            assert values["n_bootstrap"] > 0
    # Test points: 100, 1000 and 4000 GeV (8000 GeV lies outside 100–4100 GeV).
    assert metrics["test"]["ensemble"]["curve"]["energy_gev"] == [100.0, 1000.0, 4000.0]
    assert 0.0 < metrics["test"]["ensemble"]["mean_improvement"] < 100.0


def test_bias_correction_is_stored_in_the_run_and_applied_unchanged_to_the_test_data(
    tiny: TinyRun, evaluated: tuple[Path, dict[str, Any]]
) -> None:
    _, metrics = evaluated
    stored = load_bias_correction(tiny.run)
    assert stored is not None
    assert stored.path == tiny.run / "bias_correction.json"
    assert stored.fitted_on["folds"] == [0]
    assert sorted(stored.corrections) == sorted(LABELS)
    for label in LABELS:
        correction = stored.get(label)
        assert correction is not None
        for where in ("validation", "test"):
            fit = metrics[where][label]["bias_fit"]
            assert fit["slope"] == pytest.approx(correction.slope, rel=1e-12)
            assert fit["offset"] == pytest.approx(correction.offset, rel=1e-12)
    assert not list(tiny.run.glob(".bias_correction.json*"))  # no temporary left behind


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [v for k, v in attrs if k in ("src", "href") and v is not None]
        if tag not in ("meta", "img", "br", "link"):
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open[-1:] == [tag], f"</{tag}> closes <{self.open[-1:]}>"
        self.open.pop()


def test_report_is_valid_html_that_references_only_its_own_files(
    evaluated: tuple[Path, dict[str, Any]],
) -> None:
    out, metrics = evaluated
    page = (out / "report.html").read_text(encoding="utf-8")
    parser = _Links()
    parser.feed(page)
    parser.close()
    assert parser.open == []
    assert parser.links
    for link in parser.links:
        assert "://" not in link, link
        assert not link.startswith("/"), link
        assert ".." not in link, link
        assert (out / link).is_file(), link
    for paths in metrics["figures"].values():
        png = out / paths[0]
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / paths[1]).read_bytes()[:5] == b"%PDF-"
    captions = " ".join(metrics["figures"])
    for figure in (
        "Fig. 2",
        "Fig. 7",
        "Fig. 8",
        "Fig. 9",
        "Fig. 10",
        "Fig. 11",
        "Fig. 12",
        "Fig. 13",
        "Fig. 14",
    ):
        assert figure in captions, figure
    assert "20.72" in page  # the paper's ensemble MI, beside ours


def test_provenance_records_the_settings_and_versions(evaluated: tuple[Path, dict[str, Any]]) -> None:
    out, _ = evaluated
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["command"] == "evaluate"
    assert provenance["seed"] == TINY.seed
    assert provenance["config"]["evaluation"]["fit_bins"] == 6
    assert "torch" in provenance["versions"]


def test_comparison_lists_each_run_against_the_first(evaluated: tuple[Path, dict[str, Any]]) -> None:
    _, metrics = evaluated
    rows = metrics["comparison"]
    assert [r["name"] for r in rows] == ["run", "run'"]
    assert rows[0]["mi_change"] is None
    # The same run twice on the same data: identical numbers.
    assert rows[1]["mean_improvement"] == pytest.approx(rows[0]["mean_improvement"])
    assert rows[1]["mi_change"] == pytest.approx(0.0, abs=1e-9)


def test_importance_reruns_the_models_exactly_and_ranks_every_feature(tiny: TinyRun) -> None:
    run = load_run(tiny.run)
    data = open_dataset(tiny.dataset)
    importance, nominal = run_importance(run, data, [0], max_events=1000)
    np.testing.assert_allclose(nominal, run.predict(data, [0]).ensemble, rtol=1e-5)
    assert importance.feature_names == run.feature_columns
    assert np.isfinite(importance.overall).all()
    assert importance.per_bin.shape == (len(run.feature_columns), 8)


def test_validation_plan_uses_the_holdout_else_the_monitoring_folds(tiny: TinyRun) -> None:
    run = load_run(tiny.run)
    data = open_dataset(tiny.dataset)
    assert validation_plan(run, data).label_folds["ensemble"] == (0,)
    assert validation_plan(run, open_dataset(tiny.lumin)).kind == "holdout"  # the same folds, exported
    other = validation_plan(run, open_dataset(tiny.test_dataset))
    assert (other.kind, other.folds) == ("all", (0,))
    folds = dataclasses.replace(run.config.folds, holdout_fold=None)
    no_holdout = dataclasses.replace(run, config=dataclasses.replace(run.config, folds=folds))
    plan = validation_plan(no_holdout, data)
    assert plan.kind == "monitoring"
    assert dict(plan.label_folds) == {"model_0": (1,), "model_1": (2,), "ensemble": (1, 2)}


def test_a_failed_bias_fit_is_reported_in_the_metrics_not_raised(tiny: TinyRun, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny.run, run)
    one_bin = EvaluationConfig(
        fit_range_gev=(100.0, 200.0), fit_bins=1, resolution_bins=4, metric_bootstrap=0
    )
    metrics = evaluate_run(
        run,
        tiny.dataset,
        out=tmp_path / "eval",
        config=one_bin,
        importance=False,
        event_displays=0,
        progress=False,
    )
    ensemble = metrics["validation"]["ensemble"]
    assert "at least 3 bins" in ensemble["error"]
    assert all(ensemble[key] is None for key in HEADLINE_KEYS)  # NaN written as null
    stored = load_bias_correction(run)
    assert stored is not None
    assert stored.get("ensemble") is None
    assert "at least 3 bins" in stored.errors["ensemble"]
    assert (tmp_path / "eval" / "report.html").is_file()
    # A killed evaluation leaves only figures: --overwrite replaces it; a foreign directory is kept.
    for name in ("metrics.json", "report.html", "provenance.json"):
        (tmp_path / "eval" / name).unlink()
    evaluate_run(
        run,
        tiny.dataset,
        out=tmp_path / "eval",
        config=one_bin,
        importance=False,
        event_displays=0,
        progress=False,
        overwrite=True,
    )
    assert (tmp_path / "eval" / "metrics.json").is_file()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not an evaluation directory"):
        evaluate_run(
            run, tiny.dataset, out=tmp_path / "other", config=one_bin, overwrite=True, progress=False
        )
    assert (tmp_path / "other" / "notes.txt").is_file()


def test_an_existing_evaluation_is_kept_without_overwrite(
    tiny: TinyRun, evaluated: tuple[Path, dict[str, Any]]
) -> None:
    out, _ = evaluated
    with pytest.raises(ConfigError, match="pass --overwrite"):
        evaluate_run(tiny.run, tiny.dataset, out=out, config=TINY, progress=False)
    assert (out / "metrics.json").is_file()
