"""The kernels' shared state: every array the numba kernels read or write, in one StructRef.

Numba passes each array argument as ~7–11 separate machine words, so a call with a dozen arrays
costs 100–300 ns; a StructRef is passed as one pointer. Every kernel therefore takes the state ``s``
first, then scalars.

Fields (float64 unless noted; MeV, mm):

- ``params`` [N_PARAMS]: see :mod:`~mucalo.simulation.fast.params`;
- ``mu_log_t`` [n_t], ``mu_rate`` [4, n_t], ``mu_dedx`` [n_t], ``mu_cdf`` [3, n_t, n_x]: muon tables;
- ``photon_table`` [4, n], ``electron_table`` [3, n]: low-energy tables on uniform ln-energy grids;
- ``lib_index`` int64 [h + 1], ``lib_points`` [n, 4], ``lib_meta`` [4, 5]: the particle library;
- ``lib_iso`` [m, 4]: the photon histories once more, each turned to a random orientation (for
  isotropic emission, replayed without a rotation);
- ``grid`` [n_cells], ``touched`` int64 [n_cells + 1]: the current muon's cell energies and hit list
  (one spare slot: see :func:`~mucalo.simulation.fast.deposit.grid_add`);
- ``counters`` int64 [4]: cells touched, particles on the stack, recorded points, recording flag;
- ``tally`` [2]: escaped and invisible energy;
- ``record`` [m, 4]: recorded points (library building);
- ``stack`` [STACK_SIZE, 8]: particles waiting (kind, x, y, z, ux, uy, uz, energy);
- ``scratch`` [4, M]: GFlash spot buffers;
- ``spot_quantiles`` [2, GAMMA_TABLE_BINS]: quantiles of the GFlash spot-energy factors, Gamma of
  shape a = ``params[P_SPOT_SHAPE]`` and of shape P·a (P = ``params[P_TAIL_SPLIT]``, a tail spot's
  pieces together), each over its shape (mean 1; :func:`~mucalo.simulation.fast.rng.gamma_quantile_table`);
- ``rng`` uint64 [4]: the xoshiro256** state of the current muon.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numba
import numpy as np
import numpy.typing as npt
from numba.core import types
from numba.experimental import structref

from mucalo.simulation.fast.params import P_SPOT_SHAPE, P_TAIL_SPLIT
from mucalo.simulation.fast.rng import gamma_quantile_table

__all__ = [
    "C_RECORDED",
    "C_RECORDING",
    "C_STACK",
    "C_TOUCHED",
    "STACK_SIZE",
    "TALLY_ESCAPED",
    "TALLY_INVISIBLE",
    "KernelState",
    "make_state",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

STACK_SIZE = 4096
SCRATCH_SPOTS = 1 << 16
C_TOUCHED = 0  # counters[0]: cells touched by the current muon
C_STACK = 1  # counters[1]: particles on the stack
C_RECORDED = 2  # counters[2]: points recorded
C_RECORDING = 3  # counters[3]: 1 while building the photon library (deposits are recorded as points)
TALLY_ESCAPED = 0  # tally[0]: energy that left the block, MeV
TALLY_INVISIBLE = 1  # tally[1]: invisible energy (photonuclear only), MeV

_FIELDS = [
    "params",
    "mu_log_t",
    "mu_rate",
    "mu_dedx",
    "mu_cdf",
    "photon_table",
    "electron_table",
    "lib_index",
    "lib_points",
    "lib_meta",
    "lib_iso",
    "grid",
    "touched",
    "counters",
    "tally",
    "record",
    "stack",
    "scratch",
    "spot_quantiles",
    "rng",
]


@structref.register
class KernelStateType(types.StructRef):
    """Numba type of :class:`KernelState`."""

    def preprocess_fields(self, fields: Any) -> Any:
        return tuple((name, types.unliteral(typ)) for name, typ in fields)  # type: ignore[no-untyped-call]


class KernelState(structref.StructRefProxy):
    """Python handle on the kernels' state (see the module docstring for the fields).

    Python sees the arrays the library builder needs (the same memory the kernels use); the kernels
    see every field.
    """

    if TYPE_CHECKING:  # the fields as numba kernels see them
        params: FloatArray
        mu_log_t: FloatArray
        mu_rate: FloatArray
        mu_dedx: FloatArray
        mu_cdf: FloatArray
        photon_table: FloatArray
        electron_table: FloatArray
        lib_index: IntArray
        lib_points: FloatArray
        lib_meta: FloatArray
        lib_iso: FloatArray
        grid: FloatArray
        touched: IntArray
        stack: FloatArray
        scratch: FloatArray
        spot_quantiles: FloatArray
        rng: npt.NDArray[np.uint64]

    @property
    def counters(self) -> IntArray:
        """int64 [4] counters."""
        return _counters(self)

    @property
    def record(self) -> FloatArray:
        """Recorded points [m, 4]."""
        return _record(self)

    @property
    def tally(self) -> FloatArray:
        """[escaped, invisible] energy, MeV."""
        return _tally(self)


@numba.njit(cache=True)
def _counters(s: KernelState) -> IntArray:
    return s.counters


@numba.njit(cache=True)
def _record(s: KernelState) -> FloatArray:
    return s.record


@numba.njit(cache=True)
def _tally(s: KernelState) -> FloatArray:
    return s.tally


structref.define_proxy(KernelState, KernelStateType, _FIELDS)  # type: ignore[no-untyped-call]


def make_state(
    *,
    params: FloatArray,
    muon_tables: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    low_energy: tuple[FloatArray, FloatArray],
    library: tuple[IntArray, FloatArray, FloatArray],
    n_cells: int,
    isotropic_points: FloatArray | None = None,
    record_size: int = 1,
) -> KernelState:
    """Allocate a state with fresh buffers for a grid of ``n_cells`` cells."""
    log_t, rate, dedx, cdf = muon_tables
    lib_index, lib_points, lib_meta = library
    contiguous = np.ascontiguousarray
    return KernelState(  # type: ignore[no-untyped-call]
        contiguous(params, dtype=np.float64),
        contiguous(log_t, dtype=np.float64),
        contiguous(rate, dtype=np.float64),
        contiguous(dedx, dtype=np.float64),
        contiguous(cdf, dtype=np.float64),
        contiguous(low_energy[0], dtype=np.float64),
        contiguous(low_energy[1], dtype=np.float64),
        contiguous(lib_index, dtype=np.int64),
        contiguous(lib_points, dtype=np.float64).reshape(-1, 4),
        contiguous(lib_meta, dtype=np.float64),
        np.zeros((1, 4)) if isotropic_points is None else contiguous(isotropic_points, dtype=np.float64),
        np.zeros(n_cells),
        np.zeros(n_cells + 1, dtype=np.int64),  # one spare slot for the branch-free listing
        np.zeros(4, dtype=np.int64),
        np.zeros(2),
        np.zeros((max(record_size, 1), 4)),
        np.zeros((STACK_SIZE, 8)),
        np.zeros((4, SCRATCH_SPOTS)),
        np.stack(
            [
                gamma_quantile_table(float(params[P_SPOT_SHAPE])),
                gamma_quantile_table(float(params[P_SPOT_SHAPE]) * max(int(params[P_TAIL_SPLIT]), 1)),
            ]
        ),
        np.zeros(4, dtype=np.uint64),
    )
