"""Strict loading of configuration dataclasses from YAML presets and ``--set key.path=value`` overrides.

Every stage has a frozen dataclass config whose defaults are SYSTEM.md's values. A preset (YAML, read
with ``yaml.safe_load``) overrides only what differs. Unknown keys, wrong types and invalid values are
errors that name the file and the dotted field, with the closest known keys suggested; config is never
executed as code.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import os
import types
import typing
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

from mucalo.errors import ConfigError

__all__ = [
    "apply_overrides",
    "config_to_dict",
    "from_dict",
    "list_presets",
    "load_preset",
    "merge_mappings",
    "read_yaml",
    "set_dotted",
]

T = TypeVar("T")


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML mapping; raises :class:`ConfigError` naming the file when it is not one."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as err:
        msg = f"{p}: cannot read config file ({err.strerror})"
        raise ConfigError(msg) from err
    except yaml.YAMLError as err:
        msg = f"{p}: not valid YAML ({err})"
        raise ConfigError(msg) from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        msg = f"{p}: expected a mapping of sections at top level, got {type(data).__name__}"
        raise ConfigError(msg)
    return data


def list_presets() -> list[str]:
    """Names of the presets shipped in ``mucalo/configs``."""
    files = resources.files("mucalo").joinpath("configs").iterdir()
    return sorted(f.name.removesuffix(".yaml") for f in files if f.name.endswith(".yaml"))


def load_preset(name_or_path: str | os.PathLike[str]) -> tuple[dict[str, Any], str]:
    """A preset's mapping and where it came from: a shipped name (``quick``) or a YAML path."""
    text = os.fspath(name_or_path)
    if text.endswith((".yaml", ".yml")) or os.sep in text:
        return read_yaml(text), text
    shipped = resources.files("mucalo").joinpath("configs", f"{text}.yaml")
    if not shipped.is_file():
        near = difflib.get_close_matches(text, list_presets(), n=3)
        hint = f"; did you mean {near}?" if near else f"; shipped presets: {list_presets()}"
        msg = f"preset {text!r}: no such preset or YAML file{hint}"
        raise ConfigError(msg)
    with resources.as_file(shipped) as path:
        return read_yaml(path), f"mucalo/configs/{text}.yaml"


def apply_overrides(data: dict[str, Any], sets: Sequence[str], *, where: str = "--set") -> dict[str, Any]:
    """Apply ``key.path=value`` overrides (values parsed as YAML scalars) to a nested mapping copy."""
    out = _deep_copy(data)
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            msg = f"{where} {item!r}: expected key.path=value"
            raise ConfigError(msg)
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as err:
            msg = f"{where} {item!r}: value is not a YAML scalar ({err})"
            raise ConfigError(msg) from err
        out = set_dotted(out, key.strip(), value, where=f"{where} {item!r}")
    return out


def set_dotted(
    data: Mapping[str, Any], dotted: str, value: Any, *, where: str = "override"
) -> dict[str, Any]:
    """A copy of the nested mapping ``data`` with ``dotted`` (``schedule.lr``) set to ``value``."""
    out = _deep_copy(data)
    node = out
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            msg = f"{where}: '{part}' is a value, not a section"
            raise ConfigError(msg)
        node = child
    node[parts[-1]] = value
    return out


def merge_mappings(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``update`` merged in, section by section (nested mappings merge)."""
    out = dict(base)
    for key, value in update.items():
        current = out.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            out[key] = merge_mappings(current, value)
        else:
            out[key] = value
    return out


def _deep_copy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in data.items()}


def from_dict(cls: type[T], data: Mapping[str, Any] | T | None, *, where: str) -> T:
    """Build dataclass ``cls`` from a mapping, strictly: unknown keys and wrong types are errors.

    Nested dataclass fields take nested mappings; absent keys keep the dataclass defaults.
    """
    if data is None:
        data = {}
    if isinstance(data, cls):
        return data
    if not isinstance(data, Mapping):
        msg = f"{where}: expected a mapping, got {type(data).__name__} {data!r}"
        raise ConfigError(msg)
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            near = difflib.get_close_matches(str(key), list(known), n=3)
            hint = f"; did you mean {near[0]!r}?" if near else f"; known keys: {sorted(known)}"
            msg = f"{where}.{key}: unknown key{hint}"
            raise ConfigError(msg)
        kwargs[key] = _convert(hints[key], value, where=f"{where}.{key}")
    try:
        return cls(**kwargs)
    except ConfigError as err:
        msg = f"{where}: {err}"
        raise ConfigError(msg) from err
    except (TypeError, ValueError) as err:
        msg = f"{where}: {err}"
        raise ConfigError(msg) from err


def _convert(hint: Any, value: Any, *, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(arg, value, where=where)
            except ConfigError as err:
                errors.append(str(err))
        msg = errors[0] if len(errors) == 1 else f"{where}: expected {hint}, got {value!r}"
        raise ConfigError(msg)
    if origin is typing.Literal:
        if value not in args:
            msg = f"{where}: expected one of {list(args)}, got {value!r}"
            raise ConfigError(msg)
        return value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return from_dict(hint, value, where=where)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError as err:
            msg = f"{where}: expected one of {[m.value for m in hint]}, got {value!r}"
            raise ConfigError(msg) from err
    if origin in (tuple, list) or hint in (tuple, list):
        if isinstance(value, str) or not isinstance(value, Sequence):
            msg = f"{where}: expected a list, got {value!r}"
            raise ConfigError(msg)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, where=f"{where}[{i}]") for i, v in enumerate(value))
        if origin is tuple and args:
            if len(args) != len(value):
                msg = f"{where}: expected {len(args)} values, got {len(value)}"
                raise ConfigError(msg)
            return tuple(
                _convert(a, v, where=f"{where}[{i}]")
                for i, (a, v) in enumerate(zip(args, value, strict=True))
            )
        item = args[0] if args else Any
        converted = [_convert(item, v, where=f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(converted) if (origin is tuple or hint is tuple) else converted
    if hint is bool:
        if not isinstance(value, bool):
            msg = f"{where}: expected true or false, got {value!r}"
            raise ConfigError(msg)
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            msg = f"{where}: expected an integer, got {value!r}"
            raise ConfigError(msg)
        return value
    if hint is float:
        if isinstance(value, str):
            value = _float_or_same(value)  # YAML 1.1 reads '3e-5' (no dot) as a string
        if isinstance(value, bool) or not isinstance(value, int | float):
            msg = f"{where}: expected a number, got {value!r}"
            raise ConfigError(msg)
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            msg = f"{where}: expected a string, got {value!r}"
            raise ConfigError(msg)
        return value
    if hint is Path:
        if not isinstance(value, str | os.PathLike):
            msg = f"{where}: expected a path, got {value!r}"
            raise ConfigError(msg)
        return Path(value)
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            msg = f"{where}: expected a mapping, got {value!r}"
            raise ConfigError(msg)
        return dict(value)
    return value


def _float_or_same(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def config_to_dict(config: Any) -> Any:
    """Plain (YAML/JSON-able) form of a config dataclass, recursively."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: config_to_dict(getattr(config, f.name)) for f in dataclasses.fields(config) if f.init}
    if isinstance(config, enum.Enum):
        return config.value
    if isinstance(config, tuple | list):
        return [config_to_dict(v) for v in config]
    if isinstance(config, Path):
        return str(config)
    if isinstance(config, Mapping):
        return {k: config_to_dict(v) for k, v in config.items()}
    return config
