"""The main job end to end on the smoke preset: completes, leaves finite numbers, resumes after a kill."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mucalo.cli.main import app
from mucalo.cli.run import load_pipeline_config
from mucalo.errors import ConfigError
from mucalo.pipeline import run as pipeline_run


class _Killed(BaseException):
    """Stands in for a kill (not an Exception, so nothing on the way catches it)."""


def _mtimes(root: Path, pattern: str) -> dict[str, float]:
    return {str(p): p.stat().st_mtime_ns for p in sorted(root.glob(pattern))}


@pytest.fixture(scope="module")
def killed_then_rerun(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, dict[str, float]], str]:
    out = tmp_path_factory.mktemp("smoke")
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as mp:

        def killed(*args: object, **kwargs: object) -> None:
            raise _Killed  # the job dies in its last stage

        mp.setattr(pipeline_run, "evaluate_run", killed)
        with pytest.raises(_Killed):
            runner.invoke(app, ["run", "--preset", "smoke", "--out", str(out)], catch_exceptions=False)
    before = {
        "shards": _mtimes(out, "shards/*/*.h5"),
        "datasets": _mtimes(out, "datasets/*/dataset.json"),
        "runs": _mtimes(out, "runs/*/ensemble.json"),
    }
    result = runner.invoke(
        app, ["run", "--preset", "smoke", "--out", str(out), "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return out, before, result.stdout


def test_smoke_run_leaves_a_report_with_finite_numbers(
    killed_then_rerun: tuple[Path, dict[str, dict[str, float]], str],
) -> None:
    out, _, stdout = killed_then_rerun
    summary = json.loads(stdout)
    report = Path(summary["report"])
    assert report.is_file() and report.stat().st_size > 1000
    metrics = json.loads(Path(summary["metrics"]).read_text())
    text = json.dumps(metrics)
    assert "mean_improvement" in text
    values = _numbers(metrics, "mean_improvement")
    assert values and all(math.isfinite(v) for v in values)
    assert (out / "run.json").is_file()
    assert set(summary["runs"]) == {"hl", "hybrid"}


def test_rerun_after_kill_skips_finished_stages(
    killed_then_rerun: tuple[Path, dict[str, dict[str, float]], str],
) -> None:
    out, before, _ = killed_then_rerun
    assert before["shards"] and before["datasets"] and len(before["runs"]) == 2
    assert _mtimes(out, "shards/*/*.h5") == before["shards"]
    assert _mtimes(out, "datasets/*/dataset.json") == before["datasets"]
    assert _mtimes(out, "runs/*/ensemble.json") == before["runs"]


def test_presets_load_and_bad_override_is_named() -> None:
    paper = load_pipeline_config("paper", [])
    assert paper.simulation.n_muons == 886_716
    assert paper.test_simulation.n_muons == 429_750
    assert paper.dataset.n_folds == 36
    assert paper.train_config(paper.models[-1]).folds.n_models == 5
    quick = load_pipeline_config(
        "quick", ["simulation.detector.n_layers=30", "test_simulation.detector.n_layers=30"]
    )
    assert quick.simulation.detector.n_layers == 30
    with pytest.raises(ConfigError, match="test_simulation.detector"):
        load_pipeline_config("quick", ["simulation.detector.n_layers=30"])
    with pytest.raises(ConfigError, match=r"simulation.n_muon: unknown key"):
        load_pipeline_config("quick", ["simulation.n_muon=3"])


def _numbers(tree: object, key: str) -> list[float]:
    found: list[float] = []
    if isinstance(tree, dict):
        for k, v in tree.items():
            if k == key and isinstance(v, int | float):
                found.append(float(v))
            else:
                found.extend(_numbers(v, key))
    elif isinstance(tree, list):
        for v in tree:
            found.extend(_numbers(v, key))
    return found
