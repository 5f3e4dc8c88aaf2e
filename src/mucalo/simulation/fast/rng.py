"""Per-muon random streams for numba: SplitMix64 seeding of xoshiro256** (PHYSICS.md §9.4).

The state is a ``uint64[4]`` array owned by one muon, so a muon's result depends on its seed alone.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt
from scipy.special import gammaincinv, ndtri

__all__ = [
    "AZIMUTH",
    "AZIMUTH_BINS",
    "GAMMA_TABLE_BINS",
    "NORMAL_BINS",
    "NORMAL_QUANTILES",
    "NORMAL_TAIL",
    "exponential",
    "gamma_fast",
    "gamma_quantile_table",
    "gamma_tail",
    "gamma_variate",
    "new_state",
    "normal",
    "normal_pair",
    "poisson",
    "seed_state",
    "uniform",
    "uniform_and_azimuth",
    "uniform_and_two_azimuths",
    "uniform_pair",
]

_U64 = np.uint64
_TWO_POW_M53 = 1.0 / 9007199254740992.0
_TWO_POW_M32 = 1.0 / 4294967296.0
#: Bins of a Gamma quantile table (:func:`gamma_quantile_table`): 16 kB, cache-resident.
GAMMA_TABLE_BINS = 2048
#: Equal-probability bins of the standard normal's quantile table (:func:`normal`), 32 kB.
_NORMAL_BITS = 12
NORMAL_BINS = 1 << _NORMAL_BITS
#: Φ⁻¹(j / NORMAL_BINS), j = 0 … NORMAL_BINS (±inf at the ends; a constant of the compiled code).
NORMAL_QUANTILES = ndtri(np.arange(NORMAL_BINS + 1) / NORMAL_BINS)
NORMAL_TAIL = float(-NORMAL_QUANTILES[1])  # |z| of the inner edge of the two end bins
_NORMAL_MASK = np.uint64((1 << (64 - _NORMAL_BITS)) - 1)
_NORMAL_SCALE = 1.0 / float(1 << (64 - _NORMAL_BITS))
#: Azimuth bins of :func:`uniform_and_azimuth` (the 11 bits a uniform leaves unused).
AZIMUTH_BINS = 2048
#: (cos, sin) of the azimuth bin centres 2π(j + ½)/AZIMUTH_BINS; a constant of the compiled code.
AZIMUTH = np.stack(
    [np.cos(2.0 * np.pi * (np.arange(AZIMUTH_BINS) + 0.5) / AZIMUTH_BINS),
     np.sin(2.0 * np.pi * (np.arange(AZIMUTH_BINS) + 0.5) / AZIMUTH_BINS)]
)  # fmt: skip


def new_state() -> npt.NDArray[np.uint64]:
    """An uninitialised xoshiro256** state."""
    return np.zeros(4, dtype=np.uint64)


@numba.njit(cache=True, inline="always")
def _rotl(x: np.uint64, k: int) -> np.uint64:
    return (x << _U64(k)) | (x >> _U64(64 - k))


@numba.njit(cache=True)
def _splitmix(x: np.uint64) -> tuple[np.uint64, np.uint64]:
    x = x + _U64(0x9E3779B97F4A7C15)
    z = x
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return x, z ^ (z >> _U64(31))


@numba.njit(cache=True)
def seed_state(state: npt.NDArray[np.uint64], seed: np.uint64) -> None:
    """Fill ``state`` from ``seed`` with SplitMix64 (never all zero)."""
    x = _U64(seed)
    for i in range(4):
        x, z = _splitmix(x)
        state[i] = z


@numba.njit(cache=True, inline="always")
def _next(state: npt.NDArray[np.uint64]) -> np.uint64:
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    result = _rotl(s1 * _U64(5), 7) * _U64(9)
    t = s1 << _U64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return result


@numba.njit(cache=True, inline="always")
def uniform(state: npt.NDArray[np.uint64]) -> float:
    """Uniform in the open interval (0, 1)."""
    return (float(_next(state) >> _U64(11)) + 0.5) * _TWO_POW_M53


@numba.njit(cache=True, inline="always")
def uniform_and_azimuth(state: npt.NDArray[np.uint64]) -> tuple[float, int]:
    """A uniform in (0, 1), as :func:`uniform`, and an azimuth bin j of :data:`AZIMUTH` from one draw.

    The uniform takes the top 53 bits of the 64-bit output, the bin the low 11 (xoshiro256** has no
    weak bits): a random direction in the plane for the cost of one draw, no rejection loop.
    """
    bits = _next(state)
    return (float(bits >> _U64(11)) + 0.5) * _TWO_POW_M53, int(bits & _U64(AZIMUTH_BINS - 1))


@numba.njit(cache=True, inline="always")
def uniform_pair(state: npt.NDArray[np.uint64]) -> tuple[float, float]:
    """Two independent uniforms in (0, 1) with 32-bit resolution each, from one draw."""
    bits = _next(state)
    return (
        (float(bits >> _U64(32)) + 0.5) * _TWO_POW_M32,
        (float(bits & _U64(0xFFFFFFFF)) + 0.5) * _TWO_POW_M32,
    )


@numba.njit(cache=True, inline="always")
def uniform_and_two_azimuths(state: npt.NDArray[np.uint64]) -> tuple[float, int, int]:
    """A uniform in (0, 1) with 42-bit resolution (enough to pick one of a few hundred items) and two
    independent azimuth bins of :data:`AZIMUTH`, from one draw (the top 42 and the low 2 × 11 bits)."""
    bits = _next(state)
    mask = _U64(AZIMUTH_BINS - 1)
    return (
        (float(bits >> _U64(22)) + 0.5) * (1.0 / 4398046511104.0),
        int(bits & mask),
        int((bits >> _U64(11)) & mask),
    )


@numba.njit(cache=True)
def _normal_tail(state: npt.NDArray[np.uint64], upper: bool) -> float:
    """A standard normal beyond the outermost table bin (|z| > 3.37), exact: Marsaglia's tail method."""
    a = NORMAL_TAIL
    while True:
        x = math.sqrt(a * a - 2.0 * math.log(uniform(state)))
        if uniform(state) * x <= a:
            return x if upper else -x


@numba.njit(cache=True, inline="always")
def normal(state: npt.NDArray[np.uint64]) -> float:
    """Standard normal from one draw: 12 bits pick one of NORMAL_BINS equal-probability bins of the
    quantile table, the other 52 place it linearly inside (exact Marsaglia tails in the two end bins).
    About 4 ns against ~20 for the polar method. The CDF is exact at the bin edges and within
    2·10⁻⁵ of Φ between them (flat density inside a bin).
    """
    bits = _next(state)
    j = int(bits >> _U64(64 - _NORMAL_BITS))
    if 0 < j < NORMAL_BINS - 1:
        f = (float(bits & _NORMAL_MASK) + 0.5) * _NORMAL_SCALE
        low = NORMAL_QUANTILES[j]
        return low + f * (NORMAL_QUANTILES[j + 1] - low)
    return _normal_tail(state, j > 0)


@numba.njit(cache=True, inline="always")
def normal_pair(state: npt.NDArray[np.uint64]) -> tuple[float, float]:
    """Two independent standard normals."""
    return normal(state), normal(state)


@numba.njit(cache=True, inline="always")
def exponential(state: npt.NDArray[np.uint64]) -> float:
    """Exponential with mean 1."""
    return -math.log(uniform(state))


@numba.njit(cache=True, inline="always")
def gamma_variate(state: npt.NDArray[np.uint64], shape: float) -> float:
    """Gamma(shape, 1) by Marsaglia–Tsang; shape < 1 via the u^(1/shape) boost."""
    if shape <= 0.0:
        return 0.0
    boost = 1.0
    if shape < 1.0:
        boost = uniform(state) ** (1.0 / shape)
        shape += 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = normal(state)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = uniform(state)
        x2 = x * x
        if u < 1.0 - 0.0331 * x2 * x2:
            return d * v * boost
        if math.log(u) < 0.5 * x2 + d * (1.0 - v + math.log(v)):
            return d * v * boost


@numba.njit(cache=True, inline="always")
def poisson(state: npt.NDArray[np.uint64], mean: float) -> int:
    """Poisson count: inversion below a mean of 30, rounded normal above."""
    if mean <= 0.0:
        return 0
    if mean < 30.0:
        limit = math.exp(-mean)
        product = uniform(state)
        n = 0
        while product > limit:
            product *= uniform(state)
            n += 1
        return n
    n = math.floor(mean + math.sqrt(mean) * normal(state) + 0.5)
    return max(n, 0)


@numba.njit(cache=True, inline="always")
def gamma_fast(state: npt.NDArray[np.uint64], shape: float) -> float:
    """Gamma(shape, 1); Wilson–Hilferty's cube-of-normal approximation for shape ≥ 8 (relative error
    of the quantiles < 1e-3 there), Marsaglia–Tsang below."""
    if shape < 8.0:
        return gamma_variate(state, shape)
    c = 1.0 / (9.0 * shape)
    v = 1.0 - c + normal(state) * math.sqrt(c)
    return shape * v * v * v if v > 0.0 else 0.0


def gamma_quantile_table(shape: float, n_bins: int = GAMMA_TABLE_BINS) -> npt.NDArray[np.float64]:
    """Quantiles of Gamma(shape, 1)/shape (mean 1) at u = i/n_bins, i = 0 … n_bins − 1.

    A draw reads bin ⌊u·n_bins⌋ and interpolates linearly (a few ns, against ~20 ns for
    Marsaglia–Tsang); the last bin, open to infinity, is drawn exactly by :func:`gamma_tail`.
    A non-positive shape gives zeros (no random factors).
    """
    if not shape > 0.0:
        return np.zeros(n_bins)
    u = np.arange(n_bins, dtype=np.float64) / n_bins
    return np.asarray(gammaincinv(shape, u), dtype=np.float64) / shape


@numba.njit(cache=True)
def gamma_tail(state: npt.NDArray[np.uint64], shape: float, start: float) -> float:
    """Gamma(shape, 1) conditioned on exceeding ``start`` > 0 (exact).

    Rejection from start + Exp(rate 1 − c), c = max(shape − 1, 0)/start: the ratio of the target,
    ∝ (1 + y/start)^(shape−1) e^(−y), to the proposal is (1 + y/start)^(shape−1) e^(−c·y) ≤ 1.
    """
    c = max(shape - 1.0, 0.0) / start
    if c >= 0.5:  # start near or below the mode (coarse tables, large shapes): plain rejection
        while True:
            x = gamma_variate(state, shape)
            if x > start:
                return x
    rate = 1.0 - c
    while True:
        y = -math.log(uniform(state)) / rate
        if math.log(uniform(state)) < (shape - 1.0) * math.log1p(y / start) - c * y:
            return start + y
