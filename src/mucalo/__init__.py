"""mucalo: calorimetric measurement of multi-TeV muons via deep regression.

The pipeline stages are subpackages, data flowing one way:
``detector`` → ``simulation`` → ``features`` → ``data`` → ``models`` → ``training`` → ``evaluation``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mucalo")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ("__version__",)
