"""The Geant4 data sets: which ones a physics list needs, where they are, and a safe import of the wheel.

Nothing here downloads anything. The geant4-pybind 0.1.3 wheel (Geant4 11.4.p01) runs a data downloader
when it is first imported: unless ``GEANT4_DATA_DIR`` is set, it looks for every data set under
``~/.geant4_pybind`` and, for any whose ``G4*DATA`` variable is unset, asks on stdin whether to download it,
or, with ``CI=true``, downloads it unasked. :func:`import_geant4` therefore always sets ``GEANT4_DATA_DIR``
before the first import, and mucalo never imports ``geant4_pybind`` at module import time.

Where Geant4 itself looks for a data set (``G4FindDataDir``, Geant4 ≥ 11.2): the data set's own variable
(e.g. ``G4LEDATA``) if it is set; else ``$GEANT4_DATA_DIR/<dir>``; else, when ``GEANT4_DATA_DIR`` is not
set, the default installation places (``/usr/local/share/Geant4/data/<dir>``, …). :func:`find_datasets`
follows the same order, with ``Geant4Config.data_dir`` first when it is given.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from mucalo.errors import ConfigError, MissingDataError

__all__ = [
    "DATASETS",
    "GEANT4_VERSION",
    "REFERENCE_PHYSICS_LISTS",
    "Dataset",
    "DatasetSearch",
    "find_datasets",
    "import_geant4",
    "missing_datasets_message",
    "prepare_environment",
    "required_datasets",
    "wheel_installed",
]

#: The Geant4 release inside the pinned wheel geant4-pybind 0.1.3; its data-set versions follow.
GEANT4_VERSION = "11.4.p01"
WHEEL = "geant4-pybind==0.1.3"
DOWNLOAD_URL = "https://cern.ch/geant4-data/datasets"


@dataclass(frozen=True, slots=True)
class Dataset:
    """One Geant4 data set as Geant4 11.4 expects it."""

    name: str  # the name users know (G4EMLOW, PhotonEvaporation, …)
    env: str  # the environment variable Geant4 reads (G4LEDATA, …)
    directory: str  # directory name inside a data root (G4EMLOW8.8)
    archive: str  # file name on the Geant4 download page

    @property
    def url(self) -> str:
        """Download address of the archive."""
        return f"{DOWNLOAD_URL}/{self.archive}"


def _dataset(name: str, env: str, file_stem: str, version: str) -> Dataset:
    return Dataset(name, env, f"{name}{version}", f"{file_stem}.{version}.tar.gz")


#: Data sets of Geant4 11.4.p01 (the list compiled into the wheel's ``G4FindDataDir``).
DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        _dataset("G4EMLOW", "G4LEDATA", "G4EMLOW", "8.8"),
        _dataset("G4ENSDFSTATE", "G4ENSDFSTATEDATA", "G4ENSDFSTATE", "3.0"),
        _dataset("G4PARTICLEXS", "G4PARTICLEXSDATA", "G4PARTICLEXS", "4.2"),
        _dataset("PhotonEvaporation", "G4LEVELGAMMADATA", "G4PhotonEvaporation", "6.1.2"),
        _dataset("RadioactiveDecay", "G4RADIOACTIVEDATA", "G4RadioactiveDecay", "6.1.2"),
        _dataset("G4SAIDDATA", "G4SAIDXSDATA", "G4SAIDDATA", "2.0"),
        _dataset("G4NDL", "G4NEUTRONHPDATA", "G4NDL", "4.7.1"),
        _dataset("G4INCL", "G4INCLDATA", "G4INCL", "1.3"),
        _dataset("G4ABLA", "G4ABLADATA", "G4ABLA", "3.3"),
        _dataset("G4PII", "G4PIIDATA", "G4PII", "1.3"),
        _dataset("RealSurface", "G4REALSURFACEDATA", "G4RealSurface", "2.2"),
        _dataset("G4CHANNELING", "G4CHANNELINGDATA", "G4CHANNELING", "2.0"),
    )
}

#: Reference lists of G4PhysListFactory in Geant4 11.4 (an EM option suffix may follow, e.g. _EMZ).
REFERENCE_PHYSICS_LISTS = (
    "FTFP_BERT", "FTFP_BERT_TRV", "FTFP_BERT_ATL", "FTFP_BERT_HP", "FTFQGSP_BERT", "FTFP_INCLXX",
    "FTFP_INCLXX_HP", "FTF_BIC", "LBE", "QBBC", "QGSP_BERT", "QGSP_BERT_HP", "QGSP_BIC", "QGSP_BIC_HP",
    "QGSP_BIC_AllHP", "QGSP_FTFP_BERT", "QGSP_INCLXX", "QGSP_INCLXX_HP", "QGS_BIC", "Shielding",
    "ShieldingLEND", "ShieldingLIQMD", "ShieldingM", "NuBeam", "Shielding_HP", "ShieldingLIQMD_HP",
    "ShieldingM_HP", "FTFP_BERT_HPT", "FTFP_INCLXX_HPT", "QGSP_BERT_HPT", "QGSP_BIC_HPT",
    "QGSP_BIC_AllHPT", "QGSP_INCLXX_HPT", "Shielding_HPT", "ShieldingLIQMD_HPT", "ShieldingM_HPT",
)  # fmt: skip
EM_OPTIONS = ("_EMV", "_EMX", "_EMY", "_EMZ", "_LIV", "_PEN", "__GS", "__SS", "_EM0", "_WVI", "__LE")

# Every stock list has standard EM physics (G4EMLOW: Seltzer-Berger bremsstrahlung, Livermore
# photo-effect), hadronic cross sections (G4PARTICLEXS, G4SAIDDATA via the BGG nucleon/pion cross
# sections), nuclear de-excitation (PhotonEvaporation, RadioactiveDecay) and the nuclide table that the
# run manager itself loads (G4ENSDFSTATE). Being generous here costs a clear error up front instead of a
# Geant4 abort mid-run.
_BASE = ("G4EMLOW", "G4ENSDFSTATE", "G4PARTICLEXS", "PhotonEvaporation", "RadioactiveDecay", "G4SAIDDATA")

# Where Geant4 looks when GEANT4_DATA_DIR is not set (G4FindDataDir's system prefixes and sub-paths).
_SYSTEM_PREFIXES = ("/usr/local", "/usr", "/cvmfs/geant4.cern.ch")
_DATA_SUBPATHS = (".", "share/Geant4/data", "share/geant4/data", "share/data", "data")


def split_physics_list(physics_list: str) -> tuple[str, str]:
    """(base list, EM option suffix) of a reference list name; refuses names the factory does not know."""
    for suffix in sorted(EM_OPTIONS, key=len, reverse=True):
        base = physics_list.removesuffix(suffix)
        if base != physics_list and base in REFERENCE_PHYSICS_LISTS:
            return base, suffix
    if physics_list in REFERENCE_PHYSICS_LISTS:
        return physics_list, ""
    msg = (
        f"geant4.physics_list: expected a Geant4 {GEANT4_VERSION} reference list (optionally "
        f"with an EM option {list(EM_OPTIONS)}), got {physics_list!r}; known lists: "
        f"{', '.join(REFERENCE_PHYSICS_LISTS)}"
    )
    raise ConfigError(msg)


def required_datasets(physics_list: str) -> tuple[Dataset, ...]:
    """Data sets a reference physics list needs (best knowledge of Geant4 11.4; see _BASE)."""
    base, _ = split_physics_list(physics_list)
    names = list(_BASE)
    if "HP" in base or base.startswith("Shielding"):  # high-precision neutrons below 20 MeV
        names.append("G4NDL")
    if "INCLXX" in base:
        names += ["G4INCL", "G4ABLA"]
    return tuple(DATASETS[n] for n in names)


@dataclass(frozen=True, slots=True)
class DatasetSearch:
    """Outcome of looking for data sets: where each was found, and what was looked at."""

    found: dict[str, Path]  # data-set name → directory
    missing: tuple[Dataset, ...]
    looked_at: tuple[str, ...]  # human-readable places, in search order


def _data_roots(environ: Mapping[str, str], data_dir: Path | None) -> tuple[list[Path], list[str]]:
    if data_dir is not None:
        return [Path(data_dir) / sub for sub in _DATA_SUBPATHS], [f"simulation.geant4.data_dir = {data_dir}"]
    base = environ.get("GEANT4_DATA_DIR")
    if base:
        return [Path(base) / sub for sub in _DATA_SUBPATHS], [f"GEANT4_DATA_DIR = {base}"]
    roots = [Path(prefix) / sub for prefix in _SYSTEM_PREFIXES for sub in _DATA_SUBPATHS]
    return roots, ["GEANT4_DATA_DIR (not set)", f"the default places under {', '.join(_SYSTEM_PREFIXES)}"]


def find_datasets(
    datasets: Iterable[Dataset], *, data_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> DatasetSearch:
    """Look for data sets without importing Geant4.

    Args:
        datasets: what to look for.
        data_dir: a directory holding the data sets (``<data_dir>/G4EMLOW8.8``, …); when given it is the
            only place looked at.
        environ: the environment (default ``os.environ``).
    """
    environ = os.environ if environ is None else environ
    roots, looked_at = _data_roots(environ, data_dir)
    found: dict[str, Path] = {}
    missing: list[Dataset] = []
    env_notes: list[str] = []
    for ds in datasets:
        own = environ.get(ds.env) if data_dir is None else None
        if own:
            # Geant4 uses a set variable as it is, so a wrong one is an error, not a fallback.
            env_notes.append(f"{ds.env} = {own}")
            if Path(own).is_dir():
                found[ds.name] = Path(own)
            else:
                missing.append(ds)
            continue
        if data_dir is None:
            env_notes.append(f"{ds.env} (not set)")
        hit = next((root / ds.directory for root in roots if (root / ds.directory).is_dir()), None)
        if hit is None:
            missing.append(ds)
        else:
            found[ds.name] = hit
    return DatasetSearch(found, tuple(missing), tuple(env_notes + looked_at))


def missing_datasets_message(physics_list: str, search: DatasetSearch) -> str:
    """The MissingDataError text: what is missing, where mucalo looked, how to install."""
    missing = ", ".join(f"{d.name} ({d.env}, directory {d.directory})" for d in search.missing)
    archives = " ".join(d.archive for d in search.missing)
    return (
        f"Geant4 physics list {physics_list!r} needs data sets that were not found: {missing}. "
        f"Looked at: {'; '.join(search.looked_at)}. "
        f"Install the Geant4 {GEANT4_VERSION} data sets with `geant4-config --install-datasets` (from a "
        f"Geant4 11.4 installation), or download {archives} from https://geant4.web.cern.ch/download "
        f"({DOWNLOAD_URL}/), unpack them into one directory and set GEANT4_DATA_DIR to it (or "
        f"simulation.geant4.data_dir, or each data set's own variable). mucalo never downloads them."
    )


def prepare_environment(search: DatasetSearch, data_dir: Path | None = None) -> None:
    """Point Geant4 at the data sets found, in ``os.environ``, before Geant4 looks them up.

    Each found data set's own variable is set, so Geant4 uses exactly the directory mucalo checked;
    ``GEANT4_DATA_DIR`` is set too, which also keeps the wheel's downloader off.
    """
    for name, path in search.found.items():
        os.environ[DATASETS[name].env] = str(path)
    if data_dir is not None:
        os.environ["GEANT4_DATA_DIR"] = str(data_dir)
    elif "GEANT4_DATA_DIR" not in os.environ:
        parents = {path.parent for path in search.found.values()}
        if len(parents) == 1:  # the usual single data root; else import_geant4 sets an empty one
            os.environ["GEANT4_DATA_DIR"] = str(parents.pop())


def wheel_installed() -> bool:
    """Whether geant4_pybind can be imported (checked without importing it)."""
    return "geant4_pybind" in sys.modules or importlib.util.find_spec("geant4_pybind") is not None


def import_geant4() -> ModuleType:
    """Import geant4_pybind with its data downloader switched off.

    The downloader returns at once when ``GEANT4_DATA_DIR`` is in the environment, whatever its value.
    When it is unset, it is set to the empty string: Geant4 then treats it as an invalid data root and
    falls back to each data set's own variable (which :func:`prepare_environment` sets).

    Raises:
        MissingDataError: the wheel is not installed.
    """
    if "geant4_pybind" not in sys.modules:
        if not wheel_installed():
            msg = f"the geant4 backend needs the Python package geant4_pybind: pip install '{WHEEL}'"
            raise MissingDataError(msg)
        os.environ.setdefault("GEANT4_DATA_DIR", "")
    return importlib.import_module("geant4_pybind")
