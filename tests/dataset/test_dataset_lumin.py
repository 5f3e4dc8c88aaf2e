"""LUMIN fold files: the published layout read as it is, and ours written so LUMIN would read it."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import torch

from mucalo.data import LuminDataset, MucaloDataset, export_lumin, import_lumin, make_loader, open_dataset
from mucalo.errors import DataFormatError, MissingDataError

SHAPE = (50, 32, 32)


def foldyielder_fold(path: Path, index: int) -> dict[str, Any]:
    """What LUMIN 0.8.0's FoldYielder.get_fold gives (reference-code-notes §3.3), emulated with numpy."""
    with h5py.File(path, "r+") as f:  # LUMIN opens "r+"
        n_folds = len([k for k in f if "fold_" in k])
        meta = {
            k: json.loads(f["meta_data"][k][()])
            for k in ("cont_feats", "cat_feats", "targ_feats", "matrix_feats")
        }
        group = f[f"fold_{index}"]
        columns = list(group.keys())
        inputs = np.nan_to_num(group["inputs"][()])
        targets = group["targets"][()][:, None]
        matrix = group["matrix_inputs"][()]
        coords = matrix[1:].astype(int)
        # LUMIN's sparse.COO takes the event count from the last event index
        dense = np.zeros((coords[0, -1] + 1, *meta["matrix_feats"]["shape"]), dtype=np.float32)
        dense[tuple(coords)] = matrix[0]
    return {
        "n_folds": n_folds,
        "columns": columns,
        "meta": meta,
        "inputs": inputs,
        "targets": targets,
        "dense": dense,
    }


def test_round_trip_through_the_lumin_layout(dataset: MucaloDataset, tmp_path: Path) -> None:
    out = export_lumin(dataset, tmp_path / "ours.hdf5")
    back = open_dataset(out)
    assert isinstance(back, LuminDataset)
    assert back.fold_sizes == dataset.fold_sizes
    assert back.feature_names == dataset.feature_names
    assert back.detector == dataset.detector
    assert back.features_prestandardised
    assert back.standardisation.is_identity
    for fold in range(dataset.n_folds):
        np.testing.assert_array_equal(back.targets(fold), dataset.targets(fold))
        np.testing.assert_array_equal(back.features(fold), dataset.features(fold))
        for ours, theirs in zip(dataset.hits(fold), back.hits(fold), strict=True):
            np.testing.assert_array_equal(ours, theirs)
        # the statistics travel in meta_data/mucalo, so raw features come back too
        np.testing.assert_allclose(
            back.features(fold, standardised=False),
            dataset.features(fold, standardised=False),
            rtol=1e-5,
            atol=1e-4,
        )
    a, b = dataset.info()["folds"], back.info()["folds"]
    assert [f["n_hits"] for f in a] == [f["n_hits"] for f in b]
    np.testing.assert_allclose([f["hit_energy_sum"] for f in a], [f["hit_energy_sum"] for f in b], rtol=1e-12)
    # batches from the file equal batches from our dataset
    ours = next(iter(make_loader(dataset, [2], batch_size=64, shuffle=False, seed=0)))
    theirs = next(iter(make_loader(back, [2], batch_size=64, shuffle=False, seed=0)))
    for key in ("grid", "features", "target", "index"):
        assert torch.equal(ours[key], theirs[key]), key


def test_export_is_what_lumin_reads(dataset: MucaloDataset, tmp_path: Path) -> None:
    out = export_lumin(dataset, tmp_path / "ours.hdf5")
    with h5py.File(out, "r") as f:
        assert list(f.keys()) == [f"fold_{i}" for i in range(6)] + ["meta_data"]
        for name in ("inputs", "targets", "matrix_inputs"):
            assert f["fold_0"][name].compression == "lzf"
            assert f["fold_0"][name].dtype == np.float32
        assert f["fold_0/targets"].shape == (dataset.fold_sizes[0],)
        assert f["fold_0/matrix_inputs"].shape[0] == 6
    lumin = foldyielder_fold(out, 3)
    assert lumin["n_folds"] == 6
    assert set(lumin["columns"]) == {"inputs", "targets", "matrix_inputs"}
    assert lumin["meta"]["cont_feats"] == dataset.feature_names
    assert lumin["meta"]["cat_feats"] == []
    assert lumin["meta"]["targ_feats"] == "true_energy"
    assert list(lumin["meta"]["matrix_feats"]) == [
        "present_feats",
        "vecs",
        "missing",
        "feats_per_vec",
        "row_wise",
        "shape",
        "is_sparse",
    ]
    assert lumin["meta"]["matrix_feats"]["shape"] == [1, 50, 32, 32]
    np.testing.assert_array_equal(lumin["inputs"], dataset.features(3))
    np.testing.assert_array_equal(lumin["targets"][:, 0], dataset.targets(3))
    grids = next(iter(make_loader(dataset, [3], batch_size=1000, shuffle=False, seed=0)))["grid"].numpy()
    n_lumin = lumin["dense"].shape[0]  # may be short when the fold's last muons have no hits
    np.testing.assert_array_equal(lumin["dense"], grids[:n_lumin])
    assert not grids[n_lumin:].any()


def _published_file(path: Path, *, folds: list[dict[str, np.ndarray]], meta: bool = True) -> Path:
    """A fold file written the way LUMIN 0.8.0 fold2foldfile + add_meta_data does (no mucalo extras)."""
    with h5py.File(path, "w") as f:
        for i, fold in enumerate(folds):
            for name, values in fold.items():
                f.create_dataset(f"fold_{i}/{name}", data=values, compression="lzf")
        if meta:
            names = [f"feat{j}" for j in range(folds[0]["inputs"].shape[1])]
            matrix = {
                "present_feats": ["rechit_energy"],
                "vecs": ["rechit_energy"],
                "missing": [],
                "feats_per_vec": [""],
                "row_wise": None,
                "shape": [1, *SHAPE],
                "is_sparse": True,
            }
            for key, value in (
                ("cont_feats", names),
                ("cat_feats", []),
                ("targ_feats", "true_energy"),
                ("matrix_feats", matrix),
            ):
                f.create_dataset(f"meta_data/{key}", data=json.dumps(value))
    return path


def _coo(entries: list[tuple[float, int, int, int, int]]) -> np.ndarray:
    """(6, nnz) rows: energy, event, channel 0, z, x, y."""
    rows = [(e, ev, 0, z, x, y) for e, ev, z, x, y in entries]
    return np.array(rows, dtype=np.float32).T.reshape(6, len(entries))


def _two_folds() -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    fold0 = {
        "inputs": rng.normal(size=(2, 3)).astype(np.float32),
        "targets": np.array([100.0, 2000.0], np.float32),
        "matrix_inputs": _coo([(1.5, 0, 0, 0, 0), (0.25, 0, 49, 31, 31), (3.0, 1, 10, 5, 7)]),
    }
    fold1 = {
        "inputs": rng.normal(size=(4, 3)).astype(np.float32),
        "targets": np.array([50.0, 60.0, 70.0, 80.0], np.float32),
        # muon 1 has no hits, and neither has the last one (3): LUMIN would see 3 events, not 4
        "matrix_inputs": _coo([(2.0, 0, 1, 2, 3), (0.5, 2, 0, 0, 1), (4.0, 2, 7, 8, 9)]),
    }
    return [fold0, fold1]


def test_published_layout_reads_correctly(tmp_path: Path) -> None:
    folds = _two_folds()
    path = _published_file(tmp_path / "published.hdf5", folds=folds)
    path.chmod(stat.S_IRUSR | stat.S_IRGRP)  # a read-only file must open (LUMIN itself would fail)
    data = open_dataset(path)
    assert isinstance(data, LuminDataset)
    assert data.fold_sizes == [2, 4]
    assert data.feature_names == ["feat0", "feat1", "feat2"]
    assert data.grid_shape == SHAPE
    assert data.features_prestandardised
    assert data.standardisation.is_identity
    np.testing.assert_array_equal(data.features(1), folds[1]["inputs"])
    np.testing.assert_array_equal(data.targets(1), folds[1]["targets"])
    offsets, cell, energy = data.hits(1)
    assert offsets.tolist() == [0, 1, 1, 3, 3]
    assert cell.tolist() == [(1 * 32 + 2) * 32 + 3, 1, (7 * 32 + 8) * 32 + 9]
    assert energy.tolist() == [2.0, 0.5, 4.0]
    batch = next(iter(make_loader(data, [1], batch_size=4, shuffle=False, seed=0)))
    grid = batch["grid"][:, 0].numpy()
    assert grid.shape == (4, *SHAPE)
    assert grid[0, 1, 2, 3] == 2.0
    assert grid[0].sum() == 2.0
    assert not grid[1].any()
    assert not grid[3].any()
    assert grid[2, 7, 8, 9] == 4.0
    assert grid[2, 0, 0, 1] == 0.5
    info = data.info()
    assert info["fold_sizes"] == [2, 4]
    assert info["folds"][1]["n_hits"] == 3
    assert info["folds"][1]["hit_energy_sum"] == 6.5
    assert info["folds"][0]["target_sum"] == 2100.0
    with pytest.raises(MissingDataError, match="raw features cannot be recovered"):
        data.features(0, standardised=False)


def test_unsorted_entries_are_accepted(tmp_path: Path) -> None:
    folds = _two_folds()
    folds[1]["matrix_inputs"] = folds[1]["matrix_inputs"][:, ::-1].copy()
    data = open_dataset(_published_file(tmp_path / "unsorted.hdf5", folds=folds))
    offsets, _, energy = data.hits(1)
    assert offsets.tolist() == [0, 1, 1, 3, 3]
    assert sorted(energy.tolist()) == [0.5, 2.0, 4.0]


def test_missing_meta_data(tmp_path: Path) -> None:
    path = _published_file(tmp_path / "nometa.hdf5", folds=_two_folds(), meta=False)
    with pytest.raises(DataFormatError, match=r"nometa\.hdf5: group 'meta_data' missing"):
        open_dataset(path)


def test_inconsistent_fold_sizes(tmp_path: Path) -> None:
    folds = _two_folds()
    folds[1]["targets"] = folds[1]["targets"][:3]
    path = _published_file(tmp_path / "sizes.hdf5", folds=folds)
    with pytest.raises(
        DataFormatError, match=r"sizes\.hdf5: fold_1/inputs has shape \(4, 3\), expected \(3, 3\)"
    ):
        open_dataset(path)


@pytest.mark.parametrize(
    ("row", "value", "match"),
    [
        (4, 32, r"row 4 \(x\) has values in \[2, 32\], outside the declared shape \[0, 32\)"),
        (1, 4, r"row 1 \(event\)"),
        (3, -1, r"row 3 \(layer\)"),
    ],
)
def test_coordinates_outside_the_declared_shape(tmp_path: Path, row: int, value: int, match: str) -> None:
    folds = _two_folds()
    folds[1]["matrix_inputs"][row, 1] = value
    data = open_dataset(_published_file(tmp_path / "coords.hdf5", folds=folds))
    with pytest.raises(DataFormatError, match=r"coords\.hdf5: fold_1/matrix_inputs: " + match):
        data.hits(1)


def test_fold_numbering_and_not_a_dataset(tmp_path: Path) -> None:
    path = _published_file(tmp_path / "gap.hdf5", folds=_two_folds())
    with h5py.File(path, "a") as f:
        f.move("fold_1", "fold_2")
    with pytest.raises(DataFormatError, match="fold groups must be fold_0"):
        open_dataset(path)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = 1
    with pytest.raises(DataFormatError, match="neither a mucalo dataset directory nor a LUMIN fold file"):
        open_dataset(other)
    with pytest.raises(MissingDataError, match="no such dataset"):
        open_dataset(tmp_path / "absent")


def test_import_keeps_folds_features_and_hits(tmp_path: Path) -> None:
    folds = _two_folds()
    source = open_dataset(_published_file(tmp_path / "published.hdf5", folds=folds))
    imported = open_dataset(import_lumin(tmp_path / "published.hdf5", tmp_path / "imported"))
    assert isinstance(imported, MucaloDataset)
    assert imported.fold_sizes == [2, 4]
    assert imported.features_prestandardised
    assert imported.standardisation.is_identity
    assert imported.detector == source.detector
    for fold in range(2):
        np.testing.assert_array_equal(imported.features(fold), folds[fold]["inputs"])
        np.testing.assert_array_equal(imported.targets(fold), folds[fold]["targets"])
        for a, b in zip(imported.hits(fold), source.hits(fold), strict=True):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(MissingDataError, match="raw features cannot be recovered"):
        imported.features(0, standardised=False)
    a_batch = next(iter(make_loader(imported, [0, 1], batch_size=6, shuffle=True, seed=1)))
    b_batch = next(
        iter(make_loader(source, [0, 1], batch_size=6, shuffle=True, seed=1, shuffle_scope="dataset"))
    )
    for key in a_batch:
        assert torch.equal(a_batch[key], b_batch[key]), key


def test_export_then_import_gives_back_the_dataset(dataset: MucaloDataset, tmp_path: Path) -> None:
    again = open_dataset(import_lumin(export_lumin(dataset, tmp_path / "ours.hdf5"), tmp_path / "again"))
    assert again.fold_sizes == dataset.fold_sizes
    source = again.source_standardisation
    assert source is not None
    np.testing.assert_array_equal(source.mean, dataset.standardisation.mean)
    for fold in range(dataset.n_folds):
        np.testing.assert_array_equal(again.features(fold), dataset.features(fold))
        np.testing.assert_array_equal(again.targets(fold), dataset.targets(fold))
        for a, b in zip(again.hits(fold), dataset.hits(fold), strict=True):
            np.testing.assert_array_equal(a, b)
