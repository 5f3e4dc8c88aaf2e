"""Exceptions raised by mucalo.

Every error also inherits the matching builtin, so ``except ValueError`` keeps working for callers
that do not know mucalo's hierarchy. Messages name *where* (file, field), *expected* and *found*.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataFormatError",
    "MissingDataError",
    "MucaloError",
]


class MucaloError(Exception):
    """Base class of every error mucalo raises on purpose."""


class ConfigError(MucaloError, ValueError):
    """A configuration value is unknown, of the wrong type or out of range."""


class DataFormatError(MucaloError, ValueError):
    """A file exists but its content is not what the format requires."""


class MissingDataError(MucaloError, FileNotFoundError):
    """A file, dataset or external data set that is needed cannot be found."""


class CheckpointError(MucaloError, RuntimeError):
    """A checkpoint or run directory is incomplete or inconsistent."""
