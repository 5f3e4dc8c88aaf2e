"""``mucalo.simulation.validate``: the comparison behind ``mucalo validate-sim``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mucalo.detector import Detector
from mucalo.errors import DataFormatError
from mucalo.simulation.validate import MuonSample, compare, muon_statistics


@pytest.fixture(scope="module")
def g4_small(g4ref_small_path: Path) -> MuonSample:
    return MuonSample.from_shards(g4ref_small_path)


def test_sample_against_itself(g4_small: MuonSample, tmp_path: Path) -> None:
    report = compare(g4_small, g4_small, tmp_path)
    assert all(
        all(ok for key, ok in g["within_target"].items() if key != "energy_loss_vs_expected")
        for g in report["groups"]
    )
    for group in report["groups"]:
        for key, ratio in group["ratio"].items():
            if key != "energy_loss_vs_expected":
                assert ratio == pytest.approx(1.0), key
    for name in ("validation.md", "validation.json", "edep.png", "longitudinal.png", "lateral.png"):
        assert (tmp_path / name).is_file(), name
    data = json.loads((tmp_path / "validation.json").read_text())
    assert len(data["groups"]) == 4
    assert "E_dep median" in (tmp_path / "validation.md").read_text()


def test_reads_shard_files_directly(g4ref_small_path: Path) -> None:
    report = compare(g4ref_small_path, g4ref_small_path, None, plots=False)
    assert [g["label"] for g in report["groups"]] == ["100 GeV", "1000 GeV", "4000 GeV", "8000 GeV"]


def test_continuous_spectrum_is_binned(g4ref_uniform_path: Path) -> None:
    report = compare(g4ref_uniform_path, g4ref_uniform_path, None, plots=False)
    labels = [g["label"] for g in report["groups"]]
    assert labels and all("–" in label for label in labels)
    assert sum(int(g["sample"]["n"]) for g in report["groups"]) <= 120


def test_statistics_on_a_hand_built_muon() -> None:
    det = Detector()
    cells = det.flat_index([0, 0, 49], [16, 17, 16], [16, 16, 16])
    sample = MuonSample(
        true_energy=np.array([100.0]),
        charge=np.array([1.0]),
        x0=np.array([1.875]),
        y0=np.array([1.875]),
        energy_loss=np.array([0.004]),
        offsets=np.array([0, 3]),
        cell=np.sort(cells),
        energy=np.array([0.0005, 0.0015, 0.002], np.float32),
        detector=det,
    )
    stats = muon_statistics(sample)
    assert stats["edep"][0] == pytest.approx(0.004)
    assert stats["cells"][0] == 3
    assert stats["cells_1mev"][0] == 2  # the 1.5 and 2 MeV cells
    # layer 0 holds 0.5 and 1.5 MeV, 3.75 mm apart: RMS about its centroid √(0.25·0.75)·3.75 mm,
    # which carries half of the muon's energy
    assert stats["lateral_rms_layer"][0] == pytest.approx(np.sqrt(0.5 * 0.25 * 0.75 * 3.75**2))
    assert stats["bend_x"][0] == pytest.approx(0.0)  # the layer-49 cell centre is x0
    assert stats["longitudinal"][0, 0] == pytest.approx(0.5)


def test_statistics_in_chunks_equal_the_whole(g4_small: MuonSample) -> None:
    """Large samples are reduced a few thousand muons at a time; the per-muon results are the same."""
    whole = muon_statistics(g4_small)
    chunked = muon_statistics(g4_small, chunk_muons=7)
    assert g4_small.n_muons > 7
    for key, values in whole.items():
        np.testing.assert_allclose(chunked[key], values, rtol=1e-12, equal_nan=True, err_msg=key)


def test_different_detectors_are_refused(g4_small: MuonSample) -> None:
    other = replace(g4_small, detector=Detector(field_t=0.0))
    with pytest.raises(DataFormatError, match="detectors differ"):
        compare(other, g4_small, None, plots=False)


def test_no_common_energy_is_refused(g4_small: MuonSample) -> None:
    shifted = replace(g4_small, true_energy=g4_small.true_energy * 100.0)
    with pytest.raises(DataFormatError, match="no common energy group"):
        compare(shifted, g4_small, None, plots=False)
