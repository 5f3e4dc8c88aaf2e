"""Muon interaction tables: rates, continuous loss and energy-transfer CDFs, cached on disk (§9.3).

The tables are functions of ln T on a fixed grid. Each radiative process p has a CDF of the scaled
variable x = ln(ε/ε_lo)/ln(ε_hi/ε_lo) ∈ [0, 1] on ``N_X`` nodes, so that the simulation samples
ε = ε_lo (ε_hi/ε_lo)^x by a binary search. They are computed once from the formulas and stored as
``.npz`` under the cache directory, keyed by material, cuts and :data:`TABLES_VERSION`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mucalo.io.atomic import atomic_path
from mucalo.simulation.fast.bremsstrahlung import brems_dcs
from mucalo.simulation.fast.constants import MUON_MASS, PROTON_MASS, SQRT_E
from mucalo.simulation.fast.ionisation import delta_ray_rate, ionisation_dedx
from mucalo.simulation.fast.losses import process_moment
from mucalo.simulation.fast.material import Material
from mucalo.simulation.fast.pair_production import pair_dcs
from mucalo.simulation.fast.photonuclear import PHOTONUCLEAR_MIN_TRANSFER, photonuclear_dcs
from mucalo.simulation.fast.quadrature import gauss_legendre

__all__ = [
    "N_X",
    "PROCESS_INDEX",
    "TABLES_VERSION",
    "MuonTables",
    "default_cache_dir",
    "load_or_build_tables",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Bump when a formula or the table layout changes: it is part of the cache key.
TABLES_VERSION = 1
LOG_T_MIN = np.log(10.0)  # MeV
LOG_T_MAX = np.log(2.0e7)  # MeV
NODES_PER_DECADE = 32
N_X = 401
_BIN_ORDER = 4  # Gauss–Legendre points per x-bin
#: Row of each discrete process in ``MuonTables.rate`` (and of the CDF tables for the radiative ones).
PROCESS_INDEX = {"delta": 0, "brems": 1, "pair": 2, "photonuclear": 3}


@dataclass(frozen=True, slots=True)
class MuonTables:
    """Arrays the transport kernel reads (all per mm, MeV).

    Attributes:
        log_t: (n_t,) ln T grid, T the muon kinetic energy in MeV.
        rate: (4, n_t) macroscopic cross sections of δ, brems, pair, photonuclear above the cuts, 1/mm.
        dedx: (n_t,) continuous (sub-cut) loss, MeV/mm.
        cdf: (3, n_t, N_X) normalised CDFs in x of brems, pair and photonuclear transfers.
    """

    log_t: FloatArray
    rate: FloatArray
    dedx: FloatArray
    cdf: FloatArray


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/mucalo, or ~/.cache/mucalo."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "mucalo"


def transfer_limits(
    process: str, kinetic: npt.ArrayLike, *, photon_cut: float, z_min: int
) -> tuple[FloatArray, FloatArray]:
    """(ε_lo, ε_hi) of the scaled variable x for ``process`` at kinetic energy T, MeV.

    The pair range uses the lightest element (largest ε_max); heavier ones contribute zero above theirs.
    """
    t = np.asarray(kinetic, dtype=np.float64)
    e = t + MUON_MASS
    if process == "brems":
        return np.full_like(t, photon_cut), t
    if process == "pair":
        return np.full_like(t, 4.0 * 0.51099895), e - 0.75 * SQRT_E * MUON_MASS * z_min ** (1.0 / 3.0)
    if process == "photonuclear":
        return np.full_like(t, PHOTONUCLEAR_MIN_TRANSFER), e - 0.5 * PROTON_MASS
    msg = f"process: expected brems, pair or photonuclear, got {process!r}"
    raise ValueError(msg)


def _mixture_pdf(material: Material, process: str, kinetic: FloatArray, eps: FloatArray) -> FloatArray:
    """Σ_i n_i ε dσ_i/dε (per cm, per unit ln ε) on a (n_t, n_x) grid."""
    total = np.zeros(np.broadcast_shapes(kinetic.shape, eps.shape))
    for n_i, el in zip(material.atom_densities_cm3, material.elements, strict=True):
        if process == "brems":
            dcs = brems_dcs(el.z, el.a, kinetic, eps)
        elif process == "pair":
            dcs = pair_dcs(el.z, kinetic, eps)
        else:
            dcs = photonuclear_dcs(el.a, kinetic, eps)
        total += n_i * eps * dcs
    return total


def build_tables(material: Material, *, electron_cut: float, photon_cut: float) -> MuonTables:
    """Compute the tables from the formulas (a few seconds)."""
    n_t = round((LOG_T_MAX - LOG_T_MIN) / np.log(10.0) * NODES_PER_DECADE) + 1
    log_t = np.linspace(LOG_T_MIN, LOG_T_MAX, n_t)
    kinetic = np.exp(log_t)
    z_min = min(el.z for el in material.elements)
    rate = np.zeros((4, n_t))
    cdf = np.zeros((3, n_t, N_X))
    rate[0] = delta_ray_rate(material, kinetic, electron_cut)
    x = np.linspace(0.0, 1.0, N_X)
    nodes, weights = gauss_legendre(_BIN_ORDER)
    for row, process in enumerate(("brems", "pair", "photonuclear"), start=1):
        lo, hi = transfer_limits(process, kinetic, photon_cut=photon_cut, z_min=z_min)
        span = np.log(np.maximum(hi, lo) / lo)
        # probability of each x-bin from a Gauss–Legendre rule inside the bin: the brems spectrum
        # has sharp features within the last bin (v → 1) that a trapezoid on the nodes misses
        x_points = (x[:-1, None] + (x[1] - x[0]) * nodes[None, :]).ravel()
        eps = lo[:, None] * np.exp(span[:, None] * x_points[None, :])
        pdf = _mixture_pdf(material, process, kinetic[:, None], eps) * span[:, None]  # per unit x
        per_bin = (pdf.reshape(n_t, N_X - 1, _BIN_ORDER) * weights).sum(axis=2) * (x[1] - x[0])
        cumulative = np.concatenate([np.zeros((n_t, 1)), np.cumsum(per_bin, axis=1)], axis=1)
        total = cumulative[:, -1]
        rate[row] = total
        safe = np.where(total > 0.0, total, 1.0)
        cdf[row - 1] = np.where(total[:, None] > 0.0, cumulative / safe[:, None], x[None, :])
    sub_cut_brems = process_moment(material, "brems", kinetic) - process_moment(
        material, "brems", kinetic, lower=photon_cut
    )
    dedx = ionisation_dedx(material, kinetic, electron_cut) + sub_cut_brems
    # per cm -> per mm
    return MuonTables(log_t=log_t, rate=rate / 10.0, dedx=dedx / 10.0, cdf=cdf)


def _cache_key(material: Material, *, electron_cut: float, photon_cut: float) -> str:
    blob = json.dumps(
        {
            "material": material.describe(),
            "electron_cut_mev": electron_cut,
            "photon_cut_mev": photon_cut,
            "version": TABLES_VERSION,
            "grid": [float(LOG_T_MIN), float(LOG_T_MAX), NODES_PER_DECADE, N_X],
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_or_build_tables(
    material: Material, *, electron_cut: float, photon_cut: float, cache_dir: Path | None = None
) -> MuonTables:
    """Tables from the cache, or built and cached (written atomically) when absent or unreadable."""
    directory = default_cache_dir() if cache_dir is None else Path(cache_dir)
    key = _cache_key(material, electron_cut=electron_cut, photon_cut=photon_cut)
    path = directory / f"fast-muon-tables-{material.name}-{key}.npz"
    if path.is_file():
        try:
            with np.load(path) as data:
                return MuonTables(log_t=data["log_t"], rate=data["rate"], dedx=data["dedx"], cdf=data["cdf"])
        except (OSError, KeyError, ValueError) as err:
            logger.warning("ignoring unreadable table cache %s (%s); rebuilding", path, err)
    logger.info("building muon interaction tables for %s (cached in %s)", material.name, directory)
    tables = build_tables(material, electron_cut=electron_cut, photon_cut=photon_cut)
    try:
        with atomic_path(path) as tmp, tmp.open("wb") as handle:
            np.savez(handle, log_t=tables.log_t, rate=tables.rate, dedx=tables.dedx, cdf=tables.cdf)
    except OSError as err:  # a read-only cache is not fatal: the tables are still usable
        logger.warning("could not write the table cache %s (%s)", path, err)
    return tables
