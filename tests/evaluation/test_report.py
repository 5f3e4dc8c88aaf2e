"""The HTML report is valid, self-contained and references only files that exist beside it."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from evaluation_samples import make_sample

from mucalo.errors import MissingDataError
from mucalo.evaluation import compare_runs, headline_metrics, write_report
from mucalo.evaluation.figures import plot_resolution
from mucalo.evaluation.metrics import evaluate_predictions

VOID = {"meta", "img", "br", "hr", "link", "input"}


class Checker(HTMLParser):
    """Collects references and checks that every non-void element is closed in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.references: list[str] = []
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "caption":  # HTML: a caption must be the first child of its table
            assert self.tags[-1] == "table", self.tags[-3:]
        self.tags.append(tag)
        for name, value in attrs:
            if name in {"src", "href"} and value is not None:
                self.references.append(value)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack, tag
        assert self.stack[-1] == tag, (tag, self.stack)
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(path: Path) -> Checker:
    checker = Checker()
    checker.feed(path.read_text(encoding="utf-8"))
    checker.close()
    assert checker.stack == []
    return checker


def test_report_is_valid_and_self_contained(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    sample = make_sample(rng.uniform(50.0, 8000.0, 3000), rng)
    evaluation = evaluate_predictions(sample.true_energy, sample.prediction, n_bootstrap=10, fit_bootstrap=0)
    out_dir = tmp_path / "report"
    inside = plot_resolution(evaluation.curve, out_dir=out_dir / "figs")
    outside = plot_resolution(evaluation.curve, out_dir=tmp_path / "elsewhere", name="outside")
    metrics = {
        "ensemble_holdout": evaluation.metrics,
        "model <0> & co": headline_metrics(
            sample.true_energy, sample.prediction, n_bootstrap=0, fit_bootstrap=0
        ),
    }
    path = write_report(
        out_dir,
        metrics=metrics,
        figures={"Resolution (Fig. 12)": inside, "Copied in": outside},
        comparison=compare_runs(metrics),
        notes=["Synthetic data <test>"],
    )
    assert path == out_dir / "report.html"
    checker = parse(path)
    assert {"html", "head", "body", "table", "img", "figure"} <= set(checker.tags)
    assert "script" not in checker.tags
    assert len(checker.references) == 4  # two images, two PDF links
    for reference in checker.references:
        assert not reference.startswith(("/", "http:", "https:", "file:", "data:")), reference
        target = (out_dir / reference).resolve()
        assert target.is_file(), reference
        assert target.is_relative_to(out_dir.resolve())
    assert (out_dir / "figures" / "outside.png").is_file()
    text = " ".join(checker.text)
    assert "Geant4" in text
    assert "full scale" in text
    for paper_value in ("20.30", "20.72", "22.10", "29.50"):
        assert paper_value in text
    assert f"{evaluation.metrics['mean_improvement']:.2f} ± " in text
    assert "not evaluated" in text  # no single_validation / test evaluations given
    assert "model <0> & co" in text  # escaped in the page, intact in the text
    assert "Synthetic data <test>" in text


def test_missing_figure_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MissingDataError, match=r"figure file .*gone\.png does not exist"):
        write_report(tmp_path, metrics={}, figures={"x": [tmp_path / "gone.png"]})
