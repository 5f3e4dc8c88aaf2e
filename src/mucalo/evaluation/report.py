"""A self-contained HTML report: headline numbers beside the paper's, all evaluations, the figures.

The page references only files inside its own directory, by relative path; figures given from elsewhere
are copied in first. No scripts, no external style sheets.
"""

from __future__ import annotations

import html
import math
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mucalo.errors import MissingDataError
from mucalo.evaluation.comparison import PAPER_TABLE_1

__all__ = ["PAPER_HEADLINE", "PaperFigure", "write_report"]


@dataclass(frozen=True, kw_only=True, slots=True)
class PaperFigure:
    """One headline number of the paper, and which of our evaluations it compares with.

    Attributes:
        context: the ``metrics`` label of ours it is set beside (e.g. "ensemble_holdout").
        metric: the headline-metrics key (e.g. "mean_improvement").
        description: what the number is.
        value: the paper's value, percent.
    """

    context: str
    metric: str
    description: str
    value: float


#: The paper's headline numbers (Geant4, full-scale training; EPJC 82:79 §4.2 and Table 3).
PAPER_HEADLINE: tuple[PaperFigure, ...] = (
    PaperFigure(
        context="single_validation",
        metric="mean_improvement",
        value=20.3,
        description="Mean Improvement [%], single model, validation (20 bins, 100–4000 GeV)",
    ),
    PaperFigure(
        context="ensemble_holdout",
        metric="mean_improvement",
        value=20.72,
        description="Mean Improvement [%], 5-model ensemble, hold-out fold (20 bins)",
    ),
    PaperFigure(
        context="test",
        metric="mean_improvement",
        value=22.1,
        description="Mean Improvement [%], fixed-energy test points (11, 100–4100 GeV)",
    ),
    PaperFigure(
        context="test",
        metric="worst_combined_resolution",
        value=29.5,
        description="Worst combined resolution [%], fixed-energy test points",
    ),
)

_PAPER_NOTE = (
    "Paper values are from Kieseler et al., Eur. Phys. J. C 82 (2022) 79: a Geant4 (FTFP_BERT) simulation "
    "and full-scale training (about 860 000 muons per model, 5-model ensemble). They are reference "
    "points, not targets for a smaller or differently simulated sample."
)

_CSS = """
body { font-family: sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.7em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
caption { caption-side: bottom; font-size: 0.9em; color: #555; padding-top: 0.4em; text-align: left; }
figure { display: inline-block; margin: 1em; vertical-align: top; }
figure img { max-width: 32em; border: 1px solid #ddd; }
.note { font-size: 0.9em; color: #555; }
"""

_COLUMNS = (
    ("mean_improvement", "MI [%]", 2),
    ("worst_combined_resolution", "worst combined [%]", 1),
    ("resolution_at_1tev", "calo res. 1 TeV [%]", 1),
    ("resolution_at_3tev", "calo res. 3 TeV [%]", 1),
    ("combined_resolution_at_1tev", "combined 1 TeV [%]", 1),
    ("combined_resolution_at_3tev", "combined 3 TeV [%]", 1),
)


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(metrics: Mapping[str, Any], key: str, digits: int) -> str:
    value = metrics.get(key)
    if value is None or not math.isfinite(float(value)):
        return "—"
    error = metrics.get(f"{key}_err")
    text = f"{float(value):.{digits}f}"
    if error is not None and math.isfinite(float(error)):
        text += f" ± {float(error):.{digits}f}"
    return text


def _headline_table(metrics: Mapping[str, Mapping[str, Any]]) -> list[str]:
    lines = [
        "<table>",
        f"<caption>{_esc(_PAPER_NOTE)}</caption>",
        "<tr><th>Quantity</th><th>Paper (Geant4, full scale)</th><th>This evaluation</th></tr>",
    ]
    for figure in PAPER_HEADLINE:
        ours = metrics.get(figure.context)
        value = _number(ours, figure.metric, 2) if ours is not None else "not evaluated"
        lines.append(
            f"<tr><td>{_esc(figure.description)} <span class='note'>({_esc(figure.context)})</span></td>"
            f"<td>{figure.value:.2f}</td><td>{_esc(value)}</td></tr>"
        )
    lines.append("</table>")
    return lines


def _metrics_table(metrics: Mapping[str, Mapping[str, Any]]) -> list[str]:
    header = "".join(f"<th>{_esc(title)}</th>" for _, title, _ in _COLUMNS)
    lines = [
        "<table>",
        "<caption>Uncertainties are bootstrap standard deviations where computed.</caption>",
        f"<tr><th>Evaluation</th>{header}<th>bias slope</th><th>bias offset [GeV]</th><th>events</th></tr>",
    ]
    for label, values in metrics.items():
        cells = "".join(f"<td>{_esc(_number(values, key, digits))}</td>" for key, _, digits in _COLUMNS)
        fit = values.get("bias_fit") or {}
        slope = _number(fit, "slope", 4) if fit else "—"
        offset = _number(fit, "offset", 1) if fit else "—"
        lines.append(
            f"<tr><td>{_esc(label)}</td>{cells}<td>{_esc(slope)}</td><td>{_esc(offset)}</td>"
            f"<td>{_esc(values.get('n_events', '—'))}</td></tr>"
        )
    lines.append("</table>")
    return lines


def _comparison_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = [
        "<table>",
        "<tr><th>Run</th><th>MI [%]</th><th>Change in MI [%]</th><th>worst combined [%]</th></tr>",
    ]
    for row in rows:
        change = (
            "N/A"
            if row.get("mi_change") is None
            else _number({"c": row["mi_change"], "c_err": row.get("mi_change_err")}, "c", 1)
        )
        lines.append(
            f"<tr><td>{_esc(row['name'])}</td><td>{_esc(_number(row, 'mean_improvement', 2))}</td>"
            f"<td>{_esc(change)}</td><td>{_esc(_number(row, 'worst_combined_resolution', 1))}</td></tr>"
        )
    lines.append("</table>")
    paper = "".join(f"<tr><td>{_esc(n)}</td><td>{v:.2f} ± {e:.2f}</td></tr>" for n, v, e in PAPER_TABLE_1)
    lines += [
        "<table>",
        "<caption>Paper Table 1 (monitoring folds, mean over 5 models, Geant4 full scale).</caption>",
        f"<tr><th>Inputs (paper)</th><th>MI [%]</th></tr>{paper}",
        "</table>",
    ]
    return lines


def _local(path: Path, out_dir: Path) -> Path:
    """Path of ``path`` relative to ``out_dir``, copying it into ``out_dir/figures`` when it lies outside."""
    source = Path(path).resolve()
    if not source.is_file():
        msg = f"report: figure file {path} does not exist"
        raise MissingDataError(msg)
    root = out_dir.resolve()
    if not source.is_relative_to(root):
        target = root / "figures" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        source = target
    return source.relative_to(root)


def _figure_block(caption: str, files: Sequence[Path], out_dir: Path) -> list[str]:
    local = [_local(p, out_dir) for p in files]
    images = [p for p in local if p.suffix.lower() in {".png", ".svg", ".jpg", ".jpeg"}]
    others = [p for p in local if p not in images]
    lines = ["<figure>"]
    if images:
        lines.append(f"<img src='{_esc(images[0].as_posix())}' alt='{_esc(caption)}'>")
    links = " ".join(
        f"<a href='{_esc(p.as_posix())}'>{_esc(p.suffix.lstrip('.').upper())}</a>"
        for p in [*images[1:], *others]
    )
    lines.append(f"<figcaption>{_esc(caption)} {links}</figcaption>")
    lines.append("</figure>")
    return lines


def write_report(
    out_dir: Path,
    *,
    metrics: Mapping[str, Mapping[str, Any]],
    figures: Mapping[str, Sequence[Path]] | None = None,
    comparison: Sequence[Mapping[str, Any]] | None = None,
    title: str = "mucalo evaluation",
    notes: Sequence[str] = (),
    filename: str = "report.html",
) -> Path:
    """Write ``out_dir/report.html``.

    Args:
        out_dir: report directory (created).
        metrics: evaluation label → headline metrics. Labels ``single_validation``, ``ensemble_holdout``
            and ``test`` are set beside the paper's numbers (:data:`PAPER_HEADLINE`); every label gets a
            row in the full table.
        figures: caption → files of one figure (e.g. its PNG and PDF); the first image is shown, the
            rest linked. Files outside ``out_dir`` are copied into ``out_dir/figures``.
        comparison: rows of :func:`~mucalo.evaluation.comparison.compare_runs`, shown with paper Table 1.
        title: page title.
        notes: paragraphs shown under the title (data sets, run names, …), as plain text.
        filename: name of the page.

    Returns:
        The path of the page.

    Raises:
        MissingDataError: a figure file does not exist.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    body = [f"<h1>{_esc(title)}</h1>", *(f"<p>{_esc(n)}</p>" for n in notes)]
    body += ["<h2>Headline numbers beside the paper's</h2>", *_headline_table(metrics)]
    body += ["<h2>All evaluations</h2>", *_metrics_table(metrics)]
    if comparison:
        body += ["<h2>Runs compared</h2>", *_comparison_table(comparison)]
    if figures:
        body.append("<h2>Figures</h2>")
        for caption, files in figures.items():
            body += _figure_block(caption, files, out_dir)
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            "<html lang='en'>",
            "<head>",
            "<meta charset='utf-8'>",
            f"<title>{_esc(title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )
    path = out_dir / filename
    path.write_text(page, encoding="utf-8")
    return path
