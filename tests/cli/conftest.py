"""Fixtures of the CLI tests of evaluate, predict and export: tiny trained runs (see ``cli_runs.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from cli_runs import build_hybrid_run

from run_fixtures import TinyRun, build_tiny_run


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """The machine is shared: one intra-op thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny(
    tmp_path_factory: pytest.TempPathFactory, g4ref_uniform_path: Path, g4ref_small_path: Path
) -> TinyRun:
    """Two HL models trained on 60 real muons, with their datasets, LUMIN file and test shards."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny-cli")
    return build_tiny_run(root, uniform=g4ref_uniform_path, fixed=g4ref_small_path)


@pytest.fixture(scope="session")
def hybrid_run(tiny: TinyRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One hybrid model after one epoch (its dataset holds hits, for the export parity on real grids)."""
    torch.set_num_threads(1)
    return build_hybrid_run(tmp_path_factory.mktemp("hybrid-cli"), tiny.test_shards)
