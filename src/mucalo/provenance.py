"""What every run writes next to its outputs so that it can be reproduced: config, seed, versions."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from mucalo import __version__
from mucalo.io.atomic import write_json_atomic

__all__ = ["provenance", "versions", "write_provenance"]

_PACKAGES = ("numpy", "scipy", "h5py", "numba", "torch", "dask", "geant4-pybind", "onnxruntime")


def versions() -> dict[str, str]:
    """Versions of Python, mucalo and the packages that change results."""
    out = {"python": sys.version.split()[0], "mucalo": __version__, "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def provenance(config: Any, *, seed: int | None, command: str) -> dict[str, Any]:
    """Config, seed, versions, command and time of a run, as one JSON-able dict."""
    return {
        "command": command,
        "seed": seed,
        "config": config,
        "versions": versions(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "argv": sys.argv,
        "cwd": str(Path.cwd()),
    }


def write_provenance(path: str | os.PathLike[str], config: Any, *, seed: int | None, command: str) -> Path:
    """Write :func:`provenance` as JSON to ``path`` atomically and return the path."""
    write_json_atomic(path, provenance(config, seed=seed, command=command))
    return Path(path)
