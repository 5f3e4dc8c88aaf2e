"""Write files under a temporary name and rename them when complete.

A killed job therefore never leaves a half-written file under the final name: the temporary name
(``.NAME.tmp-PID``, hidden, in the same directory so the rename is atomic) is all that remains.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "is_temporary", "write_json_atomic", "write_text_atomic"]

_TMP_MARK = ".tmp-"


def is_temporary(path: Path) -> bool:
    """True for the temporary names that :func:`atomic_path` creates (skipped by readers)."""
    return path.name.startswith(".") and _TMP_MARK in path.name


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``, on error removed."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}{_TMP_MARK}{os.getpid()}")
    try:
        yield tmp
        tmp.replace(final)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """Write a JSON file atomically (indented, keys in insertion order)."""
    write_text_atomic(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    # numpy scalars and paths appear in metadata; everything else is a bug worth a TypeError
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    msg = f"cannot write {type(value).__name__} to JSON"
    raise TypeError(msg)
