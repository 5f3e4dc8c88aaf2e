"""The 28 high-level features of one muon or of many (paper appendix 6, decisions of SYSTEM.md).

The work per muon is compiled (``kernels.py``); this module checks the input, runs the kernel in
chunks (so a progress bar can follow) and turns kernel error codes into :class:`DataFormatError`.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from mucalo.detector import Detector
from mucalo.errors import DataFormatError
from mucalo.features import kernels
from mucalo.features.config import FeatureConfig
from mucalo.features.registry import N_FEATURES

__all__ = ["compute_features", "compute_features_batch"]

logger = logging.getLogger(__name__)

#: Muons per kernel call: large enough that call overhead vanishes, small enough for a lively bar.
_CHUNK = 500


def compute_features(
    cell: npt.ArrayLike,
    energy: npt.ArrayLike,
    x0: float,
    y0: float,
    detector: Detector,
    *,
    config: FeatureConfig | None = None,
) -> npt.NDArray[np.float64]:
    """The 28 features V[0]..V[27] of one muon.

    Args:
        cell: [m] flat cell indices ``(layer·n_x + ix)·n_y + iy`` (any order, each cell at most once).
        energy: [m] deposited energies, GeV (float32 as stored, or float64; compared in float64).
        x0: true x of the muon at the front face, mm.
        y0: true y of the muon at the front face, mm.
        detector: geometry, thresholds and field the features use.
        config: box size and curvature constants (default: the paper's).

    Returns:
        float64 [28] in the order of :data:`mucalo.features.FEATURE_NAMES`.

    Raises:
        DataFormatError: cells outside the grid or repeated, energies negative or not finite, or
            x0/y0 not finite.
    """
    cell_a = np.atleast_1d(np.asarray(cell))
    offsets = np.array([0, cell_a.size], dtype=np.int64)
    values = _compute(
        offsets,
        cell_a,
        np.atleast_1d(np.asarray(energy)),
        np.array([x0], dtype=np.float64),
        np.array([y0], dtype=np.float64),
        detector,
        config=config or FeatureConfig(),
        where="compute_features",
        first_muon=0,
        progress=False,
    )
    row: npt.NDArray[np.float64] = values[0]
    return row


def compute_features_batch(
    offsets: npt.ArrayLike,
    cell: npt.ArrayLike,
    energy: npt.ArrayLike,
    x0: npt.ArrayLike,
    y0: npt.ArrayLike,
    detector: Detector,
    *,
    config: FeatureConfig | None = None,
    where: str = "hits",
    first_muon: int = 0,
    progress: bool = False,
) -> npt.NDArray[np.float32]:
    """The 28 features of N muons stored as CSR hits (the shard layout).

    Args:
        offsets: int [N+1]; muon i owns hits ``offsets[i]:offsets[i+1]``.
        cell: int [nnz] flat cell indices.
        energy: float [nnz] GeV.
        x0: [N] true impact x, mm.
        y0: [N] true impact y, mm.
        detector: geometry, thresholds and field.
        config: box size and curvature constants (default: the paper's).
        where: name of the data (e.g. the shard path) used in error messages.
        first_muon: number of the first muon in error messages (when these arrays are a slice).
        progress: show a tqdm bar on stderr (off automatically when stderr is not a terminal).

    Returns:
        float32 [N, 28], columns as :data:`mucalo.features.FEATURE_NAMES`.

    Raises:
        DataFormatError: inconsistent array shapes, or a bad hit / impact point; the message names
            ``where``, the muon (index within these arrays) and the problem.
    """
    values = _compute(
        np.asarray(offsets),
        np.asarray(cell),
        np.asarray(energy),
        np.asarray(x0),
        np.asarray(y0),
        detector,
        config=config or FeatureConfig(),
        where=where,
        first_muon=first_muon,
        progress=progress,
    )
    return values.astype(np.float32)


def _compute(
    offsets: np.ndarray,
    cell: np.ndarray,
    energy: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
    detector: Detector,
    *,
    config: FeatureConfig,
    where: str,
    first_muon: int,
    progress: bool,
) -> npt.NDArray[np.float64]:
    offsets_a, cell_a, energy_a, x0_a, y0_a = _checked(
        offsets, cell, energy, x0, y0, where=where, first_muon=first_muon
    )
    n_muons = offsets_a.size - 1
    out = np.zeros((n_muons, N_FEATURES), dtype=np.float64)
    error = np.zeros(3, dtype=np.int64)
    params = kernel_params(detector, config)
    with tqdm(
        total=n_muons, unit="muon", desc="features", disable=None if progress else True, leave=False
    ) as bar:
        for start in range(0, n_muons, _CHUNK):
            stop = min(start + _CHUNK, n_muons)
            kernels.features_range(offsets_a, cell_a, energy_a, x0_a, y0_a, start, stop, params, out, error)
            if error[0] != 0:
                raise DataFormatError(
                    _error_message(error, offsets_a, cell_a, energy_a, detector, where, first_muon)
                )
            bar.update(stop - start)
    return out


def kernel_params(detector: Detector, config: FeatureConfig) -> kernels.KernelParams:
    """The numbers the compiled kernel takes, with the types it is compiled for."""
    return kernels.KernelParams(
        n_layers=int(detector.n_layers),
        nx=int(detector.n_cells_x),
        ny=int(detector.n_cells_y),
        layer_depth_mm=float(detector.layer_depth_mm),
        pitch_mm=float(detector.cell_size_mm),
        field_t=float(detector.field_t),
        threshold_gev=float(detector.threshold_gev),
        soft_threshold_gev=float(detector.soft_threshold_gev),
        curvature_weight_mm=float(config.curvature_weight_mm),
        emeas_clip_gev=float(config.emeas_clip_gev),
        box=int(config.box_size),
    )


def _checked(
    offsets: np.ndarray,
    cell: np.ndarray,
    energy: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
    *,
    where: str,
    first_muon: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shapes and dtypes the kernel needs; per-hit checks happen in the kernel."""
    if offsets.ndim != 1 or offsets.size < 1 or not np.issubdtype(offsets.dtype, np.integer):
        msg = (
            f"{where}: offsets must be a 1-d integer array of length N+1, got {offsets.dtype}{offsets.shape}"
        )
        raise DataFormatError(msg)
    offsets_a = offsets.astype(np.int64, copy=False)
    if cell.ndim != 1 or energy.shape != cell.shape:
        msg = f"{where}: cell and energy must be 1-d of equal length, got {cell.shape} and {energy.shape}"
        raise DataFormatError(msg)
    if cell.size and not np.issubdtype(cell.dtype, np.integer):
        msg = f"{where}: cell indices must be integers, got {cell.dtype}"
        raise DataFormatError(msg)
    if offsets_a[0] != 0 or offsets_a[-1] != cell.size or np.any(np.diff(offsets_a) < 0):
        msg = f"{where}: offsets must rise from 0 to the number of hits {cell.size}"
        raise DataFormatError(msg)
    n_muons = offsets_a.size - 1
    for name, arr in (("x0", x0), ("y0", y0)):
        if arr.shape != (n_muons,):
            msg = f"{where}: truth {name} has shape {arr.shape}, expected ({n_muons},) (one per muon)"
            raise DataFormatError(msg)
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            msg = f"{where}: muon {first_muon + bad[0]}: truth {name} = {arr[bad[0]]} is not finite"
            raise DataFormatError(msg)
    # int64 holds every stored index (uint16 on disk) and makes the kernel's range check exact;
    # contiguous arrays of these dtypes only, so the kernel is compiled (and cached) once per energy dtype
    cell_a = np.ascontiguousarray(cell, dtype=np.int64)
    energy_dtype = energy.dtype if energy.dtype in (np.float32, np.float64) else np.float64
    energy_a = np.ascontiguousarray(energy, dtype=energy_dtype)
    x0_a = np.ascontiguousarray(x0, dtype=np.float64)
    y0_a = np.ascontiguousarray(y0, dtype=np.float64)
    return np.ascontiguousarray(offsets_a), cell_a, energy_a, x0_a, y0_a


def _error_message(
    error: np.ndarray,
    offsets: np.ndarray,
    cell: np.ndarray,
    energy: np.ndarray,
    detector: Detector,
    where: str,
    first_muon: int,
) -> str:
    code, muon, hit = (int(v) for v in error)
    index = int(offsets[muon]) + hit
    c, e = int(cell[index]), float(energy[index])
    if code == kernels.ERR_CELL_RANGE:
        problem = f"cell {c} is outside the {detector.shape} grid (expected 0 ≤ cell < {detector.n_cells})"
    elif code == kernels.ERR_NONFINITE_ENERGY:
        problem = f"cell {c} has energy {e} (expected a finite number of GeV)"
    elif code == kernels.ERR_NEGATIVE_ENERGY:
        problem = f"cell {c} has negative energy {e} GeV (expected ≥ 0)"
    elif code == kernels.ERR_DUPLICATE_CELL:
        problem = f"cell {c} appears more than once"
    else:  # pragma: no cover - the kernel only returns the codes above
        problem = f"kernel error code {code}"
    return f"{where}: muon {first_muon + muon}: hit {hit}: {problem}"
