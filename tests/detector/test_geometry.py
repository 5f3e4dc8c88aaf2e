from __future__ import annotations

import numpy as np
import pytest

from mucalo.detector import MAX_CELLS, Detector
from mucalo.errors import ConfigError


def test_defaults_are_the_published_detector(detector: Detector) -> None:
    assert detector.shape == (50, 32, 32)
    assert detector.n_cells == 51_200
    assert detector.width_x_mm == pytest.approx(120.0)
    assert detector.depth_mm == pytest.approx(2032.0)
    assert detector.field_t == 2.0


def test_flat_index_round_trip(detector: Detector) -> None:
    cells = np.arange(detector.n_cells)
    layer, ix, iy = detector.unflatten(cells)
    assert np.array_equal(detector.flat_index(layer, ix, iy), cells)
    # the published order: (layer·32 + ix)·32 + iy
    assert detector.flat_index(3, 5, 7) == (3 * 32 + 5) * 32 + 7


def test_cell_centres(detector: Detector) -> None:
    x, y, z = detector.cell_centre([0, detector.n_cells - 1])
    assert x[0] == pytest.approx(-58.125)
    assert y[1] == pytest.approx(58.125)
    assert z[0] == pytest.approx(20.32)
    assert z[1] == pytest.approx(2032.0 - 20.32)
    # the column of a cell centre is that cell
    ix, iy = detector.column_of(detector.x_centre(np.arange(32)), detector.y_centre(np.arange(32)))
    assert np.array_equal(ix, np.arange(32))
    assert np.array_equal(iy, np.arange(32))
    # an edge belongs to the cell above it (floor)
    assert detector.column_of(0.0, -60.0) == (16, 0)


def test_index_outside_grid_refused(detector: Detector) -> None:
    with pytest.raises(ConfigError, match=r"cell: expected indices in \[0, 51200\)"):
        detector.unflatten([51_200])
    with pytest.raises(ConfigError, match="layer"):
        detector.flat_index(50, 0, 0)


@pytest.mark.parametrize(
    ("field", "value"),
    [("n_layers", 0), ("n_cells_x", -3), ("layer_depth_mm", 0.0), ("cell_size_mm", -1.0), ("n_layers", 2.5)],
)
def test_impossible_geometry_names_the_field(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=f"detector.{field}"):
        Detector(**{field: value})  # type: ignore[arg-type]


def test_too_many_cells_for_uint16() -> None:
    Detector(n_layers=64, n_cells_x=32, n_cells_y=32)  # exactly MAX_CELLS fits
    assert MAX_CELLS == 65_536
    with pytest.raises(ConfigError, match="uint16"):
        Detector(n_layers=65, n_cells_x=32, n_cells_y=32)


def test_json_round_trip(detector: Detector) -> None:
    other = Detector(n_layers=20, field_t=0.0)
    assert Detector.from_json(other.to_json()) == other
    with pytest.raises(ConfigError, match="unknown key"):
        Detector.from_dict({"n_layer": 3})
