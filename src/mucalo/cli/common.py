"""What every CLI verb shares: logging set-up, config loading with presets and overrides, errors, JSON."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer

from mucalo.config import apply_overrides, from_dict, load_preset, merge_mappings, read_yaml
from mucalo.errors import ConfigError, MucaloError

__all__ = ["emit_json", "handle_errors", "load_section", "setup_logging"]

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger("mucalo")


def setup_logging(verbose: int = 0, *, quiet: bool = False, log_file: Path | None = None) -> None:
    """INFO to stderr by default, DEBUG with -v, WARNING with -q; optionally also to a log file."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    root = logging.getLogger("mucalo")
    root.setLevel(logging.DEBUG)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    stream = _CurrentStderr()
    stream.setLevel(level)
    stream.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root.addHandler(stream)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file)
        handler.setLevel(logging.DEBUG)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (test runners and notebooks swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # the stream is always the current sys.stderr


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn mucalo errors into one line on stderr and exit code 2 (config) or 1 (other failures)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (MucaloError, FileNotFoundError) as err:
            if logging.getLogger("mucalo").isEnabledFor(logging.DEBUG) and _verbose():
                raise
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2 if isinstance(err, ConfigError) else 1) from None

    return wrapper


def _verbose() -> bool:
    return any(a in ("-v", "--verbose") for a in sys.argv)


def load_section(
    cls: type[R],
    section: str,
    *,
    preset: str | None = None,
    config_file: Path | None = None,
    sets: Sequence[str] = (),
    cli_values: dict[str, Any] | None = None,
) -> R:
    """Build the config of one stage: defaults ← preset ← config file ← CLI options ← ``--set``.

    Presets and files hold one section per stage (``simulation:``, ``train:``, …); ``--set`` keys may
    name the section (``simulation.seed=3``) or start inside it (``seed=3``).
    """
    data: dict[str, Any] = {}
    if preset is not None:
        loaded, _ = load_preset(preset)
        data = merge_mappings(data, loaded.get(section, {}))
    if config_file is not None:
        loaded = read_yaml(config_file)
        data = merge_mappings(data, loaded.get(section, loaded) if section in loaded else loaded)
    for key, value in (cli_values or {}).items():
        if value is not None:
            data = apply_overrides(data, [f"{key}={json.dumps(value)}"])
    local = [s.removeprefix(f"{section}.") for s in sets]
    data = apply_overrides(data, local)
    return from_dict(cls, data, where=section)


def emit_json(data: Any) -> None:
    """Print exactly one JSON object on stdout (the --json contract)."""
    typer.echo(json.dumps(data, indent=2, default=str))
